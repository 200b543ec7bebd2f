/*-------------------------------------------------------------------------
 *
 * router.h
 *		Maps and the routing of data calls: what the router room offers.
 *
 * A map is a row of memshard.map_catalog (src/cluster).  The router keeps a
 * per-backend cache of those rows (MapInfo), attaches maps to the store
 * lazily, and sends every data operation to the place that holds the key:
 * the local store for a map of this node only (router_local.c); for a map
 * over nodes, the nodes that hold the key's shard (router_cluster.c), this
 * one through the local store and the others through libpq.  Each
 * operation has one routing point (router_set, router_get, ...).  The
 * calls other nodes send us for the shards we hold are router_peer_*.
 *
 * Errors from the store (no memory, not a number, overflow) are raised
 * here, so that callers see one behaviour whether the key is local or not.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ROUTER_H
#define MEMSHARD_ROUTER_H

#include "cluster/cluster.h"
#include "store/store.h"

/*
 * Maps (MapInfo, MapDefinition) and the map catalog are the cluster's
 * metadata: cluster/cluster.h declares them, and with it this header.
 */

/* per-backend map cache and store attachment (map_cache.c) */
extern MapInfo *router_lookup_map(const char *name, int namelen);
extern MapInfo *router_reload_map(MapInfo *map);
extern uint64 router_map_cache_generation(void);
extern int	router_map_slot(MapInfo *map);

/*
 * For code that writes the map catalog itself (map_catalog_insert,
 * map_catalog_delete) rather than through cluster_define_map and
 * cluster_remove_map: the store follows a map created or dropped by this
 * transaction (src/cluster/maps.c).
 */
static inline void
router_map_created(int32 mapid)
{
	cluster_map_store_created(mapid);
}

static inline void
router_map_dropped(int32 mapid)
{
	cluster_map_store_dropped(mapid);
}

/*
 * data operations (router.c: each to router_local.c or router_cluster.c);
 * ttl_ms 0 means no expiry
 */
extern bool router_set(MapInfo *map, const char *key, int keylen,
					   const char *value, int vallen, int64 ttl_ms,
					   StoreSetMode mode);
extern char *router_get(MapInfo *map, const char *key, int keylen,
						Size prefix, int *vallen);
extern void router_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
						Size prefix, char **values, int *vallens);
extern int	router_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
						char **values, int *vallens, int64 ttl_ms);
extern bool router_delete(MapInfo *map, const char *key, int keylen);
extern int64 router_incr(MapInfo *map, const char *key, int keylen,
						 int64 delta, int64 ttl_ms);
extern bool router_touch(MapInfo *map, const char *key, int keylen,
						 int64 ttl_ms);
extern int64 router_flush(MapInfo *map);
extern void router_map_counters(MapInfo *map, StoreCounters *counters);

/* a key's shard and its primary's node (router_shards.c) */
extern int	router_key_shard(MapInfo *map, const char *key, int keylen);
extern const char *router_key_node(MapInfo *map, const char *key, int keylen);

/*
 * Calls from other nodes (memshard.peer_*, router_peer.c): the local store
 * only, and only for keys whose shard this node holds under its own
 * metadata.
 */
extern bool router_peer_set(MapInfo *map, const char *key, int keylen,
							const char *value, int vallen, int64 ttl_ms,
							StoreSetMode mode);
extern char *router_peer_get(MapInfo *map, const char *key, int keylen,
							 Size prefix, int *vallen);
extern void router_peer_mget(MapInfo *map, int nkeys, char **keys,
							 int *keylens, Size prefix, char **values,
							 int *vallens);
extern int	router_peer_mset(MapInfo *map, int nkeys, char **keys,
							 int *keylens, char **values, int *vallens,
							 int64 ttl_ms);
extern bool router_peer_delete(MapInfo *map, const char *key, int keylen);
extern int64 router_peer_incr(MapInfo *map, const char *key, int keylen,
							  int64 delta, int64 ttl_ms);
extern bool router_peer_touch(MapInfo *map, const char *key, int keylen,
							  int64 ttl_ms);
extern int64 router_peer_flush(MapInfo *map);

#endif							/* MEMSHARD_ROUTER_H */
