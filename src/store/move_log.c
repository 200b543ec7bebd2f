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
 * A slot that moved its shard away stays MOVE_LOG_DONE for a minute (or
 * until the shard comes back, or the slot is needed): a session of this
 * node still holding metadata older than the switch is sent elsewhere
 * rather than writing the freed copy.
 *
 * Locking.  One LWLock ("registry") guards the slots' identity and state;
 * one per slot guards its log.  While a move is active (COPYING or FROZEN)
 * every writer of a map over nodes holds the registry lock shared from
 * before its store write until after it (and until its key is in the log,
 * for a moving shard), so that the mover, taking it exclusive to register
 * or freeze a shard, knows that no write it has not seen is in flight.
 * While no move is active writers only read an atomic count and take no
 * lock: they count themselves in "unlocked" around their write (a Dekker
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

#define MOVE_LOG_SLOTS	8
#define MOVE_LOG_BYTES	(512 * 1024)
#define MOVE_DONE_KEEP_MS	60000	/* a shard that moved away is known so long */
#define MOVE_GUARD_LOCKED	(-2)	/* a guard holding the lock, logging nothing */

typedef struct MoveLogSlot
{
	Oid			dboid;
	int32		mapid;
	int32		shard;
	MoveLogState state;
	uint64		token;
	TimestampTz done_at;		/* MOVE_LOG_DONE: when; kept a while */
	LWLock	   *loglock;
	Size		used;			/* bytes of log */
	bool		overflow;
	char		log[MOVE_LOG_BYTES];
} MoveLogSlot;

typedef struct MoveLogShared
{
	LWLock	   *lock;
	pg_atomic_uint32 nactive;	/* slots COPYING or FROZEN */
	pg_atomic_uint32 nused;		/* slots not FREE (DONE ones too) */
	pg_atomic_uint32 unlocked;	/* writers between a zero look and their end */
	uint64		next_token;
	MoveLogSlot slots[MOVE_LOG_SLOTS];
} MoveLogShared;

static MoveLogShared *move_shared = NULL;

static bool slot_live(int i, TimestampTz now);
static int	find_slot(Oid dboid, int32 mapid, int32 shard);
static int	slot_of_token(uint64 token);
static void slot_set_state(int i, MoveLogState state);

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
		pg_atomic_init_u32(&move_shared->nused, 0);
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

/* is slot i a live one (not FREE, not a DONE kept too long)? */
static bool
slot_live(int i, TimestampTz now)
{
	MoveLogSlot *slot = &move_shared->slots[i];

	if (slot->state == MOVE_LOG_FREE)
		return false;
	if (slot->state == MOVE_LOG_DONE &&
		TimestampDifferenceExceeds(slot->done_at, now, MOVE_DONE_KEEP_MS))
		return false;
	return true;
}

/* the live slot of a shard, or -1; the caller holds the registry lock */
static int
find_slot(Oid dboid, int32 mapid, int32 shard)
{
	TimestampTz now = 0;
	int			i;

	for (i = 0; i < MOVE_LOG_SLOTS; i++)
	{
		MoveLogSlot *slot = &move_shared->slots[i];

		if (slot->state == MOVE_LOG_FREE || slot->dboid != dboid ||
			slot->mapid != mapid || slot->shard != shard)
			continue;
		if (slot->state == MOVE_LOG_DONE && now == 0)
			now = GetCurrentTimestamp();
		if (slot_live(i, now))
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

/* slot i to state; the counts follow; the caller holds the lock exclusive */
static void
slot_set_state(int i, MoveLogState state)
{
	MoveLogSlot *slot = &move_shared->slots[i];
	bool		was_active = slot->state == MOVE_LOG_COPYING ||
		slot->state == MOVE_LOG_FROZEN;
	bool		is_active = state == MOVE_LOG_COPYING || state == MOVE_LOG_FROZEN;

	if (slot->state == MOVE_LOG_FREE && state != MOVE_LOG_FREE)
		pg_atomic_fetch_add_u32(&move_shared->nused, 1);
	if (slot->state != MOVE_LOG_FREE && state == MOVE_LOG_FREE)
		pg_atomic_fetch_sub_u32(&move_shared->nused, 1);
	if (!was_active && is_active)
		pg_atomic_fetch_add_u32(&move_shared->nactive, 1);
	if (was_active && !is_active)
		pg_atomic_fetch_sub_u32(&move_shared->nactive, 1);
	slot->state = state;
	if (state == MOVE_LOG_DONE)
		slot->done_at = GetCurrentTimestamp();
}

/*
 * Before a write of a map over nodes: false when no move concerns it (the
 * common case, lock-free); true when the key's shard is being copied, with
 * the registry lock held until move_log_write_end.  While any move is
 * active the lock is held (shared) by every writer, so that a move that
 * starts waits for writes already on their way.  A frozen shard makes us
 * wait (at most timeout_ms); a shard switched away is refused with
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
		if (state == MOVE_LOG_FREE)
		{
			guard->slot = MOVE_GUARD_LOCKED;
			return false;		/* the lock stays held */
		}
		LWLockRelease(move_shared->lock);
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
	if (guard->slot == MOVE_GUARD_LOCKED)
	{
		LWLockRelease(move_shared->lock);
		guard->slot = -1;
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

/*
 * The state of a shard here (MOVE_LOG_FREE: not moving).  A shard that
 * moved away stays MOVE_LOG_DONE for MOVE_DONE_KEEP_MS, so that a session
 * of this node whose metadata is older than the switch does not write the
 * copy that was freed.
 */
MoveLogState
move_log_state(Oid dboid, int32 mapid, int32 shard)
{
	MoveLogState state = MOVE_LOG_FREE;
	int			i;

	if (move_shared == NULL || pg_atomic_read_u32(&move_shared->nused) == 0)
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
 * busy with a move.  The slot of an earlier move of the same shard (a
 * mover that failed, or a shard that came back) is taken over, else a free
 * one, else the oldest that moved away.  Returns once every write made
 * without looking at the registry is in the store (the lock, taken
 * exclusive, waited for those that looked).
 */
uint64
move_log_register(Oid dboid, int32 mapid, int32 shard)
{
	uint64		token = 0;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	store_require_ready();
	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = find_slot(dboid, mapid, shard);
	if (i < 0)
	{
		int			oldest = -1;

		for (i = 0; i < MOVE_LOG_SLOTS; i++)
		{
			MoveLogSlot *slot = &move_shared->slots[i];

			if (!slot_live(i, now))
				break;
			if (slot->state == MOVE_LOG_DONE &&
				(oldest < 0 || slot->done_at < move_shared->slots[oldest].done_at))
				oldest = i;
		}
		if (i == MOVE_LOG_SLOTS)
			i = oldest;
	}
	if (i >= 0)
	{
		MoveLogSlot *slot = &move_shared->slots[i];

		slot_set_state(i, MOVE_LOG_FREE);
		slot->dboid = dboid;
		slot->mapid = mapid;
		slot->shard = shard;
		slot->token = token = move_shared->next_token++;
		slot->used = 0;
		slot->overflow = false;
		slot_set_state(i, MOVE_LOG_COPYING);
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
 * Freeze (MOVE_LOG_FROZEN: waits for the logged writes in flight) or
 * switch (MOVE_LOG_DONE) a move.  False if the token is not current.
 */
bool
move_log_set_state(uint64 token, MoveLogState state)
{
	int			i;

	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = slot_of_token(token);
	if (i >= 0)
		slot_set_state(i, state);
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

/*
 * The move is over: undone (writes of the shard go on as usual), or done
 * (the slot stays MOVE_LOG_DONE a while, see move_log_state).
 */
void
move_log_release(uint64 token)
{
	int			i;

	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = slot_of_token(token);
	if (i >= 0 && move_shared->slots[i].state != MOVE_LOG_DONE)
		slot_set_state(i, MOVE_LOG_FREE);
	LWLockRelease(move_shared->lock);
}

/* the shard is coming (back) to this node: forget that it moved away */
void
move_log_forget(Oid dboid, int32 mapid, int32 shard)
{
	int			i;

	if (move_shared == NULL || pg_atomic_read_u32(&move_shared->nused) == 0)
		return;
	LWLockAcquire(move_shared->lock, LW_EXCLUSIVE);
	i = find_slot(dboid, mapid, shard);
	if (i >= 0 && move_shared->slots[i].state == MOVE_LOG_DONE)
		slot_set_state(i, MOVE_LOG_FREE);
	LWLockRelease(move_shared->lock);
}

int
move_log_active_count(void)
{
	return move_shared ? (int) pg_atomic_read_u32(&move_shared->nactive) : 0;
}
