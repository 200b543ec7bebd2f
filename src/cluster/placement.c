/*-------------------------------------------------------------------------
 *
 * placement.c
 *		Placements of shards on nodes: chosen when a map over nodes is
 *		created, read (and cached per backend) for routing.
 *
 * The cache holds, per map, the nodes of each shard already resolved to a
 * server and an "is it me" flag, so that routing a key costs a hash of the
 * key and two array lookups.  Any change to the placement or node tables,
 * or to a foreign server, marks the cache stale; it is emptied at the next
 * lookup (never inside the invalidation callback, while a caller may hold
 * a pointer into it).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"

/* a cache entry: NULL placements for a map of this node only */
typedef struct PlacementEntry
{
	int32		mapid;			/* hash key */
	MapPlacements *placements;
} PlacementEntry;

static HTAB *placement_cache = NULL;
static MemoryContext placement_context = NULL;
static bool placement_stale = true;
static Oid	placement_relid = InvalidOid;
static Oid	node_relid = InvalidOid;

static void placement_cache_prepare(void);
static MapPlacements *placements_load(int32 mapid);
static void placement_relcache_callback(Datum arg, Oid relid);
static void placement_syscache_callback(Datum arg, int cacheid,
										uint32 hashvalue);
static Datum int4_array(const int32 *values, int n);

const MapPlacements *
cluster_map_placements(int32 mapid)
{
	PlacementEntry *entry;
	MapPlacements *loaded;
	bool		found;

	placement_cache_prepare();
	entry = hash_search(placement_cache, &mapid, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->placements;

	/* reading may process invalidations: enter the entry afterwards */
	loaded = placements_load(mapid);
	entry = hash_search(placement_cache, &mapid, HASH_ENTER, &found);
	entry->placements = loaded;
	return loaded;
}

static void
placement_cache_prepare(void)
{
	static bool registered = false;
	HASHCTL		ctl;

	if (placement_cache != NULL && !placement_stale)
		return;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(placement_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID,
									  placement_syscache_callback, (Datum) 0);
		registered = true;
	}
	if (placement_context == NULL)
		placement_context = AllocSetContextCreate(CacheMemoryContext,
												  "pg_memshard placements",
												  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(placement_context);

	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(PlacementEntry);
	ctl.hcxt = placement_context;
	placement_cache = hash_create("pg_memshard placements", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	placement_stale = false;
	placement_relid = memshard_relid(MEMSHARD_PLACEMENT_CATALOG);
	node_relid = cluster_node_catalog_relid();
}

/* read one map's placements and resolve their nodes; NULL if none */
static MapPlacements *
placements_load(int32 mapid)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	MapPlacements *result = NULL;
	MemoryContext oldcontext;
	ClusterSqlState state;
	uint64		nrows;
	uint64		row;

	args[0] = Int32GetDatum(mapid);
	cluster_sql_begin(&state);
	nrows = cluster_sql_exec("SELECT shard, replica, node_id "
							 "FROM memshard.placement_catalog "
							 "WHERE map_id OPERATOR(pg_catalog.=) $1 "
							 "ORDER BY shard, replica",
							 1, argtypes, args, SPI_OK_SELECT);
	if (nrows == 0)
	{
		cluster_sql_end(&state);
		return NULL;
	}

	oldcontext = MemoryContextSwitchTo(placement_context);
	result = palloc0(sizeof(MapPlacements));
	result->mapid = mapid;
	for (row = 0; row < nrows; row++)
	{
		bool		isnull;
		int			shard = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														SPI_tuptable->tupdesc, 1, &isnull));
		int			replica = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														  SPI_tuptable->tupdesc, 2, &isnull));

		result->nshards = Max(result->nshards, shard + 1);
		result->replicas = Max(result->replicas, replica + 1);
	}

	/* a shard may have fewer copies than others (promote), never none */
	result->copies = palloc0(sizeof(int) * result->nshards);
	result->placement = palloc0(sizeof(int) * result->nshards * result->replicas);
	result->nodes = palloc0(sizeof(PlacementNode) * nrows);
	for (row = 0; row < nrows; row++)
	{
		bool		isnull;
		int			shard = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														SPI_tuptable->tupdesc, 1, &isnull));
		int			replica = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														  SPI_tuptable->tupdesc, 2, &isnull));
		int32		node_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														  SPI_tuptable->tupdesc, 3, &isnull));
		const ClusterNode *node;
		int			i;

		/* rows come in (shard, replica) order: copies are 0, 1, ... */
		if (replica != result->copies[shard])
			elog(ERROR, "placements of map %d are incomplete", mapid);
		result->copies[shard]++;
		for (i = 0; i < result->nnodes; i++)
			if (result->nodes[i].id == node_id)
				break;
		if (i == result->nnodes)
		{
			node = cluster_node_by_id(node_id);
			if (node == NULL)
				elog(ERROR, "placement of map %d on unknown node %d",
					 mapid, node_id);
			result->nodes[i].id = node->id;
			result->nodes[i].serverid = node->serverid;
			result->nodes[i].is_local = node->is_local;
			result->nodes[i].server = node->server;
			result->nnodes++;
		}
		result->placement[shard * result->replicas + replica] = i;
	}
	for (row = 0; row < (uint64) result->nshards; row++)
	{
		if (result->copies[row] == 0)
			elog(ERROR, "placements of map %d are incomplete", mapid);
	}
	MemoryContextSwitchTo(oldcontext);
	cluster_sql_end(&state);
	return result;
}

/*
 * The servers a new map is placed on.  NULL nodes means "this node": in a
 * cluster that is a map whose shards all live here, which every node knows;
 * outside a cluster it stays a map of this node only (NULL returned).
 */
ArrayType *
cluster_map_nodes(ArrayType *nodes, int replicas, const char *mapname)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int			i;
	int			j;

	if (nodes == NULL)
	{
		const ClusterNode *self = cluster_local_node();
		Datum		elem;

		if (self == NULL)
			return NULL;
		elem = NameGetDatum(&self->server);
		nodes = construct_array(&elem, 1, NAMEOID, NAMEDATALEN, false,
								TYPALIGN_CHAR);
	}

	if (!cluster_has_nodes())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("maps over nodes need the cluster"),
				 errhint("Pass nodes => NULL for a map on this node only.")));
	if (ARR_NDIM(nodes) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nodes must be a one-dimensional array")));
	deconstruct_array(nodes, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &count);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nodes must not be empty"),
				 errhint("Pass NULL for a map on this node only.")));
	for (i = 0; i < count; i++)
	{
		const char *server;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("nodes must not contain nulls")));
		server = NameStr(*DatumGetName(elems[i]));
		if (cluster_node_by_server(server) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("node \"%s\" is not in the cluster", server),
					 errhint("Add it with memshard.add_node().")));
		for (j = 0; j < i; j++)
		{
			if (strcmp(server, NameStr(*DatumGetName(elems[j]))) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("node \"%s\" appears twice in the nodes of map \"%s\"",
								server, mapname)));
		}
	}
	if (replicas > count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map \"%s\" cannot have %d replicas on %d nodes",
						mapname, replicas, count),
				 errdetail("Replicas of a shard live on distinct nodes.")));
	return nodes;
}

/*
 * The placements of a new map: shard s, copy i on node (s + i) mod k of
 * the nodes given (names of nodes of the cluster).
 */
void
cluster_place_map(int32 mapid, int shard_count, ArrayType *nodes,
				  int replicas)
{
	Datum	   *elems;
	int			count;
	int32	   *ids;
	int			nlive = 0;
	MapPlacementRows rows;
	int			shard;
	int			i;

	deconstruct_array(nodes, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, NULL, &count);
	ids = palloc(sizeof(int32) * count);
	for (i = 0; i < count; i++)
	{
		const char *server = NameStr(*DatumGetName(elems[i]));
		const ClusterNode *node = cluster_node_by_server(server);

		/* removed while we waited for the metadata lock */
		if (node == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("node \"%s\" is not in the cluster", server)));
		/* a failed node gets no shard until it rejoins */
		if (cluster_node_is_failed(node))
			continue;
		ids[nlive++] = node->id;
	}
	if (nlive < replicas)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("map cannot have %d replicas on %d nodes that are not failed",
						replicas, nlive),
				 errhint("Failed nodes (memshard.nodes) get shards again after they rejoin.")));
	count = nlive;

	rows.count = 0;
	rows.shard = palloc(sizeof(int32) * shard_count * replicas);
	rows.replica = palloc(sizeof(int32) * shard_count * replicas);
	rows.node_id = palloc(sizeof(int32) * shard_count * replicas);
	for (shard = 0; shard < shard_count; shard++)
	{
		for (i = 0; i < replicas; i++)
		{
			rows.shard[rows.count] = shard;
			rows.replica[rows.count] = i;
			rows.node_id[rows.count] = ids[(shard + i) % count];
			rows.count++;
		}
	}
	cluster_insert_placements(mapid, &rows);
}

/* insert the placements of a map, as given */
void
cluster_insert_placements(int32 mapid, const MapPlacementRows *rows)
{
	Oid			argtypes[4] = {INT4OID, INT4ARRAYOID, INT4ARRAYOID, INT4ARRAYOID};
	Datum		args[4];

	args[0] = Int32GetDatum(mapid);
	args[1] = int4_array(rows->shard, rows->count);
	args[2] = int4_array(rows->replica, rows->count);
	args[3] = int4_array(rows->node_id, rows->count);
	cluster_sql("INSERT INTO memshard.placement_catalog "
				"(map_id, shard, replica, node_id) "
				"SELECT $1, u.shard, u.replica, u.node_id "
				"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
				"pg_catalog.unnest($4)) AS u(shard, replica, node_id)",
				4, argtypes, args, SPI_OK_INSERT);
	cluster_placements_changed();
}

/* an integer[] of n values */
static Datum
int4_array(const int32 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Int32GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, INT4OID, 4, true,
										   TYPALIGN_INT));
}

/* a map is dropped: its placements go with it */
void
cluster_unplace_map(int32 mapid)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	args[0] = Int32GetDatum(mapid);
	cluster_sql("DELETE FROM memshard.placement_catalog "
				"WHERE map_id OPERATOR(pg_catalog.=) $1",
				1, argtypes, args, SPI_OK_DELETE);
	cluster_placements_changed();
}

int
placement_count_on_node(int32 node_id, char **maps)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	ClusterSqlState state;
	int			count = 0;
	bool		isnull;

	args[0] = Int32GetDatum(node_id);
	cluster_sql_begin(&state);
	cluster_sql_exec("SELECT pg_catalog.count(*)::integer, "
					 "pg_catalog.string_agg(DISTINCT m.name, ', ') "
					 "FROM memshard.placement_catalog p "
					 "JOIN memshard.map_catalog m "
					 "ON m.id OPERATOR(pg_catalog.=) p.map_id "
					 "WHERE p.node_id OPERATOR(pg_catalog.=) $1",
					 1, argtypes, args, SPI_OK_SELECT);
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	*maps = count > 0
		? MemoryContextStrdup(caller, SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 2))
		: NULL;
	cluster_sql_end(&state);
	return count;
}

/* every backend (this one too) must read the placements again */
void
cluster_placements_changed(void)
{
	CacheInvalidateRelcacheByRelid(memshard_relid(MEMSHARD_PLACEMENT_CATALOG));
	placement_stale = true;
}

static void
placement_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == placement_relid ||
		relid == node_relid)
		placement_stale = true;
}

static void
placement_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	placement_stale = true;
}
