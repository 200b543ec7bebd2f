/*-------------------------------------------------------------------------
 *
 * store_internal.h
 *		Shared-memory layout of the store, shared by the files of src/store.
 *
 * The segment (pg_memshard.memory bytes, all of it) holds, in order:
 *
 *	 StoreShared			globals, the page pool
 *	 StorePartition[]		one per partition: lock, index, counters
 *	 StoreClass[]			size classes: free lists, CLOCK hands, counters
 *	 StorePage[]			one descriptor per page: owning class, used chunks
 *	 StoreMapSlot[]			per-map options and counters
 *	 uint32 buckets[]		the hash index, split evenly over partitions
 *	 pages					pages of one size (a thousandth of the budget, 4kB..64kB),
 *							each cut into chunks of the class that owns it
 *
 * An item is one chunk: a 12-byte StoreItem header, the key, the value.  A
 * chunk is named by a 32-bit reference (its offset in the page area / 4,
 * plus one so that 0 means "none"), which is what index chains and free
 * lists store: 32 bits of 4-byte units address 16GB, the largest
 * pg_memshard.memory.
 *
 * Locking.  A partition's LWLock protects its index chains and counters and
 * every item linked in them.  A class's LWLock protects its free list,
 * CLOCK hand, page ownership and class counters.  Order: partition (waiting)
 * then class (waiting); while a class lock is held, partitions and other
 * classes are only ever taken with LWLockConditionalAcquire, so no cycle can
 * form.  Writers make room under their map's quota and allocate (and so
 * evict) before they take their own partition lock, so two writers never
 * wait on each other's victims.  The page pool has a spinlock taken last.
 * Readers read without the partition lock, validated by the partition's seq
 * that every exclusive holder moves (read_path.c: the protocol), and set an
 * item's reference byte, only when it is clear, under the shared lock; the
 * byte shares a memory location with nothing else.  Sweeps holding only a
 * class lock read a chunk's owner through published_owner (read barrier
 * after the mapslot, which writers publish last after a write barrier).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_STORE_INTERNAL_H
#define MEMSHARD_STORE_INTERNAL_H

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "store/store.h"

#define STORE_ALIGN			4	/* chunk sizes and item fields */
#define STORE_PAGE_SIZE		(64 * 1024) /* the largest; see store_page_size */
#define STORE_MIN_PAGE_SIZE (4 * 1024)
#define STORE_FINE_LIMIT	1024	/* classes every 4 bytes up to here */
#define STORE_GROWTH		1.0625	/* then this factor between classes */
#define STORE_MAX_CLASSES	384
#define STORE_BYTES_PER_BUCKET 256	/* index sizing: one bucket per this */
#define STORE_TICK_MS		100 /* resolution of expiry times */

/* reference byte values */
#define REF_CLEAR	0
#define REF_SET		1

/* mapslot values with a meaning of their own */
#define MAPSLOT_FREE	0		/* a free chunk, on its class's free list */
#define MAPSLOT_RESERVED 0xFFFE /* handed out, being filled: not yet an item */
#define MAPSLOT_DATA	0xFFFF	/* a piece of a large item's value */

/* flags in the top bits of keylen */
#define KEYLEN_LARGE	0x8000	/* value lives in data chunks */
#define KEYLEN_EXPIRE	0x4000	/* a 4-byte expiry tick follows the header */
#define KEYLEN_TEXT		0x2000	/* set as text of its database (STORE_AS_TEXT) */
#define KEYLEN_MASK		0x1FFF	/* MEMSHARD_MAX_KEY_SIZE fits */

/*
 * An item, at the start of its chunk: a 12-byte header (index link, key
 * length and flags, map slot, 24-bit value length, reference byte), then
 *
 *	 [expiry tick]				4 bytes, only for items with a TTL
 *	 [count, refs[count]]		only for large items
 *	 key
 *	 value						only for items that are not large
 *
 * An item too large for one chunk (one page) is "large": its value lives
 * in data chunks of the page-sized class, each holding a piece after a
 * header whose 'next' names the head (mapslot MAPSLOT_DATA, vallen the
 * piece length).  Items without a TTL, the common case, pay nothing for
 * expiry.
 */
typedef struct StoreItem
{
	uint32		next;			/* next item in chain or free list; DATA: head */
	uint16		keylen;			/* key length and KEYLEN_ flags */
	uint16		mapslot;		/* a map slot or one of the MAPSLOT_ values */
	uint8		vallen[3];		/* little-endian value length */
	uint8		ref;			/* CLOCK reference byte */
	char		data[FLEXIBLE_ARRAY_MEMBER];
} StoreItem;

#define ITEM_HEADER_SIZE	offsetof(StoreItem, data)

typedef struct StoreShared
{
	Size		budget;			/* bytes of the segment */
	Size		page_size;
	int			npartitions;
	int			nclasses;
	int			npages;
	int			max_maps;
	uint32		buckets_per_partition;
	Size		partitions_off; /* offsets from the segment start */
	Size		classes_off;
	Size		pagedesc_off;
	Size		maps_off;
	Size		buckets_off;
	Size		pages_off;
	TimestampTz epoch;			/* expiry ticks count from here */
	slock_t		pool_lock;		/* protects the free page list */
	int			free_page_head; /* -1 = none */
	int			free_pages;
	Size		sparse_bytes;	/* free chunk bytes below which the cache evicts */
	pg_atomic_uint64 free_chunk_bytes;	/* bytes of chunks on free lists */
	pg_atomic_uint64 room_failed_at;	/* free_chunk_bytes when room_elsewhere
										 * last found none, 0 = it found some */
	pg_atomic_uint64 room_failed_need;	/* for an item needing this much */
	LWLock	   *maps_lock;		/* attach/detach of map slots */
	/* read path counters (read_path.c), on a cache line of their own */
	union
	{
		struct
		{
			pg_atomic_uint64 retries;	/* optimistic reads tried again */
			pg_atomic_uint64 fallbacks; /* reads that took the lock instead */
		}			c;
		char		pad[PG_CACHE_LINE_SIZE];
	}			read_counters pg_attribute_aligned(PG_CACHE_LINE_SIZE);
} StoreShared;

typedef struct StorePartition
{
	LWLock	   *lock;
	/* odd while an exclusive holder may change chains or items: read_path.c */
	pg_atomic_uint32 seq;
	/* under the lock, exclusive */
	int64		items;
	int64		bytes_used;
	int64		payload_bytes;
	int64		sets;
	int64		deletes;
	int64		evictions;
	int64		expirations;
	/* counted under a shared lock */
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
} StorePartition;

/* partitions sit a cache line apart, so counters of neighbours never share one */
typedef union StorePartitionPadded
{
	StorePartition part;
	char		pad[PG_CACHE_LINE_SIZE];
} StorePartitionPadded;

typedef struct StoreClass
{
	LWLock	   *lock;
	uint32		chunk_size;
	uint32		chunks_per_page;
	int			pages;
	uint32		free_head;		/* chunk reference, 0 = empty */
	int64		free_count;
	int64		used;			/* chunks holding items */
	int64		item_bytes;		/* header + key + value of those items */
	int			first_page;		/* ring of the class's pages (slab.c), -1 none */
	int			idle_pages;		/* of them, pages holding no item */
	int			hand_page;		/* CLOCK hand: page index, chunk index */
	uint32		hand_chunk;
	uint32		next_expiry;	/* earliest expiry tick of its items, 0 none */
	TimestampTz last_alloc;		/* when it last handed out a chunk */
	TimestampTz rate_since;		/* evictions counted since then ... */
	int64		rate_evictions; /* ... this many (halved as time goes on) */
	int64		evicts_since_grow;
	int64		evictions;
	int64		pages_moved_in;
	int64		pages_moved_out;
} StoreClass;

typedef struct StorePage
{
	int			class_id;		/* -1: in the free pool */
	int			next_free;		/* free pool link */
	int			next_in_class;	/* ring of its class's pages (slab.c) */
	int			prev_in_class;
	uint32		used;			/* chunks holding items */
} StorePage;

typedef struct StoreMapSlot
{
	Oid			dboid;
	int32		mapid;
	uint32		generation;		/* bumped on detach: stale handles fail */
	bool		in_use;
	bool		evictable;
	int64		max_memory;
	pg_atomic_uint64 items;
	pg_atomic_uint64 bytes_used;
	pg_atomic_uint64 payload_bytes;
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 sets;
	pg_atomic_uint64 deletes;
	pg_atomic_uint64 evictions;
	pg_atomic_uint64 expirations;
	/* the quota's CLOCK (quota.c) */
	pg_atomic_uint64 quota_hand;	/* next index position to sweep */
	pg_atomic_uint32 next_expiry;	/* earliest expiry tick known, 0 none */
} StoreMapSlot;

/* the segment of this process, NULL when not preloaded */
extern StoreShared *store_shared;

/* a slot handle packs generation and index */
#define HANDLE_SLOT(h)			((h) & 0xFFFF)
#define HANDLE_GENERATION(h)	(((uint32) (h) >> 16) & 0x7FFF)
#define MAKE_HANDLE(gen, slot)	((int) ((((gen) & 0x7FFF) << 16) | (slot)))

/*
 * The partition lock, for everything that changes a partition's chains or
 * the chunks of its items.  An exclusive holder makes the partition's seq
 * odd (part_write_begin) and even again when it lets go (part_unlock), so
 * that optimistic readers (read_path.c) see that they may have read memory
 * being changed; a shared holder leaves seq alone (it is even then).
 */
static inline void
part_write_begin(StorePartition *part)
{
	uint32		seq = pg_atomic_read_u32(&part->seq);

	/* odd, and not the value a reader may have read before */
	pg_atomic_write_u32(&part->seq, (seq + 1) | 1);
	pg_write_barrier();
}

static inline void
part_lock(StorePartition *part, LWLockMode mode)
{
	LWLockAcquire(part->lock, mode);
	if (mode == LW_EXCLUSIVE)
		part_write_begin(part);
}

static inline void
part_unlock(StorePartition *part)
{
	uint32		seq = pg_atomic_read_u32(&part->seq);

	/* odd only while we hold it exclusively: what we wrote comes first */
	if (seq & 1)
	{
		pg_write_barrier();
		pg_atomic_write_u32(&part->seq, seq + 1);
	}
	LWLockRelease(part->lock);
}

/* segment addressing */
static inline char *
store_base(void)
{
	return (char *) store_shared;
}

static inline StorePartition *
store_partition(int i)
{
	return &((StorePartitionPadded *) (store_base() + store_shared->partitions_off))[i].part;
}

static inline StoreClass *
store_class(int i)
{
	return (StoreClass *) (store_base() + store_shared->classes_off) + i;
}

static inline StorePage *
store_page(int i)
{
	return (StorePage *) (store_base() + store_shared->pagedesc_off) + i;
}

static inline StoreMapSlot *
store_map_slot(int i)
{
	return (StoreMapSlot *) (store_base() + store_shared->maps_off) + i;
}

static inline uint32 *
store_buckets(int partition)
{
	return (uint32 *) (store_base() + store_shared->buckets_off) +
		(Size) partition * store_shared->buckets_per_partition;
}

static inline char *
page_start(int page)
{
	return store_base() + store_shared->pages_off +
		(Size) page * store_shared->page_size;
}

static inline StoreItem *
item_at(uint32 ref)
{
	return (StoreItem *) (store_base() + store_shared->pages_off +
						  (Size) (ref - 1) * STORE_ALIGN);
}

static inline uint32
item_ref(StoreItem *item)
{
	return (uint32) (((char *) item - (store_base() + store_shared->pages_off)) /
					 STORE_ALIGN) + 1;
}

static inline int
item_page(StoreItem *item)
{
	return (int) (((char *) item - (store_base() + store_shared->pages_off)) /
				  store_shared->page_size);
}

static inline uint32
item_vallen(const StoreItem *item)
{
	return item->vallen[0] | (item->vallen[1] << 8) | (item->vallen[2] << 16);
}

static inline void
item_set_vallen(StoreItem *item, uint32 len)
{
	item->vallen[0] = len & 0xFF;
	item->vallen[1] = (len >> 8) & 0xFF;
	item->vallen[2] = (len >> 16) & 0xFF;
}

static inline int
item_keylen(const StoreItem *item)
{
	return item->keylen & KEYLEN_MASK;
}

static inline bool
item_is_large(const StoreItem *item)
{
	return (item->keylen & KEYLEN_LARGE) != 0;
}

static inline uint32
item_expire(const StoreItem *item)
{
	uint32		tick = 0;

	if (item->keylen & KEYLEN_EXPIRE)
		memcpy(&tick, item->data, sizeof(uint32));
	return tick;
}

/* only for items laid out with an expiry slot */
static inline void
item_set_expire(StoreItem *item, uint32 tick)
{
	Assert(item->keylen & KEYLEN_EXPIRE);
	memcpy(item->data, &tick, sizeof(uint32));
}

/* bytes between the header and the key */
static inline Size
item_meta_size(bool has_expire, bool large, uint32 count)
{
	return (has_expire ? sizeof(uint32) : 0) +
		(large ? sizeof(uint32) * (1 + count) : 0);
}

/* a large item's data chunk count and references */
static inline uint32 *
large_refs(StoreItem *item, uint32 *count)
{
	char	   *p = item->data + ((item->keylen & KEYLEN_EXPIRE) ? sizeof(uint32) : 0);

	memcpy(count, p, sizeof(uint32));
	return (uint32 *) (p + sizeof(uint32));
}

static inline char *
item_key(StoreItem *item)
{
	uint32		count = 0;

	if (item_is_large(item))
		large_refs(item, &count);
	return item->data + item_meta_size((item->keylen & KEYLEN_EXPIRE) != 0,
									   item_is_large(item), count);
}

/* the value of an item that is not large */
static inline char *
item_value(StoreItem *item)
{
	return item_key(item) + item_keylen(item);
}

/* bytes of its chunk an item (head, data piece or whole item) fills */
static inline Size
item_total_size(StoreItem *item)
{
	Size		size;

	if (item->mapslot == MAPSLOT_DATA)
		return ITEM_HEADER_SIZE + item_vallen(item);
	size = (item_key(item) - (char *) item) + item_keylen(item);
	if (!item_is_large(item))
		size += item_vallen(item);
	return size;
}

/* the item a chunk belongs to: itself, or for a data piece its head */
static inline StoreItem *
chunk_owner(StoreItem *chunk)
{
	return chunk->mapslot == MAPSLOT_DATA ? item_at(chunk->next) : chunk;
}

/* chunk i of a page cut into chunks of chunk_size bytes */
static inline StoreItem *
page_chunk(int page, Size chunk_size, uint32 i)
{
	return (StoreItem *) (page_start(page) + (Size) i * chunk_size);
}

static inline StoreClass *
item_class(StoreItem *item)
{
	return store_class(store_page(item_page(item))->class_id);
}

/* the page-sized class, home of data chunks */
static inline StoreClass *
data_class(void)
{
	return store_class(store_shared->nclasses - 1);
}

/*
 * The item owning a chunk if it is published, else NULL (the chunk is free,
 * being filled, or a piece of an item being built).  For sweeps, which hold
 * the chunk's class lock but not the owner's partition lock: writers fill
 * an item and publish its mapslot last, after a write barrier, so read the
 * mapslot once, then the rest after a read barrier.
 */
static inline StoreItem *
published_owner(StoreItem *chunk)
{
	uint16		mapslot = *(volatile uint16 *) &chunk->mapslot;
	StoreItem  *owner;

	if (mapslot == MAPSLOT_FREE || mapslot == MAPSLOT_RESERVED)
		return NULL;
	pg_read_barrier();
	if (mapslot != MAPSLOT_DATA)
		return chunk;
	owner = item_at(chunk->next);
	mapslot = *(volatile uint16 *) &owner->mapslot;
	if (mapslot == MAPSLOT_FREE || mapslot == MAPSLOT_RESERVED ||
		mapslot == MAPSLOT_DATA)
		return NULL;
	pg_read_barrier();
	return owner;
}

/* index.c (its partition held, see there) */
extern uint64 item_hash(int mapslot, const char *key, int keylen);
extern int	hash_partition_of(uint64 hash);
extern uint32 *index_bucket(int partition, uint64 hash);
extern bool index_handle_valid(int handle);
extern StoreItem *index_find(uint32 *bucket, int mapslot, const char *key,
							 int keylen, uint32 **link);
extern uint32 *index_link_to(int partition, uint64 hash, StoreItem *item);
extern void index_account(StorePartition *part, StoreItem *item, int sign,
						  bool map_bytes);
extern void index_link(StorePartition *part, uint32 *bucket, int mapslot,
					   uint32 ref, StoreItem *old, uint32 *old_link,
					   bool map_bytes);
extern void index_unlink(StorePartition *part, uint32 *link, StoreItem *item);
extern void index_count_reclaimed(StorePartition *part, StoreMapSlot *slot,
								  bool expired);
extern void index_moved_class(int partition, StoreItem *item, int64 delta);
extern bool index_unlink_evicted(int partition, StoreItem *item, bool expired);
extern int64 index_unlink_slot_range(StorePartition *part, uint32 *buckets,
									 uint32 first, uint32 count, int mapslot,
									 uint32 tick, StoreItem **removed);

/* all the chunk bytes an item holds: its own chunk and any data chunks */
static inline int64
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

/* items.c */
extern int64 items_remove_slot(int mapslot, int handle);
/* items.c, for store_dump.c: a set with an expiry tick of this segment */
extern StoreResult items_write(int handle, const char *key, int keylen,
							   const char *value, int vallen, uint32 expire,
							   StoreSetMode mode);

/* item_alloc.c (also for store_dump.c) */
extern int64 item_need_bytes(int keylen, int vallen, bool has_expire);
extern int	items_chunk_class(int keylen, int vallen, bool has_expire,
							  uint32 *data_chunks);
extern void item_copy_value(StoreItem *item, char *dest);

/* store.c */
extern void store_layout(StoreShared *shared);

/* quota.c */
extern StoreResult quota_make_room(int handle, int64 need, const char *key,
								   int keylen);
extern void quota_note_expiry(int mapslot, uint32 expire);
extern bool quota_add(int mapslot, int64 need);

/* store.c: a read's hit or miss, counted in this backend (read_path.c) */
extern void store_count_read(int partition, int mapslot, bool hit);
/* store.c: this backend's counts into the shared counters (stats readers) */
extern void store_read_counts_flush(void);

/* slab_alloc.c */
extern Size slab_largest_chunk(Size size);
extern uint32 slab_alloc(int class_id, Size item_size, uint32 expire,
						 Size need);

/* slab.c */
extern void slab_init_classes(void);
extern int	slab_class_for(Size size);
extern void slab_free(StoreItem *item);
extern void slab_settle_free_bytes(void);
extern void slab_note_expiry(StoreItem *item, uint32 expire);

#endif							/* MEMSHARD_STORE_INTERNAL_H */
