/*-------------------------------------------------------------------------
 *
 * map_catalog.c
 *		Reading and writing memshard.map_catalog, the table of maps.
 *
 * The catalog is an ordinary table of the extension, but we access it the
 * way PostgreSQL accesses its own catalogs (index scans, CatalogTupleInsert)
 * rather than through SPI: map lookups must work for any user of the data
 * functions without granting them the table, they must not depend on
 * search_path, and create_map/drop_map are the only writers.  Because
 * CatalogTupleInsert does not evaluate CHECK constraints, every value is
 * validated by the caller (map_api.c) first; the constraints in the
 * extension script guard writes that come through SQL (a restore).
 *
 * Writers lock the table in SHARE ROW EXCLUSIVE mode, which conflicts with
 * itself, so two sessions creating the same name are serialised and the
 * second one gets a clean "already exists".  Every write sends a relcache
 * invalidation for the table, which is how other backends learn that their
 * map cache (map_cache.c) is stale.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "router/router.h"

#define MEMSHARD_SCHEMA			"memshard"
#define MAP_CATALOG_TABLE		"map_catalog"
#define MAP_CATALOG_NAME_INDEX	"map_catalog_name_key"
#define MAP_CATALOG_SEQUENCE	"map_id_seq"

/* a ttl beyond this is surely a mistake (and would overflow expiry times) */
#define MAX_TTL_YEARS			100

/* columns of memshard.map_catalog, in the order the extension script makes them */
enum
{
	Anum_map_id = 1,
	Anum_map_name,
	Anum_map_default_ttl,
	Anum_map_max_memory,
	Anum_map_eviction,
	Anum_map_method,
	Anum_map_shard_count,
	Anum_map_bounds,
	Anum_map_nodes,
	Anum_map_replicas,
	Anum_map_created,
	Natts_map_catalog = Anum_map_created
};

static Oid	catalog_object(const char *relname);
static HeapTuple find_map_tuple(Relation rel, Relation index,
								const char *name, SysScanDesc *scan);
static void tuple_to_map_info(Relation rel, HeapTuple tuple, MapInfo *map,
							  MemoryContext cxt);
static Relation open_catalog_for_write(Relation *index);
static void close_catalog_after_write(Relation rel, Relation index);

/*
 * The time to live of an interval, in milliseconds, counting a month as 30
 * days as EXTRACT(epoch) does.  A fraction of a millisecond counts as one,
 * so a positive ttl never becomes "no expiry".
 */
int64
ttl_interval_to_ms(const Interval *ttl)
{
	int64		usecs;
	int64		days;

	if (pg_mul_s64_overflow((int64) ttl->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) ttl->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &usecs) ||
		pg_add_s64_overflow(usecs, ttl->time, &usecs) ||
		usecs > (int64) MAX_TTL_YEARS * DAYS_PER_YEAR * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl is out of range"),
				 errdetail("A ttl can be at most %d years.", MAX_TTL_YEARS)));
	if (usecs <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be greater than zero"),
				 errhint("Pass NULL for the map's default ttl.")));
	return (usecs + 999) / 1000;
}

/* OID of a relation of the extension's schema; ERROR if it is missing */
static Oid
catalog_object(const char *relname)
{
	Oid			nspoid = get_namespace_oid(MEMSHARD_SCHEMA, false);
	Oid			relid = get_relname_relid(relname, nspoid);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						MEMSHARD_SCHEMA, relname),
				 errhint("Is the extension pg_memshard installed in this database?")));
	return relid;
}

Oid
map_catalog_relid(void)
{
	return catalog_object(MAP_CATALOG_TABLE);
}

/*
 * The catalog tuple of the map called 'name', or NULL.  The tuple belongs
 * to the scan, which the caller ends with systable_endscan.
 */
static HeapTuple
find_map_tuple(Relation rel, Relation index, const char *name,
			   SysScanDesc *scan)
{
	ScanKeyData key;

	ScanKeyInit(&key, Anum_map_name, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(name));
	/* the column (and its unique index) has the database's collation */
	key.sk_collation = DEFAULT_COLLATION_OID;
	*scan = systable_beginscan(rel, RelationGetRelid(index), true, NULL,
							   1, &key);
	return systable_getnext(*scan);
}

/* fill 'map' from a catalog tuple; arrays are copied into 'cxt' */
static void
tuple_to_map_info(Relation rel, HeapTuple tuple, MapInfo *map,
				  MemoryContext cxt)
{
	Datum		values[Natts_map_catalog];
	bool		nulls[Natts_map_catalog];
	char	   *name;

	heap_deform_tuple(tuple, RelationGetDescr(rel), values, nulls);

	memset(map, 0, sizeof(MapInfo));
	name = TextDatumGetCString(values[Anum_map_name - 1]);
	strlcpy(map->name, name, NAMEDATALEN);
	map->namelen = strlen(map->name);
	map->id = DatumGetInt32(values[Anum_map_id - 1]);
	map->slot = -1;
	map->default_ttl_ms = nulls[Anum_map_default_ttl - 1] ? 0 :
		ttl_interval_to_ms(DatumGetIntervalP(values[Anum_map_default_ttl - 1]));
	map->opts.max_memory = nulls[Anum_map_max_memory - 1] ? 0 :
		DatumGetInt64(values[Anum_map_max_memory - 1]);
	map->opts.evictable =
		strcmp(TextDatumGetCString(values[Anum_map_eviction - 1]), "none") != 0;
	map->method =
		strcmp(TextDatumGetCString(values[Anum_map_method - 1]), "range") == 0 ?
		MAP_METHOD_RANGE : MAP_METHOD_HASH;
	map->shard_count = DatumGetInt32(values[Anum_map_shard_count - 1]);
	map->replicas = DatumGetInt32(values[Anum_map_replicas - 1]);
	map->local_only = nulls[Anum_map_nodes - 1];

	if (!nulls[Anum_map_bounds - 1])
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		ArrayType  *bounds = DatumGetArrayTypePCopy(values[Anum_map_bounds - 1]);

		deconstruct_array(bounds, TEXTOID, -1, false, TYPALIGN_INT,
						  &map->bounds, NULL, &map->nbounds);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Look the map up in the catalog, as of now (a fresh catalog snapshot, so
 * a drop committed by another session is seen at once).
 */
bool
map_catalog_lookup(const char *name, MapInfo *map, MemoryContext cxt)
{
	Relation	rel = table_open(map_catalog_relid(), AccessShareLock);
	Relation	index = index_open(catalog_object(MAP_CATALOG_NAME_INDEX),
								   AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tuple = find_map_tuple(rel, index, name, &scan);
	bool		found = HeapTupleIsValid(tuple);

	if (found)
		tuple_to_map_info(rel, tuple, map, cxt);
	systable_endscan(scan);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

static int
compare_map_names(const ListCell *a, const ListCell *b)
{
	return strcmp(((MapInfo *) lfirst(a))->name, ((MapInfo *) lfirst(b))->name);
}

/* every map of this database, sorted by name; MapInfos palloc'd */
List *
map_catalog_list(void)
{
	Relation	rel = table_open(map_catalog_relid(), AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *maps = NIL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		MapInfo    *map = palloc(sizeof(MapInfo));

		tuple_to_map_info(rel, tuple, map, CurrentMemoryContext);
		maps = lappend(maps, map);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(maps, compare_map_names);
	return maps;
}

static Relation
open_catalog_for_write(Relation *index)
{
	Relation	rel = table_open(map_catalog_relid(), ShareRowExclusiveLock);

	*index = index_open(catalog_object(MAP_CATALOG_NAME_INDEX), RowExclusiveLock);
	return rel;
}

/*
 * Keep the table lock until the end of the transaction; tell every backend
 * (this one at the next command) that its map cache is stale.
 */
static void
close_catalog_after_write(Relation rel, Relation index)
{
	CacheInvalidateRelcache(rel);
	index_close(index, RowExclusiveLock);
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

/* insert a validated definition; ERROR 42710 if the name is taken */
int32
map_catalog_insert(MapDefinition *def)
{
	Relation	index;
	Relation	rel = open_catalog_for_write(&index);
	SysScanDesc scan;
	bool		exists;
	Datum		values[Natts_map_catalog];
	bool		nulls[Natts_map_catalog];
	HeapTuple	tuple;

	exists = HeapTupleIsValid(find_map_tuple(rel, index, def->name, &scan));
	systable_endscan(scan);
	if (exists)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("map \"%s\" already exists", def->name)));

	def->id = (int32) nextval_internal(catalog_object(MAP_CATALOG_SEQUENCE), false);

	memset(nulls, false, sizeof(nulls));
	values[Anum_map_id - 1] = Int32GetDatum(def->id);
	values[Anum_map_name - 1] = CStringGetTextDatum(def->name);
	values[Anum_map_default_ttl - 1] = IntervalPGetDatum(def->default_ttl);
	nulls[Anum_map_default_ttl - 1] = (def->default_ttl == NULL);
	values[Anum_map_max_memory - 1] = Int64GetDatum(def->max_memory);
	nulls[Anum_map_max_memory - 1] = (def->max_memory == 0);
	values[Anum_map_eviction - 1] =
		CStringGetTextDatum(def->evictable ? "lru" : "none");
	values[Anum_map_method - 1] =
		CStringGetTextDatum(def->method == MAP_METHOD_RANGE ? "range" : "hash");
	values[Anum_map_shard_count - 1] = Int32GetDatum(def->shard_count);
	values[Anum_map_bounds - 1] = def->bounds;
	nulls[Anum_map_bounds - 1] = def->bounds_null;
	values[Anum_map_nodes - 1] = def->nodes;
	nulls[Anum_map_nodes - 1] = def->nodes_null;
	values[Anum_map_replicas - 1] = Int32GetDatum(def->replicas);
	values[Anum_map_created - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tuple);
	close_catalog_after_write(rel, index);
	return def->id;
}

/*
 * Delete the map called 'name'; false if there is none.  Its id comes back
 * for the store clean-up.
 */
bool
map_catalog_delete(const char *name, int32 *mapid)
{
	Relation	index;
	Relation	rel = open_catalog_for_write(&index);
	SysScanDesc scan;
	HeapTuple	tuple = find_map_tuple(rel, index, name, &scan);
	bool		found = HeapTupleIsValid(tuple);

	if (found)
	{
		MapInfo		map;

		tuple_to_map_info(rel, tuple, &map, CurrentMemoryContext);
		*mapid = map.id;
		CatalogTupleDelete(rel, &tuple->t_self);
	}
	systable_endscan(scan);
	if (found)
		close_catalog_after_write(rel, index);
	else
	{
		index_close(index, RowExclusiveLock);
		table_close(rel, NoLock);
	}
	return found;
}
