/*-------------------------------------------------------------------------
 *
 * rebalance_api.c
 *		SQL entry points of the elastic cluster: rebalance_plan,
 *		rebalance_preview, move_shard, rebalance, drain_node, add_node with
 *		rebalance, rebalance_status, and the peer_move_* functions the
 *		mover calls on the source and target of a move (src/rebalance).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "rebalance/rebalance.h"
#include "router/router.h"

PG_FUNCTION_INFO_V1(memshard_rebalance_plan);
PG_FUNCTION_INFO_V1(memshard_rebalance_preview);
PG_FUNCTION_INFO_V1(memshard_move_shard);
PG_FUNCTION_INFO_V1(memshard_rebalance);
PG_FUNCTION_INFO_V1(memshard_rebalance_start);
PG_FUNCTION_INFO_V1(memshard_rebalance_wait);
PG_FUNCTION_INFO_V1(memshard_rebalance_stop);
PG_FUNCTION_INFO_V1(memshard_drain_node);
PG_FUNCTION_INFO_V1(memshard_repair);
PG_FUNCTION_INFO_V1(memshard_add_node_rebalance);
PG_FUNCTION_INFO_V1(memshard_read_rebalance_status);
PG_FUNCTION_INFO_V1(memshard_peer_move_begin);
PG_FUNCTION_INFO_V1(memshard_peer_move_push);
PG_FUNCTION_INFO_V1(memshard_peer_move_freeze);
PG_FUNCTION_INFO_V1(memshard_peer_move_end);
PG_FUNCTION_INFO_V1(memshard_peer_move_clear);
PG_FUNCTION_INFO_V1(memshard_peer_move_put);
PG_FUNCTION_INFO_V1(memshard_peer_move_switch);
PG_FUNCTION_INFO_V1(memshard_peer_node_draining);

static char *
text_arg(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

static char *
name_arg(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
	{
		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL", what)));
		return NULL;
	}
	return pstrdup(NameStr(*PG_GETARG_NAME(arg)));
}

static int32
int_arg(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return PG_GETARG_INT32(arg);
}

/* the (map, strategy, threshold) arguments of the plan and job functions */
typedef struct PlanArgs
{
	char	   *map;
	RebalanceStrategy strategy;
	double		threshold;
} PlanArgs;

static PlanArgs
plan_args(FunctionCallInfo fcinfo)
{
	PlanArgs	args;
	char	   *strategy = text_arg(fcinfo, 1);

	args.map = text_arg(fcinfo, 0);
	args.strategy = rebalance_strategy(strategy ? strategy : "by_memory");
	args.threshold = PG_ARGISNULL(2) ? 0.1 : PG_GETARG_FLOAT8(2);
	rebalance_check_threshold(args.threshold);
	return args;
}

static RebalancePlan *
plan_from_args(FunctionCallInfo fcinfo)
{
	PlanArgs	args = plan_args(fcinfo);

	return rebalance_make_plan(args.map, args.strategy, args.threshold, NULL);
}

/*
 * memshard.rebalance_plan(map, strategy, threshold) RETURNS TABLE(step,
 * map, shard, source, target, bytes, items)
 */
Datum
memshard_rebalance_plan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RebalancePlan *plan;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	plan = plan_from_args(fcinfo);
	for (i = 0; i < plan->nsteps; i++)
	{
		const PlanStep *step = &plan->steps[i];
		const PlanPlacement *p = &plan->placements[step->placement];
		Datum		values[7];
		bool		nulls[7] = {0};
		NameData	source,
					target;

		namestrcpy(&source, plan->nodes[step->source].server);
		namestrcpy(&target, plan->nodes[step->target].server);
		values[0] = Int32GetDatum(i + 1);
		values[1] = CStringGetTextDatum(p->map);
		values[2] = Int32GetDatum(p->shard);
		values[3] = NameGetDatum(&source);
		values[4] = NameGetDatum(&target);
		values[5] = Int64GetDatum(p->bytes);
		values[6] = Int64GetDatum(p->items);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * memshard.rebalance_preview(...) RETURNS TABLE(node, budget, bytes_before,
 * bytes_after, utilization_before, utilization_after)
 */
Datum
memshard_rebalance_preview(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RebalancePlan *plan;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	plan = plan_from_args(fcinfo);
	for (i = 0; i < plan->nnodes; i++)
	{
		const PlanNode *n = &plan->nodes[i];
		Datum		values[6];
		bool		nulls[6] = {0};
		NameData	node;

		namestrcpy(&node, n->server);
		values[0] = NameGetDatum(&node);
		values[1] = Int64GetDatum(n->budget);
		values[2] = Int64GetDatum(n->bytes_before);
		values[3] = Int64GetDatum(n->bytes);
		nulls[4] = nulls[5] = (n->budget <= 0);
		values[4] = Float8GetDatum((double) n->bytes_before / Max(n->budget, 1));
		values[5] = Float8GetDatum((double) n->bytes / Max(n->budget, 1));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* memshard.move_shard(map, shard, target, source DEFAULT NULL) RETURNS bigint */
Datum
memshard_move_shard(PG_FUNCTION_ARGS)
{
	char	   *map = text_arg(fcinfo, 0);
	int32		shard = int_arg(fcinfo, 1, "shard");
	char	   *target = name_arg(fcinfo, 2, "target");
	char	   *source = name_arg(fcinfo, 3, NULL);

	if (map == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("map must not be NULL")));
	PG_RETURN_INT64(rebalance_move_one(map, shard, target, source));
}

/* memshard.rebalance(map, strategy, threshold) RETURNS bigint */
Datum
memshard_rebalance(PG_FUNCTION_ARGS)
{
	PlanArgs	args = plan_args(fcinfo);

	PG_RETURN_INT64(rebalance_run(args.map, args.strategy, args.threshold,
								  NULL));
}

/* memshard.rebalance_start(map, strategy, threshold) RETURNS bigint (job) */
Datum
memshard_rebalance_start(PG_FUNCTION_ARGS)
{
	PlanArgs	args = plan_args(fcinfo);

	PG_RETURN_INT64(rebalance_start(args.map, args.strategy, args.threshold));
}

/* memshard.rebalance_wait() RETURNS text: the job's final state */
Datum
memshard_rebalance_wait(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(rebalance_wait()));
}

/* memshard.rebalance_stop() RETURNS boolean: a job was running */
Datum
memshard_rebalance_stop(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rebalance_stop());
}

/* memshard.drain_node(server) RETURNS bigint */
Datum
memshard_drain_node(PG_FUNCTION_ARGS)
{
	char	   *server = name_arg(fcinfo, 0, "server");

	if (cluster_node_by_server(server) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", server)));
	PG_RETURN_INT64(rebalance_run(NULL, STRATEGY_BY_MEMORY, 0.1, server));
}

/* memshard.add_node(server, rebalance boolean) RETURNS integer */
Datum
memshard_add_node_rebalance(PG_FUNCTION_ARGS)
{
	char	   *server = name_arg(fcinfo, 0, "server");

	if (!PG_GETARG_BOOL(1))
		PG_RETURN_INT32(cluster_add_node(server));
	PG_RETURN_INT32(rebalance_add_node(server));
}

/* memshard.repair(map text DEFAULT NULL) RETURNS integer */
Datum
memshard_repair(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(rebalance_repair(text_arg(fcinfo, 0)));
}

/* memshard.read_rebalance_status(): the row of memshard.rebalance_status */
Datum
memshard_read_rebalance_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RebalanceProgress p;
	Datum		values[15];
	bool		nulls[15] = {0};
	NameData	source,
				target;

	InitMaterializedSRF(fcinfo, 0);
	rebalance_progress_get(&p);
	namestrcpy(&source, p.source);
	namestrcpy(&target, p.target);
	values[0] = Int64GetDatum(p.job);
	values[1] = CStringGetTextDatum(p.state);
	values[2] = Int32GetDatum(p.step);
	values[3] = Int32GetDatum(p.steps);
	values[4] = CStringGetTextDatum(p.map);
	nulls[4] = p.map[0] == '\0';
	values[5] = Int32GetDatum(p.shard);
	nulls[5] = p.map[0] == '\0';
	values[6] = NameGetDatum(&source);
	nulls[6] = p.source[0] == '\0';
	values[7] = NameGetDatum(&target);
	nulls[7] = p.target[0] == '\0';
	values[8] = Int64GetDatum(p.items_copied);
	values[9] = Int64GetDatum(p.bytes_copied);
	values[10] = TimestampTzGetDatum(p.started);
	nulls[10] = p.started == 0;
	values[11] = CStringGetTextDatum(p.error);
	nulls[11] = p.error[0] == '\0';
	values[12] = Int64GetDatum(p.moves_total);
	values[13] = Int64GetDatum(p.moves_failed);
	values[14] = Int64GetDatum(p.bytes_moved_total);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* the source's side: register, read, freeze, end */
Datum
memshard_peer_move_begin(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) move_source_begin(text_arg(fcinfo, 0),
											  int_arg(fcinfo, 1, "shard")));
}

/*
 * memshard.peer_move_push(map, shard, token, whole, target) RETURNS
 * TABLE(keys bigint, items bigint, bytes bigint, overflow boolean): the
 * source sends the shard's items (whole) or the keys logged since to the
 * target
 */
Datum
memshard_peer_move_push(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MovePushed	pushed;
	Datum		values[4];
	bool		nulls[4] = {0};

	InitMaterializedSRF(fcinfo, 0);
	move_source_push(text_arg(fcinfo, 0), int_arg(fcinfo, 1, "shard"),
					 (uint64) PG_GETARG_INT64(2), PG_GETARG_BOOL(3),
					 NameStr(*PG_GETARG_NAME(4)), &pushed);
	values[0] = Int64GetDatum(pushed.keys);
	values[1] = Int64GetDatum(pushed.items);
	values[2] = Int64GetDatum(pushed.bytes);
	values[3] = BoolGetDatum(pushed.overflow);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
memshard_peer_move_freeze(PG_FUNCTION_ARGS)
{
	move_source_freeze((uint64) PG_GETARG_INT64(0), PG_GETARG_BOOL(1));
	PG_RETURN_BOOL(true);
}

Datum
memshard_peer_move_end(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(move_source_end(text_arg(fcinfo, 0),
									int_arg(fcinfo, 1, "shard"),
									(uint64) PG_GETARG_INT64(2),
									PG_GETARG_BOOL(3)));
}

/* the target's side: drop a partial copy, store what the mover brings */
Datum
memshard_peer_move_clear(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(move_target_clear(text_arg(fcinfo, 0),
									  int_arg(fcinfo, 1, "shard")));
}

/* memshard.peer_move_put(map, keys text[], values bytea[], ttls bigint[]) */
Datum
memshard_peer_move_put(PG_FUNCTION_ARGS)
{
	ArrayType  *ka = PG_GETARG_ARRAYTYPE_P(1);
	ArrayType  *va = PG_GETARG_ARRAYTYPE_P(2);
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(3);
	Datum	   *kd,
			   *vd,
			   *td;
	bool	   *kn,
			   *vn,
			   *tn;
	int			nk,
				nv,
				nt,
				i;
	char	  **keys,
			  **values;
	int		   *keylens,
			   *vallens;
	int64	   *ttls;

	deconstruct_array(ka, TEXTOID, -1, false, TYPALIGN_INT, &kd, &kn, &nk);
	deconstruct_array(va, BYTEAOID, -1, false, TYPALIGN_INT, &vd, &vn, &nv);
	deconstruct_array(ta, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &td, &tn, &nt);
	if (nk != nv || nk != nt)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys, values and ttls must have the same length")));
	keys = palloc(sizeof(char *) * Max(nk, 1));
	values = palloc(sizeof(char *) * Max(nk, 1));
	keylens = palloc(sizeof(int) * Max(nk, 1));
	vallens = palloc(sizeof(int) * Max(nk, 1));
	ttls = palloc(sizeof(int64) * Max(nk, 1));
	for (i = 0; i < nk; i++)
	{
		text	   *k = DatumGetTextPP(kd[i]);

		if (kn[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a key must not be NULL")));
		keys[i] = VARDATA_ANY(k);
		keylens[i] = VARSIZE_ANY_EXHDR(k);
		if (vn[i])
		{
			values[i] = NULL;
			vallens[i] = 0;
		}
		else
		{
			bytea	   *v = DatumGetByteaPP(vd[i]);

			values[i] = VARDATA_ANY(v);
			vallens[i] = VARSIZE_ANY_EXHDR(v);
		}
		ttls[i] = tn[i] ? 0 : DatumGetInt64(td[i]);
	}
	PG_RETURN_INT64(move_target_put(text_arg(fcinfo, 0), nk, keys, keylens,
									values, vallens, ttls));
}

/* memshard.peer_move_switch(map, shard, replica, source_id, target_id) */
Datum
memshard_peer_move_switch(PG_FUNCTION_ARGS)
{
	move_switch_placement(text_arg(fcinfo, 0), int_arg(fcinfo, 1, "shard"),
						  int_arg(fcinfo, 2, "replica"),
						  int_arg(fcinfo, 3, "source_id"),
						  int_arg(fcinfo, 4, "target_id"));
	PG_RETURN_VOID();
}

/* memshard.peer_node_draining(server): drain_node's mark, on its own node */
Datum
memshard_peer_node_draining(PG_FUNCTION_ARGS)
{
	cluster_mark_draining(name_arg(fcinfo, 0, "server"));
	PG_RETURN_VOID();
}
