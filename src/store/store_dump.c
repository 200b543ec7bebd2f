/*-------------------------------------------------------------------------
 *
 * store_dump.c
 *		The store's side of a warm restart: every item read out for a dump,
 *		items put back with their absolute expiry, and the load gate.
 *
 * The dump and the load themselves (file format, checksum, background
 * workers) live in src/persist; this file only knows items and locks.
 *
 * Reading.  store_dump_next copies a batch of one partition's items under
 * its lock held shared (as store_get does), into the caller's buffer, and
 * releases the lock before returning: the caller writes the batch out with
 * no lock held.  A batch stops at the end of the buffer, so no lock is held
 * longer than it takes to copy that many bytes.  A chain is resumed by
 * position; a writer changing it between two batches could make an item be
 * copied twice or not at all, which is why the dump runs once every other
 * backend has exited (src/persist/dump.c).
 *
 * Loading.  store_load_item is a set with an absolute expiry, only for an
 * absent key, that never evicts: it checks that its chunks can come from
 * free lists or the page pool before it allocates, so that a cache smaller
 * than the dump keeps what was loaded first (the most recently used items)
 * instead of churning through the dump.
 *
 * The gate.  One flag in shared memory of its own ("pg_memshard load
 * gate"), closed by the postmaster before any backend exists when a dump is
 * to be loaded, and opened by the loader at the end.  store_map_attach, the
 * first step of every backend's first call on a map, waits on it, so no
 * data call sees (or changes) a cache whose load is half done: a delete
 * made during the load could otherwise be undone by it.  No lock is held
 * while waiting; the wait ends when the load does, when it shows no
 * progress for STORE_LOAD_STALL_MS (a loader waiting on a lock the session
 * holds must not hang it), or with the session's query cancel.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "store/item_time.h"

/* room for a key and a value besides */
#define DUMP_BATCH_MIN	(4 * 1024 * 1024)

typedef struct StoreLoadGate
{
	pg_atomic_uint32 loading;	/* 1 while a load fills the cache */
	pg_atomic_uint64 progress;	/* TimestampTz of the loader's last step */
	ConditionVariable cv;		/* broadcast when the load ends */
} StoreLoadGate;

static StoreLoadGate *load_gate = NULL;
static bool am_loader = false;

static bool copy_item(StoreDumpCursor *cursor, StoreItem *item, uint32 tick,
					  char *buf, Size bufsize, Size *used, StoreDumpItem *out);
static TimestampTz tick_to_time(uint32 tick);
static uint32 time_to_tick(TimestampTz at);
static StoreResult room_for(int handle, int keylen, int vallen, bool has_expire);
static int64 free_chunks(StoreClass *cls);

/* ---- reading items out ---- */

/* the smallest buffer that holds any one item */
Size
store_dump_buffer_size(void)
{
	return Max((Size) DUMP_BATCH_MIN,
			   (Size) store_max_item_size() + MEMSHARD_MAX_KEY_SIZE);
}

void
store_dump_start(StoreDumpCursor *cursor)
{
	memset(cursor, 0, sizeof(StoreDumpCursor));
}

int
store_dump_next(StoreDumpCursor *cursor, char *buf, Size bufsize,
				StoreDumpItem *items, int maxitems)
{
	StorePartition *part;
	uint32	   *buckets;
	uint32		tick = now_tick();
	Size		used = 0;
	int			n = 0;
	bool		full = false;

	if (cursor->partition >= store_shared->npartitions)
	{
		cursor->done = true;
		return 0;
	}
	part = store_partition(cursor->partition);
	buckets = store_buckets(cursor->partition);

	LWLockAcquire(part->lock, LW_SHARED);
	while (!full && cursor->bucket < store_shared->buckets_per_partition)
	{
		uint32		ref = buckets[cursor->bucket];
		uint32		pos = 0;

		for (; ref != 0; ref = item_at(ref)->next, pos++)
		{
			if (pos < cursor->skip)
				continue;
			if (n >= maxitems ||
				!copy_item(cursor, item_at(ref), tick, buf, bufsize, &used,
						   &items[n]))
			{
				full = true;
				break;
			}
			if (items[n].keylen >= 0)
				n++;
			cursor->skip = pos + 1;
		}
		if (!full)
		{
			cursor->bucket++;
			cursor->skip = 0;
		}
	}
	LWLockRelease(part->lock);

	if (!full)
	{
		cursor->partition++;
		cursor->bucket = 0;
		cursor->skip = 0;
	}
	return n;
}

/*
 * Copy one item (its partition held) into buf at *used; false when it does
 * not fit.  An item that is not dumped (expired, its map being detached)
 * comes back with keylen -1.
 */
static bool
copy_item(StoreDumpCursor *cursor, StoreItem *item, uint32 tick, char *buf,
		  Size bufsize, Size *used, StoreDumpItem *out)
{
	StoreMapSlot *slot = store_map_slot(item->mapslot);
	int			keylen = item_keylen(item);
	uint32		vallen = item_vallen(item);
	char	   *dest = buf + *used;

	out->keylen = -1;
	if (item_expired(item, tick))
	{
		cursor->expired++;
		return true;
	}
	if (!slot->in_use || slot->mapid < 0)
		return true;
	if (*used + keylen + vallen > bufsize)
	{
		/* larger than any item may be: left out rather than stuck on */
		Assert(*used > 0);
		return *used == 0;
	}

	out->dboid = slot->dboid;
	out->mapid = slot->mapid;
	out->expire_at = tick_to_time(item_expire(item));
	out->recent = (item->ref != REF_CLEAR);
	out->keylen = keylen;
	out->vallen = vallen;
	memcpy(dest, item_key(item), keylen);
	item_copy_value(item, dest + keylen);
	out->key = dest;
	out->value = dest + keylen;
	*used += keylen + vallen;
	return true;
}

/* an expiry tick of this segment as a time; the largest tick is "never" */
static TimestampTz
tick_to_time(uint32 tick)
{
	if (tick == 0)
		return 0;
	if (tick == PG_UINT32_MAX)
		return DT_NOEND;
	return store_shared->epoch + (TimestampTz) tick * STORE_TICK_MS * 1000;
}

/* a time as an expiry tick of this segment, rounded up (as expire_tick) */
static uint32
time_to_tick(TimestampTz at)
{
	int64		tick_us = STORE_TICK_MS * 1000;
	int64		ticks;

	if (at == 0)
		return 0;
	if (at == DT_NOEND ||
		at - store_shared->epoch >= (int64) PG_UINT32_MAX * tick_us)
		return PG_UINT32_MAX;
	ticks = (at - store_shared->epoch + tick_us - 1) / tick_us;
	return (uint32) Max(ticks, 1);
}

/* ---- putting items back ---- */

StoreResult
store_load_item(int handle, const char *key, int keylen, const char *value,
				int vallen, TimestampTz expire_at)
{
	StoreResult result;

	if (expire_at != 0 && expire_at != DT_NOEND &&
		expire_at <= GetCurrentTimestamp())
		return STORE_NOT_FOUND;
	result = room_for(handle, keylen, vallen, expire_at != 0);
	if (result != STORE_OK)
		return result;
	return items_write(handle, key, keylen, value, vallen,
					   time_to_tick(expire_at), STORE_ADD);
}

/*
 * Whether an item of these lengths fits without evicting: in the map's
 * quota, and in free chunks of its classes or pages of the free pool.
 * Taken without the partition lock; a concurrent writer may take the room
 * first, and then the set evicts as any other would.
 */
static StoreResult
room_for(int handle, int keylen, int vallen, bool has_expire)
{
	StoreMapSlot *slot;
	uint32		data_chunks;
	int			class_id = items_chunk_class(keylen, vallen, has_expire,
											 &data_chunks);
	StoreClass *cls = store_class(class_id);
	StoreClass *data = data_class();
	int64		need_head = 1;
	int64		need_data = data_chunks;
	int64		pages = 0;
	int			pool;

	if (handle < 0 || HANDLE_SLOT(handle) > store_shared->max_maps)
		return STORE_MAP_GONE;
	slot = store_map_slot(HANDLE_SLOT(handle));
	/* what the write reserves under the quota: beyond it, the write evicts */
	if (slot->max_memory > 0 &&
		(int64) pg_atomic_read_u64(&slot->bytes_used) +
		item_need_bytes(keylen, vallen, has_expire) > slot->max_memory)
		return STORE_OVER_QUOTA;

	if (cls == data)
	{
		need_data += need_head;
		need_head = 0;
	}
	if (need_head > 0)
		pages += Max(need_head - free_chunks(cls), 0) > 0 ? 1 : 0;
	if (need_data > 0)
		pages += Max(need_data - free_chunks(data), 0);		/* one per page */

	SpinLockAcquire(&store_shared->pool_lock);
	pool = store_shared->free_pages;
	SpinLockRelease(&store_shared->pool_lock);
	return pages <= pool ? STORE_OK : STORE_NO_MEMORY;
}

/*
 * A class's free chunks, read without its lock: a hint (room_for's answer
 * may be stale by the time the set allocates anyway), and the load reads
 * it for every item.
 */
static int64
free_chunks(StoreClass *cls)
{
	return ((volatile StoreClass *) cls)->free_count;
}

/* ---- the load gate ---- */

Size
store_load_gate_size(void)
{
	return MAXALIGN(sizeof(StoreLoadGate));
}

/* shmem_startup_hook: find or create the gate (open) */
void
store_load_gate_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	load_gate = ShmemInitStruct("pg_memshard load gate",
								store_load_gate_size(), &found);
	if (!found)
	{
		pg_atomic_init_u32(&load_gate->loading, 0);
		pg_atomic_init_u64(&load_gate->progress, 0);
		ConditionVariableInit(&load_gate->cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
store_load_begin(void)
{
	pg_atomic_write_u64(&load_gate->progress, (uint64) GetCurrentTimestamp());
	pg_atomic_write_u32(&load_gate->loading, 1);
}

void
store_load_progress(void)
{
	pg_atomic_write_u64(&load_gate->progress, (uint64) GetCurrentTimestamp());
}

void
store_load_end(void)
{
	pg_atomic_write_u32(&load_gate->loading, 0);
	ConditionVariableBroadcast(&load_gate->cv);
}

bool
store_load_in_progress(void)
{
	return load_gate != NULL && pg_atomic_read_u32(&load_gate->loading) != 0;
}

/* this process is the loader: its own attaches must not wait for itself */
void
store_load_as_loader(void)
{
	am_loader = true;
}

/*
 * Wait while a load fills the cache and makes progress.  Called with no
 * lock held; the sleep checks for interrupts (cancel, statement_timeout).
 */
void
store_load_wait(void)
{
	if (am_loader || !store_load_in_progress())
		return;

	ConditionVariablePrepareToSleep(&load_gate->cv);
	while (store_load_in_progress())
	{
		TimestampTz last = (TimestampTz) pg_atomic_read_u64(&load_gate->progress);

		if (TimestampDifferenceExceeds(last, GetCurrentTimestamp(),
									   STORE_LOAD_STALL_MS))
			break;
		(void) ConditionVariableTimedSleep(&load_gate->cv, 100,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}
