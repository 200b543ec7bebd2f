/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		memshard.table_catalog, and each backend's cache of what it says.
 *
 * table_catalog has one row per cached table (its OID as regclass, the map
 * holding its rows, its key columns, ttl, max_memory, nodes).  It is an
 * extension configuration table, so pg_dump keeps it; like map_catalog it
 * is read and written with index scans and CatalogTupleInsert (no SPI: the
 * trigger and get_row read it for any role, and must not depend on
 * search_path); cache_table and uncache_table, which check their arguments
 * first, are its only writers.
 *
 * The per-backend cache (TcTable, see tablecache_internal.h) answers "is this relation
 * a cached table, or a partition of one?" for the trigger on every row and
 * for get_row on every call, so it keeps negative entries too.  A relcache
 * invalidation of the relation, of its cached root, or of the catalog
 * marks entries stale; they are rebuilt at the next lookup (the callback
 * only sets a flag: it can fire in the middle of a lookup).  Saved SPI
 * plans of rebuilt entries may still be running in an outer call, so they
 * are freed at the end of the transaction, not at the rebuild.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "router/router.h"
#include "tablecache/tablecache_internal.h"

/* columns of memshard.table_catalog, in the order the script makes them */
enum
{
	Anum_tc_relid = 1,
	Anum_tc_map,
	Anum_tc_key_columns,
	Anum_tc_ttl,
	Anum_tc_max_memory,
	Anum_tc_nodes,
	Anum_tc_created,
	Natts_tc_catalog = Anum_tc_created
};

static HTAB *tc_cache = NULL;
static MemoryContext tc_cxt = NULL;
static Oid	catalog_oid = InvalidOid;
static Oid	trigger_fn_oid = InvalidOid;
static List *dead_plans = NIL;

static void tc_cache_prepare(void);
static void tc_invalidate(Datum arg, Oid relid);
static void build_entry(TcTable *entry);
static bool build_root(TcTable *entry, HeapTuple tuple, TupleDesc desc);
static void build_partition(TcTable *entry, TcTable *root);
static bool build_keys(TcTable *entry, Relation rel);
static bool triggers_in_place(Relation rel);
static HeapTuple find_row(Relation rel, Oid relid, SysScanDesc *scan);
static Oid	catalog_index(void);
static void row_map_name(Relation rel, HeapTuple tuple, char *mapname);

/* OID of memshard.table_catalog; InvalidOid (or ERROR) when it is missing */
Oid
tc_catalog_relid(bool missing_ok)
{
	Oid			nspoid;

	/* the callback forgets the OID when the catalog is dropped */
	tc_cache_prepare();
	if (OidIsValid(catalog_oid))
		return catalog_oid;
	nspoid = get_namespace_oid(TC_SCHEMA, true);
	if (OidIsValid(nspoid))
		catalog_oid = get_relname_relid(TC_CATALOG_TABLE, nspoid);
	if (!OidIsValid(catalog_oid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						TC_SCHEMA, TC_CATALOG_TABLE),
				 errhint("Update the extension: ALTER EXTENSION pg_memshard UPDATE.")));
	return catalog_oid;
}

static Oid
catalog_index(void)
{
	Oid			index = get_relname_relid(TC_CATALOG_INDEX,
										  get_namespace_oid(TC_SCHEMA, false));

	if (!OidIsValid(index))
		elog(ERROR, "index %s.%s is missing", TC_SCHEMA, TC_CATALOG_INDEX);
	return index;
}

/* OID of memshard.tablecache_trigger(), or InvalidOid */
static Oid
trigger_function(void)
{
	if (!OidIsValid(trigger_fn_oid))
		trigger_fn_oid = LookupFuncName(list_make2(makeString(TC_SCHEMA),
												   makeString(TC_TRIGGER_FUNCTION)),
										0, NULL, true);
	return trigger_fn_oid;
}

/* ---- the per-backend cache ---- */

static void
tc_cache_prepare(void)
{
	HASHCTL		ctl;

	if (tc_cache != NULL)
		return;
	tc_cxt = AllocSetContextCreate(CacheMemoryContext,
								   "pg_memshard table cache",
								   ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TcTable);
	ctl.hcxt = tc_cxt;
	tc_cache = hash_create("pg_memshard cached tables", 32, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(tc_invalidate, (Datum) 0);
}

/* relcache callback: the relation (or all, or the catalog) changed */
static void
tc_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	TcTable    *entry;
	bool		all = !OidIsValid(relid) || relid == catalog_oid ||
		!OidIsValid(catalog_oid);

	if (all)
	{
		catalog_oid = InvalidOid;
		trigger_fn_oid = InvalidOid;
	}
	hash_seq_init(&seq, tc_cache);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		if (all || entry->relid == relid || entry->root == relid)
			entry->valid = false;
	}
}

/* forget every entry (DROP EXTENSION in this database) */
void
tc_forget_all(void)
{
	if (tc_cache != NULL)
		tc_invalidate((Datum) 0, InvalidOid);
}

/*
 * The entry of a relation, valid.  Its root is InvalidOid when the
 * relation is neither cached nor a partition of a cached table.
 */
TcTable *
tc_lookup(Oid relid)
{
	TcTable    *entry;
	bool		found;

	tc_cache_prepare();
	entry = hash_search(tc_cache, &relid, HASH_FIND, NULL);
	if (likely(entry != NULL && entry->valid))
		return entry;
	if (entry == NULL)
	{
		entry = hash_search(tc_cache, &relid, HASH_ENTER, &found);
		entry->slot = -1;
		entry->scope = -1;
		entry->plan = NULL;
		entry->mapid = 0;
		entry->written_lxid = InvalidLocalTransactionId;
	}
	build_entry(entry);
	return entry;
}

/* the entry of the cached table an entry belongs to (itself for a root) */
TcTable *
tc_root(TcTable *entry)
{
	if (entry->root == entry->relid)
		return entry;
	return tc_lookup(entry->root);
}

/*
 * (Re)build an entry from the catalog.  valid is set first: an
 * invalidation arriving while we read marks it stale again.
 */
static void
build_entry(TcTable *entry)
{
	Oid			catoid = tc_catalog_relid(true);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	bool		cached = false;

	entry->valid = true;
	entry->root = InvalidOid;
	if (entry->plan != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		dead_plans = lappend(dead_plans, entry->plan);
		MemoryContextSwitchTo(old);
		entry->plan = NULL;
	}
	if (!OidIsValid(catoid))
		return;

	rel = table_open(catoid, AccessShareLock);
	tuple = find_row(rel, entry->relid, &scan);
	if (HeapTupleIsValid(tuple))
		cached = build_root(entry, tuple, RelationGetDescr(rel));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!cached && get_rel_relispartition(entry->relid))
	{
		List	   *ancestors = get_partition_ancestors(entry->relid);
		ListCell   *lc;

		foreach(lc, ancestors)
		{
			TcTable    *root = tc_lookup(lfirst_oid(lc));

			if (root->root == root->relid)
			{
				/* tc_lookup may have entered entries: ours did not move */
				build_partition(entry, root);
				break;
			}
		}
		list_free(ancestors);
	}
}

/* the catalog row of relid (the tuple belongs to *scan), or NULL */
static HeapTuple
find_row(Relation rel, Oid relid, SysScanDesc *scan)
{
	ScanKeyData key;

	ScanKeyInit(&key, Anum_tc_relid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	*scan = systable_beginscan(rel, catalog_index(), true, NULL, 1, &key);
	return systable_getnext(*scan);
}

/* a cached table's entry from its catalog row; false if it is gone */
static bool
build_root(TcTable *entry, HeapTuple tuple, TupleDesc desc)
{
	Datum		values[Natts_tc_catalog];
	bool		nulls[Natts_tc_catalog];
	MapInfo		map;
	Relation	rel;
	HeapTuple	classtup;
	int32		old_mapid = entry->mapid;

	heap_deform_tuple(tuple, desc, values, nulls);
	entry->catalog_xmin = HeapTupleHeaderGetXmin(tuple->t_data);
	strlcpy(entry->mapname, TextDatumGetCString(values[Anum_tc_map - 1]),
			NAMEDATALEN);
	entry->ttl_ms = nulls[Anum_tc_ttl - 1] ? 0 :
		ttl_interval_to_ms(DatumGetIntervalP(values[Anum_tc_ttl - 1]));
	entry->opts.max_memory = nulls[Anum_tc_max_memory - 1] ? 0 :
		DatumGetInt64(values[Anum_tc_max_memory - 1]);
	entry->opts.evictable = true;

	/* the table may have been dropped with its catalog row left behind */
	rel = try_relation_open(entry->relid, AccessShareLock);
	if (rel == NULL)
		return false;
	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(entry->relid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for relation %u", entry->relid);
	entry->class_xmin = HeapTupleHeaderGetXmin(classtup->t_data);
	ReleaseSysCache(classtup);

	entry->root = entry->relid;
	entry->rowtype = rel->rd_rel->reltype;
	entry->rowsecurity = rel->rd_rel->relrowsecurity;
	entry->thash = tc_table_hash(entry->relid);
	entry->usable = build_keys(entry, rel) && triggers_in_place(rel);
	relation_close(rel, AccessShareLock);

	entry->mapid = 0;
	entry->over_nodes = false;
	if (map_catalog_lookup(entry->mapname, &map, CurrentMemoryContext))
	{
		entry->mapid = map.id;
		entry->over_nodes = !map.local_only;
	}
	else
		entry->usable = false;
	if (entry->mapid != old_mapid)
		entry->slot = -1;
	return true;
}

/* a partition's entry: the root's key columns, by name, in the partition */
static void
build_partition(TcTable *entry, TcTable *root)
{
	int			i;

	entry->root = root->relid;
	entry->nkeys = root->nkeys;
	for (i = 0; i < root->nkeys; i++)
	{
		entry->keys[i] = root->keys[i];
		entry->keys[i].attnum = get_attnum(entry->relid, root->keys[i].name);
		if (entry->keys[i].attnum == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of cached table %u is missing in partition %u",
				 root->keys[i].name, root->relid, entry->relid);
	}
}

/* the primary key's columns; false when there is no usable one any more */
static bool
build_keys(TcTable *entry, Relation rel)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	int			i;
	bool		ok = true;

	entry->nkeys = 0;
	entry->pkindex = pkoid;
	entry->partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	if (!OidIsValid(pkoid))
		return false;
	index = index_open(pkoid, AccessShareLock);
	entry->nkeys = index->rd_index->indnkeyatts;
	for (i = 0; i < entry->nkeys && ok; i++)
		ok = tc_key_column_init(&entry->keys[i], rel,
								index->rd_index->indkey.values[i],
								index->rd_opfamily[i],
								index->rd_opcintype[i],
								index->rd_indcollation[i], false);
	index_close(index, AccessShareLock);
	return ok;
}

/*
 * The row trigger and the TRUNCATE trigger cache_table made are there and
 * not disabled.  Without them writes would not invalidate: get_row then
 * reads the table and fills nothing.
 */
static bool
triggers_in_place(Relation rel)
{
	Oid			fn = trigger_function();
	bool		row = false;
	bool		truncate = false;
	int			i;

	if (rel->trigdesc == NULL || !OidIsValid(fn))
		return false;
	for (i = 0; i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *trig = &rel->trigdesc->triggers[i];
		int16		type = trig->tgtype;

		if (trig->tgfoid != fn || trig->tgenabled == TRIGGER_DISABLED)
			continue;
		if (TRIGGER_FOR_ROW(type) && TRIGGER_FOR_AFTER(type) &&
			TRIGGER_FOR_INSERT(type) && TRIGGER_FOR_UPDATE(type) &&
			TRIGGER_FOR_DELETE(type) && trig->tgqual == NULL &&
			trig->tgnattr == 0)
			row = true;
		if (!TRIGGER_FOR_ROW(type) && TRIGGER_FOR_TRUNCATE(type))
			truncate = true;
	}
	return row && truncate;
}

/*
 * The saved plan reading one row of the table by its key, as the caller:
 * SELECT t, t.xmin FROM [ONLY] schema.table t WHERE t.k1 OPERATOR(ns.=) $1
 * AND ...  Every name is qualified (the plan is replanned later under the
 * search_path it was made with, but nothing in it depends on one).  ONLY
 * for a plain table: rows of inheritance children are not the table's.
 */
SPIPlanPtr
tc_table_plan(TcTable *table)
{
	StringInfoData sql;
	Oid			argtypes[INDEX_MAX_KEYS];
	Relation	rel;
	SPIPlanPtr	plan;
	int			i;

	if (table->plan != NULL)
		return table->plan;

	rel = relation_open(table->relid, AccessShareLock);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT t, t.xmin FROM %s%s t WHERE ",
					 rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	relation_close(rel, AccessShareLock);
	for (i = 0; i < table->nkeys; i++)
	{
		HeapTuple	optup = SearchSysCache1(OPEROID,
											ObjectIdGetDatum(table->keys[i].eqop));
		Form_pg_operator op;

		if (!HeapTupleIsValid(optup))
			elog(ERROR, "cache lookup failed for operator %u", table->keys[i].eqop);
		op = (Form_pg_operator) GETSTRUCT(optup);
		appendStringInfo(&sql, "%st.%s OPERATOR(%s.%s) $%d",
						 i > 0 ? " AND " : "",
						 quote_identifier(table->keys[i].name),
						 quote_identifier(get_namespace_name(op->oprnamespace)),
						 NameStr(op->oprname), i + 1);
		ReleaseSysCache(optup);
		argtypes[i] = table->keys[i].typid;
	}

	plan = SPI_prepare(sql.data, table->nkeys, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql.data,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	pfree(sql.data);
	table->plan = plan;
	return plan;
}

/* end of transaction: free the plans of rebuilt entries */
void
tc_catalog_end_of_xact(void)
{
	ListCell   *lc;

	foreach(lc, dead_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(dead_plans);
	dead_plans = NIL;
}

/* ---- reading and writing the catalog ---- */

/* the map named in a catalog row (mapname: NAMEDATALEN bytes) */
static void
row_map_name(Relation rel, HeapTuple tuple, char *mapname)
{
	bool		isnull;
	Datum		map = heap_getattr(tuple, Anum_tc_map, RelationGetDescr(rel),
								   &isnull);

	strlcpy(mapname, TextDatumGetCString(map), NAMEDATALEN);
}

/* the map of a cached table (mapname: NAMEDATALEN bytes); false if not cached */
bool
tc_catalog_find(Oid relid, char *mapname)
{
	Relation	rel = table_open(tc_catalog_relid(false), AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tuple = find_row(rel, relid, &scan);
	bool		found = HeapTupleIsValid(tuple);

	if (found && mapname != NULL)
		row_map_name(rel, tuple, mapname);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Add a cached table.  The table is locked by the caller (cache_table),
 * which has checked it is not cached already; writers of the catalog lock
 * it SHARE ROW EXCLUSIVE, which conflicts with itself.
 */
void
tc_catalog_insert(Oid relid, const char *mapname, int nkeys,
				  const char **keynames, Datum ttl, bool ttl_null,
				  int64 max_memory, Datum nodes, bool nodes_null)
{
	Relation	rel = table_open(tc_catalog_relid(false), ShareRowExclusiveLock);
	Datum		values[Natts_tc_catalog];
	bool		nulls[Natts_tc_catalog];
	Datum		names[INDEX_MAX_KEYS];
	HeapTuple	tuple;
	int			i;

	for (i = 0; i < nkeys; i++)
		names[i] = CStringGetDatum(keynames[i]);
	memset(nulls, false, sizeof(nulls));
	values[Anum_tc_relid - 1] = ObjectIdGetDatum(relid);
	values[Anum_tc_map - 1] = CStringGetTextDatum(mapname);
	values[Anum_tc_key_columns - 1] =
		PointerGetDatum(construct_array(names, nkeys, NAMEOID, NAMEDATALEN,
										false, TYPALIGN_CHAR));
	values[Anum_tc_ttl - 1] = ttl;
	nulls[Anum_tc_ttl - 1] = ttl_null;
	values[Anum_tc_max_memory - 1] = Int64GetDatum(max_memory);
	nulls[Anum_tc_max_memory - 1] = (max_memory == 0);
	values[Anum_tc_nodes - 1] = nodes;
	nulls[Anum_tc_nodes - 1] = nodes_null;
	values[Anum_tc_created - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tuple);
	CacheInvalidateRelcache(rel);
	table_close(rel, NoLock);
	CommandCounterIncrement();
}

/* remove a cached table's row; its map's name comes back.  False if none. */
bool
tc_catalog_delete(Oid relid, char *mapname)
{
	Relation	rel = table_open(tc_catalog_relid(false), ShareRowExclusiveLock);
	SysScanDesc scan;
	HeapTuple	tuple = find_row(rel, relid, &scan);
	bool		found = HeapTupleIsValid(tuple);

	if (found)
	{
		row_map_name(rel, tuple, mapname);
		CatalogTupleDelete(rel, &tuple->t_self);
	}
	systable_endscan(scan);
	if (found)
	{
		CacheInvalidateRelcache(rel);
		CommandCounterIncrement();
	}
	table_close(rel, NoLock);
	return found;
}

/* every row of the catalog, as TcCatalogRows (palloc'd) */
List *
tc_catalog_list(void)
{
	Relation	rel = table_open(tc_catalog_relid(false), AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tuple;
	List	   *rows = NIL;

	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		TcCatalogRow *row = palloc0(sizeof(TcCatalogRow));
		Datum		values[Natts_tc_catalog];
		bool		nulls[Natts_tc_catalog];

		heap_deform_tuple(tuple, RelationGetDescr(rel), values, nulls);
		row->relid = DatumGetObjectId(values[Anum_tc_relid - 1]);
		strlcpy(row->mapname, TextDatumGetCString(values[Anum_tc_map - 1]),
				NAMEDATALEN);
		row->key_columns = PointerGetDatum(DatumGetArrayTypePCopy(values[Anum_tc_key_columns - 1]));
		row->ttl_null = nulls[Anum_tc_ttl - 1];
		if (!row->ttl_null)
			row->ttl = IntervalPGetDatum(DatumGetIntervalP(datumCopy(values[Anum_tc_ttl - 1],
																	  false, 16)));
		row->max_memory = nulls[Anum_tc_max_memory - 1] ? 0 :
			DatumGetInt64(values[Anum_tc_max_memory - 1]);
		rows = lappend(rows, row);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return rows;
}
