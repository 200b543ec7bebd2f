/*-------------------------------------------------------------------------
 *
 * load.c
 *		Loading a claimed dump at start: verify it whole, then run the
 *		loaders, most recently used items first.
 *
 * Runs in the persist worker, while the load gate (store_dump.c) keeps data
 * calls waiting.  The dump is verified from end to end first (dump_read.c):
 * a corrupt, truncated or foreign file is refused with a LOG line and the
 * server goes on with an empty cache.  Then one loader per database (a
 * background worker connected to it: maps are per database) reads the file
 * and puts that database's items back.  Items that were recently used
 * (their CLOCK reference set when the dump was written) go in first, those
 * of every database, then the others: a cache smaller than the dump keeps
 * the most recently used items, and counts what it left out.
 *
 * Whatever happens, the dump file is removed and the gate opened at the
 * end; a loader that cannot start or fails counts its items as failed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "utils/timestamp.h"

#include "persist/persist_internal.h"
#include "store/store.h"

static void record_dump(const DumpSummary *summary);
static void run_loaders(const DumpSummary *summary);
static void run_one(Oid dboid, int phases, int64 expected);
static bool run_loader_worker(const LoaderArgs *args);
static void log_load(TimestampTz started);
static void finish(PersistStartState state, const char *detail);

void
persist_load(void)
{
	TimestampTz started = GetCurrentTimestamp();
	DumpSummary summary;
	char	   *reason;

	if (!dump_verify(DUMP_LOAD_FILE, &summary, &reason))
	{
		ereport(LOG,
				(errmsg("pg_memshard: cache dump \"%s\" not loaded: %s",
						DUMP_FILE, reason),
				 errdetail("The server starts with an empty cache.")));
		finish(PERSIST_START_EMPTY, psprintf("dump refused: %s", reason));
		return;
	}
	record_dump(&summary);
	run_loaders(&summary);
	log_load(started);
	finish(PERSIST_START_LOADED,
		   psprintf("%lld of the dump's %lld items loaded",
					(long long) persist_counter(PERSIST_LOADED),
					(long long) summary.footer.items));
}

/* what the dump holds, for memshard.restart_stats */
static void
record_dump(const DumpSummary *summary)
{
	SpinLockAcquire(&persist_shared->mutex);
	persist_shared->dump_written_at = summary->header.written_at;
	persist_shared->dump_items = summary->footer.items;
	persist_shared->dump_bytes = summary->footer.bytes;
	persist_shared->dump_seconds = summary->footer.seconds;
	SpinLockRelease(&persist_shared->mutex);
}

/*
 * The recently used items of every database, then the others.  With one
 * database, one loader does both, in that order.
 */
static void
run_loaders(const DumpSummary *summary)
{
	int			i;

	if (summary->ndatabases == 1)
	{
		const DumpDatabase *db = &summary->databases[0];

		run_one(db->dboid,
				(db->items[0] > 0 ? LOAD_PHASE_RECENT : 0) |
				(db->items[1] > 0 ? LOAD_PHASE_OTHERS : 0),
				db->items[0] + db->items[1]);
		return;
	}
	for (i = 0; i < summary->ndatabases; i++)
		run_one(summary->databases[i].dboid, LOAD_PHASE_RECENT,
				summary->databases[i].items[0]);
	for (i = 0; i < summary->ndatabases; i++)
		run_one(summary->databases[i].dboid, LOAD_PHASE_OTHERS,
				summary->databases[i].items[1]);
}

/*
 * Run one loader and wait for it to exit; false if it could not be started
 * (no free worker slot) or the postmaster died.
 */
static bool
run_loader_worker(const LoaderArgs *args)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	persist_fill_worker(&worker, "persist_loader_main", "pg_memshard loader");
	worker.bgw_flags |= BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_main_arg = ObjectIdGetDatum(args->dboid);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(LoaderArgs) <= BGW_EXTRALEN, "loader arguments too long");
	memcpy(worker.bgw_extra, args, sizeof(LoaderArgs));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(LOG,
				(errmsg("pg_memshard: could not start a loader for database %u of the cache dump",
						args->dboid),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);
	return true;
}

/* one loader; what it did not get to counts as failed */
static void
run_one(Oid dboid, int phases, int64 expected)
{
	int64		before = persist_counter(PERSIST_PROCESSED);
	int64		missing;
	LoaderArgs	args;

	if (expected == 0)
		return;
	args.dboid = dboid;
	args.phases = phases;
	store_load_progress();
	if (!ShutdownRequestPending)
		(void) run_loader_worker(&args);
	missing = expected - (persist_counter(PERSIST_PROCESSED) - before);
	if (missing > 0)
	{
		if (!ShutdownRequestPending)
			ereport(LOG,
					(errmsg("pg_memshard: %lld items of database %u in the cache dump were not loaded: their loader failed",
							(long long) missing, dboid)));
		persist_count(PERSIST_SKIPPED_FAILED, missing);
		persist_count(PERSIST_PROCESSED, missing);
	}
}

static void
log_load(TimestampTz started)
{
	ereport(LOG,
			(errmsg("pg_memshard: loaded %lld of %lld items of the cache dump in %.3f s",
					(long long) persist_counter(PERSIST_LOADED),
					(long long) persist_counter(PERSIST_PROCESSED),
					(double) (GetCurrentTimestamp() - started) / USECS_PER_SEC),
			 errdetail("Left out: %lld expired, %lld of dropped maps, %lld of shards not held here, %lld for lack of room, %lld set again during the load, %lld failed.",
					   (long long) persist_counter(PERSIST_SKIPPED_EXPIRED),
					   (long long) persist_counter(PERSIST_SKIPPED_DROPPED_MAP),
					   (long long) persist_counter(PERSIST_SKIPPED_NOT_HELD),
					   (long long) persist_counter(PERSIST_SKIPPED_NO_ROOM),
					   (long long) persist_counter(PERSIST_SKIPPED_NEWER),
					   (long long) persist_counter(PERSIST_SKIPPED_FAILED))));
}

/* the load is over: no file left, data calls go ahead */
static void
finish(PersistStartState state, const char *detail)
{
	unlink(DUMP_LOAD_FILE);
	persist_set_state(state, detail);
	store_load_end();
}
