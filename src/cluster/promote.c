/*-------------------------------------------------------------------------
 *
 * promote.c
 *		promote(): a dead node's shards get a new primary; rejoin: a node
 *		promoted away comes back with empty placements.
 *
 * promote(server), on any node but the dead one, is one metadata change
 * (metadata_sync.c) on the nodes that are not failed, the dead one
 * excepted:
 *	- it needs a majority of the cluster's nodes (every node of
 *	  memshard.node_catalog, the dead one and the failed ones counted)
 *	  reachable: this node and the active nodes answering a probe.  A
 *	  minority cut off from the others cannot promote, so two sides of a
 *	  partition never both do (no split brain).  The dead node must not
 *	  answer: a node that answers is moved with drain_node or move_shard;
 *	- for every shard whose primary is on the node and that has a copy
 *	  elsewhere, the first such copy becomes the primary (copy 0), the
 *	  others keep their order;
 *	- a shard with no copy elsewhere (a map of replicas 1) is given,
 *	  empty, to the live node of its map holding the fewest of its shards
 *	  (lowest id first; any live node if none of the map's is): a cache may lose those items, but it serves the
 *	  shard again at once, instead of failing every write naming a node
 *	  that is down.  A NOTICE says how many;
 *	- the node loses every placement (its replicas too: the shard has one
 *	  copy fewer until repair() or a rebalance gives it back) and is
 *	  marked 'failed': later changes skip it (metadata_sync.c), new maps
 *	  place nothing on it (placement.c).
 * Returns the number of shards promoted (the first case).
 *
 * drain_node marks its node 'draining' (cluster_mark_draining) before its
 * first move; rejoin_node on a draining node ends the drain (it is
 * 'active' again, keeping what it holds, a normal metadata change).
 *
 * A node comes back (cluster_rejoin, from the failover worker when it
 * answers again, or memshard.rejoin_node): one more change marks it
 * 'active', and the coordinator sends it the metadata with
 * peer_metadata_rejoin instead of the usual check of its digest (it
 * missed changes): it frees its items of maps over nodes, takes the
 * metadata (holding nothing), and its epoch is the cluster's again, which
 * ends its fencing (epoch.c).
 *
 * Locking: that of every metadata change (the metadata lock, two-phase
 * commit): two nodes promoting the same node at once cannot both commit,
 * the second fails harmlessly (55P03, or the node is already failed).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "cluster/cluster.h"
#include "cluster/failover_internal.h"
#include "cluster/placement.h"

/* shards promoted by this transaction, counted when it commits */
static int	promoted_in_xact = -1;

static const ClusterNode *node_to_promote(const char *server);
static void require_majority(const ClusterNode *dead);
static int	count_promoted(int32 node_id);
static int	give_orphans(int32 node_id);
static void drop_node_placements(int32 node_id);
static void set_node_state(int32 node_id, const char *state);
static void promote_xact_callback(XactEvent event, void *arg);

int
cluster_promote(const char *server)
{
	static bool registered = false;
	const ClusterNode *dead;
	int32		dead_id;
	int			promoted;
	int			orphans;

	if (!registered)
	{
		RegisterXactCallback(promote_xact_callback, NULL);
		registered = true;
	}
	cluster_change_begin_degraded();
	cluster_fence_check();
	dead = node_to_promote(server);
	if (dead == NULL)
		return 0;
	dead_id = dead->id;
	require_majority(dead);

	promoted = count_promoted(dead_id);
	orphans = give_orphans(dead_id);
	drop_node_placements(dead_id);
	set_node_state(dead_id, "failed");
	cluster_placements_changed();
	cluster_change_end();

	if (orphans > 0)
		ereport(NOTICE,
				(errmsg("%d shards of node \"%s\" had no copy elsewhere: they were given empty to other nodes",
						orphans, server)));
	promoted_in_xact = Max(promoted_in_xact, 0) + promoted;
	return promoted;
}

/* the node promote() is for: in the cluster, not this one; NULL: failed */
static const ClusterNode *
node_to_promote(const char *server)
{
	const ClusterNode *node = cluster_node_by_server(server);

	if (node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", server)));
	if (node->is_local)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot promote the shards of node \"%s\" away from itself", server),
				 errhint("Run memshard.promote() on another node of the cluster.")));
	if (cluster_node_is_failed(node))
	{
		ereport(NOTICE,
				(errmsg("node \"%s\" is already failed: nothing to promote", server)));
		return NULL;
	}
	return node;
}

/*
 * ERROR unless a majority of the cluster's nodes is reachable from here,
 * and the dead node is not.
 */
static void
require_majority(const ClusterNode *dead)
{
	int			total = list_length(cluster_nodes());
	int			reachable = 1;	/* this node */
	ListCell   *lc;

	foreach(lc, failover_probe_nodes(0))
	{
		NodeProbe  *probe = lfirst(lc);

		if (!probe->reachable)
			continue;
		if (probe->node->id == dead->id)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("node \"%s\" answers: promote is for a node that is down",
							NameStr(dead->server)),
					 errhint("Move the shards of a node that is up with memshard.drain_node() or memshard.move_shard().")));
		if (!cluster_node_is_failed(probe->node))
			reachable++;
	}
	if (reachable * 2 <= total)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot promote the shards of node \"%s\": only %d of the cluster's %d nodes are reachable from here",
						NameStr(dead->server), reachable, total),
				 errdetail("Promoting needs a majority of the nodes, so that the two sides of a network partition never both promote."),
				 errhint("Bring nodes back, or run memshard.promote() on a node that reaches a majority.")));
}

/* the node's primaries that have a copy elsewhere */
static int
count_promoted(int32 node_id)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	ClusterSqlState state;
	bool		isnull;
	int			count;

	args[0] = Int32GetDatum(node_id);
	cluster_sql_begin(&state);
	(void) cluster_sql_exec("SELECT pg_catalog.count(*)::integer "
							"FROM memshard.placement_catalog p "
							"WHERE p.node_id OPERATOR(pg_catalog.=) $1 "
							"AND p.replica OPERATOR(pg_catalog.=) 0 "
							"AND EXISTS (SELECT FROM memshard.placement_catalog o "
							"WHERE o.map_id OPERATOR(pg_catalog.=) p.map_id "
							"AND o.shard OPERATOR(pg_catalog.=) p.shard "
							"AND o.node_id OPERATOR(pg_catalog.<>) $1)",
							1, argtypes, args, SPI_OK_SELECT);
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull));
	cluster_sql_end(&state);
	return count;
}

/*
 * The shards held by the node only: each to the live node (not failed,
 * not the dead one) of its map holding the fewest of the map's shards,
 * lowest id first (a node of the cluster outside the map's nodes if none
 * of them is live), as a second copy that the dropping of the node's
 * placements then makes the primary.  One shard
 * per statement, so that each choice counts the ones before.
 */
static int
give_orphans(int32 node_id)
{
	static const char *const orphans_query =
	"SELECT p.map_id, p.shard FROM memshard.placement_catalog p "
	"WHERE p.node_id OPERATOR(pg_catalog.=) $1 "
	"AND NOT EXISTS (SELECT FROM memshard.placement_catalog o "
	"WHERE o.map_id OPERATOR(pg_catalog.=) p.map_id "
	"AND o.shard OPERATOR(pg_catalog.=) p.shard "
	"AND o.node_id OPERATOR(pg_catalog.<>) $1) "
	"ORDER BY p.map_id, p.shard";
	static const char *const give_query =
	"INSERT INTO memshard.placement_catalog (map_id, shard, replica, node_id) "
	"SELECT $2, $3, 1, n.id FROM memshard.node_catalog n "
	"JOIN memshard.map_catalog m ON m.id OPERATOR(pg_catalog.=) $2 "
	"WHERE n.id OPERATOR(pg_catalog.<>) $1 "
	"AND n.state OPERATOR(pg_catalog.<>) 'failed' "
	"ORDER BY n.server OPERATOR(pg_catalog.=) ANY (m.nodes) DESC, "
	"(SELECT pg_catalog.count(*) FROM memshard.placement_catalog c "
	"WHERE c.map_id OPERATOR(pg_catalog.=) $2 "
	"AND c.node_id OPERATOR(pg_catalog.=) n.id), n.id LIMIT 1";
	Oid			argtypes[3] = {INT4OID, INT4OID, INT4OID};
	Datum		args[3];
	ClusterSqlState state;
	int32	   *maps;
	int32	   *shards;
	uint64		norphans;
	uint64		i;

	args[0] = Int32GetDatum(node_id);
	cluster_sql_begin(&state);
	norphans = cluster_sql_exec(orphans_query, 1, argtypes, args,
								SPI_OK_SELECT);
	maps = palloc(sizeof(int32) * Max(norphans, 1));
	shards = palloc(sizeof(int32) * Max(norphans, 1));
	for (i = 0; i < norphans; i++)
	{
		bool		isnull;

		maps[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
											  SPI_tuptable->tupdesc, 1, &isnull));
		shards[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												SPI_tuptable->tupdesc, 2, &isnull));
	}
	for (i = 0; i < norphans; i++)
	{
		args[1] = Int32GetDatum(maps[i]);
		args[2] = Int32GetDatum(shards[i]);
		if (cluster_sql_exec(give_query, 3, argtypes, args, SPI_OK_INSERT) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("shard %d of map %d has no live node to go to",
							shards[i], maps[i]),
					 errhint("Add a node, or drop the map.")));
	}
	cluster_sql_end(&state);
	return (int) norphans;
}

/*
 * Remove the node's copies and number the copies left of each of its
 * shards 0, 1, ... in their order: the first copy elsewhere becomes the
 * primary.  Deleted and inserted again in one statement, as the key
 * (map_id, shard, replica) cannot be renumbered in place.
 */
static void
drop_node_placements(int32 node_id)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	args[0] = Int32GetDatum(node_id);
	cluster_sql("WITH affected AS ("
				"DELETE FROM memshard.placement_catalog p "
				"WHERE (p.map_id, p.shard) IN (SELECT h.map_id, h.shard "
				"FROM memshard.placement_catalog h "
				"WHERE h.node_id OPERATOR(pg_catalog.=) $1) RETURNING p.*) "
				"INSERT INTO memshard.placement_catalog (map_id, shard, replica, node_id) "
				"SELECT a.map_id, a.shard, "
				"(pg_catalog.row_number() OVER (PARTITION BY a.map_id, a.shard "
				"ORDER BY a.replica) OPERATOR(pg_catalog.-) 1)::integer, a.node_id "
				"FROM affected a WHERE a.node_id OPERATOR(pg_catalog.<>) $1",
				1, argtypes, args, SPI_OK_INSERT);
}

static void
set_node_state(int32 node_id, const char *state)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		args[2];

	args[0] = Int32GetDatum(node_id);
	args[1] = CStringGetTextDatum(state);
	cluster_sql("UPDATE memshard.node_catalog SET state = $2 "
				"WHERE id OPERATOR(pg_catalog.=) $1",
				2, argtypes, args, SPI_OK_UPDATE);
}

/*
 * A failed node back: marked active, and given the metadata (with empty
 * placements) by the change's end (metadata_sync.c).  A draining node:
 * marked active, its drain ended (a normal change: it missed nothing).
 */
void
cluster_rejoin(const char *server)
{
	const ClusterNode *node;

	cluster_change_begin();
	cluster_fence_check();
	node = cluster_node_by_server(server);
	if (node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", server)));
	if (strcmp(node->state, "active") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" is neither failed nor draining", server),
				 errhint("Only a node promoted away or being drained (state failed or draining in memshard.nodes) rejoins.")));
	set_node_state(node->id, "active");
	cluster_change_end();
}

/*
 * drain_node's mark (peer_node_draining, run by the drainer through this
 * node's own server so that it commits everywhere before the first move):
 * an active node becomes 'draining', so plans and repair give it nothing
 * (src/rebalance) and memshard.nodes shows it.  A node already draining
 * stays so (drain_node run again continues); a failed one is refused.
 */
void
cluster_mark_draining(const char *server)
{
	const ClusterNode *node;

	cluster_fence_check();
	node = cluster_node_by_server(server);
	/* already draining (a drain run again): no change at all */
	if (node != NULL && strcmp(node->state, "draining") == 0)
		return;
	cluster_change_begin();
	node = cluster_node_by_server(server);
	if (node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", server)));
	if (cluster_node_is_failed(node))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" is failed: it has nothing to drain", server),
				 errhint("Remove it with memshard.remove_node, or rejoin it first.")));
	set_node_state(node->id, "draining");
	cluster_change_end();
}

/* the figures of memshard.failover_stats */
void
cluster_failover_stats(ClusterFailoverStats *stats)
{
	FailoverFigures figures;
	ListCell   *lc;

	memset(stats, 0, sizeof(ClusterFailoverStats));
	failover_figures_get(&figures);
	stats->epoch = cluster_epoch();
	foreach(lc, cluster_nodes())
		stats->nodes_failed += cluster_node_is_failed(lfirst(lc)) ? 1 : 0;
	stats->failovers = figures.failovers;
	stats->shards_promoted = figures.shards_promoted;
	stats->last_failover = figures.last_failover;
	stats->fenced = figures.newest_seen > stats->epoch;
}

static void
promote_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (promoted_in_xact >= 0)
				failover_count_promotion(promoted_in_xact);
			promoted_in_xact = -1;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			promoted_in_xact = -1;
			break;
		default:
			break;
	}
}
