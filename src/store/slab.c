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
 * second chance to items read since the hand last passed.
 *
 * Pages move between classes (memcached's automove, balancing by age): each
 * class estimates how long an item survives in it, its capacity divided by
 * its recent eviction rate.  A class under pressure takes a page from the
 * class whose items survive longest, when they survive clearly longer than
 * its own.  Memory so follows the traffic: a change in value sizes moves
 * pages to the new sizes instead of stranding them, and a steady mix keeps
 * items of every size for about as long (an approximation of one global
 * LRU).
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

/* a class takes a page when another's items survive this much longer */
#define MOVE_SURVIVAL_RATIO 1.5

/* victim classes tried for one page move */
#define MOVE_CANDIDATES 8

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
static TimestampTz clock_now(void);
static void note_eviction(StoreClass *cls);
static double survival_time(StoreClass *cls, TimestampTz now);
static bool should_grow(StoreClass *cls);
static bool page_is_movable(int victim_class, int page);
static int	movable_page(int victim);
static int	find_idle_page(int class_id);
static int	choose_victim_class(int class_id, const bool *tried);
static bool take_page_from(int victim, int page, int class_id);
static StoreItem *clock_evict(int class_id, int skip_page);
static int64 free_chunks_on(int class_id, int page);
static StoreItem *pop_free_chunk_off(StoreClass *cls, int page);
static bool repoint_chunk(StoreItem *chunk, StoreItem *dest, uint32 *link);
static bool relocate_chunk(StoreClass *cls, StoreItem *chunk, int page);
static bool compact_away(int victim_class, int page);
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
			cls->last_alloc = GetCurrentTimestamp();
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

/* hand out a free chunk, marked reserved until its item is published */
static uint32
pop_free_chunk(StoreClass *cls)
{
	uint32		ref = cls->free_head;

	if (ref != 0)
	{
		cls->free_head = item_at(ref)->next;
		cls->free_count--;
		item_at(ref)->mapslot = MAPSLOT_RESERVED;
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
	clock_now();
	return true;
}

/* cut a page into free chunks of the class, lowest address first out */
static void
carve_page(int class_id, int page)
{
	StoreClass *cls = store_class(class_id);
	int64		i;

	store_page(page)->class_id = class_id;
	store_page(page)->used = 0;
	for (i = cls->chunks_per_page - 1; i >= 0; i--)
		push_free_chunk(cls, page_chunk(page, cls->chunk_size, i));
	cls->pages++;
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
	if (owner->mapslot == MAPSLOT_RESERVED || owner->mapslot == MAPSLOT_FREE ||
		owner->mapslot == MAPSLOT_DATA || owner->ref == REF_PINNED)
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
	StoreItem  *owner = chunk_owner(chunk);
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
 * CLOCK: evict the next item the hand finds evictable, skipping chunks on
 * 'skip_page' (-1: none), and return its chunk, no longer counted as used,
 * for the caller to hand out or free.  Two turns of the hand find a victim
 * if any is evictable.  NULL if none.  Class lock held.
 */
static StoreItem *
clock_evict(int class_id, int skip_page)
{
	StoreClass *cls = store_class(class_id);
	int64		budget = 2 * (int64) cls->pages * cls->chunks_per_page + 1;
	uint32		tick = now_tick();
	StoreItem  *chunk;

	while (budget-- > 0 && next_hand_chunk(class_id, &chunk))
	{
		StoreItem  *owner;
		bool		expired;

		if (chunk->mapslot == MAPSLOT_FREE || item_page(chunk) == skip_page)
			continue;
		owner = chunk_owner(chunk);
		if (!may_evict(owner, tick, true))
			continue;
		expired = item_expired(owner, tick);
		if (!reclaim_chunk(chunk, expired))
			continue;
		cls->item_bytes -= item_total_size(chunk);
		cls->used--;
		store_page(item_page(chunk))->used--;
		if (!expired)
		{
			cls->evictions++;
			note_eviction(cls);
		}
		return chunk;
	}
	return NULL;
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

	if (should_grow(cls) && move_page_to(class_id))
		return pop_free_chunk(cls);

	chunk = clock_evict(class_id, -1);
	if (chunk != NULL)
	{
		chunk->mapslot = MAPSLOT_RESERVED;
		return item_ref(chunk);
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
			uint32		i;

		if (store_page(page)->class_id != class_id || store_page(page)->used == 0)
			continue;
		for (i = 0; i < cls->chunks_per_page; i++)
		{
			StoreItem  *item = page_chunk(page, cls->chunk_size, i);

			/* data chunks go with their head, in the head's class */
			if (item->mapslot == MAPSLOT_FREE || item->mapslot == MAPSLOT_DATA ||
				item->mapslot == MAPSLOT_RESERVED || item_expire(item) == 0)
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
 * The time now, also kept in shared memory as a recent time that a set can
 * read without asking the kernel (it costs a system call on some machines).
 * Pages taken from the pool while the cache fills and page-move decisions
 * once it is full keep it fresh.
 */
static TimestampTz
clock_now(void)
{
	TimestampTz now = GetCurrentTimestamp();

	pg_atomic_write_u64(&store_shared->clock, (uint64) now);
	return now;
}

/* count an eviction in the class's rate, forgetting the past by halves */
static void
note_eviction(StoreClass *cls)
{
	cls->evicts_since_grow++;
	cls->rate_evictions++;
	if (cls->rate_evictions > 2 * (int64) cls->pages * cls->chunks_per_page + 64)
	{
		cls->rate_evictions /= 2;
		cls->rate_since += (clock_now() - cls->rate_since) / 2;
	}
}

/*
 * How long an item survives in the class, in microseconds: its capacity
 * over its recent eviction rate.  A class that has not evicted lately
 * counts as holding items as long as it has been counting.
 */
static double
survival_time(StoreClass *cls, TimestampTz now)
{
	double		elapsed = Max(now - cls->rate_since, 1);

	return elapsed * cls->pages * cls->chunks_per_page /
		Max(cls->rate_evictions, 1);
}

/*
 * A class grows (takes a page from another class) when it has none, or
 * when it has evicted a quarter page's worth of items since it last grew.
 */
static bool
should_grow(StoreClass *cls)
{
	return cls->pages == 0 ||
		cls->evicts_since_grow >= Max(cls->chunks_per_page / 4, 1);
}

/*
 * The class to take a page from: the one whose items survive longest,
 * provided they survive clearly (1.5 times) longer than this class's own;
 * a page is then taken by evicting that class's oldest items and moving the
 * rest off the page, as one LRU over both classes would.  A class's last
 * page goes only when its newest item is older than this class's items
 * live (the class is idle), or to a class with no page at all.  -1 if none.
 */
static int
choose_victim_class(int class_id, const bool *tried)
{
	StoreClass *cls = store_class(class_id);
	TimestampTz now = clock_now();
	double		best = cls->pages > 0 ? MOVE_SURVIVAL_RATIO * survival_time(cls, now) : -1;
	int			victim = -1;
	int			i;

	for (i = 0; i < store_shared->nclasses; i++)
	{
		StoreClass *other = store_class(i);
		double		survival;

		if (i == class_id || other->pages == 0 || tried[i])
			continue;
		if (other->pages == 1 && cls->pages > 0 &&
			now - other->last_alloc <= survival_time(cls, now))
			continue;
		survival = survival_time(other, now);
		if (survival > best)
		{
			best = survival;
			victim = i;
		}
	}
	return victim;
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
 * Whether every item of a page may be evicted now (victim class lock
 * held): none is being built, replaced, or of a map that is never evicted.
 */
static bool
page_is_movable(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	uint32		tick = now_tick();
	uint32		i;

	for (i = 0; i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, vcls->chunk_size, i);

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		if (chunk->mapslot == MAPSLOT_RESERVED)
		{
			lock_was_busy = true;
			return false;
		}
		if (!may_evict(chunk_owner(chunk),
					   tick, false))
			return false;
	}
	return true;
}

/*
 * A page of the victim class that can be moved: its emptiest, else the
 * next pages the CLOCK hand will visit (their items were least recently
 * given a second chance).  -1 if none of a few is.
 */
static int
movable_page(int victim)
{
	StoreClass *vcls = store_class(victim);
	int			page = emptiest_page(victim);
	int			tries = 0;
	int			p;

	if (page >= 0 && page_is_movable(victim, page))
		return page;
	for (p = Max(vcls->hand_page, 0); tries < store_shared->npages; tries++)
	{
		p = (p + 1) % store_shared->npages;
		if (store_page(p)->class_id == victim && p != page &&
			page_is_movable(victim, p))
			return p;
		if (tries > 4 * 64)
			break;
	}
	return -1;
}

/*
 * Take a page from the victim class for 'class_id': 'page' if it is still
 * the victim's and idle, else a movable one.  false if none could be had.
 */
static bool
take_page_from(int victim, int page, int class_id)
{
	if (!try_lock(store_class(victim)->lock))
		return false;
	if (page < 0 || store_page(page)->class_id != victim ||
		store_page(page)->used != 0)
		page = movable_page(victim);
	if (page < 0 ||
		!(store_class(victim)->pages > 1 ? compact_away(victim, page) :
		  empty_page(victim, page)))
	{
		LWLockRelease(store_class(victim)->lock);
		return false;
	}
	detach_page(victim, page);
	LWLockRelease(store_class(victim)->lock);

	carve_page(class_id, page);
	store_class(class_id)->pages_moved_in++;
	return true;
}

/*
 * Give the class a page of another: an idle one (no item on it) if there
 * is any, else a movable page of the classes chosen above, best first (the
 * best may hold nothing movable, e.g. only the head of the large item we
 * are building).  Victim classes and partitions are only try-locked.
 */
static bool
move_page_to(int class_id)
{
	bool		tried[STORE_MAX_CLASSES] = {0};
	int			page = find_idle_page(class_id);
	int			attempt;

	if (page >= 0 && take_page_from(store_page(page)->class_id, page, class_id))
		return true;
	for (attempt = 0; attempt < MOVE_CANDIDATES; attempt++)
	{
		int			victim = choose_victim_class(class_id, tried);

		if (victim < 0)
			break;
		if (take_page_from(victim, -1, class_id))
			return true;
		tried[victim] = true;
	}
	return false;
}

/* free chunks of the class lying on 'page' */
static int64
free_chunks_on(int class_id, int page)
{
	StoreClass *cls = store_class(class_id);
	int64		count = 0;
	uint32		i;

	for (i = 0; i < cls->chunks_per_page; i++)
		if ((page_chunk(page, cls->chunk_size, i))->mapslot == MAPSLOT_FREE)
			count++;
	return count;
}

/* pop a free chunk of the class that is not on 'page' (there is one) */
static StoreItem *
pop_free_chunk_off(StoreClass *cls, int page)
{
	uint32		aside = 0;
	StoreItem  *found = NULL;

	while (found == NULL && cls->free_head != 0)
	{
		StoreItem  *chunk = item_at(pop_free_chunk(cls));

		if (item_page(chunk) != page)
			found = chunk;
		else
		{
			chunk->next = aside;
			aside = item_ref(chunk);
		}
	}
	while (aside != 0)
	{
		StoreItem  *chunk = item_at(aside);

		aside = chunk->next;
		push_free_chunk(cls, chunk);
	}
	return found;
}

/*
 * Point whatever references a chunk at its copy 'dest': the index chain
 * (its 'link') for an item, the head's reference list for a data piece,
 * and for a large head its pieces' back references (the data class is then
 * try-locked).  The owner's partition lock is held.  false when a lock was
 * busy.
 */
static bool
repoint_chunk(StoreItem *chunk, StoreItem *dest, uint32 *link)
{
	uint32		old_ref = item_ref(chunk);
	uint32		new_ref = item_ref(dest);
	uint32		count;
	uint32	   *refs;
	uint32		i;

	if (chunk->mapslot == MAPSLOT_DATA)
	{
		refs = large_refs(item_at(chunk->next), &count);
		for (i = 0; i < count; i++)
			if (refs[i] == old_ref)
				refs[i] = new_ref;
		return true;
	}
	if (item_is_large(chunk))
	{
		if (!try_lock(data_class()->lock))
			return false;
		refs = large_refs(chunk, &count);
		for (i = 0; i < count && refs[i] != 0; i++)
			item_at(refs[i])->next = new_ref;
		LWLockRelease(data_class()->lock);
	}
	*link = new_ref;
	return true;
}

/*
 * Move what a chunk holds (an item, a large head or a data piece) to a free
 * chunk of its class off 'page', under the owning item's partition lock.
 * false when a lock is busy.  Class lock held.
 */
static bool
relocate_chunk(StoreClass *cls, StoreItem *chunk, int page)
{
	StoreItem  *owner = chunk_owner(chunk);
	uint64		hash = item_hash(owner->mapslot, item_key(owner), item_keylen(owner));
	int			partition = hash_partition_of(hash);
	StorePartition *part = store_partition(partition);
	uint32	   *link = NULL;
	StoreItem  *dest;

	if (!try_lock(part->lock))
		return false;
	/* a published item is always in its chain while we hold its partition */
	if (chunk->mapslot != MAPSLOT_DATA &&
		(link = items_link_to(partition, hash, chunk)) == NULL)
	{
		LWLockRelease(part->lock);
		return false;
	}
	dest = pop_free_chunk_off(cls, page);
	memcpy(dest, chunk, item_total_size(chunk));
	if (!repoint_chunk(chunk, dest, link))
	{
		push_free_chunk(cls, dest);
		LWLockRelease(part->lock);
		return false;
	}
	store_page(item_page(dest))->used++;
	store_page(page)->used--;
	chunk->mapslot = MAPSLOT_FREE;
	LWLockRelease(part->lock);
	return true;
}

/*
 * Free a movable page of a class that keeps other pages: evict the class's
 * oldest items (by CLOCK, off this page) until its other pages have room
 * for what this page holds, then move that there.  false if a lock was
 * busy.
 */
static bool
compact_away(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	int64		room = vcls->free_count - free_chunks_on(victim_class, page);
	uint32		i;

	while (room < store_page(page)->used)
	{
		StoreItem  *chunk = clock_evict(victim_class, page);

		if (chunk == NULL)
			return false;
		push_free_chunk(vcls, chunk);
		room++;
	}
	for (i = 0; i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, vcls->chunk_size, i);

		if (chunk->mapslot != MAPSLOT_FREE && !relocate_chunk(vcls, chunk, page))
			return false;
	}
	return true;
}

/*
 * Evict every item of a movable page (victim class lock held); false if a
 * partition or class lock was busy (the items evicted so far stay evicted).
 */
static bool
empty_page(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	uint32		tick = now_tick();
	uint32		i;

	for (i = 0; i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, vcls->chunk_size, i);
		StoreItem  *owner;
		bool		expired;

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		owner = chunk_owner(chunk);
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
