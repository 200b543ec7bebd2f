/*-------------------------------------------------------------------------
 *
 * obs_shards.c
 *		Items and bytes per shard, the figures behind memshard.shard_stats
 *		and memshard.skew: memshard.local_shard_stats(map) for this node's
 *		store, memshard.node_shard_stats(map) for every node of the cluster.
 *
 * The store counts per partition and per map, not per shard (a shard is
 * the partition room's idea), so the figures come from a scan of the
 * map's keys (src/store/key_scan.c), each key's shard computed by the
 * router (router_key_shard): hash_partition(key, shard_count) for hash
 * maps, range_partition(key, bounds) for range maps.  The cost is one walk of
 * the hash index and every key of the map: an admin query, not a metric
 * to scrape every few seconds.
 *
 * node_shard_stats asks every node for its local_shard_stats at once (a
 * remote fan-out: parallel, each wait bounded by the timeouts); a node
 * that does not answer gives one row with its error, and the others still
 * report.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "cluster/cluster.h"
#include "remote/remote.h"
#include "router/router.h"
#include "store/key_scan.h"

PG_FUNCTION_INFO_V1(memshard_local_shard_stats);
PG_FUNCTION_INFO_V1(memshard_node_shard_stats);

/* one map's tally: items and bytes for each of its shards */
typedef struct ShardTally
{
	MapInfo    *map;
	int64	   *items;
	int64	   *bytes;
} ShardTally;

/* a row of node_shard_stats: node, is_local, map, shard, items, bytes, error */
#define NODE_SHARD_STATS_COLUMNS 7

static List *maps_to_tally(const char *name);
static int	compare_tally_ids(const void *a, const void *b);
static ShardTally *find_tally(ShardTally *tallies, int ntallies, int32 mapid);
static void tally_store(ShardTally *tallies, int ntallies, int32 mapid);
static ShardTally *tally_local(const char *name, int *ntallies);
static void put_node_row(FunctionCallInfo fcinfo, const char *node,
						 bool is_local, const char *map, const char *shard,
						 const char *items, const char *bytes,
						 const char *error);
static void put_local_node_rows(FunctionCallInfo fcinfo, const char *node,
								const char *name);
static void put_remote_node_rows(FunctionCallInfo fcinfo, const char *node,
								 const RemoteCall *call);
static bool node_wanted(ArrayType *nodes, const char *server);

/* the map named, or every map of the database when name is NULL */
static List *
maps_to_tally(const char *name)
{
	List	   *maps = map_catalog_list();
	ListCell   *lc;

	if (name == NULL)
		return maps;
	foreach(lc, maps)
	{
		MapInfo    *map = lfirst(lc);

		if (strcmp(map->name, name) == 0)
			return list_make1(map);
	}
	/* raises the router's own "map does not exist" (42704) */
	router_lookup_map(name, strlen(name));
	return NIL;
}

static int
compare_tally_ids(const void *a, const void *b)
{
	int32		ida = ((const ShardTally *) a)->map->id;
	int32		idb = ((const ShardTally *) b)->map->id;

	return (ida > idb) - (ida < idb);
}

static ShardTally *
find_tally(ShardTally *tallies, int ntallies, int32 mapid)
{
	MapInfo		key_map;
	ShardTally	key;

	key_map.id = mapid;
	key.map = &key_map;
	return bsearch(&key, tallies, ntallies, sizeof(ShardTally),
				   compare_tally_ids);
}

/* count every key the store holds for the maps of the tallies */
static void
tally_store(ShardTally *tallies, int ntallies, int32 mapid)
{
	KeyScan		scan;

	key_scan_begin(&scan, MyDatabaseId, mapid);
	while (key_scan_next(&scan))
	{
		int			i;

		for (i = 0; i < scan.nitems; i++)
		{
			const KeyScanItem *item = &scan.items[i];
			ShardTally *tally = find_tally(tallies, ntallies, item->mapid);
			int			shard;

			/* a map created after the catalog was read */
			if (tally == NULL)
				continue;
			shard = router_key_shard(tally->map, item->key, item->keylen);
			if (shard < 0 || shard >= tally->map->shard_count)
				continue;
			tally->items[shard]++;
			tally->bytes[shard] += item->bytes;
		}
	}
	key_scan_end(&scan);
}

/*
 * This node's tallies of the map named (NULL: every map of the database),
 * in the catalog's order (by name); each counts every shard, empty ones
 * included.
 */
static ShardTally *
tally_local(const char *name, int *ntallies)
{
	List	   *maps = maps_to_tally(name);
	ShardTally *tallies;
	ShardTally *by_name;
	ListCell   *lc;
	int			i = 0;

	*ntallies = list_length(maps);
	if (*ntallies == 0)
		return NULL;

	tallies = palloc(sizeof(ShardTally) * *ntallies);
	foreach(lc, maps)
	{
		MapInfo    *map = lfirst(lc);

		tallies[i].map = map;
		tallies[i].items = palloc0(sizeof(int64) * map->shard_count);
		tallies[i].bytes = palloc0(sizeof(int64) * map->shard_count);
		i++;
	}
	qsort(tallies, *ntallies, sizeof(ShardTally), compare_tally_ids);
	tally_store(tallies, *ntallies, name == NULL ? -1 : tallies[0].map->id);

	/* back in the catalog's order */
	by_name = palloc(sizeof(ShardTally) * *ntallies);
	i = 0;
	foreach(lc, maps)
		by_name[i++] = *find_tally(tallies, *ntallies,
								   ((MapInfo *) lfirst(lc))->id);
	return by_name;
}

/*
 * memshard.local_shard_stats(map text DEFAULT NULL)
 *		RETURNS TABLE (map text, shard integer, items bigint, bytes bigint)
 *
 * What this node's store holds of one map (or of every map of the current
 * database), per shard, empty shards included.  Rows come ordered by map
 * name, then shard.
 */
Datum
memshard_local_shard_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ShardTally *tallies;
	int			ntallies;
	int			i;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	tallies = tally_local(PG_ARGISNULL(0) ? NULL :
						  text_to_cstring(PG_GETARG_TEXT_PP(0)), &ntallies);
	for (i = 0; i < ntallies; i++)
	{
		const ShardTally *tally = &tallies[i];
		text	   *name = cstring_to_text(tally->map->name);
		int			shard;

		for (shard = 0; shard < tally->map->shard_count; shard++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};

			values[0] = PointerGetDatum(name);
			values[1] = Int32GetDatum(shard);
			values[2] = Int64GetDatum(tally->items[shard]);
			values[3] = Int64GetDatum(tally->bytes[shard]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	return (Datum) 0;
}

/* one row of node_shard_stats, from text values (NULL: SQL NULL) */
static void
put_node_row(FunctionCallInfo fcinfo, const char *node, bool is_local,
			 const char *map, const char *shard, const char *items,
			 const char *bytes, const char *error)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[NODE_SHARD_STATS_COLUMNS];
	bool		nulls[NODE_SHARD_STATS_COLUMNS];

	nulls[0] = (node == NULL);
	values[0] = node ? CStringGetTextDatum(node) : (Datum) 0;
	nulls[1] = false;
	values[1] = BoolGetDatum(is_local);
	nulls[2] = (map == NULL);
	values[2] = map ? CStringGetTextDatum(map) : (Datum) 0;
	nulls[3] = (shard == NULL);
	values[3] = shard ? Int32GetDatum(pg_strtoint32(shard)) : (Datum) 0;
	nulls[4] = (items == NULL);
	values[4] = items ? Int64GetDatum(pg_strtoint64(items)) : (Datum) 0;
	nulls[5] = (bytes == NULL);
	values[5] = bytes ? Int64GetDatum(pg_strtoint64(bytes)) : (Datum) 0;
	nulls[6] = (error == NULL);
	values[6] = error ? CStringGetTextDatum(error) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static void
put_local_node_rows(FunctionCallInfo fcinfo, const char *node,
					const char *name)
{
	ShardTally *tallies;
	int			ntallies;
	int			i;

	tallies = tally_local(name, &ntallies);
	for (i = 0; i < ntallies; i++)
	{
		int			shard;

		for (shard = 0; shard < tallies[i].map->shard_count; shard++)
			put_node_row(fcinfo, node, true, tallies[i].map->name,
						 psprintf("%d", shard),
						 psprintf(INT64_FORMAT, tallies[i].items[shard]),
						 psprintf(INT64_FORMAT, tallies[i].bytes[shard]),
						 NULL);
	}
}

/* a remote node's answer (map, shard, items, bytes rows), or its error */
static void
put_remote_node_rows(FunctionCallInfo fcinfo, const char *node,
					 const RemoteCall *call)
{
	const RemoteResult *result = call->result;
	int			row;

	if (call->error != NULL)
	{
		put_node_row(fcinfo, node, false, NULL, NULL, NULL, NULL,
					 call->error->message);
		return;
	}
	if (result->nfields != 4)
	{
		put_node_row(fcinfo, node, false, NULL, NULL, NULL, NULL,
					 psprintf("node \"%s\" answered %d columns instead of 4",
							  node, result->nfields));
		return;
	}
	for (row = 0; row < result->ntuples; row++)
	{
		char	  **v = &result->values[row * 4];

		put_node_row(fcinfo, node, false, v[0], v[1], v[2], v[3], NULL);
	}
}

/* is server one of the text[] nodes (NULL array: every node is) */
static bool
node_wanted(ArrayType *nodes, const char *server)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (nodes == NULL)
		return true;
	deconstruct_array(nodes, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		if (!nulls[i] && strcmp(TextDatumGetCString(elems[i]), server) == 0)
			return true;
	}
	return false;
}

/*
 * memshard.node_shard_stats(map text DEFAULT NULL, nodes text[] DEFAULT NULL)
 *		RETURNS TABLE (node text, is_local boolean, map text, shard integer,
 *					   items bigint, bytes bigint, error text)
 *
 * local_shard_stats of the nodes of the cluster (those named in 'nodes',
 * or all), asked in parallel; this node answers from its own store.
 * Outside a cluster, this node alone, as node 'local'.  A node that fails
 * gives one row: node, is_local and error set, the rest NULL.
 */
Datum
memshard_node_shard_stats(PG_FUNCTION_ARGS)
{
	const char *name = PG_ARGISNULL(0) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *wanted = PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1);
	const char *params[1] = {name};
	List	   *nodes;
	RemoteFanout *fanout;
	char	   *local_name = NULL;
	ListCell   *lc;
	int			i;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	if (!cluster_is_active())
	{
		put_local_node_rows(fcinfo, "local", name);
		return (Datum) 0;
	}

	/*
	 * Copy what we need of the node list first: reading the map catalog
	 * below may process invalidations that rebuild it.
	 */
	nodes = cluster_nodes();
	fanout = remote_fanout_create(list_length(nodes));
	foreach(lc, nodes)
	{
		const ClusterNode *node = lfirst(lc);
		RemoteCall *call;

		if (!node_wanted(wanted, NameStr(node->server)))
			continue;
		if (node->is_local)
		{
			local_name = pstrdup(NameStr(node->server));
			continue;
		}
		if (!OidIsValid(node->serverid))
		{
			put_node_row(fcinfo, NameStr(node->server), false, NULL, NULL,
						 NULL, NULL,
						 psprintf("server \"%s\" does not exist on this node",
								  NameStr(node->server)));
			continue;
		}
		call = remote_fanout_add(fanout, pstrdup(NameStr(node->server)),
								 node->serverid,
								 "SELECT map, shard, items, bytes FROM memshard.local_shard_stats($1)");
		call->nparams = 1;
		call->paramvalues = params;
	}

	remote_fanout_run(fanout);

	if (local_name != NULL)
		put_local_node_rows(fcinfo, local_name, name);
	for (i = 0; i < fanout->ncalls; i++)
		put_remote_node_rows(fcinfo, fanout->calls[i].node,
							 &fanout->calls[i].call);
	return (Datum) 0;
}
