/*-------------------------------------------------------------------------
 *
 * slab_alloc.c
 *		Where an item's chunk comes from: the order in which slab_alloc
 *		tries the class's free chunks, the page pool, room found without
 *		evicting (compact.c), evictions (evict.c) and page moves
 *		(page_move.c).
 *
 * The top of the allocator: it calls the chunk and page primitives of
 * slab.c, the sweeps of evict.c, compact.c and page_move.c, and nothing
 * calls back up into it from there, so the allocator's files call each
 * other in one direction (slab_alloc.c -> page_move.c -> compact.c ->
 * evict.c -> slab.c).
 *
 * Locking: slab_alloc takes the lock of the item's class (waiting), the
 * caller holding no partition lock; everything below it only tries other
 * classes' and partitions' locks (slab_try_lock), and when one was busy
 * slab_alloc tries again rather than report a cache that is not full as
 * full.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

#include "store/item_time.h"
#include "store/slab_internal.h"

/* allocation attempts when evictions met busy locks */
#define ALLOC_ATTEMPTS 2000

static void hand_out(StoreClass *cls, uint32 ref, Size item_size,
					 uint32 expire);
static bool room_without_eviction(Size need);
static uint32 room_elsewhere(int class_id, Size item_size, uint32 expire,
							 Size need);
static uint32 borrow_chunk(int class_id, Size item_size, uint32 expire,
						   bool evict);
static uint32 evict_in_class(int class_id);

/*
 * A chunk for item_size bytes, of 'class_id' or of a slightly larger
 * class, or 0 when nothing can be freed.  'need' is what the item still
 * needs, this chunk included (a large item takes several).  The caller
 * holds no partition lock (evictions lock the victims' partitions).  The
 * chunk comes back reserved (MAPSLOT_RESERVED): the caller fills it and
 * publishes its mapslot last.
 *
 * In that order: a free chunk of the class, a page of the pool; then, while
 * the cache's free chunks could hold the item with room to spare
 * (room_without_eviction), a free chunk of a slightly larger class or a page
 * emptied by moving items (compact.c), for nothing is evicted while a large
 * share of the cache is free; then evictions (evict.c), where a class
 * without pages borrows chunks of a larger class before taking a page.
 */
uint32
slab_alloc(int class_id, Size item_size, uint32 expire, Size need)
{
	StoreClass *cls = store_class(class_id);
	uint32		ref;
	int			attempt;

	/*
	 * Evictions only try the locks of other partitions and classes; when one
	 * was busy, try again (the CLOCK hand has moved on, or the holder is
	 * done) rather than report a cache that is not full as full.
	 */
	for (attempt = 0;; attempt++)
	{
		slab_lock_was_busy = false;
		LWLockAcquire(cls->lock, LW_EXCLUSIVE);
		ref = pop_free_chunk(cls);
		if (ref == 0 && take_pool_page(class_id))
			ref = pop_free_chunk(cls);
		if (ref != 0)
			hand_out(cls, ref, item_size, expire);
		else if (room_without_eviction(need) &&
				 (ref = room_elsewhere(class_id, item_size, expire, need)) != 0)
			;					/* counted where it was found */
		else if (cls->pages == 0 && !should_grow(cls) &&
				 (ref = borrow_chunk(class_id, item_size, expire, true)) != 0)
			cls->evicts_since_grow++;
		else if ((ref = evict_in_class(class_id)) != 0)
			hand_out(cls, ref, item_size, expire);
		LWLockRelease(cls->lock);
		if (ref != 0 || !slab_lock_was_busy || attempt >= ALLOC_ATTEMPTS)
			return ref;
		if (attempt % 16 == 15)
			pg_usleep(100L);
		else
			pg_spin_delay();
	}
}

/* count a chunk of the class (lock held) as used by an item of item_size */
static void
hand_out(StoreClass *cls, uint32 ref, Size item_size, uint32 expire)
{
	cls->used++;
	cls->item_bytes += item_size;
	cls->last_alloc = GetCurrentTimestamp();
	page_used_add(cls, item_page(item_at(ref)), 1);
	note_expiry(cls, expire);
}

/*
 * Whether room for 'need' more bytes is to be found without evicting: the
 * cache's free chunks hold it and two pages more, and more than a
 * thirty-second of the pages (store_layout's sparse_bytes).  Below that the
 * cache is full: it evicts, as memcached does, rather than move items on
 * every set.  After a search for room found none, not again for as much
 * until the free chunks have grown by two pages (room_elsewhere scans the
 * pages).  Other backends' counts may lag by less than a page each.
 */
static bool
room_without_eviction(Size need)
{
	uint64		free;
	uint64		failed = pg_atomic_read_u64(&store_shared->room_failed_at);

	slab_settle_free_bytes();
	free = pg_atomic_read_u64(&store_shared->free_chunk_bytes);

	if (failed != 0 && free < failed + 2 * store_shared->page_size &&
		need >= pg_atomic_read_u64(&store_shared->room_failed_need))
		return false;
	return free >= store_shared->sparse_bytes &&
		free >= need + 2 * store_shared->page_size;
}

/*
 * The largest chunk a new item of 'size' bytes may borrow from a larger
 * class: an eighth over its size, or 16 bytes (four classes) for small
 * ones, so that borrowing costs little to rounding.
 */
static Size
borrow_limit(Size size)
{
	return size + Max(size / 8, 16);
}

/*
 * Room for an item of the (held, empty) class found without evicting: an
 * idle page of another class, a free chunk of a slightly larger class, or
 * a page emptied by moving items, in that order (the cheapest first, and
 * what wastes nothing to rounding first).  Counted as used; 0 if none.
 */
static uint32
room_elsewhere(int class_id, Size item_size, uint32 expire, Size need)
{
	StoreClass *cls = store_class(class_id);
	uint64		free = pg_atomic_read_u64(&store_shared->free_chunk_bytes);
	uint32		ref = 0;

	if (!take_idle_page_for(class_id) &&
		(ref = borrow_chunk(class_id, item_size, expire, false)) != 0)
		return ref;
	if (cls->free_head != 0 || evacuate_page_to(class_id))
	{
		ref = pop_free_chunk(cls);
		if (ref != 0)
			hand_out(cls, ref, item_size, expire);
	}

	/* found none, and not for want of a lock: do not look again at once */
	if (ref == 0 && !slab_lock_was_busy)
		pg_atomic_write_u64(&store_shared->room_failed_need, need);
	pg_atomic_write_u64(&store_shared->room_failed_at,
						ref != 0 || slab_lock_was_busy ? 0 : Max(free, 1));
	return ref;
}

/* the largest chunk slab_alloc may give an item of 'size' bytes */
Size
slab_largest_chunk(Size size)
{
	int			c = slab_class_for(size);

	while (c + 1 < store_shared->nclasses &&
		   store_class(c + 1)->chunk_size <= borrow_limit(size))
		c++;
	return store_class(c)->chunk_size;
}

/*
 * A chunk of the smallest larger class (up to borrow_limit) for an item of
 * the held class: a free one, or with 'evict' one its CLOCK frees.
 * Counted as used in that class; 0 if none.
 */
static uint32
borrow_chunk(int class_id, Size item_size, uint32 expire, bool evict)
{
	Size		limit = borrow_limit(item_size);
	uint32		ref = 0;
	int			c;

	for (c = class_id + 1; ref == 0 && c < store_shared->nclasses &&
		 store_class(c)->chunk_size <= limit; c++)
	{
		StoreClass *other = store_class(c);
		StoreItem  *chunk;

		/* a glance without the lock, to try only classes with room */
		if ((evict ? other->pages : other->free_count) == 0 ||
			!slab_try_lock(other->lock))
			continue;
		ref = pop_free_chunk(other);
		if (ref == 0 && evict && (chunk = clock_evict(c, -1)) != NULL)
		{
			chunk->mapslot = MAPSLOT_RESERVED;
			ref = item_ref(chunk);
		}
		if (ref != 0)
			hand_out(other, ref, item_size, expire);
		LWLockRelease(other->lock);
	}
	return ref;
}

/*
 * The class is full: free one chunk and return it (marked reserved, not
 * counted as used), or 0.  Called with the class lock held.
 */
static uint32
evict_in_class(int class_id)
{
	StoreClass *cls = store_class(class_id);
	StoreItem  *chunk;

	if (cls->next_expiry != 0 && cls->next_expiry <= now_tick())
	{
		reclaim_expired(class_id);
		if (cls->free_head != 0)
			return pop_free_chunk(cls);
	}

	if (should_grow(cls) && move_page_to(class_id, false))
		return pop_free_chunk(cls);

	chunk = clock_evict(class_id, -1);
	if (chunk != NULL)
	{
		chunk->mapslot = MAPSLOT_RESERVED;
		return item_ref(chunk);
	}

	/*
	 * Nothing evictable here (e.g. only the pieces of the large item being
	 * built): a page of any class that has something evictable, whatever
	 * the survival times say, so that a set into an evictable map fails
	 * only when nothing at all can be evicted.
	 */
	if (move_page_to(class_id, true))
		return pop_free_chunk(cls);
	return 0;
}
