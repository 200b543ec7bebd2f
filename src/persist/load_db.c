/*-------------------------------------------------------------------------
 *
 * load_db.c
 *		A loader: the background worker that puts one database's items of
 *		a dump back into the cache.
 *
 * It connects to the database (as the bootstrap superuser), reads the map
 * catalog, and goes through the dump once per phase it was given (recently
 * used items, the others), taking the records of its database.  An item is
 * put back (store_load_item: only if its key is absent, never evicting)
 * unless:
 *
 *	 - it has expired since the dump was written;
 *	 - its map is gone: no row of that id in memshard.map_catalog, a row
 *	   created after the dump was written (the id was used again after the
 *	   extension was dropped and created), no extension at all, or a map
 *	   dropped during the load;
 *	 - its map is placed on nodes and this node is not, under its own
 *	   metadata now, the primary of the key's shard: a shard moved away is
 *	   not ours, and a replica missed every write made while this node was
 *	   down (writes skip an unreachable replica) and would serve those old
 *	   values when the primary cannot be reached;
 *	 - the cache has no free room for it (or its map no quota left).
 *
 * Map options (quota, eviction) are the catalog's, as at any attach.  A
 * drop_map racing the load is handled by attaching first and checking the
 * catalog with a fresh snapshot afterwards: a drop committed before the
 * check is seen and the map detached here; one committed after it detaches
 * the map itself (its commit releases the map's store slot), and the
 * loader's next item gets STORE_MAP_GONE.
 *
 * Counters go to shared memory every LOAD_BATCH records, with a sign of
 * progress for the load gate and a check for interrupts; no lock is held
 * across records.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cluster/placement.h"
#include "pg_memshard.h"
#include "persist/persist_internal.h"
#include "router/router.h"
#include "store/store.h"

#define LOAD_BATCH	1024

/* what the loader knows of a map of the dump */
typedef enum LoadMapState
{
	LOAD_MAP_READY,
	LOAD_MAP_DROPPED,
	LOAD_MAP_NOT_HELD,			/* placed on nodes, but not here */
	LOAD_MAP_NO_SLOT			/* pg_memshard.max_maps attached already */
} LoadMapState;

typedef struct LoadMap
{
	int32		mapid;			/* hash key */
	bool		prepared;
	LoadMapState state;
	int			handle;
	MapInfo    *info;			/* NULL: not in the catalog */
	TimestampTz created;
	bool	   *primary;		/* maps over nodes: shard -> we are its primary */
} LoadMap;

/* one loader's run */
typedef struct Loader
{
	LoaderArgs	args;
	TimestampTz written_at;		/* of the dump */
	HTAB	   *maps;
	char		key[MEMSHARD_MAX_KEY_SIZE];
	char	   *value;
	Size		value_size;
	int64		counts[PERSIST_NCOUNTERS];	/* not yet added to shared memory */
} Loader;

PGDLLEXPORT void persist_loader_main(Datum main_arg);

static void load_database(Loader *loader);
static void read_catalog(Loader *loader);
static bool load_pass(Loader *loader, int phase);
static PersistCounter load_item(Loader *loader, const DumpRecord *record);
static LoadMap *map_entry(Loader *loader, int32 mapid);
static LoadMap *prepared_map(Loader *loader, int32 mapid);
static void prepare_map(LoadMap *map, TimestampTz written_at);
static bool catalog_created(int32 mapid, TimestampTz *created);
static PersistCounter outcome_of(StoreResult result, LoadMap *map);
static void flush_counts(Loader *loader);

void
persist_loader_main(Datum main_arg)
{
	Loader		loader;

	memset(&loader, 0, sizeof(loader));
	memcpy(&loader.args, MyBgworkerEntry->bgw_extra, sizeof(LoaderArgs));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(loader.args.dboid, InvalidOid,
											  BGWORKER_BYPASS_ALLOWCONN);
	store_load_as_loader();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "loading the cache dump");

	load_database(&loader);

	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

static void
load_database(Loader *loader)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(LoadMap);
	ctl.hcxt = CurrentMemoryContext;
	loader->maps = hash_create("pg_memshard loader maps", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	read_catalog(loader);

	if (loader->args.phases & LOAD_PHASE_RECENT)
		(void) load_pass(loader, LOAD_PHASE_RECENT);
	if (loader->args.phases & LOAD_PHASE_OTHERS)
		(void) load_pass(loader, LOAD_PHASE_OTHERS);
	flush_counts(loader);
}

/*
 * The maps of this database, if the extension is there: their definitions
 * (map_catalog_list) and creation times.
 */
static void
read_catalog(Loader *loader)
{
	List	   *maps;
	ListCell   *lc;
	uint64		row;

	if (!OidIsValid(get_extension_oid("pg_memshard", true)))
		return;
	if (SPI_execute("SELECT id, created FROM memshard.map_catalog",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read memshard.map_catalog");
	for (row = 0; row < SPI_processed; row++)
	{
		bool		isnull;
		int32		mapid = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														SPI_tuptable->tupdesc,
														1, &isnull));
		LoadMap    *map = map_entry(loader, mapid);

		map->created = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[row],
														 SPI_tuptable->tupdesc,
														 2, &isnull));
	}
	/* a map with no creation time was created meanwhile: it stays NULL */
	maps = map_catalog_list();
	foreach(lc, maps)
	{
		MapInfo    *info = lfirst(lc);
		LoadMap    *map = hash_search(loader->maps, &info->id, HASH_FIND, NULL);

		if (map != NULL)
			map->info = info;
	}
}

/* one pass over the dump; false if the file could not be read */
static bool
load_pass(Loader *loader, int phase)
{
	DumpReader	reader;
	DumpHeader	header;
	DumpRecord	record;
	int64		seen = 0;

	if (!dump_reader_open(&reader, DUMP_LOAD_FILE, false) ||
		!dump_read(&reader, &header, sizeof(header)))
		return false;
	loader->written_at = header.written_at;
	while (dump_read_record(&reader, &record) &&
		   record.kind == DUMP_RECORD_ITEM)
	{
		bool		mine = (record.dboid == loader->args.dboid &&
							(record.recent != 0) == (phase == LOAD_PHASE_RECENT));

		if (!mine)
		{
			if (!dump_skip(&reader, (Size) record.keylen + record.vallen))
				break;
			continue;
		}
		if (record.vallen > loader->value_size)
		{
			loader->value_size = Max(record.vallen, 64 * 1024);
			loader->value = loader->value ?
				repalloc(loader->value, loader->value_size) :
				palloc(loader->value_size);
		}
		if (!dump_read(&reader, loader->key, record.keylen) ||
			!dump_read(&reader, loader->value, record.vallen))
			break;
		loader->counts[load_item(loader, &record)]++;
		loader->counts[PERSIST_PROCESSED]++;
		if (++seen % LOAD_BATCH == 0)
		{
			flush_counts(loader);
			CHECK_FOR_INTERRUPTS();
		}
	}
	dump_reader_close(&reader);
	return true;
}

/* put one item back; the counter its outcome adds to */
static PersistCounter
load_item(Loader *loader, const DumpRecord *record)
{
	LoadMap    *map;
	StoreResult result;

	if (record->expire_at != 0 && record->expire_at != DT_NOEND &&
		record->expire_at <= GetCurrentTimestamp())
		return PERSIST_SKIPPED_EXPIRED;
	map = prepared_map(loader, record->mapid);
	switch (map->state)
	{
		case LOAD_MAP_READY:
			break;
		case LOAD_MAP_DROPPED:
			return PERSIST_SKIPPED_DROPPED_MAP;
		case LOAD_MAP_NOT_HELD:
			return PERSIST_SKIPPED_NOT_HELD;
		case LOAD_MAP_NO_SLOT:
			return PERSIST_SKIPPED_NO_ROOM;
	}
	if (map->primary != NULL &&
		!map->primary[router_key_shard(map->info, loader->key, record->keylen)])
		return PERSIST_SKIPPED_NOT_HELD;
	if (record->keylen + record->vallen > store_max_item_size())
		return PERSIST_SKIPPED_NO_ROOM;

	result = store_load_item(map->handle, loader->key, record->keylen,
							 loader->value, record->vallen, record->expire_at);
	if (result == STORE_OK)
		loader->counts[PERSIST_BYTES_LOADED] += record->keylen + record->vallen;
	return outcome_of(result, map);
}

static PersistCounter
outcome_of(StoreResult result, LoadMap *map)
{
	switch (result)
	{
		case STORE_OK:
			return PERSIST_LOADED;
		case STORE_NOT_FOUND:
			return PERSIST_SKIPPED_EXPIRED;
		case STORE_EXISTS:
			return PERSIST_SKIPPED_NEWER;
		case STORE_MAP_GONE:
			map->state = LOAD_MAP_DROPPED;
			return PERSIST_SKIPPED_DROPPED_MAP;
		default:
			return PERSIST_SKIPPED_NO_ROOM;
	}
}

/* the loader's entry of a map, new ones empty */
static LoadMap *
map_entry(Loader *loader, int32 mapid)
{
	bool		found;
	LoadMap    *map = hash_search(loader->maps, &mapid, HASH_ENTER, &found);

	if (!found)
	{
		memset(map, 0, sizeof(LoadMap));
		map->mapid = mapid;
	}
	return map;
}

static LoadMap *
prepared_map(Loader *loader, int32 mapid)
{
	LoadMap    *map = map_entry(loader, mapid);

	if (!map->prepared)
	{
		prepare_map(map, loader->written_at);
		map->prepared = true;
	}
	return map;
}

/* decide about a map at its first item, attaching it if it is to be loaded */
static void
prepare_map(LoadMap *map, TimestampTz written_at)
{
	MapInfo    *info = map->info;
	TimestampTz created;
	bool		exists;

	map->state = LOAD_MAP_DROPPED;
	if (info == NULL || map->created > written_at)
		return;
	if (!info->local_only)
	{
		const MapPlacements *placements = cluster_map_placements(info->id);
		int			shard;

		map->state = LOAD_MAP_NOT_HELD;
		if (placements == NULL || placements->nshards != info->shard_count)
			return;
		map->primary = palloc(sizeof(bool) * placements->nshards);
		for (shard = 0; shard < placements->nshards; shard++)
			map->primary[shard] = placement_node(placements, shard, 0)->is_local;
	}

	map->handle = store_map_attach(MyDatabaseId, info->id, &info->opts);
	if (map->handle < 0)
	{
		map->state = LOAD_MAP_NO_SLOT;
		return;
	}
	/* a drop committed before this check is seen here: detach for it */
	exists = catalog_created(info->id, &created);
	if (!exists)
		store_map_detach(map->handle, MyDatabaseId, info->id);
	if (!exists || created != map->created)
		return;
	map->state = LOAD_MAP_READY;
}

/*
 * The creation time of map 'mapid' as of now (a new snapshot: SPI takes
 * one per statement when not read-only); false if there is no such map.
 */
static bool
catalog_created(int32 mapid, TimestampTz *created)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(mapid)};
	bool		isnull;

	if (SPI_execute_with_args("SELECT created FROM memshard.map_catalog "
							  "WHERE id OPERATOR(pg_catalog.=) $1",
							  1, argtypes, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read memshard.map_catalog");
	if (SPI_processed == 0)
		return false;
	*created = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1,
												 &isnull));
	return !isnull;
}

/* add what was counted to shared memory; a sign of progress for the gate */
static void
flush_counts(Loader *loader)
{
	int			i;

	for (i = 0; i < PERSIST_NCOUNTERS; i++)
	{
		persist_count(i, loader->counts[i]);
		loader->counts[i] = 0;
	}
	store_load_progress();
}
