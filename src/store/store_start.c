/*-------------------------------------------------------------------------
 *
 * store_start.c
 *		Start-up of the store's segment: it is created and laid out
 *		(store.c's store_layout) and every part of it initialised (the size
 *		classes: slab.c's slab_init_classes), once, at postmaster start.
 *
 * The one file of the store that calls down into the others' init
 * functions; nothing calls it but _PG_init's shared-memory hook.  The
 * segment is laid out under AddinShmemInitLock; every error comes before
 * (store_check_settings), none under it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "pg_memshard.h"
#include "store/store_internal.h"

static void store_init_segment(StoreShared *shared);

void
store_shmem_startup(void)
{
	bool		found;
	StoreShared *shared;

	/* errors come before the lock: nothing raises under it */
	store_check_settings();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_memshard", store_shmem_size(), &found);
	if (!found)
		store_init_segment(shared);
	LWLockRelease(AddinShmemInitLock);
	store_shared = shared;
}

static void
store_init_segment(StoreShared *shared)
{
	LWLockPadded *locks = GetNamedLWLockTranche(STORE_LWLOCK_TRANCHE);
	int			i;

	memset(shared, 0, sizeof(StoreShared));
	store_layout(shared);
	/* on the 100 ms grid of Unix time: expiries on it are kept exactly */
	shared->epoch = GetCurrentTimestamp() / (STORE_TICK_MS * 1000) *
		(STORE_TICK_MS * 1000);
	pg_atomic_init_u64(&shared->free_chunk_bytes, 0);
	pg_atomic_init_u64(&shared->room_failed_at, 0);
	pg_atomic_init_u64(&shared->room_failed_need, 0);
	pg_atomic_init_u64(&shared->read_counters.c.retries, 0);
	pg_atomic_init_u64(&shared->read_counters.c.fallbacks, 0);
	SpinLockInit(&shared->pool_lock);
	shared->maps_lock = &locks[memshard_partitions + STORE_MAX_CLASSES].lock;

	/* from here on the accessors of store_internal.h work */
	store_shared = shared;

	for (i = 0; i < shared->npartitions; i++)
	{
		StorePartition *part = store_partition(i);

		memset(part, 0, sizeof(StorePartition));
		part->lock = &locks[i].lock;
		pg_atomic_init_u32(&part->seq, 0);
		pg_atomic_init_u64(&part->hits, 0);
		pg_atomic_init_u64(&part->misses, 0);
	}
	memset(store_buckets(0), 0,
		   sizeof(uint32) * shared->buckets_per_partition * shared->npartitions);

	slab_init_classes();
	for (i = 0; i < STORE_MAX_CLASSES; i++)
		store_class(i)->lock = &locks[shared->npartitions + i].lock;

	/*
	 * The pool hands out the last pages first, so that the far end of the
	 * segment (the largest chunk references) is in use from the first item
	 * on, not only once the cache is full.
	 */
	for (i = 0; i < shared->npages; i++)
	{
		store_page(i)->class_id = -1;
		store_page(i)->used = 0;
		store_page(i)->next_free = i - 1;
		store_page(i)->next_in_class = store_page(i)->prev_in_class = -1;
	}
	shared->free_page_head = shared->npages - 1;
	shared->free_pages = shared->npages;

	memset(store_map_slot(0), 0, sizeof(StoreMapSlot) * (shared->max_maps + 1));
}
