/*-------------------------------------------------------------------------
 *
 * persist_worker.c
 *		The warm restart's background workers: "pg_memshard persist", which
 *		loads the dump at start and writes one at a clean shutdown, and the
 *		"pg_memshard loader" workers it starts, one database at a time.
 *
 * The persist worker is registered at postmaster start when
 * pg_memshard.restart is warm (as autoprewarm is), and starts once recovery
 * has finished.  It has no database connection: the loaders, which need
 * one to read each database's map catalog, are dynamic workers it starts
 * and waits for (load.c plans and starts them; load_db.c is their body).
 *
 * Then it sleeps until SIGTERM, the signal of a smart or fast shutdown,
 * and writes the dump on its way out (dump.c).  SIGQUIT (an immediate
 * shutdown, the crash of another process) and the death of the postmaster
 * end it without a dump.  It exits with status 1, so that when the SIGTERM
 * was not a shutdown (pg_terminate_backend) the postmaster starts it again
 * at once; a restarted worker finds the load done and removes whatever
 * dump the SIGTERM wrote, which is not the dump of a shutdown (and if it
 * finds the load under way, its predecessor failed in it: it gives up the
 * load and opens the gate).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procsignal.h"
#include "utils/guc.h"

#include "pg_memshard.h"
#include "persist/persist_internal.h"

PGDLLEXPORT void persist_worker_main(Datum main_arg);

void
persist_register_worker(void)
{
	BackgroundWorker worker;

	persist_fill_worker(&worker, "persist_worker_main", "pg_memshard persist");
	worker.bgw_restart_time = 0;	/* at once: see the file's comment */
	RegisterBackgroundWorker(&worker);
}

void
persist_worker_main(Datum main_arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	/* the postmaster says a loader stopped with SIGUSR1: set our latch then */
	pqsignal(SIGUSR1, procsignal_sigusr1_handler);
	BackgroundWorkerUnblockSignals();

	if (persist_claim_load())
		persist_load();
	else
		persist_abandon_load();

	while (!ShutdownRequestPending)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	persist_dump_at_shutdown();
	proc_exit(1);
}
