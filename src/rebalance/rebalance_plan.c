/*-------------------------------------------------------------------------
 *
 * rebalance_plan.c
 *		The plan of a rebalance or a drain: which placements move where,
 *		in which order, computed from one fan-out's figures
 *		(rebalance_sizes.c).  Nothing moves here.
 *
 * A node's load is the chunk bytes of its placements (by_memory) or their
 * number (by_shard_count); its capacity its budget, pg_memshard.memory
 * (by_memory) or 1 (by_shard_count: equal numbers of placements, not
 * weighted by budget).  utilization = load / capacity; the mean is the
 * cluster's total load over the capacity of the nodes that may take shards
 * (state 'active', not draining).
 *
 * The rules, greedy and deterministic (placements in (map, shard, replica)
 * order, nodes in id order, ties to the first):
 *  - a draining node's placements all leave it first, largest first, each
 *    to the node that ends least utilized; if one fits nowhere the plan
 *    fails (the drain is refused and nothing moves);
 *  - nothing else moves while every node is within (1 +- threshold) of
 *    the mean; once one is not, moves go on until every node is within
 *    half the threshold where sizes allow (so that the drift of a cache in
 *    use does not call for another rebalance right after);
 *  - each move goes from the most utilized node that has one to the least
 *    utilized node that can take it, and is, of that node's placements,
 *    the one that leaves the pair closest; a move of a placement from s to
 *    t (util u_s > u_t, its weight w_s on s and w_t on t) is made only if
 *    s or t is outside the band, t ends below u_s (the most utilized node
 *    never gets worse), and the gap shrinks by at least half of the
 *    placement's own weight,
 *    (u_s - u_t) - |u_s - w_s - (u_t + w_t)| >= (w_s + w_t) / 2, so that a
 *    shard that would only swap the imbalance (many bytes, small gain) is
 *    not moved;
 *  - a target never holds another copy of the shard (replicas on distinct
 *    nodes), and must hold the placement besides what it has (both copies
 *    exist during the move) within 90% of its budget (the rest is the
 *    store's index and headers); by_shard_count checks bytes the same way;
 *  - placements of empty shards weigh nothing by memory and do not move.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "rebalance/rebalance.h"

#define USABLE_BUDGET	0.9

static double
load_of(const RebalancePlan *plan, const PlanNode *n)
{
	return plan->strategy == STRATEGY_BY_MEMORY ? (double) n->bytes : n->count;
}

static double
cap_of(const RebalancePlan *plan, const PlanNode *n)
{
	if (plan->strategy == STRATEGY_BY_SHARD_COUNT)
		return 1.0;
	return n->budget > 0 ? (double) n->budget : 1.0;
}

static double
weight_of(const RebalancePlan *plan, const PlanPlacement *p)
{
	return plan->strategy == STRATEGY_BY_MEMORY ? (double) p->bytes : 1.0;
}

static double
util_of(const RebalancePlan *plan, const PlanNode *n)
{
	return load_of(plan, n) / cap_of(plan, n);
}

RebalanceStrategy
rebalance_strategy(const char *name)
{
	if (name == NULL || strcmp(name, "by_memory") == 0)
		return STRATEGY_BY_MEMORY;
	if (strcmp(name, "by_shard_count") == 0)
		return STRATEGY_BY_SHARD_COUNT;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown rebalance strategy \"%s\"", name),
			 errhint("Use 'by_memory' or 'by_shard_count'.")));
	return STRATEGY_BY_MEMORY;	/* keep the compiler quiet */
}

void
rebalance_check_threshold(double threshold)
{
	if (isnan(threshold) || threshold < 0.0 || threshold >= 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rebalance threshold must be at least 0 and below 1"),
				 errhint("The threshold is the allowed distance from the mean utilization, e.g. 0.1 for 10%%.")));
}

/* could node t take placement p (distinct copies, room)? */
static bool
can_take(const RebalancePlan *plan, int pi, int t)
{
	const PlanPlacement *p = &plan->placements[pi];
	const PlanNode *n = &plan->nodes[t];
	int			i;

	if (!n->target || p->node == t)
		return false;
	for (i = 0; i < plan->nplacements; i++)
	{
		const PlanPlacement *o = &plan->placements[i];

		if (o->mapid == p->mapid && o->shard == p->shard && o->node == t)
			return false;
	}
	return (double) (n->bytes + p->bytes) <= USABLE_BUDGET * (double) n->budget;
}

static void
apply_step(RebalancePlan *plan, int pi, int t)
{
	PlanPlacement *p = &plan->placements[pi];
	PlanStep   *step = &plan->steps[plan->nsteps++];

	step->placement = pi;
	step->source = p->node;
	step->target = t;
	plan->nodes[p->node].bytes -= p->bytes;
	plan->nodes[p->node].count--;
	plan->nodes[t].bytes += p->bytes;
	plan->nodes[t].count++;
	p->node = t;
}

/* every movable placement off the draining nodes, or ERROR */
static void
plan_drain(RebalancePlan *plan)
{
	bool	   *done = palloc0(sizeof(bool) * plan->nplacements);

	for (;;)
	{
		int			best = -1;
		int			i,
					t,
					to = -1;
		double		best_util = 0;

		/* the largest placement left on a draining node */
		for (i = 0; i < plan->nplacements; i++)
		{
			const PlanPlacement *p = &plan->placements[i];

			if (done[i] || !plan->nodes[p->node].draining)
				continue;
			if (best < 0 || p->bytes > plan->placements[best].bytes)
				best = i;
		}
		if (best < 0)
			return;
		done[best] = true;
		for (t = 0; t < plan->nnodes; t++)
		{
			double		u;

			if (!can_take(plan, best, t))
				continue;
			u = (load_of(plan, &plan->nodes[t]) +
				 weight_of(plan, &plan->placements[best])) /
				cap_of(plan, &plan->nodes[t]);
			if (to < 0 || u < best_util)
			{
				to = t;
				best_util = u;
			}
		}
		if (to < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("no node can take shard %d of map \"%s\" (%lld bytes) from node \"%s\"",
							plan->placements[best].shard,
							plan->placements[best].map,
							(long long) plan->placements[best].bytes,
							plan->nodes[plan->placements[best].node].server),
					 errdetail("Every other active node either holds a copy of that shard or would go over 90%% of its pg_memshard.memory."),
					 errhint("Add a node, or raise pg_memshard.memory on the others, then drain again; nothing was moved.")));
		apply_step(plan, best, to);
	}
}

/* node indexes ordered by utilization (desc or asc), ties by id */
static int *
nodes_by_util(RebalancePlan *plan, bool desc)
{
	int		   *order = palloc(sizeof(int) * plan->nnodes);
	int			i,
				j;

	for (i = 0; i < plan->nnodes; i++)
		order[i] = i;
	for (i = 1; i < plan->nnodes; i++)
		for (j = i; j > 0; j--)
		{
			double		a = util_of(plan, &plan->nodes[order[j - 1]]);
			double		b = util_of(plan, &plan->nodes[order[j]]);
			int			t;

			if (desc ? a >= b : a <= b)
				break;
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	return order;
}

/*
 * The best placement to move from s to t, or -1: within the rules, the one
 * that leaves the two nodes closest.  band: utilization both must be in.
 */
static int
best_placement(RebalancePlan *plan, int s, int t, double mean, double band)
{
	const PlanNode *src = &plan->nodes[s];
	const PlanNode *dst = &plan->nodes[t];
	double		us = util_of(plan, src);
	double		ut = util_of(plan, dst);
	double		best_gain = 0;
	int			best = -1;
	int			i;

	if (ut >= us || !src->target || !dst->target)
		return -1;
	if (us <= mean * (1 + band) && ut >= mean * (1 - band))
		return -1;				/* both within the band */
	for (i = 0; i < plan->nplacements; i++)
	{
		const PlanPlacement *p = &plan->placements[i];
		double		w = weight_of(plan, p);
		double		ws = w / cap_of(plan, src);
		double		wt = w / cap_of(plan, dst);
		double		gain;

		if (p->node != s || !p->movable || w <= 0 || !can_take(plan, i, t))
			continue;
		if (ut + wt >= us)
			continue;			/* the target would end above the source */
		gain = (us - ut) - fabs((us - ws) - (ut + wt));
		if (gain < (ws + wt) / 2 || gain <= best_gain)
			continue;
		best_gain = gain;
		best = i;
	}
	return best;
}

/*
 * The next balancing move (placement index; *to its target), or -1: from
 * the most utilized node that has one, to the least utilized node that
 * can take it.
 */
static int
best_move(RebalancePlan *plan, double mean, double band, int *to)
{
	int		   *desc = nodes_by_util(plan, true);
	int		   *asc = nodes_by_util(plan, false);
	int			i,
				j;

	for (i = 0; i < plan->nnodes; i++)
		for (j = 0; j < plan->nnodes; j++)
		{
			int			p = best_placement(plan, desc[i], asc[j], mean, band);

			if (p >= 0)
			{
				*to = asc[j];
				return p;
			}
		}
	return -1;
}

/* is any node that takes shards outside (1 +- threshold) of the mean? */
static bool
out_of_band(RebalancePlan *plan, double mean)
{
	int			i;

	for (i = 0; i < plan->nnodes; i++)
	{
		double		u = util_of(plan, &plan->nodes[i]);

		if (plan->nodes[i].target &&
			(u > mean * (1 + plan->threshold) || u < mean * (1 - plan->threshold)))
			return true;
	}
	return false;
}

/*
 * The plan: rebalance_gather's figures, then the drain of the node named
 * (NULL: none) and the balancing moves of the strategy.
 */
RebalancePlan *
rebalance_make_plan(const char *map, RebalanceStrategy strategy,
					double threshold, const char *drain)
{
	RebalancePlan *plan;
	double		load = 0,
				cap = 0,
				mean;
	int			i,
				maxsteps;

	rebalance_check_threshold(threshold);
	plan = rebalance_gather(map);
	plan->strategy = strategy;
	plan->threshold = threshold;
	maxsteps = 4 * plan->nplacements + 1;
	plan->steps = palloc0(sizeof(PlanStep) * maxsteps);

	for (i = 0; i < plan->nnodes; i++)
	{
		PlanNode   *n = &plan->nodes[i];

		if (drain != NULL && strcmp(n->server, drain) == 0)
		{
			n->draining = true;
			n->target = false;
		}
	}
	if (drain != NULL)
	{
		/* a drain moves every map's placements, whatever map says */
		for (i = 0; i < plan->nplacements; i++)
			if (plan->nodes[plan->placements[i].node].draining)
				plan->placements[i].movable = true;
		plan_drain(plan);
		return plan;			/* a drain only empties the node */
	}

	for (i = 0; i < plan->nnodes; i++)
	{
		const PlanNode *n = &plan->nodes[i];

		/* a node draining (drain_node not done) keeps its load out */
		if (n->target)
			load += load_of(plan, n);
		if (n->target)
			cap += cap_of(plan, n);
	}
	mean = cap > 0 ? load / cap : 0;

	/*
	 * Nothing moves while every node is within the threshold; once one is
	 * not, the moves aim at half of it, so that the small changes of a
	 * cache in use do not call for another rebalance right after.
	 */
	if (!out_of_band(plan, mean))
		return plan;
	while (plan->nsteps < maxsteps)
	{
		int			to = -1;
		int			pi = best_move(plan, mean, plan->threshold / 2, &to);

		if (pi < 0)
			break;
		apply_step(plan, pi, to);
	}
	return plan;
}
