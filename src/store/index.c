/*-------------------------------------------------------------------------
 *
 * index.c
 *		The hash index: a key's hash, partition and bucket, finding an item
 *		in its chain, linking and unlinking items, and the counters that
 *		follow an item in and out of the index.
 *
 * A key's partition and bucket come from one 64-bit hash of (map slot,
 * key): the low bits pick the partition, the high bits the bucket in that
 * partition's slice of the index.  Chains link items by chunk reference
 * through StoreItem.next.
 *
 * Every function here is called with the partition it names held (shared
 * to find, exclusive to change a chain or a counter), except item_hash and
 * hash_partition_of, which touch nothing shared.  Nothing here takes a
 * lock, frees a chunk or raises an ERROR: freeing is the caller's (the
 * operations of items.c and quota.c free what they unlink; the allocator's
 * sweeps keep the chunk they unlink), so that the allocator can call the
 * index without the index calling back into the allocator.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "port/atomics.h"

#include "store/item_time.h"

uint64
item_hash(int mapslot, const char *key, int keylen)
{
	return hash_bytes_extended((const unsigned char *) key, keylen,
							   (uint64) mapslot * UINT64CONST(0x9E3779B97F4A7C15));
}

int
hash_partition_of(uint64 hash)
{
	return (int) (hash & (store_shared->npartitions - 1));
}

/* the bucket of a hash in its partition's slice of the index */
uint32 *
index_bucket(int partition, uint64 hash)
{
	return store_buckets(partition) +
		((hash >> 32) & (store_shared->buckets_per_partition - 1));
}

/* the handle still names an attached map (caller holds a partition lock) */
bool
index_handle_valid(int handle)
{
	int			idx = HANDLE_SLOT(handle);
	StoreMapSlot *slot;

	if (handle < 0 || idx <= 0 || idx > store_shared->max_maps)
		return false;
	slot = store_map_slot(idx);
	return slot->in_use &&
		(slot->generation & 0x7FFF) == HANDLE_GENERATION(handle);
}

/* the item of (mapslot, key) in a bucket's chain, and the link to it */
StoreItem *
index_find(uint32 *bucket, int mapslot, const char *key, int keylen,
		   uint32 **link)
{
	uint32	   *prev = bucket;

	while (*prev != 0)
	{
		StoreItem  *item = item_at(*prev);

		if (item->mapslot == mapslot && item_keylen(item) == keylen &&
			memcmp(item_key(item), key, keylen) == 0)
		{
			if (link)
				*link = prev;
			return item;
		}
		prev = &item->next;
	}
	return NULL;
}

/* the link that points at 'item' in its chain, or NULL */
static uint32 *
link_to(uint32 *bucket, StoreItem *item)
{
	uint32		ref = item_ref(item);
	uint32	   *prev = bucket;

	while (*prev != 0 && *prev != ref)
		prev = &item_at(*prev)->next;
	return *prev == ref ? prev : NULL;
}

/* the link to an item of the (held) partition, for page moves */
uint32 *
index_link_to(int partition, uint64 hash, StoreItem *item)
{
	return link_to(index_bucket(partition, hash), item);
}

/*
 * Add (sign 1) or remove (sign -1) an item from partition and map counters;
 * the map's bytes too unless quota_add counted them.
 */
void
index_account(StorePartition *part, StoreItem *item, int sign, bool map_bytes)
{
	StoreMapSlot *slot = store_map_slot(item->mapslot);
	int64		chunk = item_chunk_bytes(item);
	int64		payload = item_keylen(item) + item_vallen(item);

	part->items += sign;
	part->bytes_used += sign * chunk;
	part->payload_bytes += sign * payload;
	pg_atomic_fetch_add_u64(&slot->items, sign);
	if (map_bytes)
		pg_atomic_fetch_add_u64(&slot->bytes_used, sign * chunk);
	pg_atomic_fetch_add_u64(&slot->payload_bytes, sign * payload);
}

/*
 * Publish the written item 'ref' of map slot 'mapslot' in the held
 * partition: in place of 'old' (found at 'old_link'), which leaves the
 * index and the counters (the caller frees it), or at the head of the
 * bucket.  map_bytes as for index_account.
 */
void
index_link(StorePartition *part, uint32 *bucket, int mapslot, uint32 ref,
		   StoreItem *old, uint32 *old_link, bool map_bytes)
{
	StoreItem  *item = item_at(ref);

	/* sweeps skip chunks whose mapslot is not published: publish it last */
	pg_write_barrier();
	item->mapslot = mapslot;
	if (old)
	{
		item->next = old->next;
		*old_link = ref;
		index_account(part, old, -1, map_bytes);
	}
	else
	{
		item->next = *bucket;
		*bucket = ref;
	}
	index_account(part, item, 1, map_bytes);
}

/*
 * Unlink an item found at 'link' (its partition held exclusively) and take
 * it out of the counters; the caller frees its chunk (slab_free) before it
 * releases the partition.
 */
void
index_unlink(StorePartition *part, uint32 *link, StoreItem *item)
{
	*link = item->next;
	index_account(part, item, -1, true);
}

/* count an item taken without being asked for: expired or evicted */
void
index_count_reclaimed(StorePartition *part, StoreMapSlot *slot, bool expired)
{
	if (expired)
	{
		part->expirations++;
		pg_atomic_fetch_add_u64(&slot->expirations, 1);
	}
	else
	{
		part->evictions++;
		pg_atomic_fetch_add_u64(&slot->evictions, 1);
	}
}

/*
 * A page move put the item (its partition held) in a chunk 'delta' bytes
 * larger (or smaller): count its memory anew.
 */
void
index_moved_class(int partition, StoreItem *item, int64 delta)
{
	store_partition(partition)->bytes_used += delta;
	pg_atomic_fetch_add_u64(&store_map_slot(item->mapslot)->bytes_used, delta);
}

/*
 * Called by the allocator's sweeps with the item's partition held: take it
 * out of the index and the counters; the sweep keeps the chunk.  A
 * published item is always in its chain while its partition is held; false
 * (nothing done) if it were not.
 */
bool
index_unlink_evicted(int partition, StoreItem *item, bool expired)
{
	StorePartition *part = store_partition(partition);
	uint64		hash = item_hash(item->mapslot, item_key(item), item_keylen(item));
	uint32	   *link = link_to(index_bucket(partition, hash), item);

	Assert(link != NULL);
	if (link == NULL)
		return false;
	index_unlink(part, link, item);
	index_count_reclaimed(part, store_map_slot(item->mapslot), expired);
	return true;
}

/*
 * Unlink the map slot's items from 'count' buckets of a held partition,
 * from bucket 'first' on.  They come back chained through their 'next' in
 * *removed, for the caller to free before it releases the partition.
 * Returns how many of them had not expired at 'tick'.
 */
int64
index_unlink_slot_range(StorePartition *part, uint32 *buckets, uint32 first,
						uint32 count, int mapslot, uint32 tick,
						StoreItem **removed)
{
	int64		live = 0;
	uint32		b;

	*removed = NULL;
	for (b = first; b < first + count; b++)
	{
		uint32	   *link = &buckets[b];

		while (*link != 0)
		{
			StoreItem  *item = item_at(*link);

			if (item->mapslot != mapslot)
			{
				link = &item->next;
				continue;
			}
			if (!item_expired(item, tick))
				live++;
			index_unlink(part, link, item);
			item->next = *removed ? item_ref(*removed) : 0;
			*removed = item;
		}
	}
	return live;
}
