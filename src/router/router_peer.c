/*-------------------------------------------------------------------------
 *
 * router_peer.c
 *		The other side: calls from other nodes (memshard.peer_*), for the
 *		shards this node holds.
 *
 * Another node routes a key here because its metadata says we hold a copy
 * of the key's shard.  We check that against our own metadata and refuse
 * a key of a shard we do not hold (the nodes' metadata differ), and any
 * call from a node whose metadata epoch is newer than ours (we may have
 * been promoted away: fencing, src/cluster/epoch.c), then use the local
 * store.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cluster/cluster.h"
#include "router/router.h"
#include "router/router_internal.h"
#include "store/move_log.h"

static void check_shards_held(MapInfo *map, int nkeys, char **keys,
							  int *keylens);

/* ERROR unless this node holds a copy of the key's shard */
void
check_shard_held(MapInfo *map, const MapPlacements *placements,
				 const char *key, int keylen)
{
	int			shard = router_key_shard(map, key, keylen);
	const ClusterNode *self;
	int			i;

	for (i = 0; i < placement_copies(placements, shard); i++)
	{
		if (placement_node(placements, shard, i)->is_local)
			return;
	}
	self = cluster_local_node();
	/* the caller retries this one after reading its metadata again */
	ereport(ERROR,
			(errcode(ERRCODE_MEMSHARD_SHARD_MOVED),
			 errmsg("node \"%s\" does not hold shard %d of map \"%s\"",
					self ? NameStr(self->server) : "?", shard, map->name),
			 errhint("The nodes' metadata differ: compare memshard.shards on each node.")));
}

/* the placements of a map a peer asks about; ERROR for a map of one node */
const MapPlacements *
peer_placements(MapInfo *map)
{
	if (map->local_only)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("map \"%s\" is not placed on nodes here", map->name),
				 errhint("The nodes' metadata differ: compare memshard.maps on each node.")));
	/* a caller with newer metadata than ours: we may be left behind */
	cluster_peer_epoch_check();
	return router_map_placements(map);
}

/* every key of a batch must be of a shard this node holds */
static void
check_shards_held(MapInfo *map, int nkeys, char **keys, int *keylens)
{
	const MapPlacements *placements = peer_placements(map);
	int			i;

	for (i = 0; i < nkeys; i++)
		check_shard_held(map, placements, keys[i], keylens[i]);
}

bool
router_peer_set(MapInfo *map, const char *key, int keylen,
				const char *value, int vallen, int64 ttl_ms, StoreSetMode mode)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_set(&map, key, keylen, value, vallen, ttl_ms,
							mode) == STORE_OK;
}

char *
router_peer_get(MapInfo *map, const char *key, int keylen, Size prefix,
				int *vallen)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_get(&map, key, keylen, prefix, vallen);
}

void
router_peer_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
				 Size prefix, char **values, int *vallens)
{
	check_shards_held(map, nkeys, keys, keylens);
	router_local_mget(&map, nkeys, keys, keylens, prefix, values, vallens,
					  NULL);
}

int
router_peer_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
				 char **values, int *vallens, int64 ttl_ms)
{
	check_shards_held(map, nkeys, keys, keylens);
	return router_local_mset(&map, nkeys, keys, keylens, values, vallens,
							 ttl_ms);
}

bool
router_peer_delete(MapInfo *map, const char *key, int keylen)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_delete(&map, key, keylen);
}

int64
router_peer_incr(MapInfo *map, const char *key, int keylen, int64 delta,
				 int64 ttl_ms)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_incr(&map, key, keylen, delta, ttl_ms);
}

bool
router_peer_touch(MapInfo *map, const char *key, int keylen, int64 ttl_ms)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_touch(&map, key, keylen, ttl_ms);
}

int64
router_peer_flush(MapInfo *map)
{
	(void) peer_placements(map);
	return router_local_flush(&map);
}
