/*-------------------------------------------------------------------------
 *
 * item_time.h
 *		Expiry ticks: the clock of the store's TTLs, as static inlines for
 *		every file of src/store (the allocator's sweeps included, which must
 *		not call the item operations of items.c).
 *
 * A tick is STORE_TICK_MS (100 ms) since the segment's epoch; an item's
 * expiry is a tick, 0 for none.  Nothing here takes a lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ITEM_TIME_H
#define MEMSHARD_ITEM_TIME_H

#include "utils/timestamp.h"

#include "store/store_internal.h"

/* current time in expiry ticks since the segment was created */
static inline uint32
now_tick(void)
{
	return (uint32) ((GetCurrentTimestamp() - store_shared->epoch) /
					 (STORE_TICK_MS * 1000));
}

static inline bool
item_expired(const StoreItem *item, uint32 tick)
{
	uint32		expire = item_expire(item);

	return expire != 0 && tick >= expire;
}

/*
 * Expiry tick of an item living ttl_ms from now, rounded up: an item may
 * outlive its TTL by up to one tick (100 ms), never die before it.
 */
static inline uint32
expire_tick(int64 ttl_ms)
{
	int64		due_us;
	int64		tick_us = STORE_TICK_MS * 1000;
	int64		ticks;

	if (ttl_ms <= 0)
		return 0;
	due_us = GetCurrentTimestamp() - store_shared->epoch;
	if (ttl_ms > (int64) PG_UINT32_MAX * STORE_TICK_MS)
		return PG_UINT32_MAX;
	due_us += ttl_ms * 1000;
	ticks = (due_us + tick_us - 1) / tick_us;
	return (uint32) Min(Max(ticks, 1), (int64) PG_UINT32_MAX);
}

/* the time an expiry tick stands for */
static inline TimestampTz
tick_time(uint32 tick)
{
	return store_shared->epoch + (TimestampTz) tick * STORE_TICK_MS * 1000;
}

/*
 * Expiry tick of an absolute time (0: none), rounded up as expire_tick
 * rounds; a time already past gives the tick of now (expired at once).
 */
static inline uint32
time_tick(TimestampTz when)
{
	int64		tick_us = STORE_TICK_MS * 1000;
	int64		ticks;

	if (when == 0)
		return 0;
	ticks = (when - store_shared->epoch + tick_us - 1) / tick_us;
	if (when <= store_shared->epoch)
		ticks = 1;
	return (uint32) Min(Max(ticks, 1), (int64) PG_UINT32_MAX);
}

#endif							/* MEMSHARD_ITEM_TIME_H */
