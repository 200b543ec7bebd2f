/*-------------------------------------------------------------------------
 *
 * rebalance_repair.c
 *		memshard.repair(map): every shard back to its `replicas` copies on
 *		distinct live nodes.
 *
 * A copy is missing when the node its placement names is failed (the
 * failover marked it so; a 'draining' node still holds its copies, which
 * its drain moves, and gets none): it is made again on an active
 * node that holds no copy of the shard, chosen by memory (the least
 * utilized after taking it, within 90% of its budget), copied online from
 * a live copy (the lowest-numbered), which keeps its own: a move whose
 * source stays (shard_move.c, rebalance_copy_placement).  The placement
 * row then names the new node.  A copy that has no row at all (promote
 * drops the failed node's copies) is made the same way, from the shard's
 * primary, its row inserted at the switch.  A copy that no node can take
 * is left, with a WARNING.  Runs as a job (one at a time per cluster, rebalance_job.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "rebalance/rebalance.h"
#include "router/router.h"

#define USABLE_BUDGET	0.9

/* a copy there is not missing: active, or draining (up, holding it) */
static inline bool
node_is_live(const PlanNode *n)
{
	return n->target || n->draining;
}

/* the live copy to copy placement pi from, or -1 */
static int
live_copy(const RebalancePlan *plan, int pi)
{
	const PlanPlacement *p = &plan->placements[pi];
	int			best = -1;
	int			i;

	for (i = 0; i < plan->nplacements; i++)
	{
		const PlanPlacement *o = &plan->placements[i];

		if (o->mapid != p->mapid || o->shard != p->shard || i == pi ||
			!node_is_live(&plan->nodes[o->node]))
			continue;
		if (best < 0 || o->replica < plan->placements[best].replica)
			best = i;
	}
	return best;
}

/* the node to make the copy on, or -1 */
static int
repair_target(const RebalancePlan *plan, int pi, int64 bytes)
{
	const PlanPlacement *p = &plan->placements[pi];
	double		best_util = 0;
	int			best = -1;
	int			t,
				i;

	for (t = 0; t < plan->nnodes; t++)
	{
		const PlanNode *n = &plan->nodes[t];
		bool		holds = false;
		double		u;

		if (!n->target ||
			(double) (n->bytes + bytes) > USABLE_BUDGET * (double) n->budget)
			continue;
		for (i = 0; i < plan->nplacements; i++)
			if (plan->placements[i].mapid == p->mapid &&
				plan->placements[i].shard == p->shard &&
				plan->placements[i].node == t)
				holds = true;
		if (holds)
			continue;
		u = (double) (n->bytes + bytes) / (double) Max(n->budget, 1);
		if (best < 0 || u < best_util)
		{
			best = t;
			best_util = u;
		}
	}
	return best;
}

/* a copy left missing: said once, the repair goes on */
static void
warn_no_target(const PlanPlacement *p)
{
	ereport(WARNING,
			(errmsg("no node can take a copy of shard %d of map \"%s\"",
					p->shard, p->map),
			 errhint("Add a node; every active node holds a copy already or has no room.")));
}

/*
 * The copies a shard has no row for (promote drops a failed node's copies,
 * promote.c): each made on a node chosen as above, from the lowest live
 * copy, with the next copy number, its row inserted at the switch
 * (move_switch_placement).  Returns how many.
 */
static int
repair_dropped(RebalancePlan *plan)
{
	int			repaired = 0;
	int			n = plan->nplacements;
	int			i;

	for (i = 0; i < n; i++)
	{
		const PlanPlacement *p = &plan->placements[i];
		MapInfo    *info;
		const MapPlacements *placements;
		int			copies,
					t;

		/* once per shard: at its primary, on a live node */
		if (p->replica != 0 || !p->movable ||
			!node_is_live(&plan->nodes[p->node]))
			continue;
		info = router_lookup_map(p->map, strlen(p->map));
		placements = cluster_map_placements(info->id);
		if (placements == NULL)
			continue;
		for (copies = placement_copies(placements, p->shard);
			 copies < placements->replicas; copies++)
		{
			PlanPlacement *np;

			t = repair_target(plan, i, p->bytes);
			if (t < 0)
			{
				warn_no_target(p);
				break;
			}
			rebalance_check_stop();
			(void) rebalance_copy_placement(p->map, p->shard, copies,
											plan->nodes[p->node].server,
											plan->nodes[t].server);
			/* the new copy counts for the next choice (the array has room) */
			np = &plan->placements[plan->nplacements++];
			*np = *p;
			np->replica = copies;
			np->node = t;
			plan->nodes[t].bytes += p->bytes;
			repaired++;
		}
	}
	return repaired;
}

int
rebalance_repair(const char *map)
{
	MemoryContext cxt = CurrentMemoryContext;
	RebalancePlan *plan;
	int			repaired = 0;
	int			i;

	rebalance_lock_cluster();
	PG_TRY();
	{
		plan = rebalance_gather(map);
		rebalance_progress_job(0);
		for (i = 0; i < plan->nplacements; i++)
		{
			PlanPlacement *p = &plan->placements[i];
			int			src,
						t;

			if (!p->movable || node_is_live(&plan->nodes[p->node]))
				continue;
			src = live_copy(plan, i);
			if (src < 0)
			{
				ereport(WARNING,
						(errmsg("shard %d of map \"%s\" has no live copy to repair from",
								p->shard, p->map)));
				continue;
			}
			p->bytes = plan->placements[src].bytes;
			t = repair_target(plan, i, p->bytes);
			if (t < 0)
			{
				warn_no_target(p);
				continue;
			}
			rebalance_check_stop();
			(void) rebalance_copy_placement(p->map, p->shard, p->replica,
											plan->nodes[plan->placements[src].node].server,
											plan->nodes[t].server);
			p->node = t;
			plan->nodes[t].bytes += p->bytes;
			repaired++;
		}
		repaired += repair_dropped(plan);
	}
	PG_CATCH();
	{
		rebalance_job_failed(cxt, "failed");
	}
	PG_END_TRY();
	rebalance_progress_end("done", NULL);
	rebalance_unlock_cluster();
	return repaired;
}
