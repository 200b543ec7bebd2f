/*-------------------------------------------------------------------------
 *
 * map_cache.c
 *		The per-backend cache of maps, and their attachment to the store.
 *
 * Every data call names its map, so the name -> MapInfo lookup is on the
 * hot path.  A call site keeps its map in fn_extra (src/api) while
 * router_map_cache_generation() stays the same; then we remember the last
 * map looked up and compare its name bytes; otherwise a hash table keyed by
 * name, filled from the catalog on a miss.  create_map and drop_map send a
 * relcache invalidation for memshard.map_catalog; our callback marks the whole cache
 * stale, and it is rebuilt at the next lookup that misses the last map.
 * (The callback only sets a flag: it can fire in the middle of a lookup,
 * while a caller still holds a MapInfo pointer.)
 *
 * A backend can keep using a MapInfo of a map that another session dropped,
 * until it processes the invalidation; the store then answers
 * STORE_MAP_GONE, and router_reload_map looks the name up again.
 *
 * Maps are attached to the store lazily, by the first operation that needs
 * the local store.  Their store state ends with the transaction that
 * changes the catalog, which src/cluster/maps.c sees to.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "router/router.h"

static HTAB *map_cache = NULL;
static MemoryContext map_cache_cxt = NULL;
static MapInfo *last_map = NULL;
static bool map_cache_stale = false;
static uint64 map_cache_generation = 1;	/* moves on whenever entries may go */
static Oid	map_catalog_oid = InvalidOid;
static bool callbacks_registered = false;

static MapInfo *lookup_slow(const char *name, int namelen);
static void map_cache_prepare(void);
static void register_callbacks(void);
static void map_cache_invalidate(Datum arg, Oid relid);
static void report_unknown_map(const char *name, int namelen) pg_attribute_noreturn();

/*
 * The map called name (namelen bytes, not NUL-terminated); ERROR 42704 if
 * there is none.
 */
MapInfo *
router_lookup_map(const char *name, int namelen)
{
	if (likely(last_map != NULL) &&
		last_map->namelen == namelen &&
		memcmp(last_map->name, name, namelen) == 0)
		return last_map;
	return lookup_slow(name, namelen);
}

static MapInfo *
lookup_slow(const char *name, int namelen)
{
	char		key[NAMEDATALEN];
	MapInfo    *entry;

	if (namelen > MAP_NAME_MAX_LEN)
		report_unknown_map(name, namelen);
	memcpy(key, name, namelen);
	key[namelen] = '\0';

	map_cache_prepare();
	entry = hash_search(map_cache, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		MapInfo		info;
		bool		found;

		/*
		 * Reading the catalog may process invalidations and mark the cache
		 * stale; the row we read is current all the same, and the entry
		 * lives until the next rebuild.
		 */
		if (!map_catalog_lookup(key, &info, map_cache_cxt))
			report_unknown_map(name, namelen);
		entry = hash_search(map_cache, key, HASH_ENTER, &found);
		memcpy(entry, &info, sizeof(MapInfo));
	}
	last_map = entry;
	return entry;
}

/* make sure the hash table exists and is not stale */
static void
map_cache_prepare(void)
{
	HASHCTL		ctl;

	if (map_cache != NULL && !map_cache_stale)
		return;

	register_callbacks();
	last_map = NULL;
	map_cache_generation++;
	if (map_cache_cxt == NULL)
		map_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
											  "pg_memshard map cache",
											  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(map_cache_cxt);	/* frees the old table too */

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = sizeof(MapInfo);
	ctl.hcxt = map_cache_cxt;
	map_cache = hash_create("pg_memshard maps", 16, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	map_cache_stale = false;
	map_catalog_oid = map_catalog_relid();
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(map_cache_invalidate, (Datum) 0);
	callbacks_registered = true;
}

/* relcache callback: the catalog changed (or everything is being reset) */
static void
map_cache_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == map_catalog_oid ||
		map_catalog_oid == InvalidOid)
	{
		map_cache_stale = true;
		map_cache_generation++;
		last_map = NULL;
	}
}

static void
report_unknown_map(const char *name, int namelen)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("map \"%s\" does not exist", pnstrdup(name, namelen)),
			 errhint("Create it with memshard.create_map().")));
}

/*
 * After STORE_MAP_GONE: forget what we knew of the map and read the
 * catalog again (ERROR 42704 if the map was dropped).  'map' is invalid
 * afterwards.
 */
MapInfo *
router_reload_map(MapInfo *map)
{
	char		name[NAMEDATALEN];
	int			namelen = map->namelen;

	memcpy(name, map->name, NAMEDATALEN);
	hash_search(map_cache, name, HASH_REMOVE, NULL);
	map_cache_generation++;
	last_map = NULL;
	return router_lookup_map(name, namelen);
}

/*
 * A number that changes whenever a MapInfo this cache handed out may have
 * been freed or gone stale: a caller that keeps a MapInfo across calls (a
 * call site's fn_extra) may use it while the number is the same.
 */
uint64
router_map_cache_generation(void)
{
	return map_cache_generation;
}

/* the map's store handle, attaching the map on first use */
int
router_map_slot(MapInfo *map)
{
	if (unlikely(map->slot < 0))
	{
		int			slot = store_map_attach(MyDatabaseId, map->id, &map->opts);

		if (slot < 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many maps in use to attach map \"%s\"",
							map->name),
					 errhint("Drop unused maps, or raise pg_memshard.max_maps.")));
		map->slot = slot;
	}
	return map->slot;
}
