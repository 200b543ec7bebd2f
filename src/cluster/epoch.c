/*-------------------------------------------------------------------------
 *
 * epoch.c
 *		The metadata epoch and fencing.
 *
 * The epoch is a counter in the metadata (memshard.metadata_epoch, part of
 * metadata_snapshot): every metadata change bumps it on its coordinator
 * (cluster_epoch_bump, in cluster_change_end) and every node taking the
 * change gets it from the snapshot (cluster_epoch_from_snapshot).  All
 * nodes that took the same changes have the same epoch; a node that was
 * down while the others changed (promoted away: skipped by the changes)
 * has an older one.
 *
 * Fencing: a node whose epoch is older than the cluster's must not serve
 * its shards, which may have been given to others.  It learns that it is
 * behind in two ways:
 *	- a caller sends its epoch with every peer call (the remote session's
 *	  pg_memshard.peer_epoch, set by src/remote when the connection is made
 *	  and whenever this backend's epoch changes); a callee with an older
 *	  epoch refuses the call (cluster_peer_epoch_check) and remembers it;
 *	- a probe (memshard.peer_epoch() on every other node, by the failover
 *	  worker, and by the first request after the start) finds a newer
 *	  epoch elsewhere.
 * Then every request for a map over nodes is refused here
 * (cluster_fence_check, from the router and the table cache's peer
 * functions) until the node takes the cluster's metadata (a rejoin,
 * promote.c), which resets what it saw.  The table cache's own reads of a
 * table cached over nodes are not refused: they read the table instead of
 * the cache (cluster_fenced_now, tablecache/reader.c).
 *
 * The epoch of this backend is read with the node list (node_catalog.c)
 * and cached with it; what was seen elsewhere is in shared memory
 * (failover_state.c).  With the SQL objects of 1.0 (no epoch table) the
 * epoch is 0 and nothing is fenced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/failover_internal.h"
#include "cluster/metadata_internal.h"
#include "pg_memshard.h"
#include "remote/remote.h"

/* the caller's epoch, set by the caller in its session (0: not sent) */
int			memshard_caller_epoch = 0;

/* how often a node not verified yet asks the others again, at most */
#define VERIFY_RETRY_MS 1000

/* how long a node with a change prepared waits for its commit */
#define CATCH_UP_MS 1000

static int64 current_epoch(int64 seen);
static void report_fenced(int64 mine, int64 newest) pg_attribute_noreturn();

/* a metadata change: one more */
void
cluster_epoch_bump(void)
{
	if (!memshard_epoch_table_exists())
		return;
	cluster_sql("INSERT INTO memshard.metadata_epoch AS e (one_row, epoch) VALUES (true, 1) "
				"ON CONFLICT (one_row) DO UPDATE SET epoch = e.epoch OPERATOR(pg_catalog.+) 1",
				0, NULL, NULL, SPI_OK_INSERT);
	cluster_nodes_changed();
	failover_count_change();
}

/*
 * The epoch of a snapshot a coordinator sent ($1 OPERATOR(->>) 'epoch',
 * none: 0), which the digest check then confirms.
 */
void
cluster_epoch_from_snapshot(Datum snapshot)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		args[1];

	if (!memshard_epoch_table_exists())
		return;
	args[0] = snapshot;
	cluster_sql("DELETE FROM memshard.metadata_epoch", 0, NULL, NULL,
				SPI_OK_DELETE);
	cluster_sql("INSERT INTO memshard.metadata_epoch (one_row, epoch) "
				"SELECT true, ($1 OPERATOR(pg_catalog.->>) 'epoch')::pg_catalog.int8 "
				"WHERE ($1 OPERATOR(pg_catalog.->>) 'epoch') IS NOT NULL",
				1, argtypes, args, SPI_OK_INSERT);
	cluster_nodes_changed();
	failover_epoch_applied(cluster_epoch());
	failover_count_change();
}

/*
 * A peer call: refuse it when the caller's metadata is newer than ours
 * (we may hold shards the cluster gave to others meanwhile).
 */
void
cluster_peer_epoch_check(void)
{
	int64		mine;

	if (memshard_caller_epoch == 0)
		return;
	mine = current_epoch(memshard_caller_epoch);
	if (mine >= memshard_caller_epoch)
		return;
	failover_note_epoch(memshard_caller_epoch, false);
	report_fenced(mine, memshard_caller_epoch);
}

/*
 * A request for a map over nodes on this node: refuse it while another
 * node is known to have a newer epoch.  The first request after the start
 * asks the others first; with failover on, again at most every
 * VERIFY_RETRY_MS until one answers (with it off, a node that no other
 * node answers is not held up by every request).
 */
void
cluster_fence_check(void)
{
	int64		newest_seen;

	if (cluster_fenced_now(&newest_seen))
		report_fenced(cluster_epoch(), newest_seen);
}

/*
 * cluster_fence_check's test without the ERROR (*newest_seen: the newer
 * epoch seen): for the table cache, which reads the table instead of its
 * cache on a fenced node (tablecache/reader.c).
 */
bool
cluster_fenced_now(int64 *newest_seen)
{
	bool		verified = false;
	TimestampTz last_verify = 0;
	bool		known;

	*newest_seen = 0;
	if (!memshard_preloaded)
		return false;
	known = failover_fence_peek(newest_seen, &verified, &last_verify);
	if (!verified &&
		(!known || last_verify == 0 ||
		 (memshard_failover_timeout_ms > 0 &&
		  TimestampDifferenceExceeds(last_verify, GetCurrentTimestamp(),
									 VERIFY_RETRY_MS))))
	{
		(void) failover_probe_nodes(0);
		known = failover_fence_peek(newest_seen, &verified, &last_verify);
	}
	return known && *newest_seen > current_epoch(*newest_seen);
}

/*
 * Our epoch, read again from the table if the cached one is older than
 * the epoch seen elsewhere: the change that brings it may have committed
 * here since the cache was loaded (its invalidation not yet taken).  While
 * a part of a change is prepared here, its COMMIT PREPARED is on its way
 * (the coordinator commits locally first): wait for it a little, up to
 * CATCH_UP_MS, rather than refuse a caller that is just ahead of us.
 */
static int64
current_epoch(int64 seen)
{
	TimestampTz start = GetCurrentTimestamp();
	int64		epoch = cluster_epoch();

	while (epoch < seen)
	{
		cluster_nodes_changed();
		epoch = cluster_epoch();
		if (epoch >= seen)
			break;
		if (metadata_prepared_here() == NIL ||
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   CATCH_UP_MS))
		{
			/*
			 * Read once more: the COMMIT PREPARED may have finished between
			 * the read above and the look at what is prepared.
			 */
			cluster_nodes_changed();
			epoch = cluster_epoch();
			break;
		}
		pg_usleep(10 * 1000L);
		CHECK_FOR_INTERRUPTS();
	}
	return epoch;
}

/* true when this node refuses its shards (memshard.failover_stats) */
bool
cluster_is_fenced(void)
{
	FailoverFigures figures;

	failover_figures_get(&figures);
	return figures.newest_seen > cluster_epoch();
}

static void
report_fenced(int64 mine, int64 newest)
{
	const ClusterNode *self = cluster_local_node();

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("node \"%s\" is fenced: its metadata epoch " INT64_FORMAT " is older than the cluster's " INT64_FORMAT,
					self ? NameStr(self->server) : "?", mine, newest),
			 errdetail("Its shards may have been promoted to other nodes while it was unreachable."),
			 errhint("A node of the cluster brings it back with empty placements: the failover worker (pg_memshard.failover_timeout), or memshard.rejoin_node() on a node of the cluster.")));
}

/*
 * Ask every other node (but skip_node_id) for its epoch, all at once: a
 * list of NodeProbe.  What the answers say is remembered (fencing).
 */
List *
failover_probe_nodes(int32 skip_node_id)
{
	List	   *nodes = cluster_nodes();
	RemoteFanout *fanout = remote_fanout_create(Max(list_length(nodes), 1));
	List	   *probes = NIL;
	int64		newest = 0;
	bool		answered = false;
	int			others = 0;
	ListCell   *lc;
	int			i;

	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (node->is_local || node->id == skip_node_id)
			continue;
		others++;
		if (OidIsValid(node->serverid))
			remote_fanout_add(fanout, node, node->serverid,
							  "SELECT memshard.peer_epoch()");
		else
			remote_fanout_skip(fanout, node);
	}
	remote_fanout_run(fanout);

	for (i = 0; i < fanout->ncalls; i++)
	{
		NodeProbe  *probe = palloc0(sizeof(NodeProbe));
		const RemoteCall *call = &fanout->calls[i].call;

		probe->node = fanout->calls[i].node;
		if (call->result != NULL && call->result->ntuples == 1 &&
			call->result->values[0] != NULL)
		{
			probe->reachable = true;
			probe->epoch = DatumGetInt64(DirectFunctionCall1(int8in,
															 CStringGetDatum(call->result->values[0])));
			newest = Max(newest, probe->epoch);
			answered = true;
		}
		probes = lappend(probes, probe);
	}
	failover_note_epoch(newest, answered || others == 0);
	return probes;
}
