/*-------------------------------------------------------------------------
 *
 * rebalance_job.c
 *		Rebalances, drains and moves as jobs: one at a time per cluster,
 *		in the foreground (rebalance, drain_node, move_shard) or in a
 *		background worker (rebalance_start), watched through
 *		memshard.rebalance_status, waited for and stopped.
 *
 * One at a time: a job holds the advisory lock REBALANCE_LOCK on every
 * node, taken in the sessions this backend keeps to each node (itself
 * included) with pg_try_advisory_lock, so that a second job, from any
 * node, fails at once naming a node that refused.  The locks go with the
 * job (unlocked at its end, or with the sessions if the backend dies).
 *
 * Stopping: rebalance_stop() sets a flag in shared memory; the job checks
 * it between the rounds of a copy and between moves, and stops with an
 * ERROR, which undoes the move in progress (shard_move.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/inval.h"
#include "utils/snapmgr.h"

#include "cluster/cluster.h"
#include "rebalance/rebalance.h"
#include "remote/remote.h"

#define REBALANCE_LOCK_SQL_TRY \
	"SELECT pg_catalog.pg_try_advisory_lock(1835888483, 13)"
#define REBALANCE_LOCK_SQL_RELEASE \
	"SELECT pg_catalog.pg_advisory_unlock(1835888483, 13)"

/* what rebalance_start hands its worker */
typedef struct RebalanceJobArgs
{
	Oid			dboid;
	Oid			userid;
	int64		job;
	RebalanceStrategy strategy;
	double		threshold;
	bool		has_map;
	char		map[NAMEDATALEN];
} RebalanceJobArgs;

static int	lock_depth = 0;

PGDLLEXPORT void rebalance_worker_main(Datum main_arg);

static void unlock_nodes(const List *nodes);

/* every node of the cluster, in its session: give the job's lock back */
static void
unlock_nodes(const List *nodes)
{
	RemoteFanout *fanout = remote_fanout_create(list_length(nodes));
	ListCell   *lc;

	foreach(lc, nodes)
	{
		const ClusterNode *node = lfirst(lc);

		if (OidIsValid(node->serverid) && !cluster_node_is_failed(node))
			remote_fanout_add(fanout, node, node->serverid,
							  REBALANCE_LOCK_SQL_RELEASE);
	}
	remote_fanout_run(fanout);
}

/*
 * Take the job's lock on every node, or ERROR (55006) naming a node where
 * another job holds it.  Nested calls (a move of a rebalance) count.
 */
void
rebalance_lock_cluster(void)
{
	List	   *nodes;
	RemoteFanout *fanout;
	const char *busy = NULL;
	ListCell   *lc;
	int			i;

	if (lock_depth++ > 0)
		return;

	/* the node list as it is now: a job must not miss a node just added */
	AcceptInvalidationMessages();
	nodes = cluster_nodes();
	fanout = remote_fanout_create(list_length(nodes));
	foreach(lc, nodes)
	{
		const ClusterNode *node = lfirst(lc);

		/* a failed node takes no part (a draining one does: it is up) */
		if (OidIsValid(node->serverid) && !cluster_node_is_failed(node))
			remote_fanout_add(fanout, node, node->serverid,
							  REBALANCE_LOCK_SQL_TRY);
	}
	remote_fanout_run(fanout);
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteCall *call = &fanout->calls[i].call;

		if (call->error != NULL)
		{
			lock_depth = 0;
			unlock_nodes(nodes);
			remote_throw(call);
		}
		if (strcmp(call->result->values[0], "t") != 0)
			busy = NameStr(((const ClusterNode *) fanout->calls[i].node)->server);
	}
	if (busy != NULL)
	{
		lock_depth = 0;
		unlock_nodes(nodes);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("a rebalance, drain or shard move is already running in the cluster"),
				 errdetail("Node \"%s\" holds the lock of another one.", busy),
				 errhint("Wait for it (memshard.rebalance_wait() on the node that runs it) or stop it (memshard.rebalance_stop()).")));
	}
}

void
rebalance_unlock_cluster(void)
{
	if (lock_depth == 0 || --lock_depth > 0)
		return;
	unlock_nodes(cluster_nodes());
}

/* after an ERROR inside a job: the lock goes, the error goes on */
void
rebalance_job_failed(MemoryContext cxt, const char *state)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	rebalance_progress_end(state, edata->message);
	PG_TRY();
	{
		lock_depth = 1;
		rebalance_unlock_cluster();
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
	lock_depth = 0;
	ReThrowError(edata);
}

/* move_shard on its own: a job of one move */
int64
rebalance_move_one(const char *map, int32 shard, const char *target,
				   const char *source)
{
	MemoryContext cxt = CurrentMemoryContext;
	int64		items = 0;

	rebalance_lock_cluster();
	PG_TRY();
	{
		items = rebalance_move_shard(map, shard, target, source);
	}
	PG_CATCH();
	{
		rebalance_job_failed(cxt, "failed");
	}
	PG_END_TRY();
	rebalance_unlock_cluster();
	return items;
}

/*
 * A drain's node is marked 'draining' once its plan is made (a drain that
 * cannot fit is refused before: nothing changes) and before its first
 * move, in a metadata change of its own (through this node's server, so
 * that it commits on every node now).  It stays so: after the drain
 * (remove_node follows), and after a drain that failed midway, when
 * drain_node run again continues it; rejoin_node ends a drain.
 */
static void
mark_draining(const char *server)
{
	const ClusterNode *self = cluster_local_node();
	const char *params[1] = {server};

	rebalance_call_node(self->serverid,
						"SELECT memshard.peer_node_draining($1::pg_catalog.name)",
						1, params, false);
	AcceptInvalidationMessages();
}

/* run a plan's moves; returns how many were done */
int64
rebalance_run(const char *map, RebalanceStrategy strategy, double threshold,
			  const char *drain)
{
	MemoryContext cxt = CurrentMemoryContext;
	RebalancePlan *plan;
	int			i;

	rebalance_lock_cluster();
	PG_TRY();
	{
		plan = rebalance_make_plan(map, strategy, threshold, drain);
		if (drain != NULL)
			mark_draining(drain);
		rebalance_progress_job(plan->nsteps);
		for (i = 0; i < plan->nsteps; i++)
		{
			const PlanStep *step = &plan->steps[i];
			const PlanPlacement *p = &plan->placements[step->placement];

			rebalance_check_stop();
			rebalance_progress_step(i + 1, p->map, p->shard,
									plan->nodes[step->source].server,
									plan->nodes[step->target].server);
			(void) rebalance_move_shard(p->map, p->shard,
										plan->nodes[step->target].server,
										plan->nodes[step->source].server);
		}
	}
	PG_CATCH();
	{
		rebalance_job_failed(cxt, rebalance_progress_stop_requested() ?
						   "stopped" : "failed");
	}
	PG_END_TRY();
	rebalance_progress_end("done", NULL);
	rebalance_unlock_cluster();
	return plan->nsteps;
}

/*
 * add_node(server, rebalance => true): the addition is made through this
 * node's own server, so that it has committed on every node before the
 * moves of the rebalance that follows need it
 */
int32
rebalance_add_node(const char *server)
{
	const ClusterNode *self = cluster_local_node();
	const char *params[1] = {server};
	RemoteResult *res;
	int32		id;

	if (self == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not in a cluster"),
				 errhint("Add this node first: memshard.add_node(server) without rebalance.")));
	res = rebalance_call_node(self->serverid,
							  "SELECT memshard.add_node($1::pg_catalog.name)",
							  1, params, false);
	id = (int32) rebalance_int8_of(res, 0, 0, false);
	AcceptInvalidationMessages();
	(void) rebalance_run(NULL, STRATEGY_BY_MEMORY, 0.1, NULL);
	return id;
}

/* rebalance_start: a worker runs the rebalance; its job id at once */
int64
rebalance_start(const char *map, RebalanceStrategy strategy, double threshold)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	RebalanceJobArgs args;
	pid_t		pid;

	rebalance_check_threshold(threshold);
	/* a job running anywhere in the cluster: fail here, clearly */
	rebalance_lock_cluster();
	rebalance_unlock_cluster();
	memset(&args, 0, sizeof(args));
	args.dboid = MyDatabaseId;
	args.userid = GetUserId();
	args.strategy = strategy;
	args.threshold = threshold;
	args.has_map = map != NULL;
	if (map != NULL)
		strlcpy(args.map, map, NAMEDATALEN);
	args.job = rebalance_progress_claim();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pg_memshard", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "rebalance_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pg_memshard rebalance", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pg_memshard rebalance", BGW_MAXLEN);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(RebalanceJobArgs) <= BGW_EXTRALEN,
					 "rebalance arguments too long");
	memcpy(worker.bgw_extra, &args, sizeof(args));
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		rebalance_progress_end("failed", "no background worker slot");
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start a background worker for the rebalance"),
				 errhint("Raise max_worker_processes, or run memshard.rebalance() in the foreground.")));
	}
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
	{
		rebalance_progress_end("failed", "the background worker did not start");
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("the background worker of the rebalance did not start")));
	}
	return args.job;
}

void
rebalance_worker_main(Datum main_arg)
{
	RebalanceJobArgs args;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(args.dboid, args.userid, 0);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "rebalancing");
	PG_TRY();
	{
		(void) rebalance_run(args.has_map ? args.map : NULL, args.strategy,
							 args.threshold, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata = CopyErrorData();
		RebalanceProgress p;

		/* a failure before the job began (the lock): show it */
		rebalance_progress_get(&p);
		if (strcmp(p.state, "running") == 0)
			rebalance_progress_end(p.stop_requested ? "stopped" : "failed",
								   edata->message);
		EmitErrorReport();
		FlushErrorState();
		proc_exit(1);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/* wait until no job runs here; its final state */
char *
rebalance_wait(void)
{
	RebalanceProgress p;

	for (;;)
	{
		rebalance_progress_get(&p);
		if (strcmp(p.state, "running") != 0)
			return pstrdup(p.state);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* ask the job running here to stop; false if none runs */
bool
rebalance_stop(void)
{
	return rebalance_progress_request_stop();
}
