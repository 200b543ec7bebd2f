/*-------------------------------------------------------------------------
 *
 * map_api.c
 *		SQL entry points that create and drop maps.
 *
 * create_map checks every argument here (with the map_check_* functions
 * of src/cluster/maps.c, which a node applying a coordinator's metadata
 * uses too), before the catalog is touched (the catalog code writes rows
 * as given); cluster_define_map then makes the map.  Maps are catalog
 * rows, so they work without shared memory; the store is told about them
 * only when the library is preloaded.
 *
 * A map over nodes (or any map made on a node of a cluster) is cluster
 * metadata: the change is wrapped in cluster_change_begin/end, which makes
 * it reach every node or none, and its shards get placements.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "api/api_internal.h"
#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "router/router.h"

PG_FUNCTION_INFO_V1(memshard_create_map);
PG_FUNCTION_INFO_V1(memshard_drop_map);

/* create_map's arguments, in order */
enum
{
	ARG_NAME,
	ARG_DEFAULT_TTL,
	ARG_MAX_MEMORY,
	ARG_EVICTION,
	ARG_METHOD,
	ARG_SHARD_COUNT,
	ARG_BOUNDS,
	ARG_NODES,
	ARG_REPLICAS
};

static char *map_name_arg(FunctionCallInfo fcinfo);
static bool choice_arg(FunctionCallInfo fcinfo, int argno, const char *what,
					   const char *yes, const char *no);

/* the map name argument, checked (map_check_name) */
static char *
map_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name;

	api_require_arg(fcinfo, ARG_NAME, "map name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	map_check_name(name);
	return name;
}

/* a text argument that must be one of two words: true for 'yes' */
static bool
choice_arg(FunctionCallInfo fcinfo, int argno, const char *what,
		   const char *yes, const char *no)
{
	api_require_arg(fcinfo, argno, what);
	return map_choice(text_to_cstring(PG_GETARG_TEXT_PP(argno)), what, yes, no);
}

/*
 * create_map(name, default_ttl, max_memory, eviction, method, shard_count,
 *			  bounds, nodes, replicas) RETURNS integer (the map's id)
 */
Datum
memshard_create_map(PG_FUNCTION_ARGS)
{
	MapDefinition def;
	ArrayType  *nodes;
	int32		mapid;

	ext_version_check();
	memset(&def, 0, sizeof(def));
	def.name = map_name_arg(fcinfo);

	if (!PG_ARGISNULL(ARG_DEFAULT_TTL))
	{
		def.default_ttl = PG_GETARG_INTERVAL_P(ARG_DEFAULT_TTL);
		(void) ttl_interval_to_ms(def.default_ttl);
	}

	if (!PG_ARGISNULL(ARG_MAX_MEMORY))
	{
		def.max_memory = PG_GETARG_INT64(ARG_MAX_MEMORY);
		map_check_max_memory(def.max_memory);
	}

	def.evictable = choice_arg(fcinfo, ARG_EVICTION, "eviction", "lru", "none");
	def.method = choice_arg(fcinfo, ARG_METHOD, "method", "hash", "range") ?
		MAP_METHOD_HASH : MAP_METHOD_RANGE;

	api_require_arg(fcinfo, ARG_SHARD_COUNT, "shard_count");
	def.shard_count = PG_GETARG_INT32(ARG_SHARD_COUNT);
	map_check_shard_count(def.shard_count);

	def.bounds_null = PG_ARGISNULL(ARG_BOUNDS);
	if (!def.bounds_null)
		def.bounds = PointerGetDatum(PG_GETARG_ARRAYTYPE_P(ARG_BOUNDS));
	def.shard_count = map_check_bounds(def.method, def.bounds_null ? NULL :
									   DatumGetArrayTypeP(def.bounds),
									   def.shard_count);

	api_require_arg(fcinfo, ARG_REPLICAS, "replicas");
	def.replicas = PG_GETARG_INT32(ARG_REPLICAS);
	map_check_replicas(def.replicas);

	/* NULL nodes: this node, which in a cluster is a node like the others */
	nodes = cluster_map_nodes(PG_ARGISNULL(ARG_NODES) ? NULL :
							  PG_GETARG_ARRAYTYPE_P(ARG_NODES),
							  def.replicas, def.name);
	def.nodes_null = (nodes == NULL);
	def.nodes = PointerGetDatum(nodes);
	map_check_local_replicas(&def);

	if (!def.nodes_null)
		cluster_change_begin();
	mapid = cluster_define_map(&def, NULL);
	if (!def.nodes_null)
		cluster_change_end();
	PG_RETURN_INT32(mapid);
}

/* drop_map(name) RETURNS boolean: the map and its items go (at commit) */
Datum
memshard_drop_map(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		in_cluster;

	ext_version_check();
	in_cluster = cluster_has_nodes();
	api_require_arg(fcinfo, ARG_NAME, "map name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	if (in_cluster)
		cluster_change_begin();
	if (!cluster_remove_map(name))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("map \"%s\" does not exist", name)));
	if (in_cluster)
		cluster_change_end();
	PG_RETURN_BOOL(true);
}
