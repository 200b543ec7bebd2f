/*-------------------------------------------------------------------------
 *
 * failover_api.c
 *		SQL entry points of failover: memshard.promote, rejoin_node,
 *		failover_stats, and the calls other nodes make for it
 *		(peer_epoch, peer_metadata_rejoin).
 *
 * Argument checks and type conversion only; the work is in src/cluster
 * (promote.c, epoch.c, metadata_apply.c).  promote, rejoin_node and
 * peer_metadata_rejoin are admin functions (not for PUBLIC); peer_epoch is
 * for memshard_peer, as the other peer_* functions.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "cluster/cluster.h"

PG_FUNCTION_INFO_V1(memshard_promote);
PG_FUNCTION_INFO_V1(memshard_rejoin_node);
PG_FUNCTION_INFO_V1(memshard_peer_epoch);
PG_FUNCTION_INFO_V1(memshard_peer_metadata_rejoin);
PG_FUNCTION_INFO_V1(memshard_read_failover_stats);

/* promote(server name) RETURNS integer: the shards promoted */
Datum
memshard_promote(PG_FUNCTION_ARGS)
{
	ext_version_check();
	PG_RETURN_INT32(cluster_promote(NameStr(*PG_GETARG_NAME(0))));
}

/* rejoin_node(server name): a failed node back, with empty placements */
Datum
memshard_rejoin_node(PG_FUNCTION_ARGS)
{
	ext_version_check();
	cluster_rejoin(NameStr(*PG_GETARG_NAME(0)));
	PG_RETURN_VOID();
}

/* this node's metadata epoch, for the probes of other nodes */
Datum
memshard_peer_epoch(PG_FUNCTION_ARGS)
{
	ext_version_check();
	PG_RETURN_INT64(cluster_epoch());
}

/* the metadata a coordinator sends a failed node that rejoins */
Datum
memshard_peer_metadata_rejoin(PG_FUNCTION_ARGS)
{
	ext_version_check();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metadata and digest must not be null")));
	cluster_apply_rejoin(DatumGetCString(DirectFunctionCall1(jsonb_out,
															 PG_GETARG_DATUM(0))),
						 text_to_cstring(PG_GETARG_TEXT_PP(1)));
	PG_RETURN_VOID();
}

/* the row of memshard.failover_stats */
Datum
memshard_read_failover_stats(PG_FUNCTION_ARGS)
{
	ClusterFailoverStats stats;
	TupleDesc	desc;
	Datum		values[6];
	bool		nulls[6] = {0};

	ext_version_check();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	cluster_failover_stats(&stats);
	values[0] = Int64GetDatum(stats.epoch);
	values[1] = Int64GetDatum(stats.nodes_failed);
	values[2] = Int64GetDatum(stats.failovers);
	values[3] = Int64GetDatum(stats.shards_promoted);
	values[4] = TimestampTzGetDatum(stats.last_failover);
	nulls[4] = stats.last_failover == 0;
	values[5] = BoolGetDatum(stats.fenced);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}
