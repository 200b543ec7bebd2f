/*-------------------------------------------------------------------------
 *
 * rebalance_sizes.c
 *		What a plan starts from: every node's budget and the bytes and
 *		items of every placement it holds, asked of all nodes at once.
 *
 * One call per node, all in parallel (a remote fan-out): the node runs
 * memshard.peer_shard_sizes(), one walk of its store, which answers a row
 * per placement it holds under its own metadata and its budget
 * (pg_memshard.memory).  Never one query per shard.  A node that does not
 * answer makes the plan fail, naming it: a plan made without a node's
 * figures would be a guess.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "rebalance/rebalance.h"
#include "remote/remote.h"

static const char *sizes_query =
"SELECT map, shard, items, bytes, budget FROM memshard.peer_shard_sizes()";

static void read_answer(RebalancePlan *plan, int node, const RemoteCall *call);
static void add_placements(RebalancePlan *plan, const char *map);
static int	node_index(const RebalancePlan *plan, int32 id);

static int
node_index(const RebalancePlan *plan, int32 id)
{
	int			i;

	for (i = 0; i < plan->nnodes; i++)
		if (plan->nodes[i].id == id)
			return i;
	return -1;
}

/* every placement of the maps over nodes, from this node's metadata */
static void
add_placements(RebalancePlan *plan, const char *map)
{
	List	   *maps = map_catalog_list();
	ListCell   *lc;
	int			max = 0;

	foreach(lc, maps)
	{
		MapInfo    *info = lfirst(lc);

		if (!info->local_only)
			max += info->shard_count * info->replicas;
	}
	plan->placements = palloc0(sizeof(PlanPlacement) * Max(max, 1));
	foreach(lc, maps)
	{
		MapInfo    *info = lfirst(lc);
		const MapPlacements *placements;
		int			s,
					r;

		if (info->local_only)
			continue;
		placements = cluster_map_placements(info->id);
		if (placements == NULL)
			continue;
		for (s = 0; s < placements->nshards; s++)
			for (r = 0; r < placement_copies(placements, s); r++)
			{
				PlanPlacement *p = &plan->placements[plan->nplacements++];

				p->mapid = info->id;
				strlcpy(p->map, info->name, NAMEDATALEN);
				p->shard = s;
				p->replica = r;
				p->node = node_index(plan, placement_node(placements, s, r)->id);
				p->movable = (map == NULL || strcmp(map, info->name) == 0);
				if (p->node < 0)
					elog(ERROR, "placement of map \"%s\" on an unknown node",
						 info->name);
			}
	}
}

/* a node's rows: its budget, then bytes and items of its placements */
static void
read_answer(RebalancePlan *plan, int node, const RemoteCall *call)
{
	const RemoteResult *res = call->result;
	int			row;

	for (row = 0; row < res->ntuples; row++)
	{
		char	  **v = &res->values[row * res->nfields];
		int			i;

		if (v[4] != NULL)
			plan->nodes[node].budget = strtoi64(v[4], NULL, 10);
		if (v[0] == NULL)
			continue;
		for (i = 0; i < plan->nplacements; i++)
		{
			PlanPlacement *p = &plan->placements[i];

			if (p->node == node && p->shard == atoi(v[1]) &&
				strcmp(p->map, v[0]) == 0)
			{
				p->items = v[2] ? strtoi64(v[2], NULL, 10) : 0;
				p->bytes = v[3] ? strtoi64(v[3], NULL, 10) : 0;
				break;
			}
		}
	}
}

/*
 * The nodes (in id order) and placements of the cluster with their
 * figures; map (NULL: every map over nodes) marks the placements a plan
 * may move.
 */
RebalancePlan *
rebalance_gather(const char *map)
{
	RebalancePlan *plan = palloc0(sizeof(RebalancePlan));
	List	   *nodes = cluster_nodes();
	RemoteFanout *fanout;
	ListCell   *lc;
	int			i;

	if (list_length(nodes) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not in a cluster"),
				 errhint("Add nodes with memshard.add_node() first.")));
	if (map != NULL)
	{
		MapInfo		info;

		if (!map_catalog_lookup(map, &info, CurrentMemoryContext))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("map \"%s\" does not exist", map)));
		if (info.local_only)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("map \"%s\" is not placed on nodes", map),
					 errhint("Only maps created over nodes have shards to move.")));
	}

	plan->nnodes = list_length(nodes);
	plan->nodes = palloc0(sizeof(PlanNode) * plan->nnodes);
	fanout = remote_fanout_create(plan->nnodes);
	i = 0;
	foreach(lc, nodes)
	{
		const ClusterNode *node = lfirst(lc);
		PlanNode   *pn = &plan->nodes[i++];

		pn->id = node->id;
		strlcpy(pn->server, NameStr(node->server), NAMEDATALEN);
		pn->target = strcmp(node->state, "active") == 0;
		/* a draining node holds shards but takes none (drain_node's mark) */
		pn->draining = strcmp(node->state, "draining") == 0;
		/* a failed node is not asked: it holds and takes nothing */
		if (!pn->target && !pn->draining)
		{
			remote_fanout_skip(fanout, pn);
			continue;
		}
		if (!OidIsValid(node->serverid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("server \"%s\" of the cluster does not exist on this node",
							NameStr(node->server))));
		remote_fanout_add(fanout, pn, node->serverid, sizes_query);
	}
	add_placements(plan, map);
	remote_fanout_run_or_throw(fanout);
	for (i = 0; i < fanout->ncalls; i++)
		if (fanout->calls[i].call.sql != NULL)
			read_answer(plan, (const PlanNode *) fanout->calls[i].node - plan->nodes,
					&fanout->calls[i].call);
	for (i = 0; i < plan->nnodes; i++)
	{
		int			j;

		for (j = 0; j < plan->nplacements; j++)
			if (plan->placements[j].node == i)
			{
				plan->nodes[i].bytes += plan->placements[j].bytes;
				plan->nodes[i].count++;
			}
		plan->nodes[i].bytes_before = plan->nodes[i].bytes;
	}
	return plan;
}
