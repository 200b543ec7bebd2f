/*-------------------------------------------------------------------------
 *
 * compact.c
 *		Emptying a page by moving its items elsewhere.
 *
 * Two users.  A page move in a full cache (page_move.c) frees a page of a
 * class that keeps other pages: the class evicts its oldest items until its
 * other pages have room for what the page holds, then the page's items move
 * there (compact_away).  And while the cache is sparse (a large share of it
 * free chunks, see room_without_eviction), a class that needs a page gets one
 * without anything being evicted (evacuate_page_to): an idle page of
 * another class, else the page holding fewest items whose items all find
 * free chunks elsewhere, in their own class or in a larger one up to
 * relocation_limit.  That is what keeps a cache of many sparsely used size
 * classes from evicting while most of it is free, and what gives a large
 * item its pages when every page belongs to some class.
 *
 * While a page is emptied its free chunks are off its class's free list,
 * so that every chunk popped from the list lies elsewhere; they go back on
 * it if the page cannot be emptied after all.
 *
 * Locking: called with the lock of the class receiving the page held; the
 * victim class, any class moved into, the item's partition and (for a
 * large item's head) the data class are only tried.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"

#include "store/slab_internal.h"

/* pages tried by one evacuation, fewest items first */
#define EVACUATE_CANDIDATES 4

static void relist_page(StoreClass *cls, int page);
static bool repoint_chunk(StoreItem *chunk, StoreItem *dest, uint32 *link);
static bool move_chunk(StoreClass *from, StoreItem *chunk, StoreClass *to);
static StoreClass *lock_room_for(StoreClass *from, Size size, bool *taken);
static bool evacuate(int victim, int page, int class_id);
static int	room_class_end(int victim);
static int	pick_candidates(int class_id, int *pages);

/*
 * Put the page's free chunks back on the class's free list, each once
 * (some may be on it already: the pieces of a large item evicted meanwhile).
 */
static void
relist_page(StoreClass *cls, int page)
{
	uint32		i;

	unlist_page(cls, page);
	for (i = 0; i < cls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, cls->chunk_size, i);

		if (chunk->mapslot == MAPSLOT_FREE)
			push_free_chunk(cls, chunk);
	}
}

/*
 * Point whatever references a chunk at its copy 'dest': the index chain
 * (its 'link') for an item, the head's reference list for a data piece,
 * and for a large head its pieces' back references (the data class is then
 * tried).  The owner's partition lock is held.  false when a lock was busy.
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
		bool		taken;

		if (!slab_lock_other(data_class(), &taken))
			return false;
		refs = large_refs(chunk, &count);
		for (i = 0; i < count && refs[i] != 0; i++)
			item_at(refs[i])->next = new_ref;
		if (taken)
			LWLockRelease(data_class()->lock);
	}
	*link = new_ref;
	return true;
}

/*
 * The largest chunk an item of 'size' bytes may be moved to when a page is
 * emptied for another class (compact.c): twice its size, or 64 bytes over
 * it.  Items are moved so only while the cache is mostly free.
 */
static Size
relocation_limit(Size size)
{
	return Max(2 * size, size + 64);
}

/*
 * Move what a chunk of class 'from' holds (an item, a large head or a data
 * piece) into a free chunk of class 'to' ('from' itself, or a larger class
 * for an item or head; both locked, and no chunk on 'to's free list lies on
 * the page being emptied), under the owning item's partition lock, which is
 * tried.  The chunk left behind is free but on no list.  false when a lock
 * is busy or the chunk is being filled; then nothing changed.
 */
static bool
move_chunk(StoreClass *from, StoreItem *chunk, StoreClass *to)
{
	StoreItem  *owner = published_owner(chunk);
	Size		size;
	uint64		hash;
	int			partition;
	StorePartition *part;
	uint32	   *link = NULL;
	StoreItem  *dest;

	if (owner == NULL)
	{
		slab_lock_was_busy = true;
		return false;
	}
	hash = item_hash(owner->mapslot, item_key(owner), item_keylen(owner));
	partition = hash_partition_of(hash);
	part = store_partition(partition);
	if (!part_try_lock(part))
		return false;
	/* a published item is always in its chain while we hold its partition */
	if (chunk->mapslot != MAPSLOT_DATA &&
		(link = index_link_to(partition, hash, chunk)) == NULL)
	{
		part_unlock(part);
		return false;
	}
	dest = item_at(pop_free_chunk(to));
	size = item_total_size(chunk);
	memcpy(dest, chunk, size);
	if (!repoint_chunk(chunk, dest, link))
	{
		push_free_chunk(to, dest);
		part_unlock(part);
		return false;
	}
	page_used_add(to, item_page(dest), 1);
	page_used_add(from, item_page(chunk), -1);
	if (to != from)
	{
		from->used--;
		from->item_bytes -= size;
		to->used++;
		to->item_bytes += size;
		note_expiry(to, item_expire(dest));
		index_moved_class(partition, dest,
						 (int64) to->chunk_size - (int64) from->chunk_size);
	}
	chunk->mapslot = MAPSLOT_FREE;
	part_unlock(part);
	return true;
}

/*
 * A class with a free chunk for an item of 'size' bytes now in 'from': from
 * itself, else the smallest larger class up to relocation_limit that can be
 * locked (*taken: locked here, to be released by the caller).  NULL if none.
 */
static StoreClass *
lock_room_for(StoreClass *from, Size size, bool *taken)
{
	Size		limit = relocation_limit(size);
	int			c;

	*taken = false;
	if (from->free_count > 0)
		return from;
	for (c = (int) (from - store_class(0)) + 1;
		 c < store_shared->nclasses && store_class(c)->chunk_size <= limit; c++)
	{
		StoreClass *to = store_class(c);

		/* a glance without the lock, to try only classes with room */
		if (to->free_count == 0 || !slab_lock_other(to, taken))
			continue;
		if (to->free_count > 0)
			return to;
		if (*taken)
			LWLockRelease(to->lock);
		*taken = false;
	}
	return NULL;
}

/*
 * Free a movable page of a class that keeps other pages: evict the class's
 * oldest items (by CLOCK, off this page) until its other pages have room
 * for what this page holds, then move that there.  false if a lock was
 * busy.  Victim class lock held.
 */
bool
compact_away(int victim_class, int page)
{
	StoreClass *vcls = store_class(victim_class);
	uint32		i;

	unlist_page(vcls, page);
	while (vcls->free_count < store_page(page)->used)
	{
		StoreItem  *chunk = clock_evict(victim_class, page);

		if (chunk == NULL)
		{
			relist_page(vcls, page);
			return false;
		}
		push_free_chunk(vcls, chunk);
		/* a large item evicted from the data class frees all its pieces */
		if (vcls == data_class())
			unlist_page(vcls, page);
	}
	for (i = 0; i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, vcls->chunk_size, i);

		if (chunk->mapslot != MAPSLOT_FREE && !move_chunk(vcls, chunk, vcls))
		{
			relist_page(vcls, page);
			return false;
		}
	}
	return true;
}

/*
 * Empty a page of the victim class by moving every item on it to free
 * chunks elsewhere (lock_room_for), and give it to 'class_id'.  Nothing is
 * evicted; false when an item finds no room or a lock is busy (the items
 * moved so far stay moved).
 */
static bool
evacuate(int victim, int page, int class_id)
{
	StoreClass *vcls = store_class(victim);
	bool		done = true;
	uint32		i;

	if (!slab_try_lock(vcls->lock))
		return false;
	if (store_page(page)->class_id != victim)
	{
		LWLockRelease(vcls->lock);
		return false;
	}
	unlist_page(vcls, page);
	for (i = 0; done && i < vcls->chunks_per_page; i++)
	{
		StoreItem  *chunk = page_chunk(page, vcls->chunk_size, i);
		StoreClass *to;
		bool		taken;

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		to = lock_room_for(vcls, item_total_size(chunk), &taken);
		done = to != NULL && move_chunk(vcls, chunk, to);
		if (taken)
			LWLockRelease(to->lock);
	}
	if (!done)
	{
		relist_page(vcls, page);
		LWLockRelease(vcls->lock);
		return false;
	}
	give_page(victim, page, class_id);
	return true;
}

/*
 * One past the last class whose free chunks could take the items of a
 * victim's page (items up to its chunk size may move up to
 * relocation_limit).
 */
static int
room_class_end(int victim)
{
	Size		limit = relocation_limit(store_class(victim)->chunk_size);
	int			c = victim + 1;

	while (c < store_shared->nclasses && store_class(c)->chunk_size <= limit)
		c++;
	return c;
}

/*
 * The pages of other classes an evacuation for 'class_id' should try, into
 * pages[]: an idle page (no item) alone if there is one, else up to
 * EVACUATE_CANDIDATES pages holding fewest items among those whose items
 * the free chunks of their class and the classes above it could take (a
 * glance without locks).  Pages of the page-sized class hold one chunk:
 * moving it frees nothing.  Returns how many; -1 - page for an idle one.
 */
static int
pick_candidates(int class_id, int *pages)
{
	int64		free_upto[STORE_MAX_CLASSES + 1];
	int			n = 0;
	int			c,
				page;

	/* free_upto[c]: free chunks in classes below c */
	free_upto[0] = 0;
	for (c = 0; c < store_shared->nclasses; c++)
		free_upto[c + 1] = free_upto[c] + store_class(c)->free_count;

	for (page = 0; page < store_shared->npages; page++)
	{
		StorePage  *desc = store_page(page);
		int			victim = desc->class_id;
		StoreClass *vcls;
		int64		room;
		int			i;

		if (victim < 0 || victim == class_id)
			continue;
		if (desc->used == 0)
			return -1 - page;
		if (victim == store_shared->nclasses - 1)
			continue;
		vcls = store_class(victim);
		room = free_upto[room_class_end(victim)] - free_upto[victim] -
			(vcls->chunks_per_page - desc->used);
		if (room < desc->used)
			continue;
		/* keep pages[] sorted by items held, fewest first */
		if (n == EVACUATE_CANDIDATES &&
			store_page(pages[n - 1])->used <= desc->used)
			continue;
		if (n < EVACUATE_CANDIDATES)
			n++;
		for (i = n - 1; i > 0 && store_page(pages[i - 1])->used > desc->used; i--)
			pages[i] = pages[i - 1];
		pages[i] = page;
	}
	return n;
}

/*
 * While the cache is mostly free: give the class (lock held) a page of
 * another class, emptied without evicting anything.  false if none could
 * be had.
 */
bool
evacuate_page_to(int class_id)
{
	int			pages[EVACUATE_CANDIDATES];
	int			n = pick_candidates(class_id, pages);
	int			i;

	if (n < 0)
		return take_idle_page(-1 - n, class_id);
	for (i = 0; i < n; i++)
	{
		/* a glance: evacuate checks again under the victim's lock */
		int			victim = store_page(pages[i])->class_id;

		if (victim >= 0 && victim != class_id &&
			evacuate(victim, pages[i], class_id))
			return true;
	}
	return false;
}
