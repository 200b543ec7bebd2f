/*-------------------------------------------------------------------------
 *
 * store.c
 *		The store's shared segment: sizing, layout, the settings check, the
 *		segment pointer every file of src/store uses, and the counters
 *		behind the statistics views (hits and misses first counted in each
 *		backend).
 *
 * The whole of pg_memshard.memory is one segment requested at postmaster
 * start; nothing is allocated outside it and it never grows.  Its layout is
 * described in store_internal.h.  The hash index gets one 4-byte bucket per
 * 256 bytes of budget (chains stay short for items of ~100 bytes and up);
 * everything left after the fixed structures becomes pages.  The segment
 * is set up by store_start.c, its map slots handed out by map_slots.c.
 *
 * Every file of the store uses this one; it calls none of them, so that
 * its globals and accessors are the floor of the store's call graph.
 * Statistics take each partition's and class's lock shared, one at a time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "port/pg_bitutils.h"
#include "storage/lwlock.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"

#include "pg_memshard.h"
#include "store/store_internal.h"

StoreShared *store_shared = NULL;

static Size store_page_size(void);
static void read_partition_counters(int partition, StoreCounters *counters);
static void add_counters(StoreCounters *sum, const StoreCounters *add);

/*
 * Pages are small, a thousandth of the budget as a power of two between 4kB
 * and 64kB: a size class holds at least one page as soon as it holds an
 * item, so a budget needs many more pages than there are classes in use
 * (a few hundred in a wide mix of sizes), or sparsely used classes hold
 * most of it.  64MB and up get 64kB pages.  So the budget,
 * pg_memshard.memory, sets the page size; no setting of its own does.
 * Items larger than a page are chained (item_alloc.c), and the head of the
 * largest must fit one page: its key and a 4-byte reference per page of
 * value: with a small budget and a large pg_memshard.max_item_size, that
 * doubles the page size (up to 64kB) until the head fits.
 */
static Size
store_page_size(void)
{
	Size		size = Max(STORE_MIN_PAGE_SIZE,
						   Min(STORE_PAGE_SIZE,
							   pg_prevpower2_64(store_shmem_size() / 1024)));

	while (size < STORE_PAGE_SIZE &&
		   ITEM_HEADER_SIZE + item_meta_size(true, true, 0) + MEMSHARD_MAX_KEY_SIZE +
		   sizeof(uint32) * ((Size) memshard_max_item_size / (size - ITEM_HEADER_SIZE) + 1) > size)
		size *= 2;
	return size;
}

Size
store_shmem_size(void)
{
	return (Size) memshard_memory_kb * 1024;
}

int
store_lwlock_count(void)
{
	/* partitions, classes, the map slot table */
	return memshard_partitions + STORE_MAX_CLASSES + 1;
}

/* decide where everything goes in a segment of pg_memshard.memory bytes */
void
store_layout(StoreShared *shared)
{
	Size		off = CACHELINEALIGN(sizeof(StoreShared));
	uint64		buckets;
	Size		left;

	shared->budget = store_shmem_size();
	shared->page_size = store_page_size();
	shared->npartitions = memshard_partitions;
	shared->max_maps = memshard_max_maps;

	shared->partitions_off = off;
	off = CACHELINEALIGN(off + sizeof(StorePartitionPadded) * shared->npartitions);
	shared->classes_off = off;
	off = CACHELINEALIGN(off + sizeof(StoreClass) * STORE_MAX_CLASSES);
	shared->maps_off = off;
	off = CACHELINEALIGN(off + sizeof(StoreMapSlot) * (shared->max_maps + 1));

	buckets = pg_prevpower2_64(Max(shared->budget / STORE_BYTES_PER_BUCKET /
								   shared->npartitions, 64));
	shared->buckets_per_partition = (uint32) buckets;
	shared->buckets_off = off;
	off = CACHELINEALIGN(off + sizeof(uint32) * buckets * shared->npartitions);

	/*
	 * The rest: page descriptors and pages.  Pages grow past the minimum to
	 * share out what would otherwise be a remainder smaller than a page.
	 */
	shared->pagedesc_off = off;
	left = shared->budget > off + PG_CACHE_LINE_SIZE ?
		shared->budget - off - PG_CACHE_LINE_SIZE : 0;
	shared->npages = (int) (left / (shared->page_size + sizeof(StorePage)));
	if (shared->npages > 0)
		shared->page_size = TYPEALIGN_DOWN(STORE_ALIGN,
										   left / shared->npages - sizeof(StorePage));
	shared->pages_off = CACHELINEALIGN(off + sizeof(StorePage) * shared->npages);

	/* room is found without evicting while this much is free (slab.c) */
	shared->sparse_bytes = Max(4 * shared->page_size,
							   (Size) shared->npages * shared->page_size / 32);
	Assert(shared->pages_off + shared->page_size * shared->npages <= shared->budget);
}

/*
 * FATAL unless the settings give a segment that can work: at least two
 * pages, and room in them for an item of pg_memshard.max_item_size.  Run at
 * postmaster start (from _PG_init) and again before the segment is laid
 * out, never under a lock.
 */
void
store_check_settings(void)
{
	StoreShared layout;
	Size		largest;

	memset(&layout, 0, sizeof(layout));
	store_layout(&layout);
	if (layout.npages < 2)
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_memshard.memory is too small"),
				 errdetail("The segment must hold at least two pages of %zu bytes besides its index and descriptors; a page is a thousandth of pg_memshard.memory (4kB to 64kB).",
						   layout.page_size),
				 errhint("Raise pg_memshard.memory, or lower pg_memshard.max_maps or pg_memshard.partitions, whose descriptors take room from the pages.")));

	/* a largest item: a page-sized head at most, and its value in pages */
	largest = layout.page_size +
		(Size) layout.page_size * ((Size) memshard_max_item_size /
								   (layout.page_size - ITEM_HEADER_SIZE) + 1);
	if (largest > (Size) layout.npages * layout.page_size)
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pg_memshard.max_item_size is larger than the cache can hold"),
				 errdetail("An item of %d bytes needs up to %zu bytes of pages; pg_memshard.memory leaves %zu.",
						   memshard_max_item_size, largest,
						   (Size) layout.npages * layout.page_size),
				 errhint("Lower pg_memshard.max_item_size or raise pg_memshard.memory.")));
}

void
store_require_ready(void)
{
	if (store_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_memshard must be loaded via shared_preload_libraries"),
				 errhint("Add pg_memshard to shared_preload_libraries in postgresql.conf and restart the server.")));
}

bool
store_is_ready(void)
{
	return store_shared != NULL;
}

int
store_max_item_size(void)
{
	return memshard_max_item_size;
}

/* ---- statistics ---- */

static void
read_partition_counters(int partition, StoreCounters *counters)
{
	StorePartition *part = store_partition(partition);

	LWLockAcquire(part->lock, LW_SHARED);
	counters->items = part->items;
	counters->bytes_used = part->bytes_used;
	counters->payload_bytes = part->payload_bytes;
	counters->sets = part->sets;
	counters->deletes = part->deletes;
	counters->evictions = part->evictions;
	counters->expirations = part->expirations;
	LWLockRelease(part->lock);
	counters->hits = (int64) pg_atomic_read_u64(&part->hits);
	counters->misses = (int64) pg_atomic_read_u64(&part->misses);
}

static void
add_counters(StoreCounters *sum, const StoreCounters *add)
{
	sum->items += add->items;
	sum->bytes_used += add->bytes_used;
	sum->payload_bytes += add->payload_bytes;
	sum->hits += add->hits;
	sum->misses += add->misses;
	sum->sets += add->sets;
	sum->deletes += add->deletes;
	sum->evictions += add->evictions;
	sum->expirations += add->expirations;
}

void
store_global_stats(StoreGlobalStats *stats)
{
	int			i;

	store_read_counts_flush();
	memset(stats, 0, sizeof(StoreGlobalStats));
	stats->memory_budget = store_shared->budget;
	stats->page_size = store_shared->page_size;
	stats->pages_total = store_shared->npages;
	SpinLockAcquire(&store_shared->pool_lock);
	stats->pages_free = store_shared->free_pages;
	SpinLockRelease(&store_shared->pool_lock);
	stats->index_bytes = (int64) sizeof(uint32) *
		store_shared->buckets_per_partition * store_shared->npartitions;
	stats->metadata_bytes = store_shared->budget - stats->index_bytes -
		(int64) store_shared->npages * store_shared->page_size;
	stats->item_header_bytes = ITEM_HEADER_SIZE;
	for (i = 0; i < store_shared->npartitions; i++)
	{
		StoreCounters part;

		read_partition_counters(i, &part);
		add_counters(&stats->counters, &part);
	}
}

int
store_partition_count(void)
{
	return store_shared->npartitions;
}

void
store_partition_stats(int partition, StoreCounters *counters)
{
	store_read_counts_flush();
	memset(counters, 0, sizeof(StoreCounters));
	if (partition >= 0 && partition < store_shared->npartitions)
		read_partition_counters(partition, counters);
}

int
store_class_count(void)
{
	return store_shared->nclasses;
}

/*
 * wasted_bytes: what the class's pages hold that is neither item data nor
 * free: rounding of items up to the chunk size, and each page's tail
 * shorter than a chunk.
 */
void
store_class_stats(int class_id, StoreClassStats *stats)
{
	StoreClass *cls = store_class(class_id);
	int64		tail = store_shared->page_size -
		(int64) cls->chunks_per_page * cls->chunk_size;

	memset(stats, 0, sizeof(StoreClassStats));
	LWLockAcquire(cls->lock, LW_SHARED);
	stats->class_id = class_id;
	stats->chunk_size = cls->chunk_size;
	stats->pages = cls->pages;
	stats->chunks_per_page = cls->chunks_per_page;
	stats->chunks_used = cls->used;
	stats->chunks_free = (int64) cls->pages * cls->chunks_per_page - cls->used;
	stats->wasted_bytes = cls->used * cls->chunk_size - cls->item_bytes +
		tail * cls->pages;
	stats->evictions = cls->evictions;
	stats->pages_moved_in = cls->pages_moved_in;
	stats->pages_moved_out = cls->pages_moved_out;
	LWLockRelease(cls->lock);
}

/* ---- hits and misses, counted per backend ---- */

/*
 * Reads (read_path.c) count hits and misses here, in this backend, so that
 * a read writes no shared cache line; the counts go to the shared counters
 * every READ_FLUSH_EVERY reads, at the end of each transaction, at exit,
 * and before this backend reads the statistics below.
 */
#define READ_FLUSH_EVERY	256
#define READ_PENDING_MAPS	8	/* maps counted here at once */

typedef struct PendingMap
{
	int			mapslot;
	uint32		hits;
	uint32		misses;
} PendingMap;

static uint32 *pending_part = NULL; /* hits, misses per partition */
static PendingMap pending_maps[READ_PENDING_MAPS];
static int	pending_nmaps = 0;
static int	pending_reads = 0;

static void
pending_xact_callback(XactEvent event, void *arg)
{
	if (pending_reads > 0)
		store_read_counts_flush();
}

static void
pending_exit_callback(int code, Datum arg)
{
	if (pending_reads > 0 && store_shared != NULL)
		store_read_counts_flush();
}

/* add this backend's hit and miss counts to the shared counters */
void
store_read_counts_flush(void)
{
	int			i;

	if (pending_part == NULL || pending_reads == 0)
		return;
	for (i = 0; i < store_shared->npartitions; i++)
	{
		StorePartition *part = store_partition(i);

		if (pending_part[2 * i] != 0)
			pg_atomic_fetch_add_u64(&part->hits, pending_part[2 * i]);
		if (pending_part[2 * i + 1] != 0)
			pg_atomic_fetch_add_u64(&part->misses, pending_part[2 * i + 1]);
		pending_part[2 * i] = pending_part[2 * i + 1] = 0;
	}
	for (i = 0; i < pending_nmaps; i++)
	{
		StoreMapSlot *slot = store_map_slot(pending_maps[i].mapslot);

		if (pending_maps[i].hits != 0)
			pg_atomic_fetch_add_u64(&slot->hits, pending_maps[i].hits);
		if (pending_maps[i].misses != 0)
			pg_atomic_fetch_add_u64(&slot->misses, pending_maps[i].misses);
	}
	pending_nmaps = 0;
	pending_reads = 0;
}

/* forget the counts not flushed yet (stats_reset) */
static void
read_counts_forget(void)
{
	if (pending_part != NULL)
		memset(pending_part, 0, sizeof(uint32) * 2 * store_shared->npartitions);
	pending_nmaps = 0;
	pending_reads = 0;
}

/* one read of a partition and map slot: a hit, or a miss */
void
store_count_read(int partition, int mapslot, bool hit)
{
	int			i;

	if (unlikely(pending_part == NULL))
	{
		pending_part = MemoryContextAllocZero(TopMemoryContext,
											  sizeof(uint32) * 2 * store_shared->npartitions);
		RegisterXactCallback(pending_xact_callback, NULL);
		before_shmem_exit(pending_exit_callback, (Datum) 0);
	}
	pending_part[2 * partition + (hit ? 0 : 1)]++;
	for (i = 0; i < pending_nmaps; i++)
	{
		if (pending_maps[i].mapslot == mapslot)
			break;
	}
	if (i == pending_nmaps)
	{
		if (pending_nmaps == READ_PENDING_MAPS)
		{
			store_read_counts_flush();
			i = 0;
		}
		pending_maps[i].mapslot = mapslot;
		pending_maps[i].hits = pending_maps[i].misses = 0;
		pending_nmaps = i + 1;
	}
	if (hit)
		pending_maps[i].hits++;
	else
		pending_maps[i].misses++;
	if (++pending_reads >= READ_FLUSH_EVERY)
		store_read_counts_flush();
}

/* the optimistic read's retries and fallbacks since start (read_path.c) */
void
store_read_path_stats(int64 *retries, int64 *fallbacks)
{
	*retries = (int64) pg_atomic_read_u64(&store_shared->read_counters.c.retries);
	*fallbacks = (int64) pg_atomic_read_u64(&store_shared->read_counters.c.fallbacks);
}

/* zero the event counters (not items or bytes, which are state) */
void
store_stats_reset(void)
{
	int			i;

	read_counts_forget();
	pg_atomic_write_u64(&store_shared->read_counters.c.retries, 0);
	pg_atomic_write_u64(&store_shared->read_counters.c.fallbacks, 0);
	for (i = 0; i < store_shared->npartitions; i++)
	{
		StorePartition *part = store_partition(i);

		LWLockAcquire(part->lock, LW_EXCLUSIVE);
		part->sets = part->deletes = part->evictions = part->expirations = 0;
		pg_atomic_write_u64(&part->hits, 0);
		pg_atomic_write_u64(&part->misses, 0);
		LWLockRelease(part->lock);
	}
	for (i = 0; i < store_shared->nclasses; i++)
	{
		StoreClass *cls = store_class(i);

		LWLockAcquire(cls->lock, LW_EXCLUSIVE);
		cls->evictions = cls->pages_moved_in = cls->pages_moved_out = 0;
		LWLockRelease(cls->lock);
	}
	for (i = 1; i <= store_shared->max_maps; i++)
	{
		StoreMapSlot *slot = store_map_slot(i);

		pg_atomic_write_u64(&slot->hits, 0);
		pg_atomic_write_u64(&slot->misses, 0);
		pg_atomic_write_u64(&slot->sets, 0);
		pg_atomic_write_u64(&slot->deletes, 0);
		pg_atomic_write_u64(&slot->evictions, 0);
		pg_atomic_write_u64(&slot->expirations, 0);
	}
}
