/*-------------------------------------------------------------------------
 *
 * router_int.h
 *		Declarations shared by the files of the router room only: the local
 *		store's side of each operation (router.c) and the cluster's side
 *		(router_cluster.c).
 *
 * The router_local_* functions take a MapInfo ** because a stale map is
 * reloaded on the way (STORE_MAP_GONE); they raise the store's errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ROUTER_INT_H
#define MEMSHARD_ROUTER_INT_H

#include "router/router.h"

/* router.c: this node's store */
extern StoreResult router_local_set(MapInfo **map, const char *key, int keylen,
									const char *value, int vallen,
									int64 ttl_ms, StoreSetMode mode);
extern char *router_local_get(MapInfo **map, const char *key, int keylen,
							  Size prefix, int *vallen);
extern bool router_local_delete(MapInfo **map, const char *key, int keylen);
extern int64 router_local_incr(MapInfo **map, const char *key, int keylen,
							   int64 delta, int64 ttl_ms);
extern bool router_local_touch(MapInfo **map, const char *key, int keylen,
							   int64 ttl_ms);
extern int64 router_local_flush(MapInfo **map);

/* router_cluster.c: maps over nodes */
extern bool router_cluster_set(MapInfo *map, const char *key, int keylen,
							   const char *value, int vallen, int64 ttl_ms,
							   StoreSetMode mode);
extern char *router_cluster_get(MapInfo *map, const char *key, int keylen,
								Size prefix, int *vallen);
extern void router_cluster_mget(MapInfo *map, int nkeys, char **keys,
								int *keylens, Size prefix, char **values,
								int *vallens);
extern int	router_cluster_mset(MapInfo *map, int nkeys, char **keys,
								int *keylens, char **values, int *vallens,
								int64 ttl_ms);
extern bool router_cluster_delete(MapInfo *map, const char *key, int keylen);
extern int64 router_cluster_incr(MapInfo *map, const char *key, int keylen,
								 int64 delta, int64 ttl_ms);
extern bool router_cluster_touch(MapInfo *map, const char *key, int keylen,
								 int64 ttl_ms);
extern int64 router_cluster_flush(MapInfo *map);

#endif							/* MEMSHARD_ROUTER_INT_H */
