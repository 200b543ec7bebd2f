/*-------------------------------------------------------------------------
 *
 * slab.c
 *		Size classes, pages and chunks: where items get their memory.
 *
 * Pages of a fixed size (64kB) start in a free pool and are given to size
 * classes on demand; a class cuts its pages into chunks of its size.
 * Classes are 4 bytes apart up to 1kB and then 1/16 apart, so an item
 * wastes on average a few bytes to rounding (memcached's 1.25 factor wastes
 * about a tenth).  The last class is one chunk per page; an item larger than
 * that is chained: a head chunk with the key and the references of data
 * chunks of the last class (see store_internal.h).
 *
 * When a class has no free chunk and the pool no free page, the class
 * evicts: expired items first (a full sweep, run only when the class knows
 * something has expired), then by CLOCK over its chunks, which gives a
 * second chance to items read since the hand last passed.  A class under
 * pressure that has evicted a quarter page's worth of items takes a page from the
 * class that has gone longest without evicting (memcached's automove, by
 * eviction age): a change in value sizes moves memory instead of stranding
 * it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "miscadmin.h"
#include "storage/spin.h"

#include "store/store_internal.h"

/* allocation attempts when evictions met busy locks */
#define ALLOC_ATTEMPTS 2000

/* set when an eviction skipped a victim because a lock was busy */
static bool lock_was_busy = false;

static bool try_lock(LWLock *lock);
static void note_expiry(StoreClass *cls, uint32 expire);
static uint32 pop_free_chunk(StoreClass *cls);
static void push_free_chunk(StoreClass *cls, StoreItem *item);
static void release_chunk(StoreClass *cls, StoreItem *item);
static void release_data_chunks(StoreItem *head, StoreItem *keep);
static bool take_pool_page(int class_id);
static void carve_page(int class_id, int page);
static uint32 evict_in_class(int class_id);
static bool may_evict(StoreItem *owner, uint32 tick, bool clear_ref);
static bool reclaim_chunk(StoreItem *chunk, bool expired);
static void reclaim_expired(int class_id);
static bool should_grow(StoreClass *cls);
static int	find_idle_page(int class_id);
static int	choose_victim_class(int class_id);
static int	emptiest_page(int victim);
static bool move_page_to(int class_id);
static bool empty_page(int victim_class, int page);
static void detach_page(int victim_class, int page);
static bool next_hand_chunk(int class_id, StoreItem **item);

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

/* all the chunk bytes an item holds: its own chunk and any data chunks */
int64
item_chunk_bytes(StoreItem *item)
{
	int64		bytes = item_class(item)->chunk_size;

	if (item_is_large(item))
	{
		uint32		count;

		large_refs(item, &count);
		bytes += (int64) count * data_class()->chunk_size;
	}
	return bytes;
}

/*
 * A chunk of 'class_id' for item_size bytes, or 0 when nothing can be
 * freed.  The caller holds no partition lock (evictions lock the victims'
 * partitions).  The chunk comes back marked free (MAPSLOT_FREE): the caller
 * fills it and sets mapslot last.
 */
uint32
slab_alloc(int class_id, Size item_size, uint32 expire)
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
		lock_was_busy = false;
		LWLockAcquire(cls->lock, LW_EXCLUSIVE);
		ref = pop_free_chunk(cls);
		if (ref == 0 && take_pool_page(class_id))
			ref = pop_free_chunk(cls);
		if (ref == 0)
			ref = evict_in_class(class_id);
		if (ref != 0)
		{
			cls->used++;
			cls->item_bytes += item_size;
			store_page(item_page(item_at(ref)))->used++;
			note_expiry(cls, expire);
		}
		LWLockRelease(cls->lock);
		if (ref != 0 || !lock_was_busy || attempt >= ALLOC_ATTEMPTS)
			return ref;
		if (attempt % 16 == 15)
			pg_usleep(100L);
		else
			pg_spin_delay();
	}
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
static bool
try_lock(LWLock *lock)
{
	if (LWLockConditionalAcquire(lock, LW_EXCLUSIVE))
		return true;
	lock_was_busy = true;
	return false;
}

/* keep next_expiry at or before the earliest expiry of the class's items */
static void
note_expiry(StoreClass *cls, uint32 expire)
{
	if (expire != 0 && (cls->next_expiry == 0 || expire < cls->next_expiry))
		cls->next_expiry = expire;
}

static uint32
pop_free_chunk(StoreClass *cls)
{
	uint32		ref = cls->free_head;

	if (ref != 0)
	{
		cls->free_head = item_at(ref)->next;
		cls->free_count--;
	}
	return ref;
}

static void
push_free_chunk(StoreClass *cls, StoreItem *item)
{
	item->mapslot = MAPSLOT_FREE;
	item->next = cls->free_head;
	cls->free_head = item_ref(item);
	cls->free_count++;
}

/* a used chunk of the class (lock held) goes back to its free list */
static void
release_chunk(StoreClass *cls, StoreItem *item)
{
	cls->used--;
	cls->item_bytes -= item_total_size(item);
	store_page(item_page(item))->used--;
	push_free_chunk(cls, item);
}

/* free a large item's data chunks but 'keep' (data class lock held) */
static void
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
static bool
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

/* cut a page into free chunks of the class, lowest address first out */
static void
carve_page(int class_id, int page)
{
	StoreClass *cls = store_class(class_id);
	char	   *start = page_start(page);
	int64		i;

	store_page(page)->class_id = class_id;
	store_page(page)->used = 0;
	for (i = cls->chunks_per_page - 1; i >= 0; i--)
		push_free_chunk(cls, (StoreItem *) (start + i * cls->chunk_size));
	cls->pages++;
	cls->last_grow = pg_atomic_read_u64(&store_shared->evict_clock);
	cls->evicts_since_grow = 0;
}

/*
 * Whether the item owning a chunk may go now: expired items always, live
 * ones when their map is evictable and (with clear_ref) they have not been
 * read since the CLOCK hand last passed.  Items being built or replaced
 * never.
 */
static bool
may_evict(StoreItem *owner, uint32 tick, bool clear_ref)
{
	if (owner->mapslot == MAPSLOT_FREE || owner->mapslot == MAPSLOT_DATA ||
		owner->ref == REF_PINNED)
	{
		/* being built or replaced by another backend: busy, not kept */
		lock_was_busy = true;
		return false;
	}
	if (item_expired(owner, tick))
		return true;
	if (!store_map_slot(owner->mapslot)->evictable)
		return false;
	if (clear_ref && owner->ref == REF_SET)
	{
		owner->ref = REF_CLEAR;
		return false;
	}
	return true;
}

/*
 * Take the item owning 'chunk' (a chunk of the class whose lock we hold) out
 * of the index and free all its chunks but 'chunk' itself, which stays
 * counted as used for the caller.  Locks of other partitions and classes are
 * only tried; false when one is busy.
 */
static bool
reclaim_chunk(StoreItem *chunk, bool expired)
{
	StoreItem  *owner = chunk->mapslot == MAPSLOT_DATA ? item_at(chunk->next) : chunk;
	StoreClass *other = NULL;
	int			partition;
	StorePartition *part;

	/* a large item spans its head's class and the data class */
	if (item_is_large(owner))
	{
		other = (owner == chunk) ? data_class() : item_class(owner);
		if (!try_lock(other->lock))
			return false;
	}
	partition = hash_partition_of(item_hash(owner->mapslot, item_key(owner),
											item_keylen(owner)));
	part = store_partition(partition);
	if (!try_lock(part->lock))
	{
		if (other)
			LWLockRelease(other->lock);
		return false;
	}

	item_unlink_evicted(partition, owner, expired);
	if (other != NULL)
	{
		release_data_chunks(owner, chunk);
		if (owner != chunk)
			release_chunk(other, owner);
		LWLockRelease(other->lock);
	}
	LWLockRelease(part->lock);
	return true;
}

/*
 * The class is full: free one chunk and return it (still counted as used,
 * marked free), or 0.  Called with the class lock held.
 */
static uint32
evict_in_class(int class_id)
{
	StoreClass *cls = store_class(class_id);
	int64		budget;
	StoreItem  *chunk;
	uint32		tick = now_tick();

	if (cls->next_expiry != 0 && cls->next_expiry <= tick)
	{
		reclaim_expired(class_id);
		if (cls->free_head != 0)
			return pop_free_chunk(cls);
	}

	if (should_grow(cls) && move_page_to(class_id))
		return pop_free_chunk(cls);

	/* CLOCK: two turns of the hand find a victim if any is evictable */
	budget = 2 * (int64) cls->pages * cls->chunks_per_page + 1;
	while (budget-- > 0 && next_hand_chunk(class_id, &chunk))
	{
		StoreItem  *owner;
		bool		expired;

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		owner = chunk->mapslot == MAPSLOT_DATA ? item_at(chunk->next) : chunk;
		if (!may_evict(owner, tick, true))
			continue;
		expired = item_expired(owner, tick);
		if (reclaim_chunk(chunk, expired))
		{
			cls->item_bytes -= item_total_size(chunk);
			chunk->mapslot = MAPSLOT_FREE;
			cls->last_pressure = pg_atomic_fetch_add_u64(&store_shared->evict_clock, 1);
			cls->evicts_since_grow++;
			if (!expired)
				cls->evictions++;
			/* stays counted in 'used' and its page: the caller reuses it */
			cls->used--;
			store_page(item_page(chunk))->used--;
			return item_ref(chunk);
		}
	}

	/* nothing evictable here: any page elsewhere will do */
	if (move_page_to(class_id))
		return pop_free_chunk(cls);
	return 0;
}

/*
 * Sweep the whole class once, freeing every expired item and learning the
 * next expiry among those left.
 */
static void
reclaim_expired(int class_id)
{
	StoreClass *cls = store_class(class_id);
	uint32		tick = now_tick();
	uint32		next = 0;
	int			page;

	for (page = 0; page < store_shared->npages; page++)
	{
		char	   *start = page_start(page);
		uint32		i;

		if (store_page(page)->class_id != class_id || store_page(page)->used == 0)
			continue;
		for (i = 0; i < cls->chunks_per_page; i++)
		{
			StoreItem  *item = (StoreItem *) (start + (Size) i * cls->chunk_size);

			/* data chunks go with their head, in the head's class */
			if (item->mapslot == MAPSLOT_FREE || item->mapslot == MAPSLOT_DATA ||
				item_expire(item) == 0)
				continue;
			if (item_expired(item, tick) && item->ref != REF_PINNED &&
				reclaim_chunk(item, true))
			{
				release_chunk(cls, item);
				continue;
			}
			if (next == 0 || item_expire(item) < next)
				next = item_expire(item);
		}
	}
	cls->next_expiry = next;
}

/*
 * A class grows (takes a page from another class) when it has none, or
 * when it has evicted a quarter page's worth of items since it last grew:
 * soon enough that a change of value sizes is followed within a few
 * thousand sets, seldom enough that a steady mix does not churn.
 */
static bool
should_grow(StoreClass *cls)
{
	return cls->pages == 0 ||
		cls->evicts_since_grow >= Max(cls->chunks_per_page / 4, 1);
}

/* a page of another class holding no item, or -1 */
static int
find_idle_page(int class_id)
{
	int			page;

	for (page = 0; page < store_shared->npages; page++)
	{
		StorePage  *desc = store_page(page);

		if (desc->class_id >= 0 && desc->class_id != class_id && desc->used == 0)
			return page;
	}
	return -1;
}

/*
 * The class to take a page from: the one that has gone longest without
 * evicting (ties: the one with most pages), provided it has not evicted
 * since 'class_id' last grew (else neither is under more pressure than the
 * other).  A class with no page takes one from anywhere.  -1 if none.
 */
static int
choose_victim_class(int class_id)
{
	StoreClass *cls = store_class(class_id);
	int			victim = -1;
	int			i;

	for (i = 0; i < store_shared->nclasses; i++)
	{
		StoreClass *other = store_class(i);

		if (i == class_id || other->pages == 0)
			continue;
		if (cls->pages > 0 && other->last_pressure != 0 &&
			other->last_pressure >= cls->last_grow)
			continue;
		if (victim < 0 ||
			other->last_pressure < store_class(victim)->last_pressure ||
			(other->last_pressure == store_class(victim)->last_pressure &&
			 other->pages > store_class(victim)->pages))
			victim = i;
	}
	return victim;
}

/* the victim class's page holding the fewest items */
static int
emptiest_page(int victim)
{
	int			page,
				best_page = -1;
	uint32		best_used = PG_UINT32_MAX;

	for (page = 0; page < store_shared->npages; page++)
	{
		if (store_page(page)->class_id == victim &&
			store_page(page)->used < best_used)
		{
			best_used = store_page(page)->used;
			best_page = page;
		}
	}
	return best_page;
}

/*
 * Give the class a page of another: an idle one (no item on it) if there
 * is any, else the emptiest page of the class chosen above, whose items are
 * evicted.  Victim classes and partitions are only try-locked.
 */
static bool
move_page_to(int class_id)
{
	StoreClass *cls = store_class(class_id);
	int			page = find_idle_page(class_id);
	int			victim = page >= 0 ? store_page(page)->class_id :
		choose_victim_class(class_id);

	if (victim < 0 || !try_lock(store_class(victim)->lock))
		return false;
	/* under the victim's lock, the page must still be its own */
	if (page < 0 || store_page(page)->class_id != victim)
		page = emptiest_page(victim);
	if (page < 0 || !empty_page(victim, page))
	{
		LWLockRelease(store_class(victim)->lock);
		return false;
	}
	detach_page(victim, page);
	LWLockRelease(store_class(victim)->lock);

	carve_page(class_id, page);
	cls->pages_moved_in++;
	return true;
}

/* evict every item of a page (victim class lock held); false if one is busy */
static bool
empty_page(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	char	   *start = page_start(page);
	uint32		tick = now_tick();
	uint32		i;

	for (i = 0; i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = (StoreItem *) (start + (Size) i * vcls->chunk_size);
		StoreItem  *owner;
		bool		expired;

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		owner = chunk->mapslot == MAPSLOT_DATA ? item_at(chunk->next) : chunk;
		if (!may_evict(owner, tick, false))
			return false;
		expired = item_expired(owner, tick);
		if (!reclaim_chunk(chunk, expired))
			return false;
		release_chunk(vcls, chunk);
		if (!expired)
			vcls->evictions++;
	}
	return true;
}

/* take an emptied page out of the victim class: drop its free chunks */
static void
detach_page(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	uint32	   *link = &vcls->free_head;

	while (*link != 0)
	{
		StoreItem  *item = item_at(*link);

		if (item_page(item) == page)
		{
			*link = item->next;
			vcls->free_count--;
		}
		else
			link = &item->next;
	}
	vcls->pages--;
	vcls->pages_moved_out++;
	if (vcls->hand_page == page)
		vcls->hand_page = -1;
	store_page(page)->class_id = -1;
}

/*
 * Advance the class's CLOCK hand to its next chunk.  false when the class
 * has no page.
 */
static bool
next_hand_chunk(int class_id, StoreItem **item)
{
	StoreClass *cls = store_class(class_id);
	int			page = cls->hand_page;
	int			tries;

	if (cls->pages == 0)
		return false;
	if (page >= 0 && cls->hand_chunk + 1 < cls->chunks_per_page)
		cls->hand_chunk++;
	else
	{
		/* next page of this class, wrapping around */
		for (tries = 0; tries < store_shared->npages; tries++)
		{
			page = (page + 1) % store_shared->npages;
			if (store_page(page)->class_id == class_id)
				break;
		}
		cls->hand_page = page;
		cls->hand_chunk = 0;
	}
	*item = (StoreItem *) (page_start(cls->hand_page) +
						   (Size) cls->hand_chunk * cls->chunk_size);
	return true;
}
