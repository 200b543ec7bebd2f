/*-------------------------------------------------------------------------
 *
 * map_api.c
 *		SQL entry points that create and drop maps.
 *
 * create_map checks every argument here, before the catalog is touched
 * (the catalog code writes rows as given).  Maps are catalog rows, so they
 * work without shared memory; the store is told about them only when the
 * library is preloaded.
 *
 * A map over nodes (or any map made on a node of a cluster) is cluster
 * metadata: the change is wrapped in cluster_change_begin/end, which makes
 * it reach every node or none, and its shards get placements.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api_args.h"
#include "api/ext_version.h"
#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "partition/partition.h"
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
static int	check_range_bounds(ArrayType *bounds);

/*
 * A map name: 1 to 63 bytes (it keys fixed-size caches).  Like a quoted
 * identifier it may hold any character, newlines and quotes included;
 * metrics() escapes it in labels.
 */
static char *
map_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name;

	api_require_arg(fcinfo, ARG_NAME, "map name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	if (name[0] == '\0' || strlen(name) > MAP_NAME_MAX_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid map name \"%s\"", name),
				 errdetail("A map name is 1 to %d bytes long.", MAP_NAME_MAX_LEN)));
	return name;
}

/* a text argument that must be one of two words: true for 'yes' */
static bool
choice_arg(FunctionCallInfo fcinfo, int argno, const char *what,
		   const char *yes, const char *no)
{
	char	   *value;

	api_require_arg(fcinfo, argno, what);
	value = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(value, yes) == 0)
		return true;
	if (strcmp(value, no) == 0)
		return false;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\"", what, value),
			 errhint("Use '%s' or '%s'.", yes, no)));
	return false;				/* keep the compiler quiet */
}

/*
 * Range bounds: a non-empty one-dimensional text array without NULLs, in
 * strictly ascending order under the database's collation (the order
 * range_partition routes by, and so the same check and messages).  Returns
 * the number of bounds.
 */
static int
check_range_bounds(ArrayType *bounds)
{
	PartitionType ptype;
	Datum	   *elems;
	int			count;

	partition_type_init(&ptype, PARTITION_BY_RANGE, TEXTOID,
						DEFAULT_COLLATION_OID, CurrentMemoryContext);
	partition_range_bounds_from_array(&ptype, bounds, &elems, &count);
	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a range map needs at least one bound")));
	return count;
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
		if (def.max_memory <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_memory must be greater than zero"),
					 errhint("Pass NULL for a map without a quota.")));
	}

	def.evictable = choice_arg(fcinfo, ARG_EVICTION, "eviction", "lru", "none");
	def.method = choice_arg(fcinfo, ARG_METHOD, "method", "hash", "range") ?
		MAP_METHOD_HASH : MAP_METHOD_RANGE;

	api_require_arg(fcinfo, ARG_SHARD_COUNT, "shard_count");
	def.shard_count = PG_GETARG_INT32(ARG_SHARD_COUNT);
	if (def.shard_count <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shard_count must be greater than zero")));

	def.bounds_null = PG_ARGISNULL(ARG_BOUNDS);
	if (def.method == MAP_METHOD_HASH && !def.bounds_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bounds are only for range maps"),
				 errhint("Pass method => 'range' with the bounds.")));
	if (def.method == MAP_METHOD_RANGE)
	{
		if (def.bounds_null)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a range map needs bounds"),
					 errhint("Pass bounds => ARRAY['b1', 'b2', ...], the split points in ascending order.")));
		def.bounds = PointerGetDatum(PG_GETARG_ARRAYTYPE_P(ARG_BOUNDS));
		/* n split points make n + 1 ranges */
		def.shard_count = check_range_bounds(DatumGetArrayTypeP(def.bounds)) + 1;
	}

	api_require_arg(fcinfo, ARG_REPLICAS, "replicas");
	def.replicas = PG_GETARG_INT32(ARG_REPLICAS);
	if (def.replicas < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("replicas must be at least 1")));

	/* NULL nodes: this node, which in a cluster is a node like the others */
	nodes = cluster_map_nodes(PG_ARGISNULL(ARG_NODES) ? NULL :
							  PG_GETARG_ARRAYTYPE_P(ARG_NODES),
							  def.replicas, def.name);
	def.nodes_null = (nodes == NULL);
	def.nodes = PointerGetDatum(nodes);
	if (def.replicas > 1 && def.nodes_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a map on this node only has exactly one replica"),
				 errhint("Replicas live on distinct nodes: pass nodes.")));

	if (!def.nodes_null)
		cluster_change_begin();
	mapid = map_catalog_insert(&def);
	router_map_created(mapid);
	if (!def.nodes_null)
	{
		cluster_place_map(mapid, def.shard_count, nodes, def.replicas);
		cluster_change_end();
	}
	PG_RETURN_INT32(mapid);
}

/* drop_map(name) RETURNS boolean: the map and its items go (at commit) */
Datum
memshard_drop_map(PG_FUNCTION_ARGS)
{
	char	   *name;
	int32		mapid;
	bool		in_cluster;

	ext_version_check();
	in_cluster = cluster_has_nodes();
	api_require_arg(fcinfo, ARG_NAME, "map name");
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	if (in_cluster)
		cluster_change_begin();
	if (!map_catalog_delete(name, &mapid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("map \"%s\" does not exist", name)));
	router_map_dropped(mapid);
	cluster_unplace_map(mapid);
	if (in_cluster)
		cluster_change_end();
	PG_RETURN_BOOL(true);
}
