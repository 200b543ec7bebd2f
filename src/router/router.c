/*-------------------------------------------------------------------------
 *
 * router.c
 *		Sends each data operation to the place that holds the key.
 *
 * One function per operation, and in each one routing point: a map of this
 * node only goes to the local store (router_local.c); a map over nodes goes
 * to router_cluster.c, which sends each key to the nodes holding its
 * shard, this one included.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "router/router.h"
#include "router/router_internal.h"

/* set, add or replace; true if the item was stored */
bool
router_set(MapInfo *map, const char *key, int keylen,
		   const char *value, int vallen, int64 ttl_ms, StoreSetMode mode)
{
	if (!map->local_only)
		return router_cluster_set(map, key, keylen, value, vallen, ttl_ms, mode);
	return router_local_set(&map, key, keylen, value, vallen, ttl_ms,
							mode) == STORE_OK;
}

/*
 * The value of key in a palloc'd buffer, at offset prefix (room for a
 * varlena header), or NULL on a miss.
 */
char *
router_get(MapInfo *map, const char *key, int keylen, Size prefix,
		   int *vallen)
{
	if (!map->local_only)
		return router_cluster_get(map, key, keylen, prefix, vallen);
	return router_local_get(&map, key, keylen, prefix, vallen);
}

/*
 * The value of each key; values[i] is NULL on a miss.  texts[i], when
 * texts != NULL, says whether the value is known valid text of this
 * database (set as text in the local store); values from other nodes are
 * not.
 */
void
router_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
			Size prefix, char **values, int *vallens, bool *texts)
{
	if (!map->local_only)
		router_cluster_mget(map, nkeys, keys, keylens, prefix, values, vallens,
							texts);
	else
		router_local_mget(&map, nkeys, keys, keylens, prefix, values, vallens,
						  texts);
}

/*
 * Set each key to its value; the number stored.  Items go in one by one: if
 * one fails (no memory), those before it stay stored.
 */
int
router_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
			char **values, int *vallens, int64 ttl_ms)
{
	if (!map->local_only)
		return router_cluster_mset(map, nkeys, keys, keylens, values, vallens,
								   ttl_ms);
	return router_local_mset(&map, nkeys, keys, keylens, values, vallens,
							 ttl_ms);
}

bool
router_delete(MapInfo *map, const char *key, int keylen)
{
	if (!map->local_only)
		return router_cluster_delete(map, key, keylen);
	return router_local_delete(&map, key, keylen);
}

/* the counter after adding delta (an absent key counts from 0) */
int64
router_incr(MapInfo *map, const char *key, int keylen, int64 delta,
			int64 ttl_ms)
{
	if (!map->local_only)
		return router_cluster_incr(map, key, keylen, delta, ttl_ms);
	return router_local_incr(&map, key, keylen, delta, ttl_ms);
}

/* give an existing item a new ttl (0: none); false if it is absent */
bool
router_touch(MapInfo *map, const char *key, int keylen, int64 ttl_ms)
{
	if (!map->local_only)
		return router_cluster_touch(map, key, keylen, ttl_ms);
	return router_local_touch(&map, key, keylen, ttl_ms);
}

/*
 * Remove every item of the map; how many there were (over all nodes for a
 * map over nodes, each copy counted).
 */
int64
router_flush(MapInfo *map)
{
	if (!map->local_only)
		return router_cluster_flush(map);
	return router_local_flush(&map);
}
