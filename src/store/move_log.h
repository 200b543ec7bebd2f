/*-------------------------------------------------------------------------
 *
 * move_log.h
 *		Shards moving away from this node: the source side of an online
 *		shard move (src/rebalance/shard_move.c drives it).
 *
 * While a shard of a map is being copied to another node, every write this
 * node applies to that shard is noted (its key, in a log of the move), so
 * that the mover can copy the key's current state again; for the switch the
 * shard is frozen (writes wait), the last keys are copied, the placement
 * changes, and writes that waited are refused as "moved" (the caller's node
 * sends them to the new holder).  The store knows no shards: a shard is just
 * a number the caller gives with the map.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_MOVE_LOG_H
#define MEMSHARD_MOVE_LOG_H

#include "utils/elog.h"

#define MOVE_LOG_LWLOCK_TRANCHE "pg_memshard_moves"

/* "the shard moved": the node that sent the call reads its metadata again */
#define ERRCODE_MEMSHARD_SHARD_MOVED	MAKE_SQLSTATE('5','5','M','0','1')

typedef enum MoveLogState
{
	MOVE_LOG_FREE,
	MOVE_LOG_COPYING,			/* writes go on and are logged */
	MOVE_LOG_FROZEN,			/* writes wait: the switch is being made */
	MOVE_LOG_DONE				/* switched: writes are refused as moved */
} MoveLogState;

/* a writer's hold on the move log, from before its write to after it */
typedef struct MoveWriteGuard
{
	int			slot;			/* >= 0: a logged write, the lock is held */
	bool		unlocked;		/* counted among the writers not looking */
} MoveWriteGuard;

extern Size move_log_shmem_size(void);
extern int	move_log_lwlock_count(void);
extern void move_log_shmem_startup(void);

/* writers (the router's local writes of maps over nodes) */
extern bool move_log_write_begin(MoveWriteGuard *guard, Oid dboid,
								 int32 mapid, int (*shard_of) (void *arg),
								 void *arg, int timeout_ms);
extern void move_log_write_end(MoveWriteGuard *guard, const char *key,
							   int keylen);
extern MoveLogState move_log_state(Oid dboid, int32 mapid, int32 shard);

/* the mover; a move is named by its token */
extern uint64 move_log_register(Oid dboid, int32 mapid, int32 shard);
extern bool move_log_set_state(uint64 token, MoveLogState state);
extern char *move_log_drain(uint64 token, Size *len, bool *overflow);
extern void move_log_release(uint64 token);
extern void move_log_forget(Oid dboid, int32 mapid, int32 shard);
extern int	move_log_active_count(void);

#endif							/* MEMSHARD_MOVE_LOG_H */
