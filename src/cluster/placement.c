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

#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
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
static Oid	placement_catalog_relid(void);

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
	placement_relid = placement_catalog_relid();
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
	if ((uint64) result->nshards * result->replicas != nrows)
		elog(ERROR, "placements of map %d are incomplete", mapid);

	result->placement = palloc(sizeof(int) * nrows);
	result->nodes = palloc0(sizeof(PlacementNode) * nrows);
	for (row = 0; row < nrows; row++)
	{
		bool		isnull;
		int32		node_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[row],
														  SPI_tuptable->tupdesc, 3, &isnull));
		const ClusterNode *node;
		int			i;

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
		/* rows come in (shard, replica) order */
		result->placement[row] = i;
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

	if (cluster_applying_from_peer())
		return nodes;

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
 * The placements of a new map: shard s, copy i on node (s + i) mod k.  A
 * node applying a coordinator's metadata gets the placements from it.
 */
void
cluster_place_map(int32 mapid, int shard_count, ArrayType *nodes,
				  int replicas)
{
	Datum	   *elems;
	int			count;
	Datum	   *ids;
	Oid			argtypes[4] = {INT4OID, INT4OID, INT4OID, INT4ARRAYOID};
	Datum		args[4];
	int			i;

	if (cluster_applying_from_peer())
		return;

	deconstruct_array(nodes, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, NULL, &count);
	ids = palloc(sizeof(Datum) * count);
	for (i = 0; i < count; i++)
	{
		const char *server = NameStr(*DatumGetName(elems[i]));
		const ClusterNode *node = cluster_node_by_server(server);

		/* removed while we waited for the metadata lock */
		if (node == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("node \"%s\" is not in the cluster", server)));
		ids[i] = Int32GetDatum(node->id);
	}

	args[0] = Int32GetDatum(mapid);
	args[1] = Int32GetDatum(shard_count);
	args[2] = Int32GetDatum(replicas);
	args[3] = PointerGetDatum(construct_array(ids, count, INT4OID, 4, true,
											  TYPALIGN_INT));
	cluster_sql("INSERT INTO memshard.placement_catalog "
				"(map_id, shard, replica, node_id) "
				"SELECT $1, s, i, $4[((s OPERATOR(pg_catalog.+) i) "
				"OPERATOR(pg_catalog.%) pg_catalog.cardinality($4)) "
				"OPERATOR(pg_catalog.+) 1] "
				"FROM pg_catalog.generate_series(0, $2 OPERATOR(pg_catalog.-) 1) s, "
				"pg_catalog.generate_series(0, $3 OPERATOR(pg_catalog.-) 1) i",
				4, argtypes, args, SPI_OK_INSERT);
	cluster_placements_changed();
}

/* a map is dropped: its placements go with it */
void
cluster_unplace_map(int32 mapid)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	if (cluster_applying_from_peer())
		return;
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
	CacheInvalidateRelcacheByRelid(placement_catalog_relid());
	placement_stale = true;
}

static Oid
placement_catalog_relid(void)
{
	Oid			relid = get_relname_relid("placement_catalog",
										  get_namespace_oid("memshard", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"memshard.placement_catalog\" does not exist"),
				 errhint("Is extension pg_memshard installed in this database?")));
	return relid;
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
