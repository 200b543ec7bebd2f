/*-------------------------------------------------------------------------
 *
 * failover_worker.c
 *		Automatic failover: a background worker that watches the other
 *		nodes and promotes a node away once it has been unreachable for
 *		pg_memshard.failover_timeout, and brings back a failed node that
 *		answers again.
 *
 * One launcher per instance, registered in _PG_init when the library is
 * preloaded (as the recovery launcher).  While failover_timeout is above 0
 * (a SIGHUP setting, 0 = off, the default) it wakes every quarter of the
 * timeout (250 ms .. 1 s) and visits each database with a short-lived
 * worker connected to it, one at a time.  The visit (failover_pass), in a
 * database whose pg_memshard is of 1.1 and which is a node of a cluster:
 *	1. probes every other node (memshard.peer_epoch(), all at once, each
 *	   bounded by pg_memshard.connect_timeout and remote_timeout), and
 *	   notes since when each has been unreachable (failover_state.c) and
 *	   the newest epoch seen (fencing: a node left behind stops here);
 *	2. only the coordinator acts: the node with the lowest id among this
 *	   one and the active nodes that answered, if they are a majority of
 *	   the cluster's nodes.  So exactly one node acts on one side of a
 *	   partition, and none on a minority side;
 *	3. the first active node unreachable for failover_timeout is promoted
 *	   away (cluster_promote, which checks the majority again and makes
 *	   one metadata change: a second node trying at once fails harmlessly
 *	   on the metadata lock);
 *	4. else the first failed node that has answered for failover_timeout
 *	   is brought back (cluster_rejoin): empty placements, the cluster's
 *	   epoch.  Until then it refuses its shards (fenced, epoch.c): a node
 *	   that flaps is not brought back at every answer.
 * One action per visit; the next visit looks again.  A database where a
 * visit found no cluster is visited again only every 5 s, or after a
 * metadata change in this instance.
 *
 * What "unreachable" means is this node's view (it does not ask the
 * others whether they reach the node, as Redis Cluster's FAIL reports
 * do): the majority it needs protects against a partition, not against a
 * link between two nodes only.
 *
 * A visit that fails (an ERROR) is logged and ends its worker; the
 * launcher goes on.  DROP EXTENSION: as the recovery worker, a share lock
 * on the extension, not waited for.  The worker connects as the bootstrap
 * superuser and reaches the nodes with that role's user mappings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/failover_internal.h"
#include "cluster/metadata_internal.h"
#include "pg_memshard.h"

PGDLLEXPORT void memshard_failover_launcher_main(Datum arg);
PGDLLEXPORT void memshard_failover_worker_main(Datum arg);

static long tick_ms(void);
static bool skipped_for_now(Oid dboid, TimestampTz now);
static void visit_database(Oid dboid, TimestampTz now);
static bool extension_ready(void);
static void failover_pass(void);
static bool act_on_probes(List *probes, TimestampTz now);

/* _PG_init, when preloaded: the launcher */
void
cluster_failover_register(void)
{
	BackgroundWorker worker;

	cluster_fill_worker(&worker, "memshard_failover_launcher_main",
				  "pg_memshard failover launcher");
	worker.bgw_restart_time = 10;	/* seconds, after a failure */
	RegisterBackgroundWorker(&worker);
}

/*
 * Databases whose last visit found no cluster (no pg_memshard of 1.1, or
 * not a node) are visited again only every NO_CLUSTER_RETRY_MS, or after a
 * metadata change made or taken in this instance (which may have made one
 * a node: failover_count_change): a server with many databases does not
 * start a process per database every tick.  The launcher's own memory; a
 * full table forgets its oldest entry.
 */
#define NO_CLUSTER_RETRY_MS	5000
#define NO_CLUSTER_SLOTS	64

typedef struct NoCluster
{
	Oid			dboid;
	TimestampTz visited;
} NoCluster;

static NoCluster no_cluster[NO_CLUSTER_SLOTS];
static uint64 no_cluster_changes = 0;	/* failover_changes() when filled */

/* a quarter of the timeout, between 250 ms and 1 s */
static long
tick_ms(void)
{
	return Min(Max(memshard_failover_timeout_ms / 4, 250), 1000);
}

void
memshard_failover_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

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
		if (memshard_failover_timeout_ms > 0)
		{
			MemoryContext pass = AllocSetContextCreate(TopMemoryContext,
													   "pg_memshard failover pass",
													   ALLOCSET_DEFAULT_SIZES);
			MemoryContext oldcontext = MemoryContextSwitchTo(pass);
			ListCell   *lc;

			TimestampTz now = GetCurrentTimestamp();

			if (failover_changes() != no_cluster_changes)
			{
				memset(no_cluster, 0, sizeof(no_cluster));
				no_cluster_changes = failover_changes();
			}
			foreach(lc, cluster_connectable_databases())
			{
				if (ShutdownRequestPending)
					break;
				if (!skipped_for_now(lfirst_oid(lc), now))
					visit_database(lfirst_oid(lc), now);
			}
			MemoryContextSwitchTo(oldcontext);
			MemoryContextDelete(pass);
			events |= WL_TIMEOUT;
		}
		(void) WaitLatch(MyLatch, events, tick_ms(), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* the database's last visit, recently, found no cluster */
static bool
skipped_for_now(Oid dboid, TimestampTz now)
{
	int			i;

	for (i = 0; i < NO_CLUSTER_SLOTS; i++)
	{
		if (no_cluster[i].dboid == dboid)
			return !TimestampDifferenceExceeds(no_cluster[i].visited, now,
											   NO_CLUSTER_RETRY_MS);
	}
	return false;
}

/*
 * Start a worker in the database and wait until it is done; remember a
 * database where it found no cluster.
 */
static void
visit_database(Oid dboid, TimestampTz now)
{
	static bool warned = false;
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	NoCluster  *entry = &no_cluster[0];
	int			i;

	cluster_fill_worker(&worker, "memshard_failover_worker_main",
				  "pg_memshard failover worker");
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	failover_visit_report(false);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		if (!warned)
			ereport(LOG,
					(errmsg("pg_memshard: no background worker slot is free for the failover worker"),
					 errhint("Raise max_worker_processes.")));
		warned = true;
		return;
	}
	warned = false;
	if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
		proc_exit(1);

	for (i = 0; i < NO_CLUSTER_SLOTS; i++)
	{
		if (no_cluster[i].dboid == dboid)
		{
			entry = &no_cluster[i];
			break;
		}
		if (no_cluster[i].visited < entry->visited)
			entry = &no_cluster[i];
	}
	if (failover_visit_found())
	{
		if (entry->dboid == dboid)
			entry->dboid = InvalidOid;
		return;
	}
	entry->dboid = dboid;
	entry->visited = now;
}

/* the short-lived worker of one database; its argument is the database */
void
memshard_failover_worker_main(Datum arg)
{
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg),
											  InvalidOid, 0);
	pgstat_report_appname("pg_memshard failover");
	SetConfigOption("lock_timeout", psprintf("%d", memshard_remote_timeout_ms),
					PGC_SUSET, PGC_S_OVERRIDE);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "watching the nodes of the cluster");
	if (extension_ready())
		failover_pass();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/*
 * pg_memshard is here, of 1.1 (the epoch table), and no DROP EXTENSION is
 * under way (which then waits for us).
 */
static bool
extension_ready(void)
{
	Oid			extoid = get_extension_oid("pg_memshard", true);

	if (!OidIsValid(extoid) ||
		!ConditionalLockDatabaseObject(ExtensionRelationId, extoid, 0,
									   AccessShareLock) ||
		get_extension_oid("pg_memshard", true) != extoid)
		return false;
	return memshard_epoch_table_exists();
}

static void
failover_pass(void)
{
	List	   *probes;

	if (!cluster_is_active())
		return;					/* not a node of a cluster */
	failover_visit_report(true);
	probes = failover_probe_nodes(0);
	if (cluster_is_fenced())
		return;					/* left behind: wait to be brought back */
	(void) act_on_probes(probes, GetCurrentTimestamp());
}

/*
 * Steps 2 to 4 of the visit (see the header); true if it acted.
 */
static bool
act_on_probes(List *probes, TimestampTz now)
{
	const ClusterNode *self = cluster_local_node();
	int			total = list_length(cluster_nodes());
	int			reachable = 1;
	int32		lowest = self->id;
	ListCell   *lc;

	foreach(lc, probes)
	{
		NodeProbe  *probe = lfirst(lc);

		failover_watch(probe->node->id, probe->reachable, now,
					   &probe->unreachable_since, &probe->reachable_since);
		if (probe->reachable && !cluster_node_is_failed(probe->node))
		{
			reachable++;
			lowest = Min(lowest, probe->node->id);
		}
	}
	if (lowest != self->id || reachable * 2 <= total)
		return false;

	foreach(lc, probes)
	{
		NodeProbe  *probe = lfirst(lc);
		TimestampTz since = probe->unreachable_since;
		char	   *server = pstrdup(NameStr(probe->node->server));
		int			promoted;

		if (probe->reachable || cluster_node_is_failed(probe->node) ||
			since == 0 ||
			!TimestampDifferenceExceeds(since, now, memshard_failover_timeout_ms))
			continue;
		ereport(LOG,
				(errmsg("pg_memshard: node \"%s\" has been unreachable for %d ms or more: promoting its shards away",
						server, memshard_failover_timeout_ms)));
		promoted = cluster_promote(server);
		ereport(LOG,
				(errmsg("pg_memshard: node \"%s\" promoted away: %d shards have a new primary",
						server, promoted)));
		return true;
	}

	foreach(lc, probes)
	{
		NodeProbe  *probe = lfirst(lc);
		char	   *server = pstrdup(NameStr(probe->node->server));

		if (!probe->reachable || !cluster_node_is_failed(probe->node) ||
			!TimestampDifferenceExceeds(probe->reachable_since, now,
										memshard_failover_timeout_ms))
			continue;
		ereport(LOG,
				(errmsg("pg_memshard: failed node \"%s\" has answered for %d ms: it rejoins with empty placements",
						server, memshard_failover_timeout_ms)));
		cluster_rejoin(server);
		return true;
	}
	return false;
}
