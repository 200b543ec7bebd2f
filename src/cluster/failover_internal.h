/*-------------------------------------------------------------------------
 *
 * failover_internal.h
 *		Declarations shared by the files of failover only: the epoch and
 *		fencing (epoch.c), promote and rejoin (promote.c), the worker
 *		(failover_worker.c) and their shared state (failover_state.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_FAILOVER_INTERNAL_H
#define MEMSHARD_FAILOVER_INTERNAL_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "cluster/cluster.h"

/* what failover keeps per database (failover_state.c) */
typedef struct FailoverFigures
{
	int64		newest_seen;	/* newest epoch seen on another node */
	bool		verified;		/* a probe reached another node since the
								 * start */
	TimestampTz last_verify;	/* last probe, 0 none */
	uint64		failovers;		/* promotions coordinated here */
	uint64		shards_promoted;
	TimestampTz last_failover;	/* 0: never */
} FailoverFigures;

extern void failover_figures_get(FailoverFigures *figures);
extern bool failover_fence_peek(int64 *newest_seen, bool *verified,
								TimestampTz *last_verify);
extern void failover_note_epoch(int64 seen, bool verified);
extern void failover_epoch_applied(int64 epoch);
extern void failover_count_promotion(int shards);
extern void failover_count_change(void);
extern uint64 failover_changes(void);
extern void failover_visit_report(bool found);
extern bool failover_visit_found(void);
extern void failover_watch(int32 node_id, bool reachable, TimestampTz now,
						   TimestampTz *unreachable_since,
						   TimestampTz *reachable_since);

/* one node's answer to a probe (epoch.c) */
typedef struct NodeProbe
{
	const ClusterNode *node;
	bool		reachable;
	int64		epoch;			/* when reachable */
	TimestampTz unreachable_since;	/* the worker's (failover_watch), 0:
									 * reachable */
	TimestampTz reachable_since;	/* 0: unreachable */
} NodeProbe;

extern List *failover_probe_nodes(int32 skip_node_id);

#endif							/* MEMSHARD_FAILOVER_INTERNAL_H */
