/*-------------------------------------------------------------------------
 *
 * map_slots.c
 *		Map slots: attaching a map (dboid, mapid) to a slot of the segment,
 *		finding it, detaching it (its items removed) and the map's counters.
 *
 * A slot holds a map's options and counters for every backend.  Handles
 * carry the slot's generation so that a handle kept by a backend after
 * drop_map can never touch a slot reused by another map.
 *
 * Locking: maps_lock (the segment's) guards in_use, dboid, mapid and
 * generation; it is never held while items are removed, which takes the
 * partition locks one at a time (items_remove_slot).  Writers check their
 * handle under their partition lock (index_handle_valid), so bumping the
 * generation first stops every writer before the items go.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/lwlock.h"

#include "store/store_internal.h"

static StoreMapSlot *slot_of_handle(int handle);

static void
reset_slot_counters(StoreMapSlot *slot)
{
	pg_atomic_init_u64(&slot->items, 0);
	pg_atomic_init_u64(&slot->bytes_used, 0);
	pg_atomic_init_u64(&slot->payload_bytes, 0);
	pg_atomic_init_u64(&slot->hits, 0);
	pg_atomic_init_u64(&slot->misses, 0);
	pg_atomic_init_u64(&slot->sets, 0);
	pg_atomic_init_u64(&slot->deletes, 0);
	pg_atomic_init_u64(&slot->evictions, 0);
	pg_atomic_init_u64(&slot->expirations, 0);
	pg_atomic_init_u64(&slot->quota_hand, 0);
	pg_atomic_init_u32(&slot->next_expiry, 0);
}

/* the handle of (dboid, mapid), or -1; caller holds maps_lock */
static int
attached_handle(Oid dboid, int32 mapid)
{
	int			i;

	for (i = 1; i <= store_shared->max_maps; i++)
	{
		StoreMapSlot *slot = store_map_slot(i);

		if (slot->in_use && slot->dboid == dboid && slot->mapid == mapid)
			return MAKE_HANDLE(slot->generation, i);
	}
	return -1;
}

int
store_map_attach(Oid dboid, int32 mapid, const StoreMapOptions *opts)
{
	int			handle;
	int			i;

	/* a warm restart's load may be filling the cache: wait for it first */
	store_load_wait();
	LWLockAcquire(store_shared->maps_lock, LW_EXCLUSIVE);
	handle = attached_handle(dboid, mapid);
	for (i = 1; handle < 0 && i <= store_shared->max_maps; i++)
	{
		StoreMapSlot *slot = store_map_slot(i);

		if (slot->in_use)
			continue;
		slot->dboid = dboid;
		slot->mapid = mapid;
		slot->evictable = opts->evictable;
		slot->max_memory = opts->max_memory;
		reset_slot_counters(slot);
		slot->in_use = true;
		handle = MAKE_HANDLE(slot->generation, i);
	}
	LWLockRelease(store_shared->maps_lock);
	return handle;
}

/*
 * The handle of (dboid, mapid) if the map is attached, else -1.  Unlike
 * store_map_attach it never takes a slot: readers of statistics use it, so
 * that looking at a map never uses up pg_memshard.max_maps.
 */
int
store_map_find(Oid dboid, int32 mapid)
{
	int			handle;

	LWLockAcquire(store_shared->maps_lock, LW_SHARED);
	handle = attached_handle(dboid, mapid);
	LWLockRelease(store_shared->maps_lock);
	return handle;
}

/* the slot of a handle, or NULL when the handle is out of range */
static StoreMapSlot *
slot_of_handle(int handle)
{
	int			idx = HANDLE_SLOT(handle);

	if (handle < 0 || idx <= 0 || idx > store_shared->max_maps)
		return NULL;
	return store_map_slot(idx);
}

bool
store_map_owned(int handle, Oid dboid, int32 mapid)
{
	StoreMapSlot *slot = slot_of_handle(handle);

	return slot != NULL && slot->in_use && slot->dboid == dboid &&
		slot->mapid == mapid &&
		(slot->generation & 0x7FFF) == HANDLE_GENERATION(handle);
}

/*
 * Detach a map: first make every handle to it stale (so no backend adds
 * items behind our back: writers check the handle under the partition
 * lock), then remove its items, then free the slot.
 */
void
store_map_detach(int handle, Oid dboid, int32 mapid)
{
	StoreMapSlot *slot = slot_of_handle(handle);
	bool		mine;

	if (slot == NULL)
		return;
	LWLockAcquire(store_shared->maps_lock, LW_EXCLUSIVE);
	mine = store_map_owned(handle, dboid, mapid);
	if (mine)
	{
		slot->generation++;
		slot->mapid = -1;
	}
	LWLockRelease(store_shared->maps_lock);
	if (!mine)
		return;

	items_remove_slot(HANDLE_SLOT(handle), -1);

	LWLockAcquire(store_shared->maps_lock, LW_EXCLUSIVE);
	slot->in_use = false;
	slot->dboid = InvalidOid;
	LWLockRelease(store_shared->maps_lock);
}

/* detach every map of a database (DROP EXTENSION, DROP DATABASE) */
int64
store_flush_database(Oid dboid)
{
	int64		removed = 0;
	int			i;

	for (i = 1; i <= store_shared->max_maps; i++)
	{
		StoreMapSlot *slot = store_map_slot(i);
		int			handle;
		int32		mapid;

		LWLockAcquire(store_shared->maps_lock, LW_SHARED);
		handle = (slot->in_use && slot->dboid == dboid && slot->mapid >= 0) ?
			MAKE_HANDLE(slot->generation, i) : -1;
		mapid = slot->mapid;
		LWLockRelease(store_shared->maps_lock);
		if (handle < 0)
			continue;
		removed += (int64) pg_atomic_read_u64(&slot->items);
		store_map_detach(handle, dboid, mapid);
	}
	return removed;
}

/*
 * A map's counters, zero when the handle is stale.  Atomics: read without
 * a lock, each a recent value (not a snapshot of all of them at once).
 */
void
store_map_stats(int handle, StoreCounters *counters)
{
	StoreMapSlot *slot = slot_of_handle(handle);

	store_read_counts_flush();
	memset(counters, 0, sizeof(StoreCounters));
	if (slot == NULL || !slot->in_use ||
		(slot->generation & 0x7FFF) != HANDLE_GENERATION(handle))
		return;
	counters->items = (int64) pg_atomic_read_u64(&slot->items);
	counters->bytes_used = (int64) pg_atomic_read_u64(&slot->bytes_used);
	counters->payload_bytes = (int64) pg_atomic_read_u64(&slot->payload_bytes);
	counters->hits = (int64) pg_atomic_read_u64(&slot->hits);
	counters->misses = (int64) pg_atomic_read_u64(&slot->misses);
	counters->sets = (int64) pg_atomic_read_u64(&slot->sets);
	counters->deletes = (int64) pg_atomic_read_u64(&slot->deletes);
	counters->evictions = (int64) pg_atomic_read_u64(&slot->evictions);
	counters->expirations = (int64) pg_atomic_read_u64(&slot->expirations);
}
