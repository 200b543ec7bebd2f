/*-------------------------------------------------------------------------
 *
 * router_peer_rmw.c
 *		The other side of the read-modify-write calls, the key scan and the
 *		item count (memshard.peer_get_expiry, peer_write_if, peer_scan,
 *		peer_count): for the shards this node holds.
 *
 * As router_peer.c: a key (or a shard) this node does not hold under its
 * own metadata is refused, then the local store does the work
 * (router_rmw.c, router_scan.c).  peer_write_if is sent to the node of
 * the key's primary copy: its compare-and-set is the one that counts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cluster/cluster.h"
#include "router/router.h"
#include "router/router_internal.h"

static bool *held_shard_flags(MapInfo *map, const int *shards, int nshards);

char *
router_peer_get_expiry(MapInfo *map, const char *key, int keylen,
					   int *vallen, TimestampTz *expires)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_get_expiry(&map, key, keylen, vallen, expires);
}

bool
router_peer_write_if(MapInfo *map, const char *key, int keylen,
					 const char *expect, int expectlen,
					 TimestampTz expect_expires, const char *value,
					 int vallen, TimestampTz expires)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_write_if(&map, key, keylen, expect, expectlen,
								 expect_expires, value, vallen, expires);
}

uint64
router_peer_scan_keys(MapInfo *map, const int *shards, int nshards,
					  uint64 cursor, int count, List **keys)
{
	bool	   *flags = held_shard_flags(map, shards, nshards);

	return router_local_scan_keys(&map, flags, cursor, count, keys);
}

int64
router_peer_count_items(MapInfo *map, const int *shards, int nshards)
{
	bool	   *flags = held_shard_flags(map, shards, nshards);

	return router_local_count_items(&map, flags);
}

/* a flag per shard of the map; ERROR for a shard this node does not hold */
static bool *
held_shard_flags(MapInfo *map, const int *shards, int nshards)
{
	const MapPlacements *placements = peer_placements(map);
	bool	   *flags = palloc0(sizeof(bool) * Max(placements->nshards, 1));
	int			i;

	for (i = 0; i < nshards; i++)
	{
		int			shard = shards[i];
		bool		held = false;
		int			c;

		if (shard < 0 || shard >= placements->nshards)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("map \"%s\" has no shard %d", map->name, shard)));
		for (c = 0; c < placement_copies(placements, shard); c++)
			held |= placement_node(placements, shard, c)->is_local;
		if (!held)
		{
			const ClusterNode *self = cluster_local_node();

			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("node \"%s\" does not hold shard %d of map \"%s\"",
							self ? NameStr(self->server) : "?", shard,
							map->name),
					 errhint("The nodes' metadata differ: compare memshard.shards on each node.")));
		}
		flags[shard] = true;
	}
	return flags;
}
