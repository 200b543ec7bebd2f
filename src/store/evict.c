/*-------------------------------------------------------------------------
 *
 * evict.c
 *		Making room in a full class: expired items first, then CLOCK.
 *
 * When a class has no free chunk and the pool no free page, the class
 * evicts (slab_alloc.c's evict_in_class): expired items first (a full
 * sweep of its pages, reclaim_expired, run only when the class knows
 * something has expired), then by CLOCK over its chunks (clock_evict),
 * which gives a second chance to items read since the hand last passed.
 * may_evict and reclaim_chunk also serve page moves.  Evicted items leave
 * the index through index.c; nothing here calls the item operations.
 *
 * Locking: called with the class lock held; the partitions of victims (and
 * for a large item the other class it spans) are only tried.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"

#include "store/item_time.h"
#include "store/slab_internal.h"

static bool later_piece(StoreItem *chunk);
static bool next_hand_chunk(int class_id, StoreItem **item);

/*
 * Whether the item owning a used chunk may go now, and which it is
 * (*owner): expired items always, live ones when their map is evictable and
 * (with clear_ref) they have not been read since the CLOCK hand last
 * passed.  Items being built never.
 */
bool
may_evict(StoreItem *chunk, uint32 tick, bool clear_ref, StoreItem **owner_out)
{
	StoreItem  *owner = published_owner(chunk);

	*owner_out = owner;
	if (owner == NULL)
	{
		/* being built by another backend: busy, not kept */
		slab_lock_was_busy = true;
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
bool
reclaim_chunk(StoreItem *chunk, bool expired)
{
	StoreItem  *owner = chunk_owner(chunk);
	StoreClass *other = NULL;
	bool		other_taken = false;
	int			partition;
	StorePartition *part;

	/* a large item spans its head's class and the data class */
	if (item_is_large(owner))
	{
		other = (owner == chunk) ? data_class() : item_class(owner);
		if (!slab_lock_other(other, &other_taken))
			return false;
	}
	partition = hash_partition_of(item_hash(owner->mapslot, item_key(owner),
											item_keylen(owner)));
	part = store_partition(partition);
	if (!part_try_lock(part))
	{
		if (other_taken)
			LWLockRelease(other->lock);
		return false;
	}

	if (!index_unlink_evicted(partition, owner, expired))
	{
		if (other_taken)
			LWLockRelease(other->lock);
		part_unlock(part);
		return false;
	}
	if (other != NULL)
	{
		release_data_chunks(owner, chunk);
		if (owner != chunk)
			release_chunk(other, owner);
		if (other_taken)
			LWLockRelease(other->lock);
	}
	part_unlock(part);
	return true;
}

/*
 * Whether a chunk is a data piece of a large item other than its first:
 * the hand weighs a large item once a turn, at its first piece, or the
 * first piece would clear its reference and the next evict it at once.
 */
static bool
later_piece(StoreItem *chunk)
{
	StoreItem  *owner;
	uint32		count;

	if (chunk->mapslot != MAPSLOT_DATA || (owner = published_owner(chunk)) == NULL)
		return false;
	return large_refs(owner, &count)[0] != item_ref(chunk);
}

/*
 * CLOCK: evict the next item the hand finds evictable, skipping chunks on
 * 'skip_page' (the page a page move empties; -1: none), and return its
 * chunk, no longer counted as used, for the caller to hand out or free.
 * Two turns of the hand find a victim if any is evictable.  NULL if none.
 * Class lock held.
 */
StoreItem *
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

		if (chunk->mapslot == MAPSLOT_FREE || item_page(chunk) == skip_page ||
			later_piece(chunk))
			continue;
		if (!may_evict(chunk, tick, true, &owner))
			continue;
		expired = item_expired(owner, tick);
		if (!reclaim_chunk(chunk, expired))
			continue;
		cls->item_bytes -= item_total_size(chunk);
		cls->used--;
		page_used_add(cls, item_page(chunk), -1);
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
 * Sweep the whole class once, freeing every expired item and learning the
 * next expiry among those left.
 */
void
reclaim_expired(int class_id)
{
	StoreClass *cls = store_class(class_id);
	uint32		tick = now_tick();
	uint32		next = 0;
	int			page = cls->first_page;
	int			n;

	for (n = 0; n < cls->pages; n++, page = next_class_page(cls, page))
	{
		uint32		i;

		if (store_page(page)->used == 0)
			continue;
		for (i = 0; i < cls->chunks_per_page; i++)
		{
			StoreItem  *item = page_chunk(page, cls->chunk_size, i);

			/* data chunks go with their head, in the head's class */
			if (published_owner(item) != item || item_expire(item) == 0)
				continue;
			if (item_expired(item, tick) && reclaim_chunk(item, true))
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

/* count an eviction in the class's rate, forgetting the past by halves */
void
note_eviction(StoreClass *cls)
{
	cls->evicts_since_grow++;
	cls->rate_evictions++;
	if (cls->rate_evictions > 2 * (int64) cls->pages * cls->chunks_per_page + 64)
	{
		cls->rate_evictions /= 2;
		cls->rate_since += (GetCurrentTimestamp() - cls->rate_since) / 2;
	}
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

	if (cls->pages == 0)
		return false;
	if (page >= 0 && cls->hand_chunk + 1 < cls->chunks_per_page)
		cls->hand_chunk++;
	else
	{
		/* next page of the class's ring, which wraps around */
		cls->hand_page = next_class_page(cls, page);
		cls->hand_chunk = 0;
	}
	*item = (StoreItem *) (page_start(cls->hand_page) +
						   (Size) cls->hand_chunk * cls->chunk_size);
	return true;
}
