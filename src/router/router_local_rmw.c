/*-------------------------------------------------------------------------
 *
 * router_local_rmw.c
 *		This node's side of the read-modify-write calls: a read with the
 *		expiry and the store's compare-and-set (store_get_expiry,
 *		store_write_if), for a map of this node (router_rmw.c), a copy here
 *		of a map over nodes (router_cluster.c, router_rmw.c) and other
 *		nodes' calls (router_peer_rmw.c).
 *
 * As router_local.c: a stale map (STORE_MAP_GONE) is reloaded once, which
 * is why these take a MapInfo **, and the store's failures are raised here.
 * The store takes and releases its own locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "router/router.h"
#include "router/router_internal.h"

/* store_get_expiry; NULL on a miss */
char *
router_local_get_expiry(MapInfo **map, const char *key, int keylen,
						int *vallen, TimestampTz *expires)
{
	bool		retried = false;
	char	   *value;

	for (;;)
	{
		value = store_get_expiry(router_map_slot(*map), key, keylen, 0,
								 vallen, expires);
		if (value != NULL || *vallen >= 0 || retried)
			break;
		*map = router_reload_map(*map);
		retried = true;
	}
	if (value == NULL && *vallen < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("map \"%s\" was dropped", (*map)->name)));
	*vallen = Max(*vallen, 0);
	return value;
}

bool
router_local_write_if(MapInfo **map, const char *key, int keylen,
					  const char *expect, int expectlen,
					  TimestampTz expect_expires, const char *value,
					  int vallen, TimestampTz expires)
{
	bool		retried = false;
	StoreResult rc;

	for (;;)
	{
		rc = store_write_if(router_map_slot(*map), key, keylen,
							expectlen >= 0 ? expect : NULL, expectlen,
							expect_expires, value, vallen, expires);
		if (rc != STORE_MAP_GONE || retried)
			break;
		*map = router_reload_map(*map);
		retried = true;
	}
	if (rc == STORE_MAP_GONE)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("map \"%s\" was dropped", (*map)->name)));
	if (rc == STORE_NO_MEMORY || rc == STORE_OVER_QUOTA)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("no room in the cache for an item of map \"%s\"",
						(*map)->name),
				 errhint("Delete items, or raise pg_memshard.memory or the map's max_memory.")));
	return rc == STORE_OK;
}
