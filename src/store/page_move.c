/*-------------------------------------------------------------------------
 *
 * page_move.c
 *		Pages moving between size classes.
 *
 * Pages move between classes (memcached's automove, balancing by age): each
 * class estimates how long an item survives in it, its capacity divided by
 * its recent eviction rate.  A class under pressure takes a page from the
 * class whose items survive longest, when they survive clearly longer than
 * its own.  Memory so follows the traffic: a change in value sizes moves
 * pages to the new sizes instead of stranding them, and a steady mix keeps
 * items of every size for about as long (an approximation of one global
 * LRU).  Emptying the page taken is compact.c's.
 *
 * Locking: called with the taking class's lock held; the victim class, the
 * partitions of the items moved and any other class are only tried.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"

#include "store/item_time.h"
#include "store/slab_internal.h"

/* a class takes a page when another's items survive this much longer */
#define MOVE_SURVIVAL_RATIO 1.5

/* victim classes tried for one page move */
#define MOVE_CANDIDATES 8

/* pages of a victim class past its CLOCK hand tried for one page move */
#define MOVABLE_TRIES (4 * 64)

static double survival_time(StoreClass *cls, TimestampTz now);
static bool page_is_movable(int victim_class, int page);
static int	movable_page(int victim);
static int	choose_victim_class(int class_id, const bool *tried, bool force);
static bool take_page_from(int victim, int class_id);
static int	emptiest_page(int victim);
static bool empty_page(int victim_class, int page);

/*
 * How long an item survives in the class, in microseconds: its capacity
 * over its recent eviction rate (Little's law), evictions by page moves
 * included.  A class that has not evicted lately counts as holding items
 * as long as it has been counting; one that has taken no new item for a
 * while holds items at least that old, however fast page moves drain it.
 */
static double
survival_time(StoreClass *cls, TimestampTz now)
{
	double		elapsed = Max(now - cls->rate_since, 1);

	return Max(elapsed * cls->pages * cls->chunks_per_page /
			   Max(cls->rate_evictions, 1),
			   (double) (now - cls->last_alloc));
}

/*
 * A class grows (takes a page from another class) when it has evicted a
 * quarter page's worth of items since it last grew; a class without pages,
 * when it has borrowed that many chunks of larger classes (slab_alloc).
 */
bool
should_grow(StoreClass *cls)
{
	return cls->evicts_since_grow >= Max(cls->chunks_per_page / 4, 1);
}

/*
 * The class to take a page from: the one whose items survive longest,
 * provided they survive clearly (1.5 times) longer than this class's own;
 * a page is then taken by evicting that class's oldest items and moving the
 * rest off the page, as one LRU over both classes would.  A class's last
 * page goes only when its newest item is older than this class's items
 * live (the class is idle), or to a class with no page at all.  With
 * 'force' (this class has nothing of its own to evict) any class will do,
 * longest survival first.  -1 if none.
 */
static int
choose_victim_class(int class_id, const bool *tried, bool force)
{
	StoreClass *cls = store_class(class_id);
	TimestampTz now = GetCurrentTimestamp();
	double		best = (cls->pages > 0 && !force) ?
		MOVE_SURVIVAL_RATIO * survival_time(cls, now) : -1;
	int			victim = -1;
	int			i;

	for (i = 0; i < store_shared->nclasses; i++)
	{
		StoreClass *other = store_class(i);
		double		survival;

		if (i == class_id || other->pages == 0 || tried[i])
			continue;
		if (!force && other->pages == 1 && cls->pages > 0 &&
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

/* the victim class's page holding the fewest items (its lock held) */
static int
emptiest_page(int victim)
{
	StoreClass *vcls = store_class(victim);
	int			page = vcls->first_page;
	int			best_page = -1;
	uint32		best_used = PG_UINT32_MAX;
	int			n;

	for (n = 0; n < vcls->pages; n++, page = next_class_page(vcls, page))
	{
		if (store_page(page)->used < best_used)
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
		StoreItem  *owner;

		if (chunk->mapslot == MAPSLOT_FREE)
			continue;
		if (!may_evict(chunk, tick, false, &owner))
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
	int			tries;
	int			p = vcls->hand_page;

	if (page >= 0 && page_is_movable(victim, page))
		return page;
	for (tries = 0; tries < Min(vcls->pages, MOVABLE_TRIES); tries++)
	{
		p = next_class_page(vcls, p);
		if (p != page && page_is_movable(victim, p))
			return p;
	}
	return -1;
}

/*
 * Take a movable page from the victim class for 'class_id', evicting what
 * must go.  false if none could be had.
 */
static bool
take_page_from(int victim, int class_id)
{
	int			page;

	if (!slab_try_lock(store_class(victim)->lock))
		return false;
	page = movable_page(victim);
	if (page < 0 ||
		!(store_class(victim)->pages > 1 ? compact_away(victim, page) :
		  empty_page(victim, page)))
	{
		LWLockRelease(store_class(victim)->lock);
		return false;
	}
	give_page(victim, page, class_id);
	return true;
}

/*
 * Give the class a page of another: an idle one (no item on it) if there
 * is any, else a movable page of the classes chosen above, best first (the
 * best may hold nothing movable, e.g. only the head of the large item we
 * are building); with 'force', of any class (all are tried).  Victim
 * classes and partitions are only try-locked.
 */
bool
move_page_to(int class_id, bool force)
{
	bool		tried[STORE_MAX_CLASSES] = {0};
	int			candidates = force ? store_shared->nclasses : MOVE_CANDIDATES;
	int			attempt;

	if (take_idle_page_for(class_id))
		return true;
	for (attempt = 0; attempt < candidates; attempt++)
	{
		int			victim = choose_victim_class(class_id, tried, force);

		if (victim < 0)
			break;
		if (take_page_from(victim, class_id))
			return true;
		tried[victim] = true;
	}
	return false;
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
		if (!may_evict(chunk, tick, false, &owner))
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
