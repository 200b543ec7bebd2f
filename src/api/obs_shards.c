/*-------------------------------------------------------------------------
 *
 * obs_shards.c
 *		memshard.local_shard_stats(map): this node's items and bytes per
 *		shard, the figures behind memshard.shard_stats and memshard.skew.
 *
 * The store counts per partition and per map, not per shard (a shard is
 * the partition room's idea), so the figures come from a scan of the
 * map's keys (src/store/shard_scan.c), each key's shard computed as the
 * router routes it: hash_partition(key, shard_count) for hash maps,
 * range_partition(key, bounds) for range maps.  The cost is one walk of
 * the hash index and every key of the map: an admin query, not a metric
 * to scrape every few seconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "partition/partition.h"
#include "router/router.h"
#include "store/shard_scan.h"

PG_FUNCTION_INFO_V1(memshard_local_shard_stats);

/* one map's tally: items and bytes for each of its shards */
typedef struct ShardTally
{
	MapInfo    *map;
	int64	   *items;
	int64	   *bytes;
} ShardTally;

static List *maps_to_tally(FunctionCallInfo fcinfo);
static int	compare_tally_ids(const void *a, const void *b);
static ShardTally *find_tally(ShardTally *tallies, int ntallies, int32 mapid);
static int	shard_of_key(const MapInfo *map, const char *key, int keylen);
static void tally_store(ShardTally *tallies, int ntallies, int32 mapid);
static void put_tally_rows(FunctionCallInfo fcinfo, const ShardTally *tally);

/* the map named by the argument, or every map of the database when NULL */
static List *
maps_to_tally(FunctionCallInfo fcinfo)
{
	List	   *maps = map_catalog_list();
	char	   *name;
	ListCell   *lc;

	if (PG_ARGISNULL(0))
		return maps;
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
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

/* the shard of a key, as the router places it */
static int
shard_of_key(const MapInfo *map, const char *key, int keylen)
{
	if (map->method == MAP_METHOD_RANGE)
		return partition_range_text(key, keylen, map->bounds, map->nbounds,
									DEFAULT_COLLATION_OID);
	return partition_hash_text(key, keylen, map->shard_count);
}

/* count every key the store holds for the maps of the tallies */
static void
tally_store(ShardTally *tallies, int ntallies, int32 mapid)
{
	StoreScan	scan;

	store_scan_begin(&scan, MyDatabaseId, mapid);
	while (store_scan_next(&scan))
	{
		int			i;

		for (i = 0; i < scan.nitems; i++)
		{
			const StoreScanItem *item = &scan.items[i];
			ShardTally *tally = find_tally(tallies, ntallies, item->mapid);
			int			shard;

			/* a map created after the catalog was read */
			if (tally == NULL)
				continue;
			shard = shard_of_key(tally->map, item->key, item->keylen);
			if (shard < 0 || shard >= tally->map->shard_count)
				continue;
			tally->items[shard]++;
			tally->bytes[shard] += item->bytes;
		}
	}
	store_scan_end(&scan);
}

/* map, shard, items, bytes: one row per shard, empty shards included */
static void
put_tally_rows(FunctionCallInfo fcinfo, const ShardTally *tally)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
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
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * memshard.local_shard_stats(map text DEFAULT NULL)
 *		RETURNS TABLE (map text, shard integer, items bigint, bytes bigint)
 *
 * What this node's store holds of one map (or of every map of the current
 * database), per shard.  Rows come ordered by map name, then shard.
 */
Datum
memshard_local_shard_stats(PG_FUNCTION_ARGS)
{
	List	   *maps;
	ShardTally *tallies;
	int			ntallies;
	ListCell   *lc;
	int			i = 0;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	maps = maps_to_tally(fcinfo);
	ntallies = list_length(maps);
	if (ntallies == 0)
		return (Datum) 0;

	tallies = palloc(sizeof(ShardTally) * ntallies);
	foreach(lc, maps)
	{
		MapInfo    *map = lfirst(lc);

		tallies[i].map = map;
		tallies[i].items = palloc0(sizeof(int64) * map->shard_count);
		tallies[i].bytes = palloc0(sizeof(int64) * map->shard_count);
		i++;
	}
	qsort(tallies, ntallies, sizeof(ShardTally), compare_tally_ids);

	tally_store(tallies, ntallies,
				PG_ARGISNULL(0) ? -1 : tallies[0].map->id);

	/* in the catalog's order: by name */
	foreach(lc, maps)
		put_tally_rows(fcinfo, find_tally(tallies, ntallies,
										  ((MapInfo *) lfirst(lc))->id));
	return (Datum) 0;
}
