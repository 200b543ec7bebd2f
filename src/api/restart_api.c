/*-------------------------------------------------------------------------
 *
 * restart_api.c
 *		The function behind memshard.restart_stats: what the warm restart
 *		did at this start (src/persist).
 *
 * One row, built as the other statistics views are (InitMaterializedSRF);
 * the column list lives in the extension script and the values below must
 * follow its order.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "persist/persist.h"
#include "store/store.h"

PG_FUNCTION_INFO_V1(memshard_read_restart_stats);

#define RESTART_STATS_COLUMNS 17

/* the counters in the view's column order, after the dump's figures */
static const PersistCounter counter_columns[] = {
	PERSIST_LOADED,
	PERSIST_BYTES_LOADED,
	PERSIST_SKIPPED_EXPIRED,
	PERSIST_SKIPPED_DROPPED_MAP,
	PERSIST_SKIPPED_NOT_HELD,
	PERSIST_SKIPPED_NO_ROOM,
	PERSIST_SKIPPED_NEWER,
	PERSIST_SKIPPED_FAILED
};

Datum
memshard_read_restart_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PersistStats stats;
	Datum		values[RESTART_STATS_COLUMNS];
	bool		nulls[RESTART_STATS_COLUMNS];
	bool		loaded_dump;
	int			n = 0;
	int			i;

	store_require_ready();
	InitMaterializedSRF(fcinfo, 0);
	(void) persist_read_stats(&stats);
	loaded_dump = stats.dump_written_at != 0;
	memset(nulls, false, sizeof(nulls));

	values[n++] = CStringGetTextDatum(memshard_restart == MEMSHARD_RESTART_WARM ?
									  "warm" : "cold");
	values[n++] = CStringGetTextDatum(persist_state_name(stats.state));
	values[n++] = CStringGetTextDatum(stats.detail);
	nulls[n] = !loaded_dump;
	values[n++] = TimestampTzGetDatum(stats.dump_written_at);
	nulls[n] = !loaded_dump;
	values[n++] = Int64GetDatum(stats.dump_items);
	nulls[n] = !loaded_dump;
	values[n++] = Int64GetDatum(stats.dump_bytes);
	nulls[n] = !loaded_dump;
	values[n++] = Float8GetDatum(stats.dump_seconds);
	for (i = 0; i < lengthof(counter_columns); i++)
		values[n++] = Int64GetDatum(stats.counters[counter_columns[i]]);
	nulls[n] = stats.load_started == 0;
	values[n++] = TimestampTzGetDatum(stats.load_started);
	nulls[n] = stats.load_started == 0;
	values[n++] = Float8GetDatum(stats.load_seconds);

	Assert(n == RESTART_STATS_COLUMNS);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
