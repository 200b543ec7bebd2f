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
 *							node; readers are not blocked), finishes changes
 *							left in doubt, and notes the metadata's digest
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
 * A coordinator that dies (or loses a node) between its commit and a
 * COMMIT PREPARED leaves a prepared transaction "in doubt" on that node.  Its
 * global transaction identifier names the coordinator and is written to the
 * coordinator's memshard.metadata_transactions in the same local
 * transaction as the change, so the outcome is known: cluster_recover()
 * commits the prepared transactions whose record committed and rolls back
 * the others (Citus does the same with pg_dist_transaction).  Recovery runs
 * at the start of every change and from memshard.recover_metadata().
 *
 * Why the whole metadata rather than the statement: a node that joins gets
 * everything in one message, a node that leaves gets the empty metadata,
 * and a node that somehow differs is caught by the digest check before
 * anything is changed there, rather than drifting further.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "remote/remote.h"

/* the maps of a snapshot ($1), as rows */
#define SNAPSHOT_MAPS \
	"pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'maps') AS m " \
	"(name pg_catalog.text, default_ttl interval, max_memory bigint, " \
	"eviction pg_catalog.text, method pg_catalog.text, shard_count integer, " \
	"bounds pg_catalog.text[], nodes pg_catalog.name[], replicas integer)"

/* a node taking part in this transaction's metadata change */
typedef struct PeerTxn
{
	int32		node_id;
	Oid			serverid;
	NameData	server;
	char		gid[GIDSIZE];
	bool		prepared;
} PeerTxn;

/* the remote parts of this transaction (TopTransactionContext) */
static List *peer_txns = NIL;

/* state of the change between begin and end */
static char *change_before_digest = NULL;
static List *change_before_nodes = NIL; /* of ClusterNode copies */

/* recovery already ran in this transaction */
static bool recovered_in_xact = false;

/* a change was made in a subtransaction that then rolled back */
static SubTransactionId last_change_subid = InvalidSubTransactionId;
static bool change_rolled_back = false;

/* this backend applies metadata sent by a coordinator */
static bool applying_from_peer = false;

static void register_callbacks(void);
static void sync_xact_callback(XactEvent event, void *arg);
static void sync_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);
static void prepare_peers(void);
static void finish_peers(bool commit);
static void reset_xact_state(void);
static List *copy_nodes(List *nodes);
static bool node_in(List *nodes, int32 id);
static PeerTxn *find_peer(int32 node_id);
static PeerTxn *enlist_peer(const ClusterNode *node);
static char *metadata_snapshot(bool for_removed_node);
static char *gid_prefix(void);
static void forget_transaction(const char *gid);
static void resolve_in_doubt(const ClusterNode *node, const char *gid);
static void apply_snapshot(const char *snapshot);
static uint64 spi_exec_snapshot(const char *sql, int expected, Datum *args);
static TransactionId gid_xid(const char *gid);
static void forget_finished_transactions(const ClusterNode *node,
										 List *prepared);

bool
cluster_applying_from_peer(void)
{
	return applying_from_peer;
}

void
cluster_change_begin(void)
{
	MemoryContext oldcontext;

	if (applying_from_peer)
		return;
	register_callbacks();

	LockRelationOid(cluster_node_catalog_relid(), ExclusiveLock);
	cluster_nodes_changed();

	if (!recovered_in_xact)
		(void) cluster_recover(true);

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
	RemoteCall *calls;
	int			ncalls = 0;
	ListCell   *lc;

	if (applying_from_peer)
		return;
	Assert(change_before_digest != NULL);

	CommandCounterIncrement();
	cluster_nodes_changed();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	after_nodes = cluster_nodes();
	last_change_subid = GetCurrentSubTransactionId();

	snapshot = metadata_snapshot(false);
	after_digest = cluster_sql_text("SELECT pg_catalog.md5(memshard.metadata_snapshot()::pg_catalog.text)");
	removed_snapshot = metadata_snapshot(true);
	removed_digest = cluster_sql_text("SELECT pg_catalog.md5(memshard.metadata_snapshot(true)::pg_catalog.text)");

	/* every member before or after, but this node */
	foreach(lc, change_before_nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local)
			targets = lappend(targets, node);
	}
	foreach(lc, after_nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local && !node_in(change_before_nodes, node->id))
			targets = lappend(targets, node);
	}
	if (targets == NIL)
	{
		change_before_digest = NULL;
		return;
	}

	/* open a remote transaction where there is none yet */
	calls = palloc0(sizeof(RemoteCall) * list_length(targets));
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
		calls[ncalls].serverid = node->serverid;
		calls[ncalls].sql = "BEGIN";
		calls[ncalls].session = REMOTE_PIN;
		ncalls++;
	}
	remote_run_or_throw(calls, ncalls);

	/* apply: old members check the digest before, new ones must be blank */
	ncalls = 0;
	foreach(lc, targets)
	{
		ClusterNode *node = lfirst(lc);
		bool		removed = !node_in(after_nodes, node->id);
		bool		joining = !node_in(change_before_nodes, node->id);
		const char **values = palloc(sizeof(char *) * 3);

		values[0] = joining ? NULL : change_before_digest;
		values[1] = removed ? removed_snapshot : snapshot;
		values[2] = removed ? removed_digest : after_digest;
		calls[ncalls].serverid = node->serverid;
		calls[ncalls].sql = "SELECT memshard.peer_metadata_apply($1, $2::pg_catalog.jsonb, $3)";
		calls[ncalls].nparams = 3;
		calls[ncalls].paramvalues = values;
		calls[ncalls].session = REMOTE_PINNED;
		ncalls++;
	}
	remote_run_or_throw(calls, ncalls);

	change_before_digest = NULL;
}

/*
 * Apply metadata sent by a coordinator (memshard.peer_metadata_apply), in
 * the coordinator's remote transaction.  before_digest NULL: this node must
 * not belong to a cluster yet.
 */
void
cluster_apply_snapshot(const char *before_digest, const char *snapshot,
					   const char *after_digest)
{
	Oid			relid = cluster_node_catalog_relid();
	char	   *digest;

	register_callbacks();
	if (!ConditionalLockRelationOid(relid, ExclusiveLock))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("the metadata of this node is being changed by another transaction"),
				 errhint("Retry.  If this persists, a change is in doubt: run memshard.recover_metadata() on the node that made the last change.")));
	cluster_nodes_changed();

	digest = cluster_metadata_digest();
	if (before_digest == NULL && cluster_nodes() != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node already belongs to a cluster"),
				 errhint("Remove it from its cluster with memshard.remove_node() first.")));
	if (before_digest != NULL && strcmp(digest, before_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the metadata of this node differs from the coordinator's"),
				 errdetail("Digest here %s, expected %s.", digest, before_digest),
				 errhint("A change may be in doubt: run memshard.recover_metadata() on the node that made the last change.")));

	applying_from_peer = true;
	apply_snapshot(snapshot);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(relid);
	cluster_nodes_changed();

	digest = cluster_metadata_digest();
	if (strcmp(digest, after_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node did not reach the coordinator's metadata"),
				 errdetail("Digest here %s, expected %s.", digest, after_digest)));
}

/*
 * Make this node's metadata what the snapshot says.  Maps are created and
 * dropped through memshard.create_map/drop_map, so that their store state
 * follows as for any map; applying_from_peer keeps those from placing
 * shards or starting a change of their own.  The placements come as they
 * are in the snapshot.
 */
static void
apply_snapshot(const char *snapshot)
{
	ClusterSqlState state;
	Datum		args[1];
	uint64		nconflicts;
	uint64		row;

	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(snapshot));
	cluster_sql_begin(&state);

	spi_exec_snapshot("DELETE FROM memshard.placement_catalog",
					  SPI_OK_DELETE, args);
	spi_exec_snapshot("DELETE FROM memshard.node_catalog", SPI_OK_DELETE, args);
	spi_exec_snapshot("INSERT INTO memshard.node_catalog "
					  "(id, server, system_identifier, database) "
					  "SELECT id, server, system_identifier, database "
					  "FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'nodes') AS n "
					  "(id integer, server pg_catalog.name, system_identifier bigint, "
					  "database pg_catalog.name)",
					  SPI_OK_INSERT, args);

	/* a map of the same name but another definition is a conflict */
	nconflicts = spi_exec_snapshot("SELECT c.name FROM " SNAPSHOT_MAPS " "
								   "JOIN memshard.map_catalog c ON c.name OPERATOR(pg_catalog.=) m.name "
								   "WHERE (c.default_ttl, c.max_memory, c.eviction, c.method, "
								   "c.shard_count, c.bounds, c.nodes, c.replicas) IS DISTINCT FROM "
								   "(m.default_ttl, m.max_memory, m.eviction, m.method, "
								   "m.shard_count, m.bounds, m.nodes, m.replicas)",
								   SPI_OK_SELECT, args);
	for (row = 0; row < nconflicts; row++)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("map \"%s\" exists on this node with another definition",
						SPI_getvalue(SPI_tuptable->vals[row],
									 SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the map on this node, or give the cluster's map another name.")));

	spi_exec_snapshot("SELECT memshard.drop_map(c.name) FROM memshard.map_catalog c "
					  "WHERE c.nodes IS NOT NULL AND NOT EXISTS (SELECT FROM "
					  SNAPSHOT_MAPS " WHERE m.name OPERATOR(pg_catalog.=) c.name)",
					  SPI_OK_SELECT, args);
	spi_exec_snapshot("SELECT memshard.create_map(m.name, m.default_ttl, m.max_memory, "
					  "m.eviction, m.method, m.shard_count, m.bounds, m.nodes, m.replicas) "
					  "FROM " SNAPSHOT_MAPS " WHERE NOT EXISTS (SELECT FROM "
					  "memshard.map_catalog c WHERE c.name OPERATOR(pg_catalog.=) m.name)",
					  SPI_OK_SELECT, args);
	spi_exec_snapshot("INSERT INTO memshard.placement_catalog "
					  "(map_id, shard, replica, node_id) "
					  "SELECT c.id, (p OPERATOR(pg_catalog.->>) 1)::integer, "
					  "(p OPERATOR(pg_catalog.->>) 2)::integer, "
					  "(p OPERATOR(pg_catalog.->>) 3)::integer "
					  "FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'placements') p "
					  "JOIN memshard.map_catalog c "
					  "ON c.name OPERATOR(pg_catalog.=) (p OPERATOR(pg_catalog.->>) 0)",
					  SPI_OK_INSERT, args);
	cluster_sql_end(&state);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	cluster_placements_changed();
	cluster_nodes_changed();
}

/* one statement of apply_snapshot, $1 being the snapshot */
static uint64
spi_exec_snapshot(const char *sql, int expected, Datum *args)
{
	Oid			argtypes[1] = {JSONBOID};

	return cluster_sql_exec(sql, 1, argtypes, args, expected);
}

/* md5 of the canonical metadata text: equal digests, equal metadata */
char *
cluster_metadata_digest(void)
{
	return cluster_sql_text("SELECT pg_catalog.md5(memshard.metadata_snapshot()::pg_catalog.text)");
}

/*
 * Finish the metadata changes this node coordinated and left prepared on
 * other nodes: commit those whose local record committed, roll back the
 * others, skip those whose local transaction is still running.  Nodes that
 * cannot be reached are skipped (other errors are raised), unless all_nodes: a change, which needs
 * every node, fails at once rather than after a second timeout.  Returns
 * how many were finished.  Takes the metadata lock, as a change does.
 */
int
cluster_recover(bool all_nodes)
{
	List	   *nodes = NIL;
	RemoteCall *calls;
	char	   *query;
	int			ncalls = 0;
	int			resolved = 0;
	int			i;
	ListCell   *lc;

	register_callbacks();
	LockRelationOid(cluster_node_catalog_relid(), ExclusiveLock);
	cluster_nodes_changed();
	recovered_in_xact = true;

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local && OidIsValid(node->serverid))
			nodes = lappend(nodes, node);
	}
	if (nodes == NIL)
		return 0;

	query = psprintf("SELECT gid FROM pg_catalog.pg_prepared_xacts "
					 "WHERE gid OPERATOR(pg_catalog.~~) '%s%%' ORDER BY gid", gid_prefix());
	calls = palloc0(sizeof(RemoteCall) * list_length(nodes));
	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);

		calls[ncalls].serverid = node->serverid;
		calls[ncalls].sql = query;
		calls[ncalls].session = REMOTE_ANY;
		ncalls++;
	}
	remote_run(calls, ncalls);

	for (i = 0; i < ncalls; i++)
	{
		ClusterNode *node = list_nth(nodes, i);
		RemoteResult *result = calls[i].result;
		List	   *prepared = NIL;
		int			row;

		if (result == NULL &&
			(all_nodes || !remote_error_is_unreachable(calls[i].error)))
			remote_throw(&calls[i]);
		if (result == NULL)
			continue;			/* unreachable: next time */
		for (row = 0; row < result->ntuples; row++)
		{
			const char *gid = result->values[row];

			prepared = lappend(prepared, (char *) gid);
			if (TransactionIdIsInProgress(gid_xid(gid)))
				continue;
			resolve_in_doubt(node, gid);
			resolved++;
		}
		forget_finished_transactions(node, prepared);
	}
	return resolved;
}

/* the local transaction of one of our gids: memshard_<sysid>_<db>_<xid>_<node> */
static TransactionId
gid_xid(const char *gid)
{
	TransactionId xid;

	if (sscanf(gid + strlen(gid_prefix()), "%u_", &xid) != 1)
		return InvalidTransactionId;
	return xid;
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
	nrows = cluster_sql_exec("SELECT gid FROM memshard.metadata_transactions WHERE node_id OPERATOR(pg_catalog.=) $1",
							 1, argtypes, args, SPI_OK_SELECT);
	for (row = 0; row < nrows; row++)
	{
		char	   *gid = SPI_getvalue(SPI_tuptable->vals[row],
									   SPI_tuptable->tupdesc, 1);
		bool		still_prepared = false;

		foreach(lc, prepared)
			still_prepared |= (strcmp(lfirst(lc), gid) == 0);
		if (!still_prepared && !TransactionIdIsInProgress(gid_xid(gid)))
			finished = lappend(finished, gid);
	}
	foreach(lc, finished)
		forget_transaction(lfirst(lc));
	cluster_sql_end(&state);
}

/* commit or roll back one prepared transaction left on a node */
static void
resolve_in_doubt(const ClusterNode *node, const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	bool		committed;
	RemoteCall	call = {0};

	args[0] = CStringGetTextDatum(gid);
	committed = cluster_sql("SELECT 1 FROM memshard.metadata_transactions WHERE gid OPERATOR(pg_catalog.=) $1",
							1, argtypes, args, SPI_OK_SELECT) > 0;

	call.serverid = node->serverid;
	call.sql = psprintf("%s PREPARED %s", committed ? "COMMIT" : "ROLLBACK",
						quote_literal_cstr(gid));
	call.session = REMOTE_ANY;
	remote_run_or_throw(&call, 1);
	forget_transaction(gid);
	ereport(LOG,
			(errmsg("pg_memshard: %s in-doubt metadata change %s on node \"%s\"",
					committed ? "committed" : "rolled back", gid,
					NameStr(node->server))));
}

static void
forget_transaction(const char *gid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];

	args[0] = CStringGetTextDatum(gid);
	cluster_sql("DELETE FROM memshard.metadata_transactions WHERE gid OPERATOR(pg_catalog.=) $1",
				1, argtypes, args, SPI_OK_DELETE);
}

/* "memshard_<system identifier>_<database OID>_": our transactions */
static char *
gid_prefix(void)
{
	return psprintf("memshard_" UINT64_FORMAT "_%u_",
					(uint64) cluster_system_identifier(), MyDatabaseId);
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
	snprintf(peer->gid, sizeof(peer->gid), "%s%u_%d", gid_prefix(),
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
register_callbacks(void)
{
	static bool registered = false;

	if (registered)
		return;
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

/* PRE_COMMIT: prepare every remote part; any failure aborts the whole */
static void
prepare_peers(void)
{
	RemoteCall *calls;
	int			ncalls = 0;
	int			i;
	ListCell   *lc;

	if (peer_txns == NIL)
		return;
	if (change_rolled_back)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("a change of the cluster metadata was rolled back to a savepoint"),
				 errdetail("The other nodes already applied it, so the whole transaction is rolled back.")));

	calls = palloc0(sizeof(RemoteCall) * list_length(peer_txns));
	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		calls[ncalls].serverid = peer->serverid;
		calls[ncalls].sql = psprintf("PREPARE TRANSACTION %s",
									 quote_literal_cstr(peer->gid));
		calls[ncalls].session = REMOTE_PINNED;
		ncalls++;
	}
	remote_run(calls, ncalls);

	/* remember what is prepared before raising anything */
	for (i = 0; i < ncalls; i++)
	{
		PeerTxn    *peer = list_nth(peer_txns, i);

		peer->prepared = (calls[i].result != NULL &&
						  strcmp(calls[i].result->command_status,
								 "PREPARE TRANSACTION") == 0);
	}
	for (i = 0; i < ncalls; i++)
	{
		PeerTxn    *peer = list_nth(peer_txns, i);

		if (calls[i].error != NULL)
			remote_throw(&calls[i]);
		if (!peer->prepared)
			ereport(ERROR,
					(errcode(ERRCODE_TRANSACTION_ROLLBACK),
					 errmsg("node \"%s\" rolled back its part of the metadata change",
							NameStr(peer->server))));
	}
}

/*
 * After the local commit or abort: commit or roll back every remote part.
 * Nothing here may raise an ERROR: failures become WARNINGs and are left
 * to cluster_recover().
 */
static void
finish_peers(bool commit)
{
	RemoteCall *calls;
	int			ncalls = 0;
	int			i;
	ListCell   *lc;

	if (peer_txns == NIL)
		return;

	/* a session lost on the way (cancel, timeout) was aborted remotely */
	calls = palloc0(sizeof(RemoteCall) * list_length(peer_txns));
	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);

		if (!remote_is_pinned(peer->serverid))
			continue;
		calls[ncalls].serverid = peer->serverid;
		calls[ncalls].session = REMOTE_PINNED;
		if (peer->prepared)
			calls[ncalls].sql = psprintf("%s PREPARED %s",
										 commit ? "COMMIT" : "ROLLBACK",
										 quote_literal_cstr(peer->gid));
		else
			calls[ncalls].sql = "ROLLBACK";
		ncalls++;
	}
	remote_run(calls, ncalls);

	foreach(lc, peer_txns)
	{
		PeerTxn    *peer = lfirst(lc);
		RemoteError *error = NULL;
		bool		sent = false;

		for (i = 0; i < ncalls; i++)
		{
			if (calls[i].serverid == peer->serverid)
			{
				sent = true;
				error = calls[i].error;
			}
		}
		remote_unpin(peer->serverid);
		if (!peer->prepared || (sent && error == NULL))
			continue;
		/* recovery by another backend may have been quicker */
		if (error != NULL && error->sqlstate == ERRCODE_UNDEFINED_OBJECT)
			continue;
		ereport(WARNING,
				(errmsg("could not %s the metadata change on node \"%s\"",
						commit ? "commit" : "roll back", NameStr(peer->server)),
				 error ? errdetail_internal("%s", error->message)
				 : errdetail("The connection to the node was lost."),
				 errhint("memshard.recover_metadata() on this node finishes it once the node is reachable.")));
	}
}

static void
reset_xact_state(void)
{
	/* the lists lived in TopTransactionContext, which goes away */
	peer_txns = NIL;
	change_before_digest = NULL;
	change_before_nodes = NIL;
	recovered_in_xact = false;
	last_change_subid = InvalidSubTransactionId;
	change_rolled_back = false;
	applying_from_peer = false;
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
	ListCell   *lc;

	foreach(lc, nodes)
	{
		if (((ClusterNode *) lfirst(lc))->id == id)
			return true;
	}
	return false;
}

static char *
metadata_snapshot(bool for_removed_node)
{
	return cluster_sql_text(for_removed_node
						   ? "SELECT memshard.metadata_snapshot(true)::pg_catalog.text"
						   : "SELECT memshard.metadata_snapshot()::pg_catalog.text");
}

