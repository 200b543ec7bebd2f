/*-------------------------------------------------------------------------
 *
 * map_cache.c
 *		The per-backend cache of maps, and the maps' life in the store.
 *
 * Every data call names its map, so the name -> MapInfo lookup is on the
 * hot path.  A call site keeps its map in fn_extra (src/api) while
 * router_map_cache_generation() stays the same; then we remember the last
 * map looked up and compare its name bytes; otherwise a hash table keyed by
 * name, filled from the catalog on a miss.  create_map and drop_map send a relcache
 * invalidation for memshard.map_catalog; our callback marks the whole cache
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
 * changes the catalog: a dropped map's items are removed when the drop
 * commits, and a map created by a transaction that aborts is released, so a
 * rolled-back create_map or drop_map leaves the store as the catalog says.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "pg_memshard.h"
#include "router/router.h"

/* a store release waiting for the end of the (sub)transaction */
typedef struct PendingRelease
{
	int32		mapid;
	bool		at_commit;		/* a drop: release at commit, else at abort */
	int			nestlevel;		/* subtransaction that asked for it */
} PendingRelease;

static HTAB *map_cache = NULL;
static MemoryContext map_cache_cxt = NULL;
static MapInfo *last_map = NULL;
static bool map_cache_stale = false;
static uint64 map_cache_generation = 1;	/* moves on whenever entries may go */
static Oid	map_catalog_oid = InvalidOid;
static bool callbacks_registered = false;
static List *pending_releases = NIL;

static MapInfo *lookup_slow(const char *name, int namelen);
static void map_cache_prepare(void);
static void register_callbacks(void);
static void map_cache_invalidate(Datum arg, Oid relid);
static void report_unknown_map(const char *name, int namelen) pg_attribute_noreturn();
static void release_store_map(int32 mapid);
static void remember_release(int32 mapid, bool at_commit);
static void map_cache_xact_callback(XactEvent event, void *arg);
static void map_cache_subxact_callback(SubXactEvent event,
									   SubTransactionId mySubid,
									   SubTransactionId parentSubid,
									   void *arg);

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
	RegisterXactCallback(map_cache_xact_callback, NULL);
	RegisterSubXactCallback(map_cache_subxact_callback, NULL);
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

/*
 * Remove whatever the store holds for (this database, mapid): nothing if
 * the map was never attached.  Runs in transaction callbacks: the store
 * never raises an ERROR.
 */
static void
release_store_map(int32 mapid)
{
	int			slot = store_map_find(MyDatabaseId, mapid);

	if (slot >= 0)
		store_map_detach(slot, MyDatabaseId, mapid);
}

/*
 * create_map inserted a catalog row.  A map id can have lived before (the
 * extension dropped and created again restarts the sequence), so release
 * anything the store still holds under it; and release the new map again if
 * the transaction aborts.
 */
void
router_map_created(int32 mapid)
{
	if (!memshard_preloaded)
		return;
	release_store_map(mapid);
	remember_release(mapid, false);
}

/* drop_map deleted a catalog row: its items go when the drop commits */
void
router_map_dropped(int32 mapid)
{
	if (!memshard_preloaded)
		return;
	remember_release(mapid, true);
}

static void
remember_release(int32 mapid, bool at_commit)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	PendingRelease *pending = palloc(sizeof(PendingRelease));

	register_callbacks();
	pending->mapid = mapid;
	pending->at_commit = at_commit;
	pending->nestlevel = GetCurrentTransactionNestLevel();
	pending_releases = lappend(pending_releases, pending);
	MemoryContextSwitchTo(old);
}

/*
 * End of transaction.  A prepared transaction may be committed by another
 * backend, which knows nothing of our list: a drop releases the store at
 * PREPARE (if the transaction is then rolled back, the map comes back
 * empty, which a cache may be).
 */
static void
map_cache_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;
	bool		committing;

	if (pending_releases == NIL)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			committing = true;
			break;
		case XACT_EVENT_ABORT:
			committing = false;
			break;
		default:
			return;
	}
	foreach(lc, pending_releases)
	{
		PendingRelease *pending = lfirst(lc);

		if (pending->at_commit == committing)
			release_store_map(pending->mapid);
	}
	list_free_deep(pending_releases);
	pending_releases = NIL;
}

/* a subtransaction ends: hand its releases to the parent, or act on abort */
static void
map_cache_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						   SubTransactionId parentSubid, void *arg)
{
	int			nestlevel = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	foreach(lc, pending_releases)
	{
		PendingRelease *pending = lfirst(lc);

		if (pending->nestlevel < nestlevel)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			pending->nestlevel = nestlevel - 1;
		else
		{
			if (!pending->at_commit)
				release_store_map(pending->mapid);
			pfree(pending);
			pending_releases = foreach_delete_current(pending_releases, lc);
		}
	}
}
