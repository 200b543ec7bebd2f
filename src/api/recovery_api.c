/*-------------------------------------------------------------------------
 *
 * recovery_api.c
 *		SQL entry points of the recovery of metadata changes left in doubt:
 *		memshard.peer_metadata_outcome (asked by a node holding a part of a
 *		change this node made) and the figures behind the view
 *		memshard.metadata_recovery.
 *
 * Type conversion only; the work is in src/cluster/metadata_recover.c and
 * recovery_worker.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"

PG_FUNCTION_INFO_V1(memshard_peer_metadata_outcome);
PG_FUNCTION_INFO_V1(memshard_read_metadata_recovery);

/* 'in progress', 'committed', 'aborted', or NULL: not a change made here */
Datum
memshard_peer_metadata_outcome(PG_FUNCTION_ARGS)
{
	const char *outcome;

	outcome = cluster_metadata_outcome(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	if (outcome == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(outcome));
}

/* resolved, last_pass, last_problem */
Datum
memshard_read_metadata_recovery(PG_FUNCTION_ARGS)
{
	ClusterRecoveryFigures figures;
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	cluster_recovery_figures(&figures);
	values[0] = Int64GetDatum((int64) figures.resolved);
	values[1] = TimestampTzGetDatum(figures.last_pass);
	nulls[1] = (figures.last_pass == 0);
	values[2] = CStringGetTextDatum(figures.problem);
	/* it may name another role's node or user, as nodes.last_error */
	nulls[2] = (figures.problem[0] == '\0' ||
				!has_privs_of_role(GetUserId(), ROLE_PG_MONITOR));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}
