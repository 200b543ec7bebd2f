/*-------------------------------------------------------------------------
 *
 * stats_api.c
 *		The functions behind the statistics views (memshard.stats,
 *		partition_stats, slab_stats, map_stats, read_path_stats) and
 *		stats_reset().
 *
 * Each view is a plain SELECT over a set-returning function here, built
 * the way pg_stat_statements builds its view: InitMaterializedSRF and one
 * tuplestore row per line.  The column lists live in the extension script;
 * the order of the values below must match them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "router/router.h"

PG_FUNCTION_INFO_V1(memshard_read_stats);
PG_FUNCTION_INFO_V1(memshard_read_partition_stats);
PG_FUNCTION_INFO_V1(memshard_read_slab_stats);
PG_FUNCTION_INFO_V1(memshard_read_map_stats);
PG_FUNCTION_INFO_V1(memshard_stats_reset);
PG_FUNCTION_INFO_V1(memshard_read_path_counters);

/* the counters every per-something view shows, in its column order */
#define COUNTER_COLUMNS 9

/* room for the widest row (memshard.stats) */
#define MAX_STATS_COLUMNS 17

typedef struct StatsRow
{
	Datum		values[MAX_STATS_COLUMNS];
	bool		nulls[MAX_STATS_COLUMNS];
	int			ncolumns;
} StatsRow;

static void row_start(StatsRow *row);
static void row_add(StatsRow *row, Datum value);
static void row_add_counters(StatsRow *row, const StoreCounters *counters);
static void row_put(FunctionCallInfo fcinfo, StatsRow *row);
static int	compare_class_chunk_size(const void *a, const void *b);

static void
row_start(StatsRow *row)
{
	memset(row->nulls, false, sizeof(row->nulls));
	row->ncolumns = 0;
}

static void
row_add(StatsRow *row, Datum value)
{
	Assert(row->ncolumns < MAX_STATS_COLUMNS);
	row->values[row->ncolumns++] = value;
}

/* items, memory_used, payload_bytes, hits, misses, sets, deletes, evictions, expirations */
static void
row_add_counters(StatsRow *row, const StoreCounters *counters)
{
	row_add(row, Int64GetDatum(counters->items));
	row_add(row, Int64GetDatum(counters->bytes_used));
	row_add(row, Int64GetDatum(counters->payload_bytes));
	row_add(row, Int64GetDatum(counters->hits));
	row_add(row, Int64GetDatum(counters->misses));
	row_add(row, Int64GetDatum(counters->sets));
	row_add(row, Int64GetDatum(counters->deletes));
	row_add(row, Int64GetDatum(counters->evictions));
	row_add(row, Int64GetDatum(counters->expirations));
}

static void
row_put(FunctionCallInfo fcinfo, StatsRow *row)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	Assert(row->ncolumns == rsinfo->setDesc->natts);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
						 row->values, row->nulls);
}

/* one row: the whole cache */
Datum
memshard_read_stats(PG_FUNCTION_ARGS)
{
	StoreGlobalStats stats;
	StoreCounters *c = &stats.counters;
	StatsRow	row;
	int64		lookups;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	store_global_stats(&stats);
	lookups = c->hits + c->misses;

	row_start(&row);
	row_add(&row, Int64GetDatum(stats.memory_budget));
	row_add(&row, Int64GetDatum(c->bytes_used));
	row_add(&row, Int64GetDatum(c->payload_bytes));
	row_add(&row, Int64GetDatum(c->items));
	row_add(&row, Int64GetDatum(c->hits));
	row_add(&row, Int64GetDatum(c->misses));
	row_add(&row, Int64GetDatum(c->sets));
	row_add(&row, Int64GetDatum(c->deletes));
	row_add(&row, Int64GetDatum(c->evictions));
	row_add(&row, Int64GetDatum(c->expirations));
	/* fragmentation: the share of item memory that is not payload */
	row_add(&row, Float8GetDatum(c->bytes_used > 0 ?
								 1.0 - (double) c->payload_bytes / c->bytes_used :
								 0.0));
	row_add(&row, Float8GetDatum(lookups > 0 ? (double) c->hits / lookups : 0.0));
	row_add(&row, Int64GetDatum(stats.page_size));
	row_add(&row, Int64GetDatum(stats.pages_total));
	row_add(&row, Int64GetDatum(stats.pages_free));
	row_add(&row, Int64GetDatum(stats.index_bytes));
	row_add(&row, Int64GetDatum(stats.item_header_bytes));
	row_put(fcinfo, &row);
	return (Datum) 0;
}

/* one row per partition */
Datum
memshard_read_partition_stats(PG_FUNCTION_ARGS)
{
	int			npartitions;
	int			i;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	npartitions = store_partition_count();
	for (i = 0; i < npartitions; i++)
	{
		StoreCounters counters;
		StatsRow	row;

		store_partition_stats(i, &counters);
		row_start(&row);
		row_add(&row, Int32GetDatum(i));
		row_add_counters(&row, &counters);
		row_put(fcinfo, &row);
	}
	return (Datum) 0;
}

static int
compare_class_chunk_size(const void *a, const void *b)
{
	const StoreClassStats *ca = a;
	const StoreClassStats *cb = b;

	if (ca->chunk_size != cb->chunk_size)
		return ca->chunk_size < cb->chunk_size ? -1 : 1;
	return ca->class_id - cb->class_id;
}

/* one row per size class in use (it has pages, or has counted something) */
Datum
memshard_read_slab_stats(PG_FUNCTION_ARGS)
{
	int			nclasses;
	StoreClassStats *classes;
	int			nused = 0;
	int			i;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	nclasses = store_class_count();
	classes = palloc(sizeof(StoreClassStats) * Max(nclasses, 1));
	for (i = 0; i < nclasses; i++)
	{
		StoreClassStats *cls = &classes[nused];

		store_class_stats(i, cls);
		if (cls->pages > 0 || cls->chunks_used > 0 || cls->evictions > 0 ||
			cls->pages_moved_in > 0 || cls->pages_moved_out > 0)
			nused++;
	}
	qsort(classes, nused, sizeof(StoreClassStats), compare_class_chunk_size);

	for (i = 0; i < nused; i++)
	{
		StoreClassStats *cls = &classes[i];
		StatsRow	row;

		row_start(&row);
		row_add(&row, Int32GetDatum(cls->class_id));
		row_add(&row, Int64GetDatum(cls->chunk_size));
		row_add(&row, Int64GetDatum(cls->pages));
		row_add(&row, Int64GetDatum(cls->chunks_per_page));
		row_add(&row, Int64GetDatum(cls->chunks_used));
		row_add(&row, Int64GetDatum(cls->chunks_free));
		row_add(&row, Int64GetDatum(cls->wasted_bytes));
		row_add(&row, Int64GetDatum(cls->evictions));
		row_add(&row, Int64GetDatum(cls->pages_moved_in));
		row_add(&row, Int64GetDatum(cls->pages_moved_out));
		row_put(fcinfo, &row);
	}
	return (Datum) 0;
}

/* one row per map of the current database, by name */
Datum
memshard_read_map_stats(PG_FUNCTION_ARGS)
{
	List	   *maps;
	ListCell   *lc;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	maps = map_catalog_list();
	foreach(lc, maps)
	{
		MapInfo    *map = lfirst(lc);
		StoreCounters counters;
		StatsRow	row;

		router_map_counters(map, &counters);
		row_start(&row);
		row_add(&row, CStringGetTextDatum(map->name));
		row_add_counters(&row, &counters);
		row_put(fcinfo, &row);
	}
	return (Datum) 0;
}

/* zero every counter (items and bytes in use are not counters: they stay) */
Datum
memshard_stats_reset(PG_FUNCTION_ARGS)
{
	store_require_ready();
	store_stats_reset();
	marks_stats_reset();		/* the table cache's counters */
	PG_RETURN_VOID();
}

/* memshard.read_path_stats: the optimistic reads' retries and fallbacks */
Datum
memshard_read_path_counters(PG_FUNCTION_ARGS)
{
	StatsRow	row;
	int64		retries;
	int64		fallbacks;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	store_read_path_stats(&retries, &fallbacks);
	row_start(&row);
	row_add(&row, Int64GetDatum(retries));
	row_add(&row, Int64GetDatum(fallbacks));
	row_put(fcinfo, &row);
	return (Datum) 0;
}
