/*-------------------------------------------------------------------------
 *
 * obs_nodes.c
 *		memshard.node_probe(): can this node reach each node of the
 *		cluster right now?  The reachability series of memshard.metrics().
 *
 * The nodes view remembers the last failure any backend met; a scrape
 * wants the present: every other node is sent "SELECT 1" at once
 * (remote_run: parallel, bounded by pg_memshard.connect_timeout and
 * remote_timeout), so a scrape costs one round trip, and at most one
 * timeout when nodes are down.  Connections are the backend's cached ones:
 * an exporter that keeps its session open does not reconnect each time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "cluster/cluster.h"
#include "remote/remote.h"

PG_FUNCTION_INFO_V1(memshard_node_probe);

/* what was done for a node, when not a call (whose index it is otherwise) */
#define PROBE_LOCAL		(-1)
#define PROBE_NO_SERVER	(-2)

static void put_probe_row(FunctionCallInfo fcinfo, const char *node,
						  bool is_local, const char *error);

/* node, is_local, reachable, error */
static void
put_probe_row(FunctionCallInfo fcinfo, const char *node, bool is_local,
			  const char *error)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, error == NULL};

	values[0] = CStringGetTextDatum(node);
	values[1] = BoolGetDatum(is_local);
	values[2] = BoolGetDatum(error == NULL);
	values[3] = error ? CStringGetTextDatum(error) : (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * memshard.node_probe()
 *		RETURNS TABLE (node text, is_local boolean, reachable boolean,
 *					   error text)
 *
 * One row per node of the cluster, in node id order; none outside a
 * cluster.  This node is reachable by definition.
 */
Datum
memshard_node_probe(PG_FUNCTION_ARGS)
{
	List	   *nodes;
	RemoteCall *calls;
	char	  **names;
	int		   *call_of;		/* index in calls, or one of the below */
	int			nnodes;
	int			ncalls = 0;
	int			i = 0;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	if (!cluster_is_active())
		return (Datum) 0;

	nodes = cluster_nodes();
	nnodes = list_length(nodes);
	calls = palloc0(sizeof(RemoteCall) * nnodes);
	names = palloc(sizeof(char *) * nnodes);
	call_of = palloc(sizeof(int) * nnodes);
	foreach(lc, nodes)
	{
		const ClusterNode *node = lfirst(lc);

		names[i] = pstrdup(NameStr(node->server));
		if (node->is_local)
			call_of[i] = PROBE_LOCAL;
		else if (!OidIsValid(node->serverid))
			call_of[i] = PROBE_NO_SERVER;
		else
		{
			calls[ncalls].serverid = node->serverid;
			calls[ncalls].sql = "SELECT 1";
			calls[ncalls].session = REMOTE_ANY;
			call_of[i] = ncalls++;
		}
		i++;
	}
	remote_run(calls, ncalls);

	for (i = 0; i < nnodes; i++)
	{
		if (call_of[i] == PROBE_LOCAL)
			put_probe_row(fcinfo, names[i], true, NULL);
		else if (call_of[i] == PROBE_NO_SERVER)
			put_probe_row(fcinfo, names[i], false,
						  psprintf("server \"%s\" does not exist on this node",
								   names[i]));
		else
		{
			const RemoteCall *call = &calls[call_of[i]];

			put_probe_row(fcinfo, names[i], false,
						  call->error ? call->error->message : NULL);
		}
	}
	return (Datum) 0;
}
