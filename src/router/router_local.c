/*-------------------------------------------------------------------------
 *
 * router_local.c
 *		This node's store: the local side of every data operation.
 *
 * Both a map of this node only (router.c) and the copies of a map over
 * nodes that live here (router_cluster.c for our own calls,
 * router_peer.c for other nodes' calls) end here.
 *
 * The caller (src/api) has validated every argument (sizes, ttl) before
 * calling, so a failure here leaves the cache as it was.  A store answer of
 * STORE_MAP_GONE means the map was dropped (or dropped and created again)
 * under this backend's cached MapInfo: we reload it once from the catalog
 * and retry, which reports 42704 if the map is really gone.  That is why
 * these functions take a MapInfo **: the map may be another MapInfo
 * afterwards.  Errors from the store (no memory, not a number, overflow)
 * are raised here, so that callers see one behaviour whether the key is
 * local or not.
 *
 * Every write of a map over nodes passes the move log (src/store/
 * move_log.c) around its store call: while its shard is moving away from
 * this node the key is logged for the mover, a frozen shard makes it
 * wait, and a shard switched away refuses it (55M01) before it is made.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "pg_memshard.h"
#include "router/router.h"
#include "router/router_internal.h"
#include "store/move_log.h"

static void retry_after_gone(MapInfo **map, bool *retried);
static void move_guard_begin(MoveWriteGuard *guard, MapInfo *map,
							 const char *key, int keylen);
static void report_store_error(MapInfo *map, StoreResult result,
							   const char *key, int keylen, int64 delta);

/*
 * The store no longer knows our handle: reload the map once; a second
 * STORE_MAP_GONE means it was dropped while we worked.
 */
static void
retry_after_gone(MapInfo **map, bool *retried)
{
	if (*retried)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("map \"%s\" was dropped", (*map)->name)));
	*retried = true;
	*map = router_reload_map(*map);
}

/* ERROR for the store's failures; other results are the caller's */
static void
report_store_error(MapInfo *map, StoreResult result, const char *key,
				   int keylen, int64 delta)
{
	switch (result)
	{
		case STORE_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("no room in the cache for an item of map \"%s\"",
							map->name),
					 !map->opts.evictable ?
					 errdetail("Items of map \"%s\" are never evicted (eviction 'none').",
							   map->name) :
					 errdetail("No item could be evicted to make room: the cache is held by maps whose items are never evicted."),
					 errhint("Delete items, or raise pg_memshard.memory.")));
			break;
		case STORE_OVER_QUOTA:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("no room in the cache for an item of map \"%s\"",
							map->name),
					 errdetail("Map \"%s\" is limited to " INT64_FORMAT " bytes (max_memory)%s.",
							   map->name, map->opts.max_memory,
							   map->opts.evictable ? "" :
							   " and its items are never evicted"),
					 errhint("Delete items of the map, or raise its max_memory.")));
			break;
		case STORE_NOT_NUMBER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("value of key \"%s\" in map \"%s\" is not an integer",
							pnstrdup(key, keylen), map->name)));
			break;
		case STORE_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range"),
					 errdetail("Adding " INT64_FORMAT " to key \"%s\" in map \"%s\" overflows.",
							   delta, pnstrdup(key, keylen), map->name)));
			break;
		case STORE_MAP_GONE:
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("map \"%s\" was dropped", map->name)));
			break;
		default:
			break;
	}
}

/* a key and its map, for the move log's question "which shard?" */
typedef struct KeyOfMap
{
	MapInfo    *map;
	const char *key;
	int			keylen;
} KeyOfMap;

static int
key_of_map_shard(void *arg)
{
	KeyOfMap   *k = arg;

	return router_key_shard(k->map, k->key, k->keylen);
}

/*
 * Around every local write of a map over nodes: while the key's shard is
 * moving away from this node, the write is logged for the mover, waits
 * while the shard is frozen for its switch, and is refused (before it is
 * made) once the shard is gone (src/store/move_log.c).
 */
static void
move_guard_begin(MoveWriteGuard *guard, MapInfo *map, const char *key,
				 int keylen)
{
	KeyOfMap	k = {map, key, keylen};

	guard->slot = -1;
	guard->unlocked = false;
	if (map->local_only)
		return;
	(void) move_log_write_begin(guard, MyDatabaseId, map->id,
								key_of_map_shard, &k,
								memshard_remote_timeout_ms);
}

/* one item into the local store */
StoreResult
router_local_set(MapInfo **map, const char *key, int keylen,
		  const char *value, int vallen, int64 ttl_ms, StoreSetMode mode)
{
	bool		retried = false;
	StoreResult result;

	for (;;)
	{
		int			slot = router_map_slot(*map);
		MoveWriteGuard guard;

		move_guard_begin(&guard, *map, key, keylen);
		result = store_set(slot, key, keylen, value, vallen, ttl_ms, mode);
		move_log_write_end(&guard, key, keylen);
		if (result != STORE_MAP_GONE)
			break;
		retry_after_gone(map, &retried);
	}
	report_store_error(*map, result, key, keylen, 0);
	return result;
}

/* one value from the local store, or NULL */
char *
router_local_get(MapInfo **map, const char *key, int keylen, Size prefix,
		  int *vallen)
{
	bool		retried = false;
	char	   *buf;

	while ((buf = store_get(router_map_slot(*map), key, keylen, prefix,
							vallen)) == NULL && *vallen < 0)
		retry_after_gone(map, &retried);
	return buf;
}

/*
 * The local store's part of router_mget: one batch (store_mget hashes every
 * key first and reads each partition's keys together), asked again as a
 * whole if the map went away meanwhile.
 */
void
router_local_mget(MapInfo **map, int nkeys, char **keys, int *keylens,
				  Size prefix, char **values, int *vallens, bool *texts)
{
	bool		retried = false;

	while (!store_mget(router_map_slot(*map), nkeys, keys, keylens, prefix,
					   values, vallens, texts))
		retry_after_gone(map, &retried);
}

/* the local store's part of router_mset */
int
router_local_mset(MapInfo **map, int nkeys, char **keys, int *keylens,
				  char **values, int *vallens, int64 ttl_ms)
{
	int			stored = 0;
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		if (router_local_set(map, keys[i], keylens[i], values[i], vallens[i],
							 ttl_ms, STORE_SET) == STORE_OK)
			stored++;
	}
	return stored;
}

bool
router_local_delete(MapInfo **mapp, const char *key, int keylen)
{
	MapInfo    *map = *mapp;
	bool		retried = false;
	StoreResult result;

	for (;;)
	{
		int			slot = router_map_slot(map);
		MoveWriteGuard guard;

		move_guard_begin(&guard, map, key, keylen);
		result = store_delete(slot, key, keylen);
		move_log_write_end(&guard, key, keylen);
		if (result != STORE_MAP_GONE)
			break;
		retry_after_gone(&map, &retried);
	}
	*mapp = map;
	return result == STORE_OK;
}

int64
router_local_incr(MapInfo **mapp, const char *key, int keylen, int64 delta,
				  int64 ttl_ms)
{
	MapInfo    *map = *mapp;
	bool		retried = false;
	StoreResult result;
	int64		value = 0;

	for (;;)
	{
		int			slot = router_map_slot(map);
		MoveWriteGuard guard;

		move_guard_begin(&guard, map, key, keylen);
		result = store_incr(slot, key, keylen, delta, ttl_ms, &value);
		move_log_write_end(&guard, key, keylen);
		if (result != STORE_MAP_GONE)
			break;
		retry_after_gone(&map, &retried);
	}
	report_store_error(map, result, key, keylen, delta);
	*mapp = map;
	return value;
}

bool
router_local_touch(MapInfo **mapp, const char *key, int keylen, int64 ttl_ms)
{
	MapInfo    *map = *mapp;
	bool		retried = false;
	StoreResult result;

	for (;;)
	{
		int			slot = router_map_slot(map);
		MoveWriteGuard guard;

		move_guard_begin(&guard, map, key, keylen);
		result = store_touch(slot, key, keylen, ttl_ms);
		move_log_write_end(&guard, key, keylen);
		if (result != STORE_MAP_GONE)
			break;
		retry_after_gone(&map, &retried);
	}
	*mapp = map;
	return result == STORE_OK;
}

/*
 * The local store's part of router_flush.  The handle is checked first: a
 * stale handle's slot may belong to another map by now.
 */
int64
router_local_flush(MapInfo **mapp)
{
	MapInfo    *map = *mapp;
	bool		retried = false;
	int64		removed;

	for (;;)
	{
		int			slot = router_map_slot(map);

		if (store_map_owned(slot, MyDatabaseId, map->id) &&
			(removed = store_flush_map(slot)) >= 0)
		{
			*mapp = map;
			return removed;
		}
		retry_after_gone(&map, &retried);
	}
}

/* the map's counters on this node */
void
router_map_counters(MapInfo *map, StoreCounters *counters)
{
	int			slot = map->slot;

	/* looking never attaches: a map without a slot holds nothing */
	if (slot < 0)
		slot = store_map_find(MyDatabaseId, map->id);
	if (slot < 0)
	{
		memset(counters, 0, sizeof(StoreCounters));
		return;
	}
	store_map_stats(slot, counters);
}
