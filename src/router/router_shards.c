/*-------------------------------------------------------------------------
 *
 * router_shards.c
 *		A key's shard, and the nodes holding the shards of a map.
 *
 * A key's shard is exactly hash_partition(key, shard_count) or
 * range_partition(key, bounds) (src/partition); its placements (copy 0 the
 * primary, then the replicas) come from src/cluster.  Both the cluster
 * path (router_cluster.c) and the peer side (router_peer.c) start here,
 * and so do shard_for, node_for and the shard figures (src/api).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/inval.h"

#include "catalog/pg_collation.h"

#include "partition/partition.h"
#include "router/router.h"
#include "router/router_internal.h"

/* the shard of a key: hash_partition or range_partition, exactly */
int
router_key_shard(MapInfo *map, const char *key, int keylen)
{
	if (map->method == MAP_METHOD_RANGE)
		return partition_range_text(key, keylen, map->bounds, map->nbounds,
									DEFAULT_COLLATION_OID);
	return partition_hash_text(key, keylen, map->shard_count);
}

/*
 * The server name of the node holding the primary copy of a key, or NULL
 * for a map of this node only.
 */
const char *
router_key_node(MapInfo *map, const char *key, int keylen)
{
	const MapPlacements *placements;

	if (map->local_only)
		return NULL;
	placements = router_map_placements(map);
	return NameStr(placement_node(placements,
								  router_key_shard(map, key, keylen), 0)->server);
}

/*
 * The placements of a map over nodes; ERROR if this node has none valid.
 * Invalidations are taken in first: a long transaction takes none of its
 * own once it holds its locks, and a shard that moved (shard_move.c) must
 * not be written here, where its copy was freed, by a session that never
 * heard of the move.  Caches are only marked stale by it, so pointers the
 * caller holds stay valid until its next lookup.
 */
const MapPlacements *
router_map_placements(MapInfo *map)
{
	const MapPlacements *placements;

	AcceptInvalidationMessages();

	/* a node left behind by a failover serves nothing (fencing) */
	cluster_fence_check();
	placements = cluster_map_placements(map->id);
	if (placements == NULL || placements->nshards != map->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("map \"%s\" has no valid placements on this node",
						map->name),
				 errhint("Compare memshard.shards on the nodes of the cluster.")));
	return placements;
}
