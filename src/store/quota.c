/*-------------------------------------------------------------------------
 *
 * quota.c
 *		A map's max_memory: room for a write, made by evicting the map's own
 *		items.
 *
 * A write into a map with a quota asks quota_make_room for the bytes its
 * item needs (less those of the item it replaces) before it allocates or
 * locks anything, so that the work can wait for locks and be interrupted:
 * the map's items are swept by a CLOCK of the map's own, whose hand (a
 * bucket position over the whole index, in the map's slot) moves a bounded
 * number of buckets per partition lock hold, with CHECK_FOR_INTERRUPTS
 * between holds.  Concurrent writers of one map take consecutive ranges
 * from the shared hand.  Expired items go first (in a sweep of their own,
 * when the map knows one is due); then referenced items get a second
 * chance and the others are evicted, and if readers keep every item
 * referenced, any goes (maps with eviction 'none' lose only expired
 * items).  A little more than needed goes, so that a map at its
 * quota does not sweep on every set.
 *
 * The sweep never takes the item of the key being written: a replace never
 * evicts what it replaces, and nothing marks an item for that (a mark is
 * what a CLOCK sweep of a class, which does not hold the partition lock,
 * could overwrite).  The room made is reserved for the writer at once
 * (quota_add), so that writers racing it cannot take it; when it links its
 * item (under its partition lock) the writer settles the difference
 * between what it reserved and what its item takes.
 *
 * Locking: partition locks are taken (waiting) one at a time, and freeing
 * an item takes class locks after them, as everywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

#include "store/item_time.h"

/* buckets swept per partition lock hold (a power of two) */
#define QUOTA_BUCKETS 256

/* what one range of the sweep may take */
typedef enum QuotaTake
{
	QUOTA_EXPIRED,				/* expired items only */
	QUOTA_CLOCK,				/* also unreferenced live items */
	QUOTA_ANY					/* any item: readers kept all referenced */
} QuotaTake;

/* the key being written: never taken */
typedef struct QuotaKeep
{
	const char *key;
	int			keylen;
} QuotaKeep;

static int64 sweep_range(int handle, uint64 pos, QuotaTake take,
						 const QuotaKeep *keep, uint32 *next_expiry,
						 bool *gone);
static bool quota_met(StoreMapSlot *slot, int64 need, int64 slack);
static bool expiry_due(StoreMapSlot *slot, uint32 tick);
static void learn_next_expiry(StoreMapSlot *slot, uint32 at_start, uint32 seen);

/* the index is swept as one array: partition-major bucket positions */
static inline uint64
index_buckets(void)
{
	return (uint64) store_shared->buckets_per_partition * store_shared->npartitions;
}

static inline uint32
sweep_step(void)
{
	return Min(QUOTA_BUCKETS, store_shared->buckets_per_partition);
}

/* the map's bytes plus 'need' fit its quota with 'slack' to spare */
static bool
quota_met(StoreMapSlot *slot, int64 need, int64 slack)
{
	return (int64) pg_atomic_read_u64(&slot->bytes_used) + need + slack <=
		slot->max_memory;
}

/*
 * Make room in the map of 'handle' for 'need' more bytes of chunk memory,
 * never taking the item of 'key', and reserve them (quota_add).  Called
 * with no lock held; may raise (interrupts) between lock holds, with
 * nothing half-done.  STORE_OVER_QUOTA when the quota cannot hold 'need'
 * more bytes, STORE_MAP_GONE when the map was dropped.
 */
StoreResult
quota_make_room(int handle, int64 need, const char *key, int keylen)
{
	int			mapslot = HANDLE_SLOT(handle);
	StoreMapSlot *slot = store_map_slot(mapslot);
	int64		slack = slot->evictable ? slot->max_memory / 32 : 0;
	QuotaKeep	keep = {key, keylen};
	QuotaTake	take;
	uint64		swept = 0;
	uint32		next_expiry = 0;
	uint32		hint_at_start;
	bool		gone = false;

	need = Max(need, 0);
	if (need > slot->max_memory)
		return STORE_OVER_QUOTA;

	hint_at_start = pg_atomic_read_u32(&slot->next_expiry);
	take = expiry_due(slot, now_tick()) ? QUOTA_EXPIRED : QUOTA_CLOCK;
	if (take == QUOTA_CLOCK && !slot->evictable)
		return quota_add(mapslot, need) ? STORE_OK : STORE_OVER_QUOTA;

	/* sweep until there is room to spare, then take it */
	while (!(quota_met(slot, need, slack) && quota_add(mapslot, need)))
	{
		uint64		pos = pg_atomic_fetch_add_u64(&slot->quota_hand, sweep_step());

		sweep_range(handle, pos % index_buckets(), take, &keep, &next_expiry,
					&gone);
		if (gone)
			return STORE_MAP_GONE;
		swept += sweep_step();

		/*
		 * After a whole turn for expired items, what is left unexpired tells
		 * the next expiry; then the CLOCK, two turns (one clears the
		 * references, the next takes); then, if readers referenced every
		 * item again meanwhile, any item, for two turns more (writers racing
		 * us may take the room as fast as we make it).
		 */
		if (take == QUOTA_EXPIRED && swept >= index_buckets())
		{
			learn_next_expiry(slot, hint_at_start, next_expiry);
			if (!slot->evictable)
				return quota_add(mapslot, need) ? STORE_OK : STORE_OVER_QUOTA;
			take = QUOTA_CLOCK;
			swept = 0;
		}
		else if (take != QUOTA_EXPIRED && swept >= 2 * index_buckets())
		{
			if (take == QUOTA_ANY)
				return quota_add(mapslot, need) ? STORE_OK : STORE_OVER_QUOTA;
			take = QUOTA_ANY;
			swept = 0;
		}
		CHECK_FOR_INTERRUPTS();
	}
	return STORE_OK;
}

/*
 * Sweep 'step' buckets from index position 'pos' (within one partition)
 * under that partition's lock.  Returns the bytes freed; *gone when the
 * handle went stale (the map was dropped).  *next_expiry learns the
 * earliest expiry of the map's items left.
 */
static int64
sweep_range(int handle, uint64 pos, QuotaTake take, const QuotaKeep *keep,
			uint32 *next_expiry, bool *gone)
{
	int			mapslot = HANDLE_SLOT(handle);
	int			partition = (int) (pos / store_shared->buckets_per_partition);
	uint32		first = (uint32) (pos % store_shared->buckets_per_partition);
	StorePartition *part = store_partition(partition);
	StoreMapSlot *slot = store_map_slot(mapslot);
	uint32	   *buckets = store_buckets(partition);
	uint32		tick = now_tick();
	int64		freed = 0;
	uint32		b;

	part_lock(part, LW_EXCLUSIVE);
	if (!index_handle_valid(handle))
	{
		part_unlock(part);
		*gone = true;
		return 0;
	}
	for (b = first; b < first + sweep_step(); b++)
	{
		uint32	   *link = &buckets[b];

		while (*link != 0)
		{
			StoreItem  *item = item_at(*link);
			bool		expired = item_expired(item, tick);

			if (item->mapslot != mapslot ||
				(item_keylen(item) == keep->keylen &&
				 memcmp(item_key(item), keep->key, keep->keylen) == 0) ||
				(!expired && take == QUOTA_EXPIRED))
			{
				if (item->mapslot == mapslot && item_expire(item) != 0 && !expired &&
					(*next_expiry == 0 || item_expire(item) < *next_expiry))
					*next_expiry = item_expire(item);
				link = &item->next;
				continue;
			}
			if (!expired && take == QUOTA_CLOCK && item->ref == REF_SET)
			{
				/* read since the hand last passed: a second chance */
				item->ref = REF_CLEAR;
				link = &item->next;
				continue;
			}
			freed += item_chunk_bytes(item);
			index_count_reclaimed(part, slot, expired);
			index_unlink(part, link, item);
			slab_free(item);
		}
	}
	part_unlock(part);
	slab_settle_free_bytes();
	return freed;
}

/*
 * Whether an item of the map may have expired: its slot keeps the earliest
 * expiry it knows of (0: none known), lowered by every write with a TTL.
 */
static bool
expiry_due(StoreMapSlot *slot, uint32 tick)
{
	uint32		next = pg_atomic_read_u32(&slot->next_expiry);

	return next != 0 && next <= tick;
}

/* a whole sweep saw 'seen' as the earliest expiry left (0: none) */
static void
learn_next_expiry(StoreMapSlot *slot, uint32 at_start, uint32 seen)
{
	/* a write that lowered it meanwhile wins */
	pg_atomic_compare_exchange_u32(&slot->next_expiry, &at_start, seen);
}

/* a write of an item expiring at 'expire' into a map with a quota */
void
quota_note_expiry(int mapslot, uint32 expire)
{
	StoreMapSlot *slot = store_map_slot(mapslot);
	uint32		cur = pg_atomic_read_u32(&slot->next_expiry);

	if (slot->max_memory <= 0 || expire == 0)
		return;
	while (cur == 0 || expire < cur)
	{
		if (pg_atomic_compare_exchange_u32(&slot->next_expiry, &cur, expire))
			break;
	}
}

/*
 * Count 'need' more bytes (negative: fewer) in the map's chunk memory if
 * its quota holds them (fewer always fit).  The writers' reservation, so
 * that two writers never both take the last room: quota_room_for reserves
 * what the item will need before the write, link_item settles the
 * difference, a failed write gives the reservation back.  Their items are
 * then accounted without the map's bytes (counted here).
 */
bool
quota_add(int mapslot, int64 need)
{
	StoreMapSlot *slot = store_map_slot(mapslot);
	uint64		cur = pg_atomic_read_u64(&slot->bytes_used);

	for (;;)
	{
		if (need > 0 && (int64) cur + need > slot->max_memory)
			return false;
		if (pg_atomic_compare_exchange_u64(&slot->bytes_used, &cur,
										   (uint64) ((int64) cur + need)))
			return true;
	}
}
