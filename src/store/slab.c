/*-------------------------------------------------------------------------
 *
 * slab.c
 *		Size classes, pages and chunks: where items get their memory.
 *
 * Pages (a thousandth of the budget, 4kB..64kB) start in a free pool and
 * are given to size classes on demand; a class cuts its pages into chunks
 * of its size.
 * Classes are 4 bytes apart up to 1kB and then 1/16 apart, so an item
 * wastes on average a few bytes to rounding (memcached's 1.25 factor wastes
 * about a tenth).  The last class is one chunk per page; an item larger than
 * that is chained: a head chunk with the key and the references of data
 * chunks of the last class (see store_internal.h).
 *
 * When a class has no free chunk and the pool no free page, it finds room
 * without evicting while a large share of the cache is free chunks (an
 * idle page, a slightly larger class's chunk, a page emptied by moving its
 * items: compact.c), else it evicts (evict.c) or takes a page from another
 * class (page_move.c).  The bytes of free chunks are counted for that
 * decision, per backend until each store operation ends.
 *
 * Locking: a class's LWLock protects its free list, counters and the
 * descriptors of its pages; the pool has a spinlock, taken last.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "miscadmin.h"
#include "storage/spin.h"

#include "store/slab_internal.h"

/* allocation attempts when evictions met busy locks */
#define ALLOC_ATTEMPTS 2000

bool		slab_lock_was_busy = false;

/* free chunk bytes noted by this backend, not yet in the shared count */
static int64 free_bytes_pending = 0;

static void hand_out(StoreClass *cls, uint32 ref, Size item_size,
					 uint32 expire);
static bool room_without_eviction(Size need);
static uint32 room_elsewhere(int class_id, Size item_size, uint32 expire,
							 Size need);
static uint32 borrow_chunk(int class_id, Size item_size, uint32 expire,
						   bool evict);

/*
 * Lay out the size classes (postmaster, at segment creation).  The last
 * class is exactly one page.
 */
void
slab_init_classes(void)
{
	Size		size = TYPEALIGN(STORE_ALIGN, ITEM_HEADER_SIZE);
	int			n = 0;

	while (n < STORE_MAX_CLASSES)
	{
		StoreClass *cls = store_class(n);

		if (size > store_shared->page_size || n == STORE_MAX_CLASSES - 1)
			size = store_shared->page_size;
		memset(cls, 0, sizeof(StoreClass));
		cls->chunk_size = size;
		cls->chunks_per_page = store_shared->page_size / size;
		cls->hand_page = -1;
		cls->rate_since = store_shared->epoch;
		n++;
		if (size == store_shared->page_size)
			break;
		if (size < STORE_FINE_LIMIT)
			size += STORE_ALIGN;
		else
			size = TYPEALIGN(STORE_ALIGN, (Size) ceil(size * STORE_GROWTH));
	}
	store_shared->nclasses = n;
}

/* the smallest class whose chunks hold 'size' bytes (size <= page size) */
int
slab_class_for(Size size)
{
	int			lo,
				hi;

	if (size <= STORE_FINE_LIMIT)
	{
		size = Max(size, ITEM_HEADER_SIZE);
		return (int) ((TYPEALIGN(STORE_ALIGN, size) - ITEM_HEADER_SIZE) / STORE_ALIGN);
	}
	lo = (STORE_FINE_LIMIT - ITEM_HEADER_SIZE) / STORE_ALIGN;
	hi = store_shared->nclasses - 1;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (store_class(mid)->chunk_size >= size)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

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
	store_page(item_page(item_at(ref)))->used++;
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
 * The largest chunk an item of 'size' bytes may be moved to when a page is
 * emptied for another class (compact.c): twice its size, or 64 bytes over
 * it.  Items are moved so only while the cache is mostly free.
 */
Size
relocation_limit(Size size)
{
	return Max(2 * size, size + 64);
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
 * Give back the chunks of an item the caller has unlinked (or never
 * published) while holding its partition lock.
 */
void
slab_free(StoreItem *item)
{
	StoreClass *cls = item_class(item);

	if (item_is_large(item))
	{
		LWLockAcquire(data_class()->lock, LW_EXCLUSIVE);
		release_data_chunks(item, NULL);
		LWLockRelease(data_class()->lock);
	}
	LWLockAcquire(cls->lock, LW_EXCLUSIVE);
	release_chunk(cls, item);
	LWLockRelease(cls->lock);
}

/* an item of the class (whose partition the caller holds) expires at 'expire' */
void
slab_note_expiry(StoreItem *item, uint32 expire)
{
	StoreClass *cls = item_class(item);

	LWLockAcquire(cls->lock, LW_EXCLUSIVE);
	note_expiry(cls, expire);
	LWLockRelease(cls->lock);
}

/* LWLockConditionalAcquire, remembering a failure for slab_alloc */
bool
slab_try_lock(LWLock *lock)
{
	if (LWLockConditionalAcquire(lock, LW_EXCLUSIVE))
		return true;
	slab_lock_was_busy = true;
	return false;
}

/*
 * Lock another class than the one we hold, unless it is one we hold
 * already (*taken says whether to release it).  Only tried.
 */
bool
slab_lock_other(StoreClass *cls, bool *taken)
{
	*taken = false;
	if (LWLockHeldByMeInMode(cls->lock, LW_EXCLUSIVE))
		return true;
	*taken = slab_try_lock(cls->lock);
	return *taken;
}

/* keep next_expiry at or before the earliest expiry of the class's items */
void
note_expiry(StoreClass *cls, uint32 expire)
{
	if (expire != 0 && (cls->next_expiry == 0 || expire < cls->next_expiry))
		cls->next_expiry = expire;
}

/* hand out a free chunk, marked reserved until its item is published */
uint32
pop_free_chunk(StoreClass *cls)
{
	uint32		ref = cls->free_head;

	if (ref != 0)
	{
		cls->free_head = item_at(ref)->next;
		cls->free_count--;
		item_at(ref)->mapslot = MAPSLOT_RESERVED;
		note_free_bytes(-(int64) cls->chunk_size);
	}
	return ref;
}

/* a chunk of the class (lock held) goes on its free list */
void
push_free_chunk(StoreClass *cls, StoreItem *item)
{
	list_free_chunk(cls, item);
	note_free_bytes(cls->chunk_size);
}

/* push_free_chunk but for the count of free bytes, which the caller keeps */
void
list_free_chunk(StoreClass *cls, StoreItem *item)
{
	item->mapslot = MAPSLOT_FREE;
	item->next = cls->free_head;
	cls->free_head = item_ref(item);
	cls->free_count++;
}

/*
 * The cache's free chunks hold 'delta' more bytes.  Counted in this backend
 * until a page's worth piles up or its store operation ends
 * (slab_settle_free_bytes), so that a set replacing an item of its own
 * class (a chunk taken, a chunk given back) costs no atomic operation.
 */
void
note_free_bytes(int64 delta)
{
	free_bytes_pending += delta;
	if (free_bytes_pending >= (int64) store_shared->page_size ||
		free_bytes_pending <= -(int64) store_shared->page_size)
		slab_settle_free_bytes();
}

/* count what this backend noted in the cache's free chunk bytes */
void
slab_settle_free_bytes(void)
{
	if (free_bytes_pending != 0)
		pg_atomic_fetch_add_u64(&store_shared->free_chunk_bytes,
								free_bytes_pending);
	free_bytes_pending = 0;
}

/* a used chunk of the class (lock held) goes back to its free list */
void
release_chunk(StoreClass *cls, StoreItem *item)
{
	cls->used--;
	cls->item_bytes -= item_total_size(item);
	store_page(item_page(item))->used--;
	push_free_chunk(cls, item);
}

/*
 * Take the page's free chunks off the class's free list (class lock held):
 * they count as neither free nor used until relist_page or detach_page.
 */
void
unlist_page(StoreClass *cls, int page)
{
	uint32	   *link = &cls->free_head;
	int64		taken = 0;

	while (*link != 0)
	{
		StoreItem  *item = item_at(*link);

		if (item_page(item) == page)
		{
			*link = item->next;
			taken++;
		}
		else
			link = &item->next;
	}
	cls->free_count -= taken;
	note_free_bytes(-taken * (int64) cls->chunk_size);
}

/* free a large item's data chunks but 'keep' (data class lock held) */
void
release_data_chunks(StoreItem *head, StoreItem *keep)
{
	uint32		count;
	uint32	   *refs = large_refs(head, &count);
	uint32		i;

	for (i = 0; i < count && refs[i] != 0; i++)
	{
		StoreItem  *piece = item_at(refs[i]);

		if (piece != keep)
			release_chunk(data_class(), piece);
	}
}

/* move a page from the free pool to the class; false when the pool is empty */
bool
take_pool_page(int class_id)
{
	int			page;

	SpinLockAcquire(&store_shared->pool_lock);
	page = store_shared->free_page_head;
	if (page >= 0)
	{
		store_shared->free_page_head = store_page(page)->next_free;
		store_shared->free_pages--;
	}
	SpinLockRelease(&store_shared->pool_lock);
	if (page < 0)
		return false;
	carve_page(class_id, page);
	clock_now();
	return true;
}

/* cut a page into free chunks of the class, lowest address first out */
void
carve_page(int class_id, int page)
{
	StoreClass *cls = store_class(class_id);
	int64		i;

	/* a class's eviction rate counts from its first page */
	if (cls->pages == 0)
	{
		cls->rate_since = GetCurrentTimestamp();
		cls->rate_evictions = 0;
	}
	store_page(page)->class_id = class_id;
	store_page(page)->used = 0;
	for (i = cls->chunks_per_page - 1; i >= 0; i--)
		list_free_chunk(cls, page_chunk(page, cls->chunk_size, i));
	note_free_bytes((int64) cls->chunks_per_page * cls->chunk_size);
	cls->pages++;
	cls->evicts_since_grow = 0;
}

/*
 * The time now, also kept in shared memory as a recent time that a set can
 * read without asking the kernel (it costs a system call on some machines).
 * Pages taken from the pool while the cache fills and page-move decisions
 * once it is full keep it fresh.
 */
TimestampTz
clock_now(void)
{
	TimestampTz now = GetCurrentTimestamp();

	pg_atomic_write_u64(&store_shared->clock, (uint64) now);
	return now;
}
