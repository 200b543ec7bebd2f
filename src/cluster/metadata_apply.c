/*-------------------------------------------------------------------------
 *
 * metadata_apply.c
 *		The node's side of a metadata change: install the metadata a
 *		coordinator sends (memshard.peer_metadata_apply), inside the remote
 *		transaction that the coordinator then prepares and commits.
 *
 * The node takes its metadata lock without waiting (a concurrent change
 * fails at once with 55P03; so does a change still prepared here, named by
 * metadata_lock), checks that its metadata is what the coordinator had
 * before the change, replaces it, and checks that it reached what the
 * coordinator has after.  See metadata_sync.c for the whole protocol.
 *
 * Nodes and placements are replaced by SQL on their tables.  Maps are
 * defined and removed as create_map and drop_map do it, with the same
 * checks (maps.c), but with the coordinator's placements and without a
 * change of their own: this is the coordinator's change.
 *
 * Once its part is prepared, the node flags its database for the recovery
 * worker: the part is in doubt if the coordinator fails now.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"
#include "cluster/placement.h"
#include "store/store.h"

/* the maps of a snapshot ($1), as rows */
#define SNAPSHOT_MAPS \
	"pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'maps') AS m " \
	"(name pg_catalog.text, default_ttl interval, max_memory bigint, " \
	"eviction pg_catalog.text, method pg_catalog.text, shard_count integer, " \
	"bounds pg_catalog.text[], nodes pg_catalog.name[], replicas integer)"

/*
 * The maps of a snapshot in its order, each with its id here (NULL: new)
 * and its placements as three arrays (shard, replica, node), in the
 * snapshot's order.
 */
#define SNAPSHOT_MAP_ROWS \
	"SELECT m.name, m.default_ttl, m.max_memory, m.eviction, m.method, " \
	"m.shard_count, m.bounds, m.nodes, m.replicas, " \
	"(SELECT c.id FROM memshard.map_catalog c WHERE c.name OPERATOR(pg_catalog.=) m.name), " \
	"pl.shards, pl.replicas, pl.nodes " \
	"FROM ROWS FROM (pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'maps') AS " \
	"(name pg_catalog.text, default_ttl interval, max_memory bigint, " \
	"eviction pg_catalog.text, method pg_catalog.text, shard_count integer, " \
	"bounds pg_catalog.text[], nodes pg_catalog.name[], replicas integer)) " \
	"WITH ORDINALITY AS m(name, default_ttl, max_memory, eviction, method, " \
	"shard_count, bounds, nodes, replicas, ord) " \
	"LEFT JOIN (SELECT p OPERATOR(pg_catalog.->>) 0 AS name, " \
	"pg_catalog.array_agg((p OPERATOR(pg_catalog.->>) 1)::integer ORDER BY e.n) AS shards, " \
	"pg_catalog.array_agg((p OPERATOR(pg_catalog.->>) 2)::integer ORDER BY e.n) AS replicas, " \
	"pg_catalog.array_agg((p OPERATOR(pg_catalog.->>) 3)::integer ORDER BY e.n) AS nodes " \
	"FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'placements') " \
	"WITH ORDINALITY AS e(p, n) GROUP BY 1) pl " \
	"ON pl.name OPERATOR(pg_catalog.=) m.name " \
	"ORDER BY m.ord"

/* the columns of SNAPSHOT_MAP_ROWS */
enum
{
	COL_NAME = 1,
	COL_DEFAULT_TTL,
	COL_MAX_MEMORY,
	COL_EVICTION,
	COL_METHOD,
	COL_SHARD_COUNT,
	COL_BOUNDS,
	COL_NODES,
	COL_REPLICAS,
	COL_EXISTING_ID,
	COL_SHARDS,
	COL_COPIES,
	COL_PLACEMENT_NODES
};

/* column x of map_catalog c and snapshot m differ (IS DISTINCT FROM) */
#define DISTINCT(x) \
	"((c." x " OPERATOR(pg_catalog.=) m." x ") IS NOT TRUE AND " \
	"(c." x " IS NOT NULL OR m." x " IS NOT NULL))"

/* a map of the snapshot, read out of SPI */
typedef struct SnapshotMap
{
	MapDefinition def;
	bool		exists;			/* on this node already (same definition) */
	int32		id;				/* its id here, if it exists */
	MapPlacementRows placements;
} SnapshotMap;

/* this transaction applied a coordinator's change (until it ends) */
static bool applied_in_xact = false;

static void lock_for_apply(void);
static void check_reached(const char *after_digest);
static void apply_snapshot(const char *snapshot);
static void check_conflicts(Datum *args);
static List *maps_to_drop(Datum *args, MemoryContext cxt);
static List *snapshot_maps(Datum *args, MemoryContext cxt);
static void snapshot_map_definition(HeapTuple tuple, TupleDesc desc,
									MapDefinition *def);
static void snapshot_placements(HeapTuple tuple, TupleDesc desc,
								MapPlacementRows *rows);
static int32 *int4_column(HeapTuple tuple, TupleDesc desc, int column,
						  int *count);
static Datum column_datum(HeapTuple tuple, TupleDesc desc, int column,
						  bool *isnull);
static Datum required_column(HeapTuple tuple, TupleDesc desc, int column,
							 const char *what);
static uint64 spi_exec_snapshot(const char *sql, int expected, Datum *args);
static void apply_xact_callback(XactEvent event, void *arg);

/*
 * Apply metadata sent by a coordinator (memshard.peer_metadata_apply), in
 * the coordinator's remote transaction.  before_digest NULL: this node must
 * not belong to a cluster yet.
 */
void
cluster_apply_snapshot(const char *before_digest, const char *snapshot,
					   const char *after_digest)
{
	static bool registered = false;
	Oid			relid = cluster_node_catalog_relid();
	char	   *digest;

	if (!registered)
	{
		RegisterXactCallback(apply_xact_callback, NULL);
		registered = true;
	}
	lock_for_apply();

	digest = cluster_metadata_digest();
	if (before_digest == NULL && cluster_nodes() != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node already belongs to a cluster"),
				 errhint("Remove it from its cluster with memshard.remove_node() first.")));
	if (before_digest != NULL && strcmp(digest, before_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the metadata of this node differs from the coordinator's"),
				 errdetail("Digest here %s, expected %s.", digest, before_digest),
				 errhint("A change may be in doubt here or on the coordinator: run memshard.recover_metadata() on this node.")));

	applied_in_xact = true;
	apply_snapshot(snapshot);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(relid);
	cluster_nodes_changed();

	check_reached(after_digest);
}

/* our metadata lock, not waited for; a change prepared here is named */
static void
lock_for_apply(void)
{
	if (!metadata_lock(false))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("the metadata of this node is being changed by another transaction"),
				 errhint("Retry.")));
	cluster_nodes_changed();
}

/* ERROR unless this node's metadata is now the coordinator's */
static void
check_reached(const char *after_digest)
{
	char	   *digest = cluster_metadata_digest();

	if (strcmp(digest, after_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node did not reach the coordinator's metadata"),
				 errdetail("Digest here %s, expected %s.", digest, after_digest)));
}

/*
 * A failed node brought back (memshard.peer_metadata_rejoin): it takes the
 * coordinator's metadata whatever its own is, provided the metadata is
 * newer than its own and lists it.  The items of its maps over nodes are
 * freed first: the shards it held were given to others (or were emptied),
 * and it rejoins with what the metadata gives it, nothing at first.
 */
void
cluster_apply_rejoin(const char *snapshot, const char *after_digest)
{
	static const char *const epoch_query =
	"SELECT COALESCE(($1::pg_catalog.jsonb OPERATOR(pg_catalog.->>) 'epoch')::pg_catalog.int8, 0)";
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	ClusterSqlState state;
	int64		epoch;
	bool		isnull;
	ListCell   *lc;

	lock_for_apply();
	args[0] = CStringGetTextDatum(snapshot);
	cluster_sql_begin(&state);
	(void) cluster_sql_exec(epoch_query, 1, argtypes, args, SPI_OK_SELECT);
	epoch = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	cluster_sql_end(&state);
	if (epoch <= cluster_epoch())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the metadata sent to rejoin (epoch " INT64_FORMAT ") is not newer than this node's (epoch " INT64_FORMAT ")",
						epoch, cluster_epoch())));

	foreach(lc, map_catalog_list())
	{
		MapInfo    *map = lfirst(lc);
		int			slot;

		if (map->local_only)
			continue;
		slot = store_map_find(MyDatabaseId, map->id);
		if (slot >= 0)
			(void) store_flush_map(slot);
	}

	applied_in_xact = true;
	apply_snapshot(snapshot);
	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	cluster_nodes_changed();

	if (cluster_local_node() == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the metadata sent to rejoin does not list this node")));
	check_reached(after_digest);
}

/*
 * Make this node's metadata what the snapshot says: its nodes, then its
 * maps over nodes (those gone dropped, the others defined if new), each
 * with the snapshot's placements.
 */
static void
apply_snapshot(const char *snapshot)
{
	MemoryContext caller = CurrentMemoryContext;
	ClusterSqlState state;
	Datum		args[1];
	List	   *dropped;
	List	   *maps;
	ListCell   *lc;

	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(snapshot));
	cluster_sql_begin(&state);
	spi_exec_snapshot("DELETE FROM memshard.placement_catalog",
					  SPI_OK_DELETE, args);
	spi_exec_snapshot("DELETE FROM memshard.node_catalog", SPI_OK_DELETE, args);
	spi_exec_snapshot("INSERT INTO memshard.node_catalog "
					  "(id, server, system_identifier, database, state) "
					  "SELECT n.id, n.server, n.system_identifier, n.database, "
					  "COALESCE(n.state, 'active') "
					  "FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'nodes') AS n "
					  "(id integer, server pg_catalog.name, system_identifier bigint, "
					  "database pg_catalog.name, state pg_catalog.text)",
					  SPI_OK_INSERT, args);
	cluster_epoch_from_snapshot(args[0]);
	check_conflicts(args);
	dropped = maps_to_drop(args, caller);
	maps = snapshot_maps(args, caller);
	cluster_sql_end(&state);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	cluster_nodes_changed();

	foreach(lc, dropped)
		(void) cluster_remove_map(lfirst(lc));
	foreach(lc, maps)
	{
		SnapshotMap *map = lfirst(lc);

		if (map->exists)
			cluster_insert_placements(map->id, &map->placements);
		else
			(void) cluster_define_map(&map->def, &map->placements);
	}

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	cluster_placements_changed();
	cluster_nodes_changed();
}

/* a map of the same name but another definition is a conflict */
static void
check_conflicts(Datum *args)
{
	uint64		nconflicts;
	uint64		row;

	nconflicts = spi_exec_snapshot("SELECT c.name FROM " SNAPSHOT_MAPS " "
								   "JOIN memshard.map_catalog c ON c.name OPERATOR(pg_catalog.=) m.name "
								   "WHERE " DISTINCT("default_ttl") " OR " DISTINCT("max_memory")
								   " OR " DISTINCT("eviction") " OR " DISTINCT("method")
								   " OR " DISTINCT("shard_count") " OR " DISTINCT("bounds")
								   " OR " DISTINCT("nodes") " OR " DISTINCT("replicas"),
								   SPI_OK_SELECT, args);
	for (row = 0; row < nconflicts; row++)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("map \"%s\" exists on this node with another definition",
						SPI_getvalue(SPI_tuptable->vals[row],
									 SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the map on this node, or give the cluster's map another name.")));
}

/* the names of this node's maps over nodes that the snapshot no longer has */
static List *
maps_to_drop(Datum *args, MemoryContext cxt)
{
	MemoryContext oldcontext;
	List	   *names = NIL;
	uint64		nrows;
	uint64		row;

	nrows = spi_exec_snapshot("SELECT c.name FROM memshard.map_catalog c "
							  "WHERE c.nodes IS NOT NULL AND NOT EXISTS "
							  "(SELECT FROM " SNAPSHOT_MAPS " WHERE m.name OPERATOR(pg_catalog.=) c.name)",
							  SPI_OK_SELECT, args);
	oldcontext = MemoryContextSwitchTo(cxt);
	for (row = 0; row < nrows; row++)
		names = lappend(names, pstrdup(SPI_getvalue(SPI_tuptable->vals[row],
													SPI_tuptable->tupdesc, 1)));
	MemoryContextSwitchTo(oldcontext);
	return names;
}

/* the maps of the snapshot (SnapshotMap), in its order, checked */
static List *
snapshot_maps(Datum *args, MemoryContext cxt)
{
	List	   *maps = NIL;
	uint64		nrows;
	uint64		row;

	nrows = spi_exec_snapshot(SNAPSHOT_MAP_ROWS, SPI_OK_SELECT, args);
	for (row = 0; row < nrows; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext oldcontext = MemoryContextSwitchTo(cxt);
		SnapshotMap *map = palloc0(sizeof(SnapshotMap));
		bool		isnull;
		Datum		id = column_datum(tuple, desc, COL_EXISTING_ID, &isnull);

		map->exists = !isnull;
		map->id = isnull ? 0 : DatumGetInt32(id);
		snapshot_map_definition(tuple, desc, &map->def);
		snapshot_placements(tuple, desc, &map->placements);
		maps = lappend(maps, map);
		MemoryContextSwitchTo(oldcontext);
	}
	return maps;
}

/*
 * A map's definition from its row, checked as create_map checks its
 * arguments, in the same order (the nodes come as the coordinator has
 * them).  Copied into the current memory context.
 */
static void
snapshot_map_definition(HeapTuple tuple, TupleDesc desc, MapDefinition *def)
{
	bool		isnull;
	Datum		value;

	memset(def, 0, sizeof(MapDefinition));
	def->name = TextDatumGetCString(required_column(tuple, desc, COL_NAME,
													"map name"));
	map_check_name(def->name);

	value = column_datum(tuple, desc, COL_DEFAULT_TTL, &isnull);
	if (!isnull)
	{
		def->default_ttl = DatumGetIntervalP(value);
		(void) ttl_interval_to_ms(def->default_ttl);
	}
	value = column_datum(tuple, desc, COL_MAX_MEMORY, &isnull);
	if (!isnull)
	{
		def->max_memory = DatumGetInt64(value);
		map_check_max_memory(def->max_memory);
	}
	value = required_column(tuple, desc, COL_EVICTION, "eviction");
	def->evictable = map_choice(TextDatumGetCString(value), "eviction",
								"lru", "none");
	value = required_column(tuple, desc, COL_METHOD, "method");
	def->method = map_choice(TextDatumGetCString(value), "method",
							 "hash", "range") ?
		MAP_METHOD_HASH : MAP_METHOD_RANGE;
	def->shard_count = DatumGetInt32(required_column(tuple, desc,
													 COL_SHARD_COUNT,
													 "shard_count"));
	map_check_shard_count(def->shard_count);
	def->bounds = column_datum(tuple, desc, COL_BOUNDS, &def->bounds_null);
	def->shard_count = map_check_bounds(def->method, def->bounds_null ? NULL :
										DatumGetArrayTypeP(def->bounds),
										def->shard_count);
	def->replicas = DatumGetInt32(required_column(tuple, desc, COL_REPLICAS,
												  "replicas"));
	map_check_replicas(def->replicas);
	def->nodes = column_datum(tuple, desc, COL_NODES, &def->nodes_null);
	map_check_local_replicas(def);
}

/* the map's placements from its row's three arrays */
static void
snapshot_placements(HeapTuple tuple, TupleDesc desc, MapPlacementRows *rows)
{
	int			nreplicas;
	int			nnodes;

	rows->shard = int4_column(tuple, desc, COL_SHARDS, &rows->count);
	rows->replica = int4_column(tuple, desc, COL_COPIES, &nreplicas);
	rows->node_id = int4_column(tuple, desc, COL_PLACEMENT_NODES, &nnodes);
	Assert(nreplicas == rows->count && nnodes == rows->count);
}

/* an integer[] column as a C array (NULL: none) */
static int32 *
int4_column(HeapTuple tuple, TupleDesc desc, int column, int *count)
{
	bool		isnull;
	Datum		value = column_datum(tuple, desc, column, &isnull);
	Datum	   *elems;
	int32	   *result;
	int			i;

	*count = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(value), INT4OID, 4, true,
					  TYPALIGN_INT, &elems, NULL, count);
	result = palloc(sizeof(int32) * Max(*count, 1));
	for (i = 0; i < *count; i++)
		result[i] = DatumGetInt32(elems[i]);
	return result;
}

/* a column's value, copied into the current memory context */
static Datum
column_datum(HeapTuple tuple, TupleDesc desc, int column, bool *isnull)
{
	Form_pg_attribute attr = TupleDescAttr(desc, column - 1);
	Datum		value = SPI_getbinval(tuple, desc, column, isnull);

	if (*isnull)
		return (Datum) 0;
	return datumCopy(value, attr->attbyval, attr->attlen);
}

/* as column_datum, for a column that must not be NULL (as create_map) */
static Datum
required_column(HeapTuple tuple, TupleDesc desc, int column, const char *what)
{
	bool		isnull;
	Datum		value = column_datum(tuple, desc, column, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return value;
}

/* one statement of apply_snapshot, $1 being the snapshot */
static uint64
spi_exec_snapshot(const char *sql, int expected, Datum *args)
{
	Oid			argtypes[1] = {JSONBOID};

	return cluster_sql_exec(sql, 1, argtypes, args, expected);
}

/*
 * Our part of a coordinator's change is prepared: it is in doubt if the
 * coordinator fails now, so the recovery worker should look here.
 */
static void
apply_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PREPARE:
			if (applied_in_xact)
				recovery_flag_database(MyDatabaseId, RECOVER_PREPARED_HERE);
			applied_in_xact = false;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			applied_in_xact = false;
			break;
		default:
			break;
	}
}
