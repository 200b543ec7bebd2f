/*-------------------------------------------------------------------------
 *
 * cache_table.c
 *		Administration of cached tables: cache_table, uncache_table, what
 *		DROP TABLE does, and the cached_tables view.
 *
 * cache_table(tbl) checks the table, creates a map for its rows (a row of
 * memshard.map_catalog, so the map shows in memshard.maps and pg_dump keeps
 * it), adds a row to memshard.table_catalog and installs two triggers on
 * the table, both ENABLE ALWAYS (so writes under session_replication_role
 * = replica, as logical replication applies them, invalidate too):
 *
 *	 memshard_tablecache			AFTER INSERT OR UPDATE OR DELETE FOR EACH ROW
 *	 memshard_tablecache_truncate AFTER TRUNCATE FOR EACH STATEMENT
 *
 * (row triggers are cloned to partitions, present and future; TRUNCATE of
 * a partition alone is caught from the invalidations it sends, see
 * invalidate.c).  The triggers are ordinary ones, so pg_dump keeps them
 * with the table.  The map's items live in a store slot of their own,
 * (database, -map id), which the data functions (set, get, ...) never
 * reach: a role that may not read the table cannot read its rows through
 * memshard.get, nor plant one for get_row.
 *
 * With nodes, the map is a map over them (tc_remote.c says how rows live
 * there), created and dropped on every node as create_map and drop_map do.
 *
 * The table is locked SHARE ROW EXCLUSIVE while the triggers are made,
 * which waits for transactions writing to it: once cache_table commits,
 * every write goes through the triggers.
 *
 * DROP TABLE (and DROP SCHEMA ... CASCADE, DROP OWNED) of a cached table
 * is seen by the sql_drop event trigger memshard_tablecache_dropped, which
 * removes the catalog row and the map; the items go when the drop commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "api/api.h"
#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "router/router.h"
#include "tablecache/tablecache_internal.h"

#define TC_MAP_PREFIX "table:"

enum
{
	ARG_TBL,
	ARG_NODES,
	ARG_TTL,
	ARG_MAX_MEMORY
};

PG_FUNCTION_INFO_V1(memshard_cache_table);
PG_FUNCTION_INFO_V1(memshard_uncache_table);
PG_FUNCTION_INFO_V1(memshard_tablecache_dropped);
PG_FUNCTION_INFO_V1(memshard_read_cached_tables);

static void require_table_arg(FunctionCallInfo fcinfo);
static Relation open_cacheable(Oid relid);
static int	primary_key_columns(Relation rel, const char **names);
static char *choose_map_name(Relation rel);
static int32 create_table_map(const char *mapname, FunctionCallInfo fcinfo,
							  ArrayType *nodes);
static void run_ddl(const char *fmt, const char *qualified_name);
static char *qualified_name(Relation rel);
static bool uncache(Oid relid);

static void
require_table_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(ARG_TBL))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("table must not be NULL")));
}

/* open a table cache_table may cache, or ERROR saying why not */
static Relation
open_cacheable(Oid relid)
{
	Relation	rel = table_open(relid, ShareRowExclusiveLock);
	const char *name = RelationGetRelationName(rel);
	char		kind = rel->rd_rel->relkind;

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot cache \"%s\": it is not a table", name),
				 errdetail("Only ordinary and partitioned tables can be cached.")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, name);
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot cache temporary table \"%s\"", name),
				 errdetail("Other sessions cannot see its rows.")));
	if (IsCatalogRelation(rel) ||
		RelationGetNamespace(rel) == get_namespace_oid(TC_SCHEMA, true))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot cache \"%s\": it is a catalog", name)));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot cache \"%s\": it is a partition", name),
				 errhint("Cache the partitioned table: its partitions come with it.")));
	if (kind == RELKIND_RELATION && (has_superclass(relid) || has_subclass(relid)))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot cache \"%s\": it takes part in table inheritance", name),
				 errdetail("Writes to a parent or child table would not invalidate the other's rows.")));
	if (rel->rd_rel->relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot cache \"%s\": it has row level security enabled", name),
				 errdetail("Cached rows are shared by every role that may read the table.")));
	return rel;
}

/* the primary key's column names, in key order; ERROR without one */
static int
primary_key_columns(Relation rel, const char **names)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	int			n;
	int			i;

	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot cache table \"%s\": it has no primary key",
						RelationGetRelationName(rel)),
				 errhint("Rows are cached and looked up by primary key: add one with ALTER TABLE ... ADD PRIMARY KEY.")));
	index = index_open(pkoid, AccessShareLock);
	n = index->rd_index->indnkeyatts;
	for (i = 0; i < n; i++)
	{
		TcKeyColumn col;

		(void) tc_key_column_init(&col, rel, index->rd_index->indkey.values[i],
								  index->rd_opfamily[i], index->rd_opcintype[i],
								  index->rd_indcollation[i], true);
		names[i] = pstrdup(col.name);
	}
	index_close(index, AccessShareLock);
	return n;
}

/*
 * "table:schema.name" when it fits and is free, else "table:<oid>": a map
 * name must be unique and at most 63 bytes.
 */
static char *
choose_map_name(Relation rel)
{
	MapInfo		map;
	char	   *name = psprintf(TC_MAP_PREFIX "%s.%s",
								get_namespace_name(RelationGetNamespace(rel)),
								RelationGetRelationName(rel));

	if (strlen(name) <= MAP_NAME_MAX_LEN &&
		!map_catalog_lookup(name, &map, CurrentMemoryContext))
		return name;
	return psprintf(TC_MAP_PREFIX "%u", RelationGetRelid(rel));
}

/*
 * The map holding the table's rows: a map of this node, or with nodes a
 * map over them (one copy of each shard), made on every node of the
 * cluster as create_map makes it.
 */
static int32
create_table_map(const char *mapname, FunctionCallInfo fcinfo, ArrayType *nodes)
{
	MapDefinition def;
	int32		mapid;
	int			slot;

	memset(&def, 0, sizeof(def));
	def.name = pstrdup(mapname);
	if (!PG_ARGISNULL(ARG_TTL))
		def.default_ttl = PG_GETARG_INTERVAL_P(ARG_TTL);
	def.max_memory = PG_ARGISNULL(ARG_MAX_MEMORY) ? 0 : PG_GETARG_INT64(ARG_MAX_MEMORY);
	def.evictable = true;
	def.method = MAP_METHOD_HASH;
	def.shard_count = 32;
	def.bounds_null = true;
	def.nodes_null = (nodes == NULL);
	def.nodes = PointerGetDatum(nodes);
	def.replicas = 1;
	if (nodes != NULL)
		cluster_change_begin();
	mapid = map_catalog_insert(&def);
	router_map_created(mapid);
	if (nodes != NULL)
	{
		cluster_place_map(mapid, def.shard_count, nodes, 1);
		cluster_change_end();
	}

	/* a map id can have lived before (the extension created again) */
	if (store_is_ready() && (slot = store_map_find(MyDatabaseId, -mapid)) >= 0)
		store_map_detach(slot, MyDatabaseId, -mapid);
	return mapid;
}

/* run a statement about a table through SPI; fmt has one %s: the table */
static void
run_ddl(const char *fmt, const char *qualified_name)
{
	char	   *sql = psprintf(fmt, qualified_name);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not run \"%s\"", sql);
	SPI_finish();
	pfree(sql);
}

/* the schema-qualified, quoted name of a relation */
static char *
qualified_name(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

/*
 * cache_table(tbl regclass, nodes name[], ttl interval, max_memory bigint)
 * RETURNS text: the name of the map made for the table's rows.
 */
Datum
memshard_cache_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	const char *keys[INDEX_MAX_KEYS];
	int			nkeys;
	char		mapname[NAMEDATALEN];
	char	   *name;
	char	   *qname;
	ArrayType  *nodes;
	int32		mapid;
	int64		max_memory = 0;

	ext_version_check();
	require_table_arg(fcinfo);
	relid = PG_GETARG_OID(ARG_TBL);
	if (!PG_ARGISNULL(ARG_TTL))
		(void) ttl_interval_to_ms(PG_GETARG_INTERVAL_P(ARG_TTL));
	if (!PG_ARGISNULL(ARG_MAX_MEMORY) && (max_memory = PG_GETARG_INT64(ARG_MAX_MEMORY)) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_memory must be greater than zero"),
				 errhint("Pass NULL for no quota.")));

	rel = open_cacheable(relid);
	nkeys = primary_key_columns(rel, keys);
	if (tc_catalog_find(relid, mapname))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already cached", RelationGetRelationName(rel)),
				 errdetail("Its rows are in map \"%s\".", mapname)));

	/* NULL nodes: this node only (even in a cluster, unlike create_map) */
	name = choose_map_name(rel);
	nodes = PG_ARGISNULL(ARG_NODES) ? NULL :
		cluster_map_nodes(PG_GETARG_ARRAYTYPE_P(ARG_NODES), 1, name);
	mapid = create_table_map(name, fcinfo, nodes);
	tc_release_at_end(mapid, relid, false);
	tc_catalog_insert(relid, name, nkeys, keys,
					  PG_ARGISNULL(ARG_TTL) ? (Datum) 0 : PG_GETARG_DATUM(ARG_TTL),
					  PG_ARGISNULL(ARG_TTL), max_memory,
					  PointerGetDatum(nodes), nodes == NULL);

	/* closed (the lock kept): ALTER TABLE refuses a table in use */
	qname = qualified_name(rel);
	table_close(rel, NoLock);
	run_ddl("CREATE TRIGGER " TC_ROW_TRIGGER
			" AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW"
			" EXECUTE FUNCTION " TC_SCHEMA "." TC_TRIGGER_FUNCTION "()", qname);
	run_ddl("CREATE TRIGGER " TC_TRUNCATE_TRIGGER
			" AFTER TRUNCATE ON %s FOR EACH STATEMENT"
			" EXECUTE FUNCTION " TC_SCHEMA "." TC_TRIGGER_FUNCTION "()", qname);
	run_ddl("ALTER TABLE %s ENABLE ALWAYS TRIGGER " TC_ROW_TRIGGER
			", ENABLE ALWAYS TRIGGER " TC_TRUNCATE_TRIGGER, qname);
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * The table is no longer cached: its catalog row and its map go, and its
 * items and scope when the transaction commits.  False if it was not
 * cached.
 */
static bool
uncache(Oid relid)
{
	char		mapname[NAMEDATALEN];
	MapInfo		map;
	bool		over_nodes;
	int32		mapid;

	if (!tc_catalog_delete(relid, mapname))
		return false;
	/* a map over nodes is dropped on every node, as drop_map does it */
	over_nodes = map_catalog_lookup(mapname, &map, CurrentMemoryContext) &&
		!map.local_only;
	if (over_nodes)
		cluster_change_begin();
	if (map_catalog_delete(mapname, &mapid))
	{
		router_map_dropped(mapid);
		tc_release_at_end(mapid, relid, true);
		if (over_nodes)
			cluster_unplace_map(mapid);
	}
	if (over_nodes)
		cluster_change_end();
	return true;
}

/* uncache_table(tbl regclass) RETURNS boolean: false if it was not cached */
Datum
memshard_uncache_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	bool		was_cached;
	char	   *qname;

	ext_version_check();
	require_table_arg(fcinfo);
	relid = PG_GETARG_OID(ARG_TBL);
	rel = table_open(relid, ShareRowExclusiveLock);
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE,
					   RelationGetRelationName(rel));
	was_cached = uncache(relid);
	qname = qualified_name(rel);
	table_close(rel, NoLock);
	if (was_cached)
	{
		run_ddl("DROP TRIGGER IF EXISTS " TC_ROW_TRIGGER " ON %s", qname);
		run_ddl("DROP TRIGGER IF EXISTS " TC_TRUNCATE_TRIGGER " ON %s", qname);
	}
	PG_RETURN_BOOL(was_cached);
}

/*
 * The sql_drop event trigger: every table the command dropped that was
 * cached is uncached.
 */
Datum
memshard_tablecache_dropped(PG_FUNCTION_ARGS)
{
	List	   *dropped = NIL;
	ListCell   *lc;
	uint64		i;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("memshard.tablecache_dropped() must be called as an event trigger")));
	/* DROP EXTENSION drops the catalog too (and runs this trigger) */
	if (!OidIsValid(tc_catalog_relid(true)) ||
		!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(tc_catalog_relid(true))))
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT d.objid FROM pg_catalog.pg_event_trigger_dropped_objects() d"
					" WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
					" AND d.objsubid OPERATOR(pg_catalog.=) 0",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the dropped objects");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		objid = SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, 1, &isnull);

		dropped = lappend_oid(dropped, DatumGetObjectId(objid));
	}
	SPI_finish();

	foreach(lc, dropped)
		(void) uncache(lfirst_oid(lc));
	PG_RETURN_VOID();
}

/*
 * read_cached_tables(): the rows of memshard.cached_tables, one per cached
 * table of this database: its catalog row, the items of its map on this
 * node, and the counters of this instance.
 */
Datum
memshard_read_cached_tables(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *rows;
	ListCell   *lc;

	ext_version_check();
	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	rows = tc_catalog_list();
	foreach(lc, rows)
	{
		TcCatalogRow *row = lfirst(lc);
		Datum		values[13];
		bool		nulls[13];
		StoreCounters counters;
		int64		figures[MARKS_NCOUNTERS];
		MapInfo		map;
		int			slot = -1;
		int			c;

		memset(nulls, false, sizeof(nulls));
		if (map_catalog_lookup(row->mapname, &map, CurrentMemoryContext))
			slot = store_map_find(MyDatabaseId, -map.id);
		if (slot >= 0)
			store_map_stats(slot, &counters);
		else
			memset(&counters, 0, sizeof(counters));
		marks_scope_counters(marks_scope_find(MyDatabaseId, row->relid), figures);

		values[0] = ObjectIdGetDatum(row->relid);
		values[1] = CStringGetTextDatum(row->mapname);
		values[2] = row->key_columns;
		values[3] = row->ttl;
		nulls[3] = row->ttl_null;
		values[4] = Int64GetDatum(row->max_memory);
		nulls[4] = (row->max_memory == 0);
		values[5] = Int64GetDatum(counters.items);
		values[6] = Int64GetDatum(counters.bytes_used);
		for (c = 0; c < MARKS_NCOUNTERS; c++)
			values[7 + c] = Int64GetDatum(figures[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
