/*-------------------------------------------------------------------------
 *
 * slab.c
 *		Size classes, pages and chunks: the allocator's primitives (free
 *		lists, the page pool, cutting a page into chunks, handing a page from
 *		one class to another, giving chunks back).
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
 * Which chunk an item gets (a free one, a pool page, room found without
 * evicting, an eviction, a page move) is slab_alloc.c's; this file is the
 * floor of the allocator and calls none of its other files.  The bytes of
 * free chunks are counted here for slab_alloc's decisions, per backend
 * until each store operation ends.
 *
 * Each class keeps the pages it owns in a ring, doubly linked through their
 * descriptors (StorePage next_in_class/prev_in_class, page indexes; the
 * class's first_page, -1 for none), each new one just behind the CLOCK
 * hand (ring_page), and counts those holding no item (idle_pages).  A page joins the ring when it is
 * carved into the class (carve_page) and leaves it when a page move takes
 * it (detach_page, unring_page); page_used_add keeps idle_pages as items
 * come and go.  So the sweeps of a class (reclaim_expired, the CLOCK hand,
 * emptiest_page, movable_page) cost that class's pages, not all pages, and
 * finding an idle page of another class (take_idle_page_for) costs the
 * classes plus the pages of one that has one.  The CLOCK hand goes round
 * the ring.
 *
 * Locking: a class's LWLock protects its free list, counters, its ring
 * and the descriptors of its pages; a ring is only ever walked under its
 * class's lock (a glance at idle_pages without it is only a hint).  The
 * pool has a spinlock, taken last.
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

bool		slab_lock_was_busy = false;

/* free chunk bytes noted by this backend, not yet in the shared count */
static int64 free_bytes_pending = 0;

static void ring_page(StoreClass *cls, int page);
static void unring_page(StoreClass *cls, int page);
static void detach_page(int victim_class, int page);

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
		cls->first_page = -1;
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
	page_used_add(cls, item_page(item), -1);
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
	return true;
}

/*
 * Count 'delta' more (or fewer) items on a page of the class (lock held),
 * keeping the class's count of idle pages.
 */
void
page_used_add(StoreClass *cls, int page, int delta)
{
	StorePage  *desc = store_page(page);

	if (desc->used == 0)
		cls->idle_pages--;
	desc->used += delta;
	if (desc->used == 0)
		cls->idle_pages++;
}

/*
 * A page (holding no item yet) joins the class's ring just behind the
 * CLOCK hand (at the end when the hand is at no page, for it starts at the
 * first): the hand comes to the items put there last, as to those put in
 * chunks it just freed.
 */
static void
ring_page(StoreClass *cls, int page)
{
	StorePage  *desc = store_page(page);

	if (cls->first_page < 0)
	{
		desc->next_in_class = desc->prev_in_class = page;
		cls->first_page = page;
	}
	else
	{
		int			at = cls->hand_page >= 0 ? cls->hand_page : cls->first_page;
		StorePage  *next = store_page(at);

		desc->next_in_class = at;
		desc->prev_in_class = next->prev_in_class;
		store_page(next->prev_in_class)->next_in_class = page;
		next->prev_in_class = page;
	}
	cls->idle_pages++;
}

/* a page leaves the class's ring (its page move, class lock held) */
static void
unring_page(StoreClass *cls, int page)
{
	StorePage  *desc = store_page(page);

	Assert(cls->first_page >= 0 && desc->class_id == cls - store_class(0));
	if (desc->used == 0)
		cls->idle_pages--;
	if (desc->next_in_class == page)
		cls->first_page = -1;
	else
	{
		store_page(desc->prev_in_class)->next_in_class = desc->next_in_class;
		store_page(desc->next_in_class)->prev_in_class = desc->prev_in_class;
		if (cls->first_page == page)
			cls->first_page = desc->next_in_class;
	}
	desc->next_in_class = desc->prev_in_class = -1;
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
	ring_page(cls, page);
	for (i = cls->chunks_per_page - 1; i >= 0; i--)
		list_free_chunk(cls, page_chunk(page, cls->chunk_size, i));
	note_free_bytes((int64) cls->chunks_per_page * cls->chunk_size);
	cls->pages++;
	cls->evicts_since_grow = 0;
}

/* take an emptied page out of the victim class: drop its free chunks */
static void
detach_page(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);

	unlist_page(vcls, page);
	unring_page(vcls, page);
	vcls->pages--;
	vcls->pages_moved_out++;
	if (vcls->hand_page == page)
		vcls->hand_page = -1;
	store_page(page)->class_id = -1;
}

/*
 * Move an emptied page of the victim class (its lock held, released here)
 * to 'class_id' (whose lock the caller holds).
 */
void
give_page(int victim_class, int page, int class_id)
{
	detach_page(victim_class, page);
	LWLockRelease(store_class(victim_class)->lock);
	carve_page(class_id, page);
	store_class(class_id)->pages_moved_in++;
}

/*
 * Take an idle page (no item on it) of another class for 'class_id', if it
 * still is one.  Nothing is evicted.
 */
bool
take_idle_page(int page, int class_id)
{
	int			victim = store_page(page)->class_id;	/* checked below */

	if (victim < 0 || victim == class_id ||
		!slab_try_lock(store_class(victim)->lock))
		return false;
	if (store_page(page)->class_id != victim || store_page(page)->used != 0)
	{
		LWLockRelease(store_class(victim)->lock);
		return false;
	}
	give_page(victim, page, class_id);
	return true;
}

/*
 * Give the class (lock held) an idle page of another class, if there is
 * one: the classes that count idle pages (a glance without their locks)
 * are tried, and their rings walked under their locks.
 */
bool
take_idle_page_for(int class_id)
{
	int			c;

	for (c = 0; c < store_shared->nclasses; c++)
	{
		StoreClass *vcls = store_class(c);
		int			page;
		int			n;

		if (c == class_id || vcls->idle_pages == 0 ||
			!slab_try_lock(vcls->lock))
			continue;
		page = vcls->first_page;
		for (n = 0; n < vcls->pages && store_page(page)->used != 0; n++)
			page = next_class_page(vcls, page);
		if (n < vcls->pages)
		{
			give_page(c, page, class_id);
			return true;
		}
		LWLockRelease(vcls->lock);
	}
	return false;
}
