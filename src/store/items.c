/*-------------------------------------------------------------------------
 *
 * items.c
 *		The writing operations on items: set, delete, flush, and the
 *		compare-and-set of read-modify-write callers (store_write_if); the
 *		hash index they work on is index.c's, the reads are read_path.c's.
 *
 * Writes take the partition lock exclusive (part_lock, which makes the
 * partition's seq odd for the optimistic readers of read_path.c, and
 * part_unlock, which makes it even again); an expired item a writer meets
 * is reclaimed.  Nothing here raises an ERROR under a lock: outcomes are
 * StoreResult codes for the caller to report.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "store/items_internal.h"

static void remove_item(StorePartition *part, uint32 *link, StoreItem *item);
static StoreItem *drop_if_expired(StorePartition *part, uint32 *link,
								  StoreItem *item);
static StoreResult delete_if(int handle, const char *key, int keylen,
							 const StoreExpect *expect, bool absent);

/*
 * internal outcome: the item needs more of the quota than was reserved for
 * it, and writers racing us used the rest; make room again, at most
 * QUOTA_ATTEMPTS times
 */
#define STORE_QUOTA_RACE ((StoreResult) -2)
#define QUOTA_ATTEMPTS 8

/* a key's length fits beside the flags of StoreItem.keylen */
StaticAssertDecl(KEYLEN_MASK >= MEMSHARD_MAX_KEY_SIZE,
				 "KEYLEN_MASK must hold MEMSHARD_MAX_KEY_SIZE");

/* buckets a flush walks per partition lock hold (a power of two) */
#define FLUSH_BUCKETS 1024

/* unlink an item (its partition held exclusively) and free its chunk */
static void
remove_item(StorePartition *part, uint32 *link, StoreItem *item)
{
	index_unlink(part, link, item);
	slab_free(item);
}

/*
 * Publish a written item in the held partition in place of 'old' (an item
 * of the same key, found at 'old_link', or NULL), within the map's quota,
 * which counts 'reserved' bytes for it already.  STORE_QUOTA_RACE when the
 * item needs more than that and the quota has no more (the item the writer
 * reckoned with changed meanwhile); then nothing changed.
 */
static StoreResult
link_item(int partition, uint32 *bucket, int mapslot, uint32 ref,
		  StoreItem *old, uint32 *old_link, int64 reserved)
{
	StorePartition *part = store_partition(partition);
	StoreItem  *item = item_at(ref);
	bool		quota = store_map_slot(mapslot)->max_memory > 0;

	if (quota &&
		!quota_add(mapslot, item_chunk_bytes(item) -
				   (old ? item_chunk_bytes(old) : 0) - reserved))
		return STORE_QUOTA_RACE;

	index_link(part, bucket, mapslot, ref, old, old_link, !quota);
	if (old)
		slab_free(old);
	part->sets++;
	pg_atomic_fetch_add_u64(&store_map_slot(mapslot)->sets, 1);
	return STORE_OK;
}

/* drop an expired item met by a writer; returns NULL for the caller's 'old' */
static StoreItem *
drop_if_expired(StorePartition *part, uint32 *link, StoreItem *item)
{
	if (item != NULL && item_expire(item) != 0 && item_expired(item, now_tick()))
	{
		index_count_reclaimed(part, store_map_slot(item->mapslot), true);
		remove_item(part, link, item);
		return NULL;
	}
	return item;
}

/* whether an item still holds the value and expiry a writer read earlier */
static bool
item_matches(StoreItem *item, const StoreExpect *expect)
{
	return item_vallen(item) == expect->vallen &&
		item_expire(item) == expect->expire &&
		item_value_equals(item, expect->value);
}

static StoreResult quota_room_for(int handle, const char *key, int keylen,
								  int vallen, uint32 expire, int64 *reserved);
static StoreResult write_once(int handle, const char *key, int keylen,
							  const char *value, int vallen, uint32 expire,
							  StoreSetMode mode, const StoreExpect *expect,
							  int64 reserved);

/*
 * Lock the partition of a key and find its item.  Under an exclusive lock
 * an expired item met on the way is reclaimed; under a shared one it is
 * only skipped.  Returns STORE_MAP_GONE (with the lock held all the same)
 * when the handle is stale.
 */
StoreResult
lock_key(int handle, const char *key, int keylen, LWLockMode mode,
		 KeySite *site, StoreItem **item, uint32 **link)
{
	uint64		hash;

	site->mapslot = HANDLE_SLOT(handle);
	hash = item_hash(site->mapslot, key, keylen);
	site->partition = hash_partition_of(hash);
	site->part = store_partition(site->partition);
	site->bucket = index_bucket(site->partition, hash);
	*item = NULL;

	part_lock(site->part, mode);
	if (!index_handle_valid(handle))
		return STORE_MAP_GONE;
	*item = index_find(site->bucket, site->mapslot, key, keylen, link);
	if (*item == NULL || ((*item)->keylen & KEYLEN_EXPIRE) == 0)
		return STORE_OK;
	if (mode == LW_EXCLUSIVE)
		*item = drop_if_expired(site->part, *link, *item);
	else if (item_expired(*item, now_tick()))
		*item = NULL;
	return STORE_OK;
}

/*
 * Before a write into a map with a quota: make room for the item, counting
 * the bytes of the item it replaces as free, and reserve it in the map's
 * bytes (*reserved), so that writers racing us cannot take it.  No lock is
 * held; this may raise (interrupts).  STORE_OVER_QUOTA: the quota cannot
 * hold it.
 */
static StoreResult
quota_room_for(int handle, const char *key, int keylen, int vallen,
			   uint32 expire, int64 *reserved)
{
	StoreMapSlot *slot = store_map_slot(HANDLE_SLOT(handle));
	int64		need;
	KeySite		site;
	StoreItem  *old;
	uint32	   *link;
	StoreResult result;

	*reserved = 0;
	if (slot->max_memory <= 0)
		return STORE_OK;
	quota_note_expiry(HANDLE_SLOT(handle), expire);
	need = item_need_bytes(keylen, vallen, expire != 0);
	if (quota_add(HANDLE_SLOT(handle), need))
	{
		*reserved = need;
		return STORE_OK;
	}

	/* near the quota: what the key holds now is room too */
	result = lock_key(handle, key, keylen, LW_SHARED, &site, &old, &link);
	if (old != NULL)
		need -= item_chunk_bytes(old);
	part_unlock(site.part);
	if (result != STORE_OK || need <= 0)
		return result;
	result = quota_make_room(handle, need, key, keylen);
	if (result == STORE_OK)
		*reserved = need;
	return result;
}

/*
 * The one writer: make room under the map's quota and allocate and fill the
 * new item with no lock held, then link it under the partition lock if
 * 'mode' (and 'expect', a value the caller read before, for compare-and-set)
 * still hold.  STORE_RETRY when 'expect' no longer holds.
 */
StoreResult
store_write(int handle, const char *key, int keylen, const char *value,
			int vallen, uint32 expire, StoreSetMode mode,
			const StoreExpect *expect)
{
	int			attempt;

	for (attempt = 0;; attempt++)
	{
		StoreResult result;
		int64		reserved;

		result = quota_room_for(handle, key, keylen, vallen, expire, &reserved);
		if (result != STORE_OK)
			return result;
		result = write_once(handle, key, keylen, value, vallen, expire, mode,
							expect, reserved);
		slab_settle_free_bytes();
		if (result != STORE_OK && reserved != 0)
			quota_add(HANDLE_SLOT(handle), -reserved);
		if (result != STORE_QUOTA_RACE)
			return result;
		if (attempt >= QUOTA_ATTEMPTS)
			return STORE_OVER_QUOTA;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * One attempt of store_write, after the quota made room and counted
 * 'reserved' bytes for the item in the map's.
 */
static StoreResult
write_once(int handle, const char *key, int keylen, const char *value,
		   int vallen, uint32 expire, StoreSetMode mode,
		   const StoreExpect *expect, int64 reserved)
{
	KeySite		site;
	uint32	   *link = NULL;
	StoreItem  *old;
	StoreResult result;
	uint32		ref;

	ref = item_alloc(key, keylen, value, vallen, expire);
	if (ref == 0)
		return STORE_NO_MEMORY;
	/* not linked yet: ours alone */
	if (mode & STORE_AS_TEXT)
		item_at(ref)->keylen |= KEYLEN_TEXT;

	result = lock_key(handle, key, keylen, LW_EXCLUSIVE, &site, &old, &link);
	if (result == STORE_OK)
	{
		if (STORE_MODE(mode) == STORE_ADD && old != NULL)
			result = STORE_EXISTS;
		else if (STORE_MODE(mode) == STORE_REPLACE && old == NULL)
			result = STORE_NOT_FOUND;
		else if (expect != NULL && old != NULL && !item_matches(old, expect))
			result = STORE_RETRY;
		else
			result = link_item(site.partition, site.bucket, site.mapslot, ref,
							   old, link, reserved);
	}
	if (result != STORE_OK)
		slab_free(item_at(ref));
	part_unlock(site.part);
	return result;
}

StoreResult
store_set(int handle, const char *key, int keylen, const char *value,
		  int vallen, int64 ttl_ms, StoreSetMode mode)
{
	return store_write(handle, key, keylen, value, vallen,
					   expire_tick(ttl_ms), mode, NULL);
}

/* store_set with an expiry tick of this segment (0: none), for store_dump.c */
StoreResult
items_write(int handle, const char *key, int keylen, const char *value,
			int vallen, uint32 expire, StoreSetMode mode)
{
	return store_write(handle, key, keylen, value, vallen, expire, mode, NULL);
}

/*
 * Compare-and-set for read-modify-write callers (the RESP front end's
 * APPEND, SETRANGE, GETSET, INCRBYFLOAT, EXPIRE with conditions...): store
 * value with the absolute expiry 'expires' (0: none) only if the key still
 * holds what the caller read with store_get_expiry: expect (expectlen bytes)
 * with expiry expect_expires, or nothing when expectlen < 0.  value NULL
 * deletes the key instead.  STORE_EXISTS (or STORE_NOT_FOUND) means the key
 * changed since: read again and retry.  Atomic with every other writer:
 * the check and the change happen under the partition lock.
 */
StoreResult
store_write_if(int handle, const char *key, int keylen, const char *expect,
			   int expectlen, TimestampTz expect_expires, const char *value,
			   int vallen, TimestampTz expires)
{
	StoreExpect seen;
	StoreResult rc;

	seen.value = expect;
	seen.vallen = expectlen;
	seen.expire = time_tick(expect_expires);
	if (value == NULL)
		return delete_if(handle, key, keylen, &seen, expectlen < 0);
	rc = store_write(handle, key, keylen, value, vallen, time_tick(expires),
					 expectlen < 0 ? STORE_ADD : STORE_REPLACE,
					 expectlen < 0 ? NULL : &seen);
	return rc == STORE_RETRY ? STORE_EXISTS : rc;
}

StoreResult
store_delete(int handle, const char *key, int keylen)
{
	return delete_if(handle, key, keylen, NULL, false);
}

/*
 * Delete a key if it holds 'expect' (NULL: whatever it holds); with
 * 'absent', succeed only if there is no such key (nothing to delete).
 */
static StoreResult
delete_if(int handle, const char *key, int keylen, const StoreExpect *expect,
		  bool absent)
{
	KeySite		site;
	uint32	   *link = NULL;
	StoreItem  *item;
	StoreResult result;

	result = lock_key(handle, key, keylen, LW_EXCLUSIVE, &site, &item, &link);
	if (result == STORE_OK && item == NULL)
		result = absent ? STORE_OK : STORE_NOT_FOUND;
	else if (result == STORE_OK &&
			 (absent || (expect != NULL && !item_matches(item, expect))))
		result = STORE_EXISTS;
	else if (result == STORE_OK)
	{
		remove_item(site.part, link, item);
		site.part->deletes++;
		pg_atomic_fetch_add_u64(&store_map_slot(site.mapslot)->deletes, 1);
	}
	part_unlock(site.part);
	slab_settle_free_bytes();
	return result;
}

/* free the items index_unlink_slot_range unlinked (their partition held) */
static void
free_removed(StoreItem *removed)
{
	while (removed != NULL)
	{
		StoreItem  *next = removed->next ? item_at(removed->next) : NULL;

		slab_free(removed);
		removed = next;
	}
}

/*
 * Remove every item of a map slot, partition by partition, FLUSH_BUCKETS
 * buckets per lock hold, so that other backends wait at most that long.
 * With a handle (handle >= 0, a flush), stop where the handle goes stale:
 * the map was dropped and its detach removes the rest; a flush may also be
 * cancelled between lock holds (what is removed stays removed).  A detach
 * (handle -1) runs in transaction callbacks and is never interrupted.
 * Returns the number of live items removed, or -1 when the handle was stale
 * from the start.
 */
int64
items_remove_slot(int mapslot, int handle)
{
	uint32		step = Min(FLUSH_BUCKETS, store_shared->buckets_per_partition);
	int64		removed = 0;
	uint32		tick = now_tick();
	int			p;

	for (p = 0; p < store_shared->npartitions; p++)
	{
		StorePartition *part = store_partition(p);
		uint32		first;

		for (first = 0; first < store_shared->buckets_per_partition; first += step)
		{
			StoreItem  *unlinked;

			part_lock(part, LW_EXCLUSIVE);
			if (handle >= 0 && !index_handle_valid(handle))
			{
				part_unlock(part);
				return (p == 0 && first == 0) ? -1 : removed;
			}
			removed += index_unlink_slot_range(part, store_buckets(p), first,
											   step, mapslot, tick, &unlinked);
			free_removed(unlinked);
			part_unlock(part);
			slab_settle_free_bytes();
			if (handle >= 0)
				CHECK_FOR_INTERRUPTS();
		}
	}
	return removed;
}

int64
store_flush_map(int handle)
{
	if (handle < 0)
		return -1;
	return items_remove_slot(HANDLE_SLOT(handle), handle);
}
