/*-------------------------------------------------------------------------
 *
 * slab_internal.h
 *		What the allocator's files share: chunk lists and pages (slab.c),
 *		evictions (evict.c), page moves (page_move.c, compact.c).  Not for
 *		the rest of the store, which uses slab_alloc (slab_alloc.c) and
 *		slab_free (store_internal.h).  They call each other in one
 *		direction: slab_alloc.c -> page_move.c -> compact.c -> evict.c ->
 *		slab.c.
 *
 * Every function here is called with the lock of the class it names held
 * (exclusive); locks of other classes and of partitions are only tried
 * (slab_try_lock), so that no cycle of waits can form.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_SLAB_INTERNAL_H
#define MEMSHARD_SLAB_INTERNAL_H

#include "store/store_internal.h"

/* set when an eviction or move skipped something because a lock was busy */
extern bool slab_lock_was_busy;

/* slab.c */
extern bool slab_try_lock(LWLock *lock);
extern bool slab_lock_other(StoreClass *cls, bool *taken);

/* slab_try_lock of a partition, to change it (release with part_unlock) */
static inline bool
part_try_lock(StorePartition *part)
{
	if (!slab_try_lock(part->lock))
		return false;
	part_write_begin(part);
	return true;
}

extern void note_expiry(StoreClass *cls, uint32 expire);
extern uint32 pop_free_chunk(StoreClass *cls);
extern void push_free_chunk(StoreClass *cls, StoreItem *item);
extern void list_free_chunk(StoreClass *cls, StoreItem *item);
extern void note_free_bytes(int64 delta);
extern void unlist_page(StoreClass *cls, int page);
extern void page_used_add(StoreClass *cls, int page, int delta);
extern void release_chunk(StoreClass *cls, StoreItem *item);
extern void release_data_chunks(StoreItem *head, StoreItem *keep);
extern bool take_pool_page(int class_id);
extern void carve_page(int class_id, int page);
extern void give_page(int victim_class, int page, int class_id);
extern bool take_idle_page(int page, int class_id);
extern bool take_idle_page_for(int class_id);

/*
 * The page after 'page' in its class's ring (the first for page -1), -1 if
 * the class has none.  Class lock held.
 */
static inline int
next_class_page(StoreClass *cls, int page)
{
	return page < 0 ? cls->first_page : store_page(page)->next_in_class;
}

/* evict.c */
extern bool may_evict(StoreItem *chunk, uint32 tick, bool clear_ref,
					  StoreItem **owner);
extern bool reclaim_chunk(StoreItem *chunk, bool expired);
extern StoreItem *clock_evict(int class_id, int skip_page);
extern void reclaim_expired(int class_id);
extern void note_eviction(StoreClass *cls);

/* page_move.c */
extern bool should_grow(StoreClass *cls);
extern bool move_page_to(int class_id, bool force);

/* compact.c */
extern bool compact_away(int victim_class, int page);
extern bool evacuate_page_to(int class_id);

#endif							/* MEMSHARD_SLAB_INTERNAL_H */
