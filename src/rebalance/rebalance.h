/*-------------------------------------------------------------------------
 *
 * rebalance.h
 *		An elastic cluster: rebalance plans by memory or shard count,
 *		online shard moves, rebalance, drain: what the rebalance room
 *		offers (src/api/rebalance_api.c calls it).
 *
 * The room sits above cluster, router, store and remote: it reads the
 * metadata (cluster), a key's shard (router), the items of a shard (store)
 * and asks other nodes (remote); none of them calls it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_REBALANCE_H
#define MEMSHARD_REBALANCE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef enum RebalanceStrategy
{
	STRATEGY_BY_MEMORY,
	STRATEGY_BY_SHARD_COUNT
} RebalanceStrategy;

/* one node as a plan sees it */
typedef struct PlanNode
{
	int32		id;
	char		server[NAMEDATALEN];
	int64		budget;			/* pg_memshard.memory of the node */
	bool		target;			/* active and not draining: may get shards */
	bool		draining;		/* everything must leave it */
	int64		bytes_before;
	int64		bytes;			/* as the plan goes */
	int			count;			/* placements, as the plan goes */
} PlanNode;

/* one placement: copy `replica` of shard `shard` of a map */
typedef struct PlanPlacement
{
	int32		mapid;
	char		map[NAMEDATALEN];
	int32		shard;
	int32		replica;
	int			node;			/* index in the plan's nodes */
	int64		bytes;
	int64		items;
	bool		movable;		/* of a map the plan covers */
} PlanPlacement;

typedef struct PlanStep
{
	int			placement;		/* index in placements */
	int			source;			/* node indexes */
	int			target;
} PlanStep;

typedef struct RebalancePlan
{
	RebalanceStrategy strategy;
	double		threshold;
	int			nnodes;
	PlanNode   *nodes;
	int			nplacements;
	PlanPlacement *placements;
	int			nsteps;
	PlanStep   *steps;
} RebalancePlan;

/* the plan (rebalance_plan.c); drain: the server every placement leaves */
extern RebalanceStrategy rebalance_strategy(const char *name);
extern void rebalance_check_threshold(double threshold);
extern RebalancePlan *rebalance_make_plan(const char *map,
										  RebalanceStrategy strategy,
										  double threshold,
										  const char *drain);

/* the figures of the nodes, by one fan-out (rebalance_sizes.c) */
extern RebalancePlan *rebalance_gather(const char *map);

/* a move (shard_move.c); returns the items copied */
extern int64 rebalance_move_shard(const char *map, int32 shard,
								  const char *target, const char *source);
extern int64 rebalance_copy_placement(const char *map, int32 shard,
									  int32 replica, const char *source,
									  const char *target);
extern int	rebalance_repair(const char *map);
extern int32 rebalance_add_node(const char *server);
extern int64 rebalance_move_one(const char *map, int32 shard,
								const char *target, const char *source);
extern int64 rebalance_run(const char *map, RebalanceStrategy strategy,
						   double threshold, const char *drain);

/* the source and target sides of a move, for the peer_move_* functions */
extern uint64 move_source_begin(const char *map, int32 shard);
extern void move_source_freeze(uint64 token, bool frozen);
extern int64 move_source_end(const char *map, int32 shard, uint64 token,
							 bool switched);
extern List *move_source_read(const char *map, int32 shard, uint64 token,
							  bool all, bool *overflow);

/* what one round of a copy sent */
typedef struct MovePushed
{
	int64		keys;			/* keys sent, gone ones too */
	int64		items;			/* with a value */
	int64		bytes;			/* their key and value bytes */
	bool		overflow;		/* the log missed keys: start again */
} MovePushed;

extern void move_source_push(const char *map, int32 shard, uint64 token,
							 bool all, const char *target, MovePushed *pushed);
extern int64 move_target_clear(const char *map, int32 shard);
extern int64 move_target_put(const char *map, int n, char **keys,
							 int *keylens, char **values, int *vallens,
							 int64 *ttls);
extern void move_switch_placement(const char *map, int32 shard,
								  int32 replica, int32 source_id,
								  int32 target_id);

/* one item read from the source: value NULL when the key is gone */
typedef struct MoveItem
{
	char	   *key;
	int			keylen;
	char	   *value;
	int			vallen;
	int64		ttl_ms;			/* remaining; 0: none */
} MoveItem;

/* jobs (rebalance_job.c): one at a time per cluster, in a worker or not */
extern void rebalance_lock_cluster(void);
extern void rebalance_unlock_cluster(void);
extern void rebalance_check_stop(void);
extern void rebalance_job_failed(MemoryContext cxt, const char *state) pg_attribute_noreturn();
extern int64 rebalance_start(const char *map, RebalanceStrategy strategy,
							 double threshold);
extern char *rebalance_wait(void);
extern bool rebalance_stop(void);

/* calls of the mover (shard_move.c) */
struct RemoteResult;
extern struct RemoteResult *rebalance_call_node(Oid server, const char *sql,
												int nparams,
												const char *const *values,
												bool binary);
extern int64 rebalance_int8_of(const struct RemoteResult *res, int row,
							   int field, bool binary);

/* progress and counters in shared memory (rebalance_progress.c) */
typedef struct RebalanceProgress
{
	int64		job;
	char		state[16];		/* running, done, failed, stopped, idle */
	int			step;
	int			steps;
	char		map[NAMEDATALEN];
	int32		shard;
	char		source[NAMEDATALEN];
	char		target[NAMEDATALEN];
	int64		items_copied;
	int64		bytes_copied;
	TimestampTz started;
	char		error[256];
	/* counters since start */
	int64		moves_total;
	int64		moves_failed;
	int64		bytes_moved_total;
	bool		stop_requested;
	bool		claimed;		/* started by rebalance_start, worker to come */
	int			pid;			/* the backend running the job */
} RebalanceProgress;

extern Size rebalance_shmem_size(void);
extern void rebalance_shmem_startup(void);
extern void rebalance_progress_get(RebalanceProgress *progress);
extern void rebalance_progress_job(int steps);
extern void rebalance_progress_step(int step, const char *map, int32 shard,
									const char *source, const char *target);
extern void rebalance_progress_copied(int64 items, int64 bytes);
extern void rebalance_progress_move_done(bool ok, int64 bytes);
extern void rebalance_progress_end(const char *state, const char *error);
extern int64 rebalance_progress_claim(void);
extern bool rebalance_progress_stop_requested(void);
extern bool rebalance_progress_request_stop(void);

/* for the tests: a move waits for this advisory lock key mid-copy */
extern int	memshard_test_hold_move;

#endif							/* MEMSHARD_REBALANCE_H */
