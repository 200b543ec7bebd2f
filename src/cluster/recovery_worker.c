/*-------------------------------------------------------------------------
 *
 * recovery_worker.c
 *		A background worker that finishes the metadata changes left in
 *		doubt, so that nobody has to run memshard.recover_metadata().
 *
 * One launcher per instance, registered in _PG_init when the library is
 * preloaded (as contrib/pg_prewarm's autoprewarm), wakes every
 * pg_memshard.recovery_interval (0: off) and visits the databases that may
 * need it, one at a time, each with a short-lived worker connected to it (a
 * process connects to one database only).  That worker runs
 * cluster_recover_background(): it finishes the changes prepared in its
 * database whose coordinator has decided, then those its node coordinated
 * and left prepared on other nodes (metadata_recover.c).  Every wait there
 * is bounded by pg_memshard.connect_timeout and remote_timeout, and no lock
 * is waited for, so a node that is down costs a timeout, not the worker.
 *
 * Which databases: after the launcher starts, all of them (prepared
 * transactions and records survive a restart); later, only those flagged
 * in shared memory: a backend flags its database when it prepares its part
 * of a change (in doubt if the coordinator fails now: the visit looks at
 * the parts prepared there, which costs no connection unless one is left)
 * and when it could not finish a part after its commit (the visit looks at
 * the records of the changes made there too), and a visit that leaves
 * something (or fails) flags it again.  So an idle cluster costs nothing.
 *
 * DROP EXTENSION: the worker takes a share lock on the extension object
 * (DROP takes an exclusive one) before it touches the extension's tables,
 * without waiting (a DROP under way: next time), and looks for the
 * extension again once it holds it; a DROP waits for the visit to end.
 * Other locks are waited for at most pg_memshard.remote_timeout
 * (lock_timeout), so that one database cannot stall the others.
 *
 * The worker connects as the bootstrap superuser: it reaches the nodes
 * with that role's user mappings (or PUBLIC ones).
 *
 * Shared state: RecoveryShared (recovery_state.c), under its spinlock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"
#include "pg_memshard.h"

int			memshard_recovery_interval_ms = 10000;

PGDLLEXPORT void memshard_recovery_launcher_main(Datum arg);
PGDLLEXPORT void memshard_recovery_worker_main(Datum arg);

static void recovery_pass(void);
static List *databases_to_visit(void);
static VisitResult visit_database(Oid dboid, int what);
static VisitResult recover_this_database(int what);

/* _PG_init, when preloaded: the launcher, started once recovery is over */
void
cluster_recovery_register(void)
{
	BackgroundWorker worker;

	cluster_fill_worker(&worker, "memshard_recovery_launcher_main",
				"pg_memshard recovery launcher");
	worker.bgw_restart_time = 10;	/* seconds, after a failure */
	RegisterBackgroundWorker(&worker);
}

/* a worker of the library connected to a database (the failover's too) */
void
cluster_fill_worker(BackgroundWorker *worker, const char *function,
					const char *type)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* COMMIT PREPARED needs a primary */
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	strlcpy(worker->bgw_library_name, "pg_memshard", BGW_MAXLEN);
	strlcpy(worker->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker->bgw_name, type, BGW_MAXLEN);
	strlcpy(worker->bgw_type, type, BGW_MAXLEN);
}

void
memshard_recovery_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	/* no database: it only reads pg_database, a shared catalog */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/* a launcher that restarts looks everywhere, as after start-up */
	SpinLockAcquire(&recovery_shared->mutex);
	recovery_shared->visit_all = true;
	SpinLockRelease(&recovery_shared->mutex);

	for (;;)
	{
		int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ShutdownRequestPending)
			proc_exit(0);
		if (memshard_recovery_interval_ms > 0)
		{
			recovery_pass();
			events |= WL_TIMEOUT;
		}
		(void) WaitLatch(MyLatch, events, memshard_recovery_interval_ms,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* absorbs ProcSignalBarriers: DROP DATABASE waits for them */
		CHECK_FOR_INTERRUPTS();
	}
}

/* visit the databases that need it, one after the other */
static void
recovery_pass(void)
{
	MemoryContext pass_context = AllocSetContextCreate(TopMemoryContext,
													   "pg_memshard recovery pass",
													   ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcontext = MemoryContextSwitchTo(pass_context);
	bool		all_done = true;
	TimestampTz now;
	ListCell   *lc;

	foreach(lc, databases_to_visit())
	{
		FlaggedDatabase *db = lfirst(lc);
		VisitResult result;

		if (ShutdownRequestPending)
			break;
		result = visit_database(db->dboid, db->what);
		if (result == VISIT_FAILED || result == VISIT_LEFT)
		{
			recovery_flag_database(db->dboid, db->what);
			all_done = false;
		}
	}

	now = GetCurrentTimestamp();
	SpinLockAcquire(&recovery_shared->mutex);
	recovery_shared->last_pass = now;
	if (all_done)
		recovery_shared->problem[0] = '\0';
	SpinLockRelease(&recovery_shared->mutex);

	MemoryContextSwitchTo(oldcontext);
	MemoryContextDelete(pass_context);
}

/*
 * The flagged databases that still exist (FlaggedDatabase), or all of
 * them; the flags are taken (a visit that leaves something sets its flag
 * again).
 */
static List *
databases_to_visit(void)
{
	FlaggedDatabase flagged[RECOVERY_MAX_FLAGGED];
	int			nflagged;
	bool		all;
	List	   *dbs = NIL;
	ListCell   *lc;
	int			i;

	SpinLockAcquire(&recovery_shared->mutex);
	all = recovery_shared->visit_all;
	nflagged = recovery_shared->nflagged;
	memcpy(flagged, recovery_shared->flagged, sizeof(FlaggedDatabase) * nflagged);
	recovery_shared->visit_all = false;
	recovery_shared->nflagged = 0;
	SpinLockRelease(&recovery_shared->mutex);

	if (!all && nflagged == 0)
		return NIL;				/* the usual pass: nothing to do */
	foreach(lc, cluster_connectable_databases())
	{
		FlaggedDatabase *db = palloc(sizeof(FlaggedDatabase));

		db->dboid = lfirst_oid(lc);
		db->what = all ? RECOVER_ALL : 0;
		for (i = 0; i < nflagged; i++)
		{
			if (flagged[i].dboid == db->dboid)
				db->what |= flagged[i].what;
		}
		if (db->what != 0)
			dbs = lappend(dbs, db);
	}
	return dbs;
}

/*
 * every database one can connect to (templates aside); the failover
 * launcher visits them too
 */
List *
cluster_connectable_databases(void)
{
	MemoryContext caller = CurrentMemoryContext;
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);
		MemoryContext oldcontext;

		if (!db->datallowconn || db->datistemplate ||
			database_is_invalid_form(db))
			continue;
		oldcontext = MemoryContextSwitchTo(caller);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(oldcontext);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/* start a worker in the database and wait until it is done */
static VisitResult
visit_database(Oid dboid, int what)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	VisitResult result;

	cluster_fill_worker(&worker, "memshard_recovery_worker_main",
				"pg_memshard recovery worker");
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;

	SpinLockAcquire(&recovery_shared->mutex);
	recovery_shared->visit_what = what;
	recovery_shared->visit_result = VISIT_FAILED;
	SpinLockRelease(&recovery_shared->mutex);

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		if (recovery_note_problem("no background worker slot is free for the recovery worker"))
			ereport(LOG,
					(errmsg("pg_memshard: no background worker slot is free for the recovery worker"),
					 errhint("Raise max_worker_processes.")));
		return VISIT_FAILED;
	}
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);

	SpinLockAcquire(&recovery_shared->mutex);
	result = recovery_shared->visit_result;
	SpinLockRelease(&recovery_shared->mutex);
	return result;
}

/* the short-lived worker of one database; its argument is the database */
void
memshard_recovery_worker_main(Datum arg)
{
	VisitResult result;
	int			what;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg),
											  InvalidOid, 0);
	pgstat_report_appname("pg_memshard recovery");
	/* no lock is waited for longer than a node is */
	SetConfigOption("lock_timeout", psprintf("%d", memshard_remote_timeout_ms),
					PGC_SUSET, PGC_S_OVERRIDE);
	SpinLockAcquire(&recovery_shared->mutex);
	what = recovery_shared->visit_what;
	SpinLockRelease(&recovery_shared->mutex);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING,
						   "finishing metadata changes left in doubt");
	result = recover_this_database(what);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	SpinLockAcquire(&recovery_shared->mutex);
	recovery_shared->visit_result = result;
	SpinLockRelease(&recovery_shared->mutex);
	proc_exit(0);
}

static VisitResult
recover_this_database(int what)
{
	Oid			extoid = get_extension_oid("pg_memshard", true);
	int			left = 0;

	if (!OidIsValid(extoid))
		return VISIT_NO_EXTENSION;
	/* keep DROP EXTENSION out; one under way (it may wait long): later */
	if (!ConditionalLockDatabaseObject(ExtensionRelationId, extoid, 0,
									   AccessShareLock))
		return VISIT_LEFT;
	if (get_extension_oid("pg_memshard", true) != extoid)
		return VISIT_NO_EXTENSION;

	(void) cluster_recover_background((what & RECOVER_COORDINATED) != 0, &left);
	return left > 0 ? VISIT_LEFT : VISIT_DONE;
}
