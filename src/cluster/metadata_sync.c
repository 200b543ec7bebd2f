/*-------------------------------------------------------------------------
 *
 * metadata_sync.c
 *		Every admin change reaches every node, or none: two-phase commit.
 *
 * The cluster metadata (nodes, maps over nodes, placements) is the same on
 * every node.  A change is made on one node (the coordinator of that
 * change) in its local transaction:
 *
 *	cluster_change_begin()	locks the local metadata (ExclusiveLock on
 *							memshard.node_catalog: one change at a time per
 *							node; readers are not blocked; never waiting on
 *							a change prepared here and left in doubt, see
 *							metadata_lock), finishes changes it left in
 *							doubt elsewhere, and notes the metadata's digest
 *							and node list before the change;
 *	... the local change ...
 *	cluster_change_end()	opens a remote transaction on every other node
 *							(old and new members), and sends each the whole
 *							new metadata (memshard.metadata_snapshot(), as
 *							jsonb) with the digest it must have before and
 *							the digest it must reach after applying it; the
 *							node checks both (peer_metadata_apply).
 *
 * At PRE_COMMIT every remote transaction is prepared (PREPARE TRANSACTION).
 * If one node fails to prepare, or fails earlier, the local transaction
 * aborts with an ERROR naming that node and every remote part is rolled
 * back (ROLLBACK or ROLLBACK PREPARED): no node is half-changed.  After the
 * local commit, the prepared transactions are committed (COMMIT PREPARED).
 *
 * After the commit record nothing may raise an ERROR: it would become a
 * PANIC ("cannot abort transaction ..., it was already committed").  As
 * postgres_fdw does, the fallible work (allocating the calls, building
 * their statements) is done at PRE_COMMIT; what is left
 * (remote_fanout_run, which may still fail to allocate or to make its wait
 * set) runs under PG_TRY in a memory context of our own, and a failure becomes a WARNING.  A part not
 * committed stays prepared "in doubt" on its node, and is finished by
 * metadata_recover.c: its global transaction identifier names this node and
 * its local transaction, and a record of it (memshard.metadata_transactions)
 * commits with the change, so the outcome is known here; any node can ask.
 *
 * Why the whole metadata rather than the statement: a node that joins gets
 * everything in one message, a node that leaves gets the empty metadata,
 * and a node that somehow differs is caught by the digest check before
 * anything is changed there, rather than drifting further.
 *
 * pg_memshard.test_hold_after_prepare and test_error_after_commit stop or
 * fail a change at the two points that matter to recovery, for the tests.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"
#include "cluster/placement.h"
#include "remote/remote.h"

/* a node taking part in this transaction's metadata change */
typedef struct PeerTxn
{
	int32		node_id;
	Oid			serverid;
	NameData	server;
	char		gid[GIDSIZE];
	bool		prepared;
	RemoteCall *finish;			/* its call in finish_fanout, NULL for none */
} PeerTxn;

/* the remote parts of this transaction (TopTransactionContext) */
static List *peer_txns = NIL;

/*
 * What the end of the transaction sends to the peers (TopTransactionContext,
 * which lives until the end of CommitTransaction).  For a commit it is
 * built at PRE_COMMIT, before the commit record.
 */
static RemoteFanout *finish_fanout = NULL;

/* what finishing allocates (remote_fanout_run's answers); reset after use */
static MemoryContext finish_context = NULL;

/* state of the change between begin and end */
static char *change_before_digest = NULL;
static List *change_before_nodes = NIL; /* of ClusterNode copies */

/* recovery already ran in this transaction */
static bool recovered_in_xact = false;

/* a change was made in a subtransaction that then rolled back */
static SubTransactionId last_change_subid = InvalidSubTransactionId;
static bool change_rolled_back = false;

/* settings for the tests (pg_memshard.c defines them) */
int			memshard_test_hold_after_prepare = 0;
bool		memshard_test_error_after_commit = false;

static void sync_xact_callback(XactEvent event, void *arg);
static void sync_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);
static void prepare_peers(void);
static void test_hold_after_prepare(void);
static void build_finish_calls(bool commit);
static void finish_peers(bool commit);
static void report_unfinished(bool commit, const ErrorData *failure);
static void abandon_peers(void);
static void reset_xact_state(void);
static List *copy_nodes(List *nodes);
static bool node_in(List *nodes, int32 id);
static ClusterNode *node_of(List *nodes, int32 id);
static bool skipped_by_change(const ClusterNode *node, List *after_nodes);
static void change_begin(bool all_nodes);
static PeerTxn *find_peer(int32 node_id);
static PeerTxn *enlist_peer(const ClusterNode *node);
static char *metadata_snapshot(bool for_removed_node);
static void metadata_register_callbacks(void);

void
cluster_change_begin(void)
{
	change_begin(true);
}

/*
 * As cluster_change_begin, for a change that works around a node that is
 * down (promote): the changes left in doubt on unreachable nodes stay so.
 */
void
cluster_change_begin_degraded(void)
{
	change_begin(false);
}

static void
change_begin(bool all_nodes)
{
	MemoryContext oldcontext;

	metadata_register_callbacks();

	(void) metadata_lock(true);
	cluster_nodes_changed();

	/* a change needs every node: one left unreachable fails it here */
	if (!recovered_in_xact)
		(void) metadata_recover_coordinated(all_nodes, NULL);
	recovered_in_xact = true;

	oldcontext = MemoryContextSwitchTo(TopTransactionContext);
	change_before_digest = cluster_metadata_digest();
	change_before_nodes = copy_nodes(cluster_nodes());
	MemoryContextSwitchTo(oldcontext);
}

/*
 * Send the new metadata to every node that was or is a member, other than
 * this one.  Raises an ERROR naming the first node that could not take it.
 */
void
cluster_change_end(void)
{
	List	   *after_nodes;
	List	   *targets = NIL;
	char	   *snapshot;
	char	   *after_digest;
	char	   *removed_snapshot;
	char	   *removed_digest;
	RemoteFanout *fanout;
	ListCell   *lc;

	Assert(change_before_digest != NULL);

	cluster_epoch_bump();
	CommandCounterIncrement();
	cluster_nodes_changed();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	after_nodes = cluster_nodes();
	last_change_subid = GetCurrentSubTransactionId();

	snapshot = metadata_snapshot(false);
	after_digest = cluster_metadata_digest();
	removed_snapshot = metadata_snapshot(true);
	removed_digest = cluster_sql_text("SELECT pg_catalog.md5(memshard.metadata_snapshot(true)::pg_catalog.text)");

	/* every member before or after, but this node and failed nodes */
	foreach(lc, change_before_nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local && !skipped_by_change(node, after_nodes))
			targets = lappend(targets, node);
	}
	foreach(lc, after_nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local && !node_in(change_before_nodes, node->id) &&
			!skipped_by_change(node, after_nodes))
			targets = lappend(targets, node);
	}
	if (targets == NIL)
	{
		change_before_digest = NULL;
		return;
	}

	/* open a remote transaction where there is none yet */
	fanout = remote_fanout_create(list_length(targets));
	foreach(lc, targets)
	{
		ClusterNode *node = lfirst(lc);

		if (!OidIsValid(node->serverid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("server \"%s\" of node %d does not exist on this node",
							NameStr(node->server), node->id),
					 errhint("Every node needs the same CREATE SERVER and CREATE USER MAPPING statements.")));
		if (find_peer(node->id) != NULL)
			continue;
		enlist_peer(node);
		remote_fanout_add(fanout, node, node->serverid, "BEGIN")->session =
			REMOTE_PIN;
	}
	remote_fanout_run_or_throw(fanout);

	/* apply: old members check the digest before, new ones must be blank */
	fanout = remote_fanout_create(list_length(targets));
	foreach(lc, targets)
	{
		ClusterNode *node = lfirst(lc);
		bool		removed = !node_in(after_nodes, node->id);
		bool		joining = !node_in(change_before_nodes, node->id);
		ClusterNode *before = node_of(change_before_nodes, node->id);
		const char **values = palloc(sizeof(char *) * 3);
		RemoteCall *call;

		if (before != NULL && cluster_node_is_failed(before))
		{
			/* a failed node back: it takes our metadata, whatever it has */
			values[0] = snapshot;
			values[1] = after_digest;
			call = remote_fanout_add(fanout, node, node->serverid,
									 "SELECT memshard.peer_metadata_rejoin($1::pg_catalog.jsonb, $2)");
			call->nparams = 2;
			call->paramvalues = values;
			call->session = REMOTE_PINNED;
			continue;
		}
		values[0] = joining ? NULL : change_before_digest;
		values[1] = removed ? removed_snapshot : snapshot;
		values[2] = removed ? removed_digest : after_digest;
		call = remote_fanout_add(fanout, node, node->serverid,
								 "SELECT memshard.peer_metadata_apply($1, $2::pg_catalog.jsonb, $3)");
		call->nparams = 3;
		call->paramvalues = values;
		call->session = REMOTE_PINNED;
	}
	remote_fanout_run_or_throw(fanout);

	change_before_digest = NULL;
}

/* md5 of the canonical metadata text: equal digests, equal metadata */
char *
cluster_metadata_digest(void)
{
	return cluster_sql_text("SELECT pg_catalog.md5(memshard.metadata_snapshot()::pg_catalog.text)");
}

static PeerTxn *
find_peer(int32 node_id)
{
	ListCell   *lc;

	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		if (peer->node_id == node_id)
			return peer;
	}
	return NULL;
}

/*
 * Take a node into this transaction's change, and record its global
 * transaction identifier: the record commits with our change, or not at all.
 */
static PeerTxn *
enlist_peer(const ClusterNode *node)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(TopTransactionContext);
	PeerTxn    *peer = palloc0(sizeof(PeerTxn));
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		args[2];

	peer->node_id = node->id;
	peer->serverid = node->serverid;
	peer->server = node->server;
	peer->finish = NULL;
	snprintf(peer->gid, sizeof(peer->gid), "%s%u_%d", metadata_gid_prefix(),
			 XidFromFullTransactionId(GetTopFullTransactionId()), node->id);
	peer_txns = lappend(peer_txns, peer);
	MemoryContextSwitchTo(oldcontext);

	args[0] = CStringGetTextDatum(peer->gid);
	args[1] = Int32GetDatum(node->id);
	cluster_sql("INSERT INTO memshard.metadata_transactions (gid, node_id) "
				"VALUES ($1, $2)", 2, argtypes, args, SPI_OK_INSERT);
	return peer;
}

static void
metadata_register_callbacks(void)
{
	static bool registered = false;

	if (registered)
		return;
	finish_context = AllocSetContextCreate(TopMemoryContext,
										   "pg_memshard metadata finish",
										   ALLOCSET_SMALL_SIZES);
	RegisterXactCallback(sync_xact_callback, NULL);
	RegisterSubXactCallback(sync_subxact_callback, NULL);
	registered = true;
}

static void
sync_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			prepare_peers();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (peer_txns != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed the cluster metadata")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			finish_peers(true);
			reset_xact_state();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			finish_peers(false);
			reset_xact_state();
			break;
		case XACT_EVENT_PREPARE:
			reset_xact_state();
			break;
	}
}

/*
 * A savepoint rolled back over a change: the local part is undone, the
 * remote parts are not; the only consistent way out is to abort it all.
 */
static void
sync_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && peer_txns != NIL &&
		last_change_subid >= mySubid)
		change_rolled_back = true;
}

/*
 * PRE_COMMIT: prepare every remote part; any failure aborts the whole.
 * Then build what the commit will send, while an ERROR is still allowed.
 */
static void
prepare_peers(void)
{
	RemoteFanout *fanout;
	int			i;
	ListCell   *lc;

	if (peer_txns == NIL)
		return;
	if (change_rolled_back)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("a change of the cluster metadata was rolled back to a savepoint"),
				 errdetail("The other nodes already applied it, so the whole transaction is rolled back.")));

	/*
	 * Our xid names the change in every part's gid, and recovery asks
	 * whether it is still running or committed.  Make it survive a crash
	 * before any part is prepared: else after a crash this node could give
	 * the same xid to another transaction, which the parts would be judged
	 * by.  (Replay moves the next xid past every xid in the log.)
	 */
	XLogFlush(XactLastRecEnd);

	fanout = remote_fanout_create(list_length(peer_txns));
	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		remote_fanout_add(fanout, peer, peer->serverid,
						  psprintf("PREPARE TRANSACTION %s",
								   quote_literal_cstr(peer->gid)))->session =
			REMOTE_PINNED;
	}
	remote_fanout_run(fanout);

	/* remember what is prepared before raising anything */
	for (i = 0; i < fanout->ncalls; i++)
	{
		PeerTxn    *peer = (PeerTxn *) fanout->calls[i].node;
		const RemoteResult *result = fanout->calls[i].call.result;

		peer->prepared = (result != NULL &&
						  strcmp(result->command_status,
								 "PREPARE TRANSACTION") == 0);
	}
	for (i = 0; i < fanout->ncalls; i++)
	{
		const PeerTxn *peer = fanout->calls[i].node;

		if (fanout->calls[i].call.error != NULL)
			remote_throw(&fanout->calls[i].call);
		if (!peer->prepared)
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_ROLLBACK),
					 errmsg("node \"%s\" rolled back its part of the metadata change",
							NameStr(peer->server))));
	}

	test_hold_after_prepare();
	build_finish_calls(true);
}

/*
 * pg_memshard.test_hold_after_prepare (for tests): every part is prepared
 * and the local commit has not happened; wait here until the advisory lock
 * of that key is free (pg_advisory_lock(key) in another session holds us),
 * so that a test can stop this node, or the others, at this very point.
 */
static void
test_hold_after_prepare(void)
{
	LOCKTAG		tag;

	if (memshard_test_hold_after_prepare == 0)
		return;
	/* the tag of pg_advisory_lock(bigint) */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0,
						 (uint32) memshard_test_hold_after_prepare, 1);
	(void) LockAcquire(&tag, ShareLock, false, false);
	LockRelease(&tag, ShareLock, false);
}

/*
 * The statement each peer gets at the end: COMMIT or ROLLBACK PREPARED, or
 * ROLLBACK where nothing was prepared yet.  A session lost on the way
 * (cancel, timeout) gets nothing: its remote transaction was aborted, or
 * is left prepared for recovery.
 */
static void
build_finish_calls(bool commit)
{
	MemoryContext oldcontext = MemoryContextSwitchTo(TopTransactionContext);
	ListCell   *lc;

	finish_fanout = remote_fanout_create(list_length(peer_txns));
	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		peer->finish = NULL;
		if (!remote_is_pinned(peer->serverid))
			continue;
		peer->finish = remote_fanout_add(finish_fanout, peer, peer->serverid,
										 peer->prepared
										 ? psprintf("%s PREPARED %s",
													commit ? "COMMIT" : "ROLLBACK",
													quote_literal_cstr(peer->gid))
										 : "ROLLBACK");
		peer->finish->session = REMOTE_PINNED;
	}
	MemoryContextSwitchTo(oldcontext);
}

/*
 * After the local commit or abort: commit or roll back every remote part.
 * Nothing here may raise an ERROR (after the commit record it would be a
 * PANIC; in an abort it would recurse): a failure, ours or a node's, is a
 * WARNING, and the part left prepared is finished by recovery.
 *
 * Catching an ERROR without aborting is safe here because what
 * remote_fanout_run leaves behind is known: its calls in flight are closed
 * by remote_fanout_run itself, its memory is in finish_context, and the LWLocks it could hold
 * (none at commit or abort) are released.  errfinish zeroes the interrupt
 * holdoff counts, which CommitTransaction relies on: we restore them.
 */
static void
finish_peers(bool commit)
{
	uint32		holdoff = InterruptHoldoffCount;
	uint32		cancel_holdoff = QueryCancelHoldoffCount;
	MemoryContext oldcontext;
	ErrorData  *failure = NULL;

	if (peer_txns == NIL)
		return;
	if (!commit && in_error_recursion_trouble())
	{
		abandon_peers();
		return;
	}

	oldcontext = MemoryContextSwitchTo(finish_context);
	PG_TRY();
	{
		if (!commit)
			build_finish_calls(false);
		if (commit && memshard_test_error_after_commit)
			elog(ERROR, "failure injected after the commit (pg_memshard.test_error_after_commit)");
		if (finish_fanout != NULL)
			remote_fanout_run(finish_fanout);
	}
	PG_CATCH();
	{
		InterruptHoldoffCount = holdoff;
		QueryCancelHoldoffCount = cancel_holdoff;
		LWLockReleaseAll();
		MemoryContextSwitchTo(finish_context);
		failure = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);

	report_unfinished(commit, failure);
	MemoryContextReset(finish_context);
}

/*
 * Release the peers' sessions and warn about every prepared part left
 * unfinished.  After a failure the state of the sessions is unknown: they
 * are closed (the node rolls back what was not prepared).
 */
static void
report_unfinished(bool commit, const ErrorData *failure)
{
	bool		unfinished = false;
	ListCell   *lc;

	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);
		RemoteCall *call = peer->finish;
		RemoteError *error = call ? call->error : NULL;

		remote_unpin(peer->serverid);
		if (!peer->prepared || (call != NULL && call->result != NULL))
			continue;
		/* recovery by another backend may have been quicker */
		if (error != NULL && error->sqlstate == ERRCODE_UNDEFINED_OBJECT)
			continue;
		unfinished = true;
		ereport(WARNING,
				(errmsg("could not %s the metadata change on node \"%s\"",
						commit ? "commit" : "roll back", NameStr(peer->server)),
				 error ? errdetail_internal("%s", error->message)
				 : failure ? errdetail_internal("%s", failure->message)
				 : errdetail("The connection to the node was lost."),
				 errhint("It stays prepared there until recovery finishes it: the recovery worker (pg_memshard.recovery_interval), or memshard.recover_metadata() on any node.")));
	}
	if (failure != NULL)
		(void) remote_disconnect_all();
	if (unfinished)
		recovery_flag_database(MyDatabaseId, RECOVER_COORDINATED);
}

/* an abort within an abort: send nothing, close the sessions, leave the rest */
static void
abandon_peers(void)
{
	bool		prepared = false;
	ListCell   *lc;

	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		remote_unpin(peer->serverid);
		prepared |= peer->prepared;
	}
	(void) remote_disconnect_all();
	if (prepared)
		recovery_flag_database(MyDatabaseId, RECOVER_COORDINATED);
}

static void
reset_xact_state(void)
{
	/* the lists lived in TopTransactionContext, which goes away */
	peer_txns = NIL;
	finish_fanout = NULL;
	change_before_digest = NULL;
	change_before_nodes = NIL;
	recovered_in_xact = false;
	last_change_subid = InvalidSubTransactionId;
	change_rolled_back = false;
}

static List *
copy_nodes(List *nodes)
{
	List	   *copy = NIL;
	ListCell   *lc;

	foreach(lc, nodes)
	{
		ClusterNode *node = palloc(sizeof(ClusterNode));

		memcpy(node, lfirst(lc), sizeof(ClusterNode));
		copy = lappend(copy, node);
	}
	return copy;
}

static bool
node_in(List *nodes, int32 id)
{
	return node_of(nodes, id) != NULL;
}

static ClusterNode *
node_of(List *nodes, int32 id)
{
	ListCell   *lc;

	foreach(lc, nodes)
	{
		if (((ClusterNode *) lfirst(lc))->id == id)
			return lfirst(lc);
	}
	return NULL;
}

/*
 * A failed node gets no change: failed after it (promoted away, or still
 * failed), or failed before it and removed by it.  It takes the metadata
 * when it rejoins.
 */
static bool
skipped_by_change(const ClusterNode *node, List *after_nodes)
{
	const ClusterNode *after = node_of(after_nodes, node->id);
	const ClusterNode *before = node_of(change_before_nodes, node->id);

	if (after != NULL)
		return cluster_node_is_failed(after);
	return before != NULL && cluster_node_is_failed(before);
}

static char *
metadata_snapshot(bool for_removed_node)
{
	return cluster_sql_text(for_removed_node
						   ? "SELECT memshard.metadata_snapshot(true)::pg_catalog.text"
						   : "SELECT memshard.metadata_snapshot()::pg_catalog.text");
}

