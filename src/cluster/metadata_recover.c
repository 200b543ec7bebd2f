/*-------------------------------------------------------------------------
 *
 * metadata_recover.c
 *		Metadata changes left in doubt, finished from any node.
 *
 * A node's part of a change is a prepared transaction until the node that
 * made the change (its coordinator) commits or rolls it back
 * (metadata_sync.c).  If the coordinator fails in between, the part stays
 * prepared "in doubt" and keeps its locks on the node's metadata.  Its
 * global transaction identifier names the coordinator and the
 * coordinator's local transaction (metadata_internal.h), and the coordinator
 * wrote a record of it in memshard.metadata_transactions in that same
 * transaction, so the outcome is knowable:
 *
 *	the coordinator's transaction still runs	-> wait (not in doubt yet);
 *	it ended and the record is there			-> the change committed;
 *	it ended and there is no record				-> it was rolled back.
 *
 * The record is read with the latest snapshot, so that an older snapshot
 * of the caller (REPEATABLE READ) cannot hide a commit; and only once the
 * transaction is over, so that it is final (a record goes only once the
 * part it names is finished everywhere).
 *
 * Three ways to finish an in-doubt change, all safe to run at once (a part
 * finished twice fails the second time with 42704, taken as done):
 *
 *	- on a node holding it: ask the coordinator
 *	  (memshard.peer_metadata_outcome) and COMMIT or ROLLBACK PREPARED it
 *	  through a session of our own (not in our own transaction, where
 *	  PostgreSQL refuses it);
 *	- on the coordinator: look at its records and finish its parts on the
 *	  nodes it can reach (as Citus' recover_prepared_transactions does with
 *	  pg_dist_transaction); this also runs at the start of every change;
 *	- by the recovery worker, which does both in the databases that need it
 *	  (recovery_worker.c).
 *
 * A change refuses at once to wait for a part in doubt here
 * (metadata_lock.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"
#include "remote/remote.h"

/* how a change ended, as its coordinator says */
typedef enum Outcome
{
	OUTCOME_UNKNOWN,			/* coordinator not found or not reachable */
	OUTCOME_IN_PROGRESS,
	OUTCOME_COMMITTED,
	OUTCOME_ABORTED
} Outcome;

/* why a change prepared here stays in doubt */
typedef struct Problem
{
	int			sqlstate;
	char	   *message;		/* NULL: no problem */
	char	   *detail;
	char	   *hint;
} Problem;

static bool record_committed(const char *gid);
static int	resolve_prepared_here(List **problems, int *left);
static Outcome ask_coordinator(const char *gid, const MetadataGid *parsed,
							   char **coordinator, Problem *problem);
static bool finish_here(const char *gid, bool commit, Problem *problem);
static void set_problem(Problem *problem, int sqlstate, char *message,
						const RemoteError *cause, char *hint);
static void raise_problem(const Problem *problem) pg_attribute_noreturn();
static void note_problem(const Problem *problem);
static bool resolve_in_doubt(const ClusterNode *node, const char *gid,
							 int *left);
static void forget_finished_transactions(const ClusterNode *node,
										 List *prepared);
static void forget_transaction(const char *gid);
static bool has_records(void);
static RemoteFanout *run_on_nodes(List *nodes, const char *sql,
								  const char *param);


/*
 * How a change this node coordinated ended (memshard.peer_metadata_outcome,
 * asked by a node holding its part): "in progress", "committed",
 * "aborted", or NULL when the gid is not one of this node's.
 */
const char *
cluster_metadata_outcome(const char *gid)
{
	MetadataGid parsed;

	if (!metadata_gid_parse(gid, &parsed) ||
		parsed.system_identifier != (uint64) cluster_system_identifier() ||
		parsed.database != MyDatabaseId)
		return NULL;
	/* the record is final only once the transaction is over */
	if (TransactionIdIsInProgress(parsed.xid))
		return "in progress";
	return record_committed(gid) ? "committed" : "aborted";
}

/*
 * The record of a change coordinated here committed.  Read with the latest
 * snapshot: our transaction's may be older than the change's commit.
 */
static bool
record_committed(const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	ClusterSqlState state;
	SPIPlanPtr	plan;
	bool		found;

	args[0] = CStringGetTextDatum(gid);
	cluster_sql_begin(&state);
	plan = SPI_prepare("SELECT FROM memshard.metadata_transactions t "
					   "WHERE t.gid OPERATOR(pg_catalog.=) $1", 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
							 InvalidSnapshot, true, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read memshard.metadata_transactions");
	found = SPI_processed > 0;
	cluster_sql_end(&state);
	return found;
}

/*
 * memshard.recover_metadata(): finish the changes prepared here whose
 * coordinator has decided, then those this node coordinated that are left
 * prepared on the nodes it reaches (all_nodes: an unreachable node is an
 * error).  A change prepared here that stays in doubt is an ERROR naming
 * why.  Returns how many were finished.
 */
int
cluster_recover(bool all_nodes)
{
	List	   *problems = NIL;
	int			left = 0;
	int			resolved;

	resolved = resolve_prepared_here(&problems, &left);
	if (problems != NIL)
		raise_problem(linitial(problems));
	(void) metadata_lock(true);
	return resolved + metadata_recover_coordinated(all_nodes, NULL);
}

/*
 * The recovery worker's pass over this database: as cluster_recover (the
 * changes made here only if 'coordinated'), but never waiting and raising
 * nothing a node causes; the reasons are logged (each once while it
 * lasts).  *left: how many remain to look at again.
 */
int
cluster_recover_background(bool coordinated, int *left)
{
	List	   *problems = NIL;
	int			resolved;
	ListCell   *lc;

	*left = 0;
	resolved = resolve_prepared_here(&problems, left);
	foreach(lc, problems)
		note_problem(lfirst(lc));
	if (*left > 0 || !coordinated)
		return resolved;		/* our lock is held by what is left */
	/* not metadata_lock: a part prepared meanwhile is no error here */
	if (!ConditionalLockRelationOid(cluster_node_catalog_relid(), ExclusiveLock))
	{
		(*left)++;				/* a change is running: next time */
		return resolved;
	}
	return resolved + metadata_recover_coordinated(false, left);
}

/*
 * Finish the changes prepared on this node whose coordinator has decided.
 * Returns how many; *left counts those still prepared, and the reason of
 * each that is in doubt (not merely in progress) goes to *problems.
 */
static int
resolve_prepared_here(List **problems, int *left)
{
	int			resolved = 0;
	ListCell   *lc;

	foreach(lc, metadata_prepared_here())
	{
		char	   *gid = lfirst(lc);
		MetadataGid parsed;
		Problem    *problem = palloc0(sizeof(Problem));
		char	   *coordinator = NULL;
		Outcome		outcome;
		bool		commit;

		if (!metadata_gid_parse(gid, &parsed))
			continue;			/* not ours */
		outcome = ask_coordinator(gid, &parsed, &coordinator, problem);
		commit = (outcome == OUTCOME_COMMITTED);
		if ((commit || outcome == OUTCOME_ABORTED) &&
			finish_here(gid, commit, problem))
		{
			resolved++;
			ereport(LOG,
					(errmsg("pg_memshard: %s in-doubt metadata change %s on this node, as node \"%s\" that made it decided",
							commit ? "committed" : "rolled back", gid,
							coordinator)));
		}
		if (problem->message != NULL)
			*problems = lappend(*problems, problem);
		if (problem->message != NULL || outcome == OUTCOME_IN_PROGRESS)
			(*left)++;
	}
	recovery_count_resolved(resolved);
	return resolved;
}

/*
 * Ask the coordinator of a change prepared here how it ended: every node of
 * our node list on the instance the gid names is asked, and the one whose
 * change it is answers.
 */
static Outcome
ask_coordinator(const char *gid, const MetadataGid *parsed,
				char **coordinator, Problem *problem)
{
	List	   *candidates = metadata_coordinators_of(parsed);
	RemoteFanout *fanout;
	const RemoteNodeCall *failed = NULL;
	int			i;

	if (candidates == NIL)
	{
		set_problem(problem, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					psprintf("metadata change \"%s\" stays in doubt: the node that made it is not in this node's node list", gid),
					NULL,
					psprintf("Run memshard.recover_metadata() on the node that made the change (a node joining a cluster does not know the others yet); if that change was rolled back, that node no longer knows this one: run ROLLBACK PREPARED '%s' here.", gid));
		return OUTCOME_UNKNOWN;
	}

	fanout = run_on_nodes(candidates,
						  "SELECT memshard.peer_metadata_outcome($1)", gid);

	for (i = 0; i < fanout->ncalls; i++)
	{
		const ClusterNode *node = fanout->calls[i].node;
		RemoteResult *result = fanout->calls[i].call.result;
		const char *answer;

		if (result == NULL)
		{
			if (failed == NULL)
				failed = &fanout->calls[i];
			continue;
		}
		answer = result->ntuples == 1 ? result->values[0] : NULL;
		if (answer == NULL)
			continue;			/* not this node's change */
		*coordinator = pstrdup(NameStr(node->server));
		if (strcmp(answer, "committed") == 0)
			return OUTCOME_COMMITTED;
		if (strcmp(answer, "aborted") == 0)
			return OUTCOME_ABORTED;
		return OUTCOME_IN_PROGRESS;
	}

	if (failed != NULL)
	{
		const char *server = NameStr(((const ClusterNode *) failed->node)->server);

		set_problem(problem, failed->call.error->sqlstate,
					psprintf("metadata change \"%s\" stays in doubt: node \"%s\", which made it, cannot be asked how it ended",
							 gid, server),
					failed->call.error,
					psprintf("It is finished once node \"%s\" answers: by the recovery worker (pg_memshard.recovery_interval), or by memshard.recover_metadata() on any node.",
							 server));
	}
	else
		set_problem(problem, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					psprintf("metadata change \"%s\" stays in doubt: no node of this node's node list made it", gid),
					NULL,
					pstrdup("Run memshard.recover_metadata() on the node that made the change."));
	return OUTCOME_UNKNOWN;
}

/*
 * COMMIT or ROLLBACK PREPARED a change prepared here, through a session of
 * our own to this node.  true if we finished it; false if it was finished
 * meanwhile by someone else, or (problem set) if it could not be.
 */
static bool
finish_here(const char *gid, bool commit, Problem *problem)
{
	const ClusterNode *self = cluster_local_node();
	RemoteCall	call = {0};

	if (self == NULL || !OidIsValid(self->serverid))
	{
		set_problem(problem, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
					psprintf("metadata change \"%s\" stays in doubt: this node has no server reaching itself to finish it", gid),
					NULL,
					pstrdup("Every node needs the servers of all nodes, itself included; or run memshard.recover_metadata() on the node that made the change."));
		return false;
	}
	call.serverid = self->serverid;
	call.sql = psprintf("%s PREPARED %s", commit ? "COMMIT" : "ROLLBACK",
						quote_literal_cstr(gid));
	call.session = REMOTE_ANY;
	remote_run(&call, 1);
	if (call.error == NULL)
		return true;
	if (call.error->sqlstate != ERRCODE_UNDEFINED_OBJECT)
		set_problem(problem, call.error->sqlstate,
					psprintf("could not %s metadata change \"%s\" on this node",
							 commit ? "commit" : "roll back", gid),
					call.error, NULL);
	return false;
}

static void
set_problem(Problem *problem, int sqlstate, char *message,
			const RemoteError *cause, char *hint)
{
	problem->sqlstate = sqlstate;
	problem->message = message;
	problem->hint = hint;
	if (cause != NULL)
		problem->detail = cause->detail
			? psprintf("%s: %s", cause->message, cause->detail)
			: pstrdup(cause->message);
}

static void
raise_problem(const Problem *problem)
{
	ereport(ERROR,
			(errcode(problem->sqlstate),
			 errmsg_internal("%s", problem->message),
			 problem->detail ? errdetail_internal("%s", problem->detail) : 0,
			 problem->hint ? errhint("%s", problem->hint) : 0));
}

/* the worker: show it in memshard.metadata_recovery, log it once */
static void
note_problem(const Problem *problem)
{
	if (!recovery_note_problem(problem->message))
		return;
	ereport(LOG,
			(errmsg_internal("pg_memshard: %s", problem->message),
			 problem->detail ? errdetail_internal("%s", problem->detail) : 0));
}

/*
 * Finish the changes this node coordinated that are left prepared on other
 * nodes: commit those whose record committed, roll back the others, skip
 * those whose local transaction is still running.  The caller holds the
 * metadata lock, so no change of ours starts meanwhile.  A node that
 * cannot be reached is skipped, unless all_nodes (a change needs every
 * node: it fails at once rather than after a second timeout).  left NULL:
 * other errors are raised; else (the worker) they are counted in *left.
 */
int
metadata_recover_coordinated(bool all_nodes, int *left)
{
	List	   *nodes = NIL;
	RemoteFanout *fanout;
	int			resolved = 0;
	int			i;
	ListCell   *lc;

	cluster_nodes_changed();
	/* the worker: nothing recorded, nothing of ours can be in doubt... */
	if (left != NULL && !has_records())
		return 0;				/* ... that the nodes holding it cannot end */

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		/* a failed node gets no change: its records wait for its return */
		if (!node->is_local && OidIsValid(node->serverid) &&
			!cluster_node_is_failed(node))
			nodes = lappend(nodes, node);
	}
	if (nodes == NIL)
		return 0;

	fanout = run_on_nodes(nodes, METADATA_PREPARED_QUERY, metadata_gid_prefix());

	for (i = 0; i < fanout->ncalls; i++)
	{
		const ClusterNode *node = fanout->calls[i].node;
		const RemoteCall *call = &fanout->calls[i].call;
		RemoteResult *result = call->result;
		List	   *prepared = NIL;
		int			row;

		if (result == NULL)
		{
			if (left == NULL &&
				(all_nodes || !remote_error_is_unreachable(call->error)))
				remote_throw(call);
			if (left != NULL)
				(*left)++;
			continue;			/* unreachable: next time */
		}
		for (row = 0; row < result->ntuples; row++)
		{
			const char *gid = result->values[row];
			MetadataGid parsed;

			prepared = lappend(prepared, (char *) gid);
			if (!metadata_gid_parse(gid, &parsed))
				continue;
			if (TransactionIdIsInProgress(parsed.xid))
			{
				if (left != NULL)
					(*left)++;
				continue;
			}
			if (resolve_in_doubt(node, gid, left))
				resolved++;
		}
		forget_finished_transactions(node, prepared);
	}
	recovery_count_resolved(resolved);
	return resolved;
}

/* commit or roll back one part of ours left prepared on a node */
static bool
resolve_in_doubt(const ClusterNode *node, const char *gid, int *left)
{
	bool		committed = record_committed(gid);
	RemoteCall	call = {0};

	call.serverid = node->serverid;
	call.sql = psprintf("%s PREPARED %s", committed ? "COMMIT" : "ROLLBACK",
						quote_literal_cstr(gid));
	call.session = REMOTE_ANY;
	remote_run(&call, 1);
	/* 42704: the node finished it meanwhile, having asked us */
	if (call.error != NULL && call.error->sqlstate != ERRCODE_UNDEFINED_OBJECT)
	{
		if (left == NULL)
			remote_throw(&call);
		(*left)++;
		return false;
	}
	forget_transaction(gid);
	if (call.error != NULL)
		return false;
	ereport(LOG,
			(errmsg("pg_memshard: %s in-doubt metadata change %s on node \"%s\"",
					committed ? "committed" : "rolled back", gid,
					NameStr(node->server))));
	return true;
}

/*
 * Records of changes that are prepared nowhere any more (committed or
 * rolled back) are done with, once their local transaction has ended.
 */
static void
forget_finished_transactions(const ClusterNode *node, List *prepared)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	List	   *finished = NIL;
	ClusterSqlState state;
	uint64		nrows;
	uint64		row;
	ListCell   *lc;

	args[0] = Int32GetDatum(node->id);
	cluster_sql_begin(&state);
	nrows = cluster_sql_exec("SELECT t.gid FROM memshard.metadata_transactions t "
							 "WHERE t.node_id OPERATOR(pg_catalog.=) $1",
							 1, argtypes, args, SPI_OK_SELECT);
	for (row = 0; row < nrows; row++)
	{
		char	   *gid = SPI_getvalue(SPI_tuptable->vals[row],
									   SPI_tuptable->tupdesc, 1);
		MetadataGid parsed;
		bool		still_prepared = false;

		foreach(lc, prepared)
			still_prepared |= (strcmp(lfirst(lc), gid) == 0);
		if (!still_prepared && metadata_gid_parse(gid, &parsed) &&
			!TransactionIdIsInProgress(parsed.xid))
			finished = lappend(finished, gid);
	}
	foreach(lc, finished)
		forget_transaction(lfirst(lc));
	cluster_sql_end(&state);
}

static void
forget_transaction(const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	args[0] = CStringGetTextDatum(gid);
	cluster_sql("DELETE FROM memshard.metadata_transactions t "
				"WHERE t.gid OPERATOR(pg_catalog.=) $1",
				1, argtypes, args, SPI_OK_DELETE);
}

/* this node has records of changes it coordinated */
static bool
has_records(void)
{
	return cluster_sql("SELECT FROM memshard.metadata_transactions LIMIT 1",
					   0, NULL, NULL, SPI_OK_SELECT) > 0;
}

/*
 * One statement with one parameter on every node of the list (ClusterNode
 * pointers), at once; each answer comes back with its node.
 */
static RemoteFanout *
run_on_nodes(List *nodes, const char *sql, const char *param)
{
	const char **values = palloc(sizeof(char *));
	RemoteFanout *fanout = remote_fanout_create(list_length(nodes));
	ListCell   *lc;

	values[0] = param;
	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);
		RemoteCall *call = remote_fanout_add(fanout, node, node->serverid, sql);

		call->nparams = 1;
		call->paramvalues = values;
	}
	remote_fanout_run(fanout);
	return fanout;
}
