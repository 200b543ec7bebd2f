/*-------------------------------------------------------------------------
 *
 * router.h
 *		Maps and the routing of data calls: what the router room offers.
 *
 * A map is a row of memshard.map_catalog.  The router keeps a per-backend
 * cache of those rows (MapInfo), attaches maps to the store lazily, and
 * sends every data operation to the place that holds the key: the local
 * store for a map of this node only; for a map over nodes, the nodes that
 * hold the key's shard (router_cluster.c), this one through the local store
 * and the others through libpq.  Each operation has one routing point
 * (router_set, router_get, ...).
 *
 * Errors from the store (no memory, not a number, overflow) are raised
 * here, so that callers see one behaviour whether the key is local or not.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ROUTER_H
#define MEMSHARD_ROUTER_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "store/store.h"

/* longest map name in bytes */
#define MAP_NAME_MAX_LEN		(NAMEDATALEN - 1)

typedef enum MapMethod
{
	MAP_METHOD_HASH,
	MAP_METHOD_RANGE
} MapMethod;

/*
 * What create_map records: one row of memshard.map_catalog.  Arrays are
 * kept as Datums of the SQL arrays (NULL when absent), so the catalog code
 * can store them without rebuilding.
 */
typedef struct MapDefinition
{
	char	   *name;
	int32		id;				/* assigned by map_catalog_insert */
	Interval   *default_ttl;	/* NULL: none */
	int64		max_memory;		/* 0: no quota */
	bool		evictable;		/* eviction 'lru' (true) or 'none' */
	MapMethod	method;
	int32		shard_count;
	Datum		bounds;			/* text[], range maps only */
	bool		bounds_null;
	Datum		nodes;			/* name[]; NULL means this node only */
	bool		nodes_null;
	int32		replicas;
} MapDefinition;

/*
 * A map as a backend sees it, from the per-backend cache.  A MapInfo
 * pointer is valid until the next router call: a cache invalidation may
 * free it.
 */
typedef struct MapInfo
{
	char		name[NAMEDATALEN];	/* hash key, NUL-terminated */
	int			namelen;
	int32		id;
	int			slot;			/* store handle, -1 until attached */
	int64		default_ttl_ms; /* 0: items live until evicted */
	StoreMapOptions opts;
	MapMethod	method;
	int32		shard_count;
	int			nbounds;		/* range maps: split points */
	Datum	   *bounds;			/* text Datums, in the cache's memory */
	int32		replicas;
	bool		local_only;		/* nodes is NULL */
} MapInfo;

/* map catalog (map_catalog.c) */
extern int64 ttl_interval_to_ms(const Interval *ttl);
extern Oid	map_catalog_relid(void);
extern bool map_catalog_lookup(const char *name, MapInfo *map,
							   MemoryContext cxt);
extern int32 map_catalog_insert(MapDefinition *def);
extern bool map_catalog_delete(const char *name, int32 *mapid);
extern List *map_catalog_list(void);

/* per-backend map cache and store attachment (map_cache.c) */
extern MapInfo *router_lookup_map(const char *name, int namelen);
extern MapInfo *router_reload_map(MapInfo *map);
extern uint64 router_map_cache_generation(void);
extern int	router_map_slot(MapInfo *map);
extern void router_map_created(int32 mapid);
extern void router_map_dropped(int32 mapid);

/* data operations (router.c); ttl_ms 0 means no expiry */
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

/* the cluster (router_cluster.c) */
extern int	router_key_shard(MapInfo *map, const char *key, int keylen);
extern const char *router_key_node(MapInfo *map, const char *key, int keylen);

/*
 * Calls from other nodes (memshard.peer_*): the local store only, and only
 * for keys whose shard this node holds under its own metadata.
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
