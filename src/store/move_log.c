/*-------------------------------------------------------------------------
 *
 * move_log.c
 *		The registry of shards moving away from this node, and the log of
 *		keys written to them during the copy (see move_log.h).
 *
 * Shared memory: MOVE_LOG_SLOTS slots, each a (database, map, shard), a
 * state, a token naming the move, and a log of keys of MOVE_LOG_BYTES
 * (entries: a uint16 length, then the key).  A log that fills up is
 * marked overflowed: the mover starts its copy again.
 *
 * Locking.  One LWLock ("registry") guards the slots' identity and state;
 * one per slot guards its log.  A writer of a moving shard holds the
 * registry lock shared from before its store write until its key is in the
 * log, so that the mover, taking it exclusive to freeze the shard, knows
 * that no write it has not seen is in flight.  Writers of other shards only
 * read an atomic count of the moves, and while it is zero take no lock at
 * all: they count themselves in "unlocked" around their write (a Dekker
 * handshake with full barriers), and the mover, once its slot is visible,
 * waits for that count to be zero before it starts copying, so that a write
 * made without looking is in the store before the copy reads it.  No ERROR
 * is raised while any of these locks is held, and no CHECK_FOR_INTERRUPTS:
 * a writer waiting for a frozen shard waits without them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "store/move_log.h"
#include "store/store.h"

#define MOVE_LOG_SLOTS	4
#define MOVE_LOG_BYTES	(1024 * 1024)

typedef struct MoveLogSlot
{
	Oid			dboid;
	int32		mapid;
	int32		shard;
	MoveLogState state;
	uint64		token;
	LWLock	   *loglock;
	Size		used;			/* bytes of log */
	bool		overflow;
	char		log[MOVE_LOG_BYTES];
} MoveLogSlot;

typedef struct MoveLogShared
{
	LWLock	   *lock;
	pg_atomic_uint32 nactive;	/* slots not FREE */
	pg_atomic_uint32 unlocked;	/* writers between a zero look and their end */
	uint64		next_token;
	MoveLogSlot slots[MOVE_LOG_SLOTS];
} MoveLogShared;

static MoveLogShared *move_shared = NULL;

static int	find_slot(Oid dboid, int32 mapid, int32 shard);
static int	slot_of_token(uint64 token);

Size
move_log_shmem_size(void)
{
	return MAXALIGN(sizeof(MoveLogShared));
}

int
move_log_lwlock_count(void)
{
	return 1 + MOVE_LOG_SLOTS;
}

void
move_log_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	move_shared = ShmemInitStruct("pg_memshard moves", move_log_shmem_size(),
								  &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(MOVE_LOG_LWLOCK_TRANCHE);
		int			i;

		move_shared->lock = &locks[0].lock;
		pg_atomic_init_u32(&move_shared->nactive, 0);
		pg_atomic_init_u32(&move_shared->unlocked, 0);
		move_shared->next_token = 1;
		for (i = 0; i < MOVE_LOG_SLOTS; i++)
		{
			move_shared->slots[i].state = MOVE_LOG_FREE;
			move_shared->slots[i].loglock = &locks[1 + i].lock;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* the slot of a shard, or -1; the caller holds the registry lock */
static int
find_slot(Oid dboid, int32 mapid, int32 shard)
{
	int			i;

	for (i = 0; i < MOVE_LOG_SLOTS; i++)
	{
		MoveLogSlot *slot = &move_shared->slots[i];

		if (slot->state != MOVE_LOG_FREE && slot->dboid == dboid &&
			slot->mapid == mapid && slot->shard == shard)
			return i;
	}
	return -1;
}

static int
slot_of_token(uint64 token)
{
	int			i;

	for (i = 0; i < MOVE_LOG_SLOTS; i++)
	{
		if (move_shared->slots[i].state != MOVE_LOG_FREE &&
			move_shared->slots[i].token == token)
			return i;
	}
	return -1;
}

/*
 * Before a write of a map over nodes: false when no move concerns it (the
 * common case, lock-free); true when the key's shard is being copied, with
 * the registry lock held until move_log_write_end.  A frozen shard makes
 * us wait (at most timeout_ms); a shard switched away is refused with
 * ERRCODE_MEMSHARD_SHARD_MOVED, before anything was written.
 */
bool
move_log_write_begin(MoveWriteGuard *guard, Oid dboid, int32 mapid,
					 int (*shard_of) (void *arg), void *arg, int timeout_ms)
{
	TimestampTz deadline;
	int			shard;

	guard->slot = -1;
	guard->unlocked = false;
	if (move_shared == NULL)
		return false;

	pg_atomic_fetch_add_u32(&move_shared->unlocked, 1);	/* full barrier */
	if (pg_atomic_read_u32(&move_shared->nactive) == 0)
	{
		guard->unlocked = true;
		return false;
	}
	pg_atomic_fetch_sub_u32(&move_shared->unlocked, 1);

	shard = shard_of(arg);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	for (;;)
	{
		int			i;
		MoveLogState state;

		LWLockAcquire(move_shared->lock, LW_SHARED);
		i = find_slot(dboid, mapid, shard);
		state = i >= 0 ? move_shared->slots[i].state : MOVE_LOG_FREE;
		if (state == MOVE_LOG_COPYING)
		{
			guard->slot = i;
			return true;		/* the lock stays held */
		}
		LWLockRelease(move_shared->lock);
		if (state == MOVE_LOG_FREE)
			return false;
		if (state == MOVE_LOG_DONE)
			ereport(ERROR,
					(errcode(ERRCODE_MEMSHARD_SHARD_MOVED),
					 errmsg("shard %d moved to another node", shard),
					 errhint("The node that sent the call reads its metadata again and retries.")));
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_MEMSHARD_SHARD_MOVED),
					 errmsg("shard %d is being switched to another node", shard),
					 errhint("Retry: the move of the shard is finishing, or was left frozen by a mover that failed (run memshard.move_shard again).")));
		CHECK_FOR_INTERRUPTS();
		pg_usleep(1000L);
	}
}

/* after the write: note its key in the move's log, release what begin took */
void
move_log_write_end(MoveWriteGuard *guard, const char *key, int keylen)
{
	if (guard->unlocked)
	{
		pg_atomic_fetch_sub_u32(&move_shared->unlocked, 1);
		guard->unlocked = false;
		return;
	}
	if (guard->slot >= 0)
	{
		MoveLogSlot *slot = &move_shared->slots[guard->slot];

		LWLockAcquire(slot->loglock, LW_EXCLUSIVE);
		if (slot->used + sizeof(uint16) + keylen > MOVE_LOG_BYTES)
			slot->overflow = true;
		else
		{
			uint16		len = (uint16) keylen;

			memcpy(slot->log + slot->used, &len, sizeof(uint16));
			memcpy(slot->log + slot->used + sizeof(uint16), key, keylen);
			slot->used += sizeof(uint16) + keylen;
		}
		LWLockRelease(slot->loglock);
		LWLockRelease(move_shared->lock);
		guard->slot = -1;
	}
}

/* the state of a shard here (MOVE_LOG_FREE: not moving) */
MoveLogState
move_log_state(Oid dboid, int32 mapid, int32 shard)
{
	MoveLogState state = MOVE_LOG_FREE;
	int			i;

	if (move_shared == NULL || pg_atomic_read_u32(&move_shared->nactive) == 0)
		return MOVE_LOG_FREE;
	LWLockAcquire(move_shared->lock, LW_SHARED);
	i = find_slot(dboid, mapid, shard);
	if (i >= 0)
		state = move_shared->slots[i].state;
	LWLockRelease(move_shared->lock);
	return state;
}

/*
 * Start logging the writes of a shard: its token, or 0 when every slot is
 * taken.  A slot left by an earlier move of the same shard (a mover that
 * failed) is taken over.  Returns once every write made without looking at
 * the registry is in the store.
 */
uint64
move_log_register(Oid dboid, int32 mapid, int32 shard)
{
	uint64		token = 0;
	int			i;

	store_require_ready();
	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = find_slot(dboid, mapid, shard);
	if (i < 0)
	{
		for (i = 0; i < MOVE_LOG_SLOTS; i++)
			if (move_shared->slots[i].state == MOVE_LOG_FREE)
				break;
		if (i < MOVE_LOG_SLOTS)
			pg_atomic_fetch_add_u32(&move_shared->nactive, 1);
	}
	if (i < MOVE_LOG_SLOTS)
	{
		MoveLogSlot *slot = &move_shared->slots[i];

		slot->dboid = dboid;
		slot->mapid = mapid;
		slot->shard = shard;
		slot->state = MOVE_LOG_COPYING;
		slot->token = token = move_shared->next_token++;
		slot->used = 0;
		slot->overflow = false;
	}
	LWLockRelease(move_shared->lock);

	pg_memory_barrier();
	while (token != 0 && pg_atomic_read_u32(&move_shared->unlocked) != 0)
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100L);
	}
	return token;
}

/*
 * Freeze (MOVE_LOG_FROZEN: waits for the logged writes in flight), switch
 * (MOVE_LOG_DONE) or resume a move.  False if the token is not current.
 */
bool
move_log_set_state(uint64 token, MoveLogState state)
{
	int			i;

	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = slot_of_token(token);
	if (i >= 0)
		move_shared->slots[i].state = state;
	LWLockRelease(move_shared->lock);
	return i >= 0;
}

/*
 * The keys logged since the last call, palloc'd (entries as in the log);
 * NULL if the token is not current.  *overflow: some keys were not logged.
 */
char *
move_log_drain(uint64 token, Size *len, bool *overflow)
{
	char	   *copy = palloc(MOVE_LOG_BYTES);
	MoveLogSlot *slot;
	int			i;

	LWLockAcquire(move_shared->lock, LW_SHARED);
	i = slot_of_token(token);
	if (i < 0)
	{
		LWLockRelease(move_shared->lock);
		pfree(copy);
		return NULL;
	}
	slot = &move_shared->slots[i];
	LWLockAcquire(slot->loglock, LW_EXCLUSIVE);
	memcpy(copy, slot->log, slot->used);
	*len = slot->used;
	*overflow = slot->overflow;
	slot->used = 0;
	slot->overflow = false;
	LWLockRelease(slot->loglock);
	LWLockRelease(move_shared->lock);
	return copy;
}

/* the move is over (done or undone): writes of the shard go on as usual */
void
move_log_release(uint64 token)
{
	int			i;

	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = slot_of_token(token);
	if (i >= 0)
	{
		move_shared->slots[i].state = MOVE_LOG_FREE;
		pg_atomic_fetch_sub_u32(&move_shared->nactive, 1);
	}
	LWLockRelease(move_shared->lock);
}

int
move_log_active_count(void)
{
	return move_shared ? (int) pg_atomic_read_u32(&move_shared->nactive) : 0;
}
