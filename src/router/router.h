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
#include "nodes/pg_list.h"
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
						Size prefix, char **values, int *vallens,
						bool *texts);
extern int	router_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
						char **values, int *vallens, int64 ttl_ms);
extern bool router_delete(MapInfo *map, const char *key, int keylen);
extern int64 router_incr(MapInfo *map, const char *key, int keylen,
						 int64 delta, int64 ttl_ms);
extern bool router_touch(MapInfo *map, const char *key, int keylen,
						 int64 ttl_ms);
extern int64 router_flush(MapInfo *map);
extern void router_map_counters(MapInfo *map, StoreCounters *counters);

/*
 * Read-modify-write, the key scan and the item count (router_rmw.c,
 * router_scan.c), for the Redis front end's commands on every map.
 *
 * router_get_expiry is router_get that also tells the item's absolute
 * expiry (0: none; the store keeps times to 100 ms, rounded up); with
 * primary it reads the copy router_write_if compares against (no fall back
 * to a replica).  router_write_if stores value (NULL: deletes the key) with
 * absolute expiry expires (0: none) only if the key still holds expect
 * (expectlen bytes, with expiry expect_expires; expectlen < 0: the key is
 * absent), and returns false if it changed: the caller reads again and
 * retries.  The compare and the write are one step under the partition
 * lock of the node holding the primary copy, so a read-modify-write built
 * on them is atomic against every other writer of that copy; the replicas
 * then get the new value as router_set gives it.
 *
 * router_scan_keys returns (in *keys, text values) at least count keys of
 * the map from cursor on, or fewer at the end of a node's part; the
 * cursor to go on from, 0 at the end (start with 0).  A map over nodes is
 * walked node after node, each node giving the keys of the shards whose
 * primary copy it holds, so that every key is seen once.
 * router_count_items counts the map's live items the same way (each key
 * once), the nodes asked at once.  A node that cannot be reached has its
 * shards walked or counted on their other copies; no copy: ERROR naming
 * the node.  router_count_items_partial never fails for that: it counts
 * what answered and sets *missed to the shards no copy of which did.
 */
extern char *router_get_expiry(MapInfo *map, const char *key, int keylen,
							   bool primary, int *vallen,
							   TimestampTz *expires);
extern bool router_write_if(MapInfo *map, const char *key, int keylen,
							const char *expect, int expectlen,
							TimestampTz expect_expires,
							const char *value, int vallen,
							TimestampTz expires);
extern uint64 router_scan_keys(MapInfo *map, uint64 cursor, int count,
							   List **keys);
extern int64 router_count_items(MapInfo *map);
extern int64 router_count_items_partial(MapInfo *map, int *missed);

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
/* the peer side of the above (router_peer_rmw.c); shards[] per shard */
extern char *router_peer_get_expiry(MapInfo *map, const char *key,
									int keylen, int *vallen,
									TimestampTz *expires);
extern bool router_peer_write_if(MapInfo *map, const char *key, int keylen,
								 const char *expect, int expectlen,
								 TimestampTz expect_expires,
								 const char *value, int vallen,
								 TimestampTz expires);
extern uint64 router_peer_scan_keys(MapInfo *map, const int *shards,
									int nshards, uint64 cursor, int count,
									List **keys);
extern int64 router_peer_count_items(MapInfo *map, const int *shards,
									 int nshards);

#endif							/* MEMSHARD_ROUTER_H */
