/*-------------------------------------------------------------------------
 *
 * marks.c
 *		Invalidation marks and fill leases of the table cache, in shared
 *		memory of their own.
 *
 * The table cache (src/tablecache) keeps rows of tables in store maps and
 * must never leave a stale row behind.  This file holds what it needs in
 * shared memory besides the items; it knows nothing of tables or SQL:
 *
 * - marks: (key hash, xid) pairs.  A writer marks each key it changed just
 *	 before its commit becomes visible and clears the marks once it is
 *	 over; while a key is marked nobody fills it.  A mark on a "scope hash"
 *	 (one per table) marks every key of the table.
 * - leases (Facebook's memcache leases): a reader that misses takes a
 *	 lease on the key before it reads the table, and stores what it read
 *	 only if the lease is still there.  Marking a key removes its leases,
 *	 so a fill that raced a writer's commit is refused.  One lease per key
 *	 at a time: a burst of misses makes one fill.
 * - versions: a counter per key (keys share them, a few per bucket head)
 *	 that every mark moves; an item records its key's version when its
 *	 lease is granted and is served only while the version is the same.
 *	 That is what lets an item live on another node: whatever happened to
 *	 it there, the version on the table's node says whether it is current.
 * - scopes: one per cached table and instance: a generation that every
 *	 item records when it is filled and that a table-wide mark bumps (items
 *	 of an older generation are never served), and the table's counters.
 * - instance marks: xids of prepared transactions that were prepared
 *	 before this shared memory existed (a crash empties it, but not the
 *	 prepared transactions): they mark every key until they finish.
 *
 * Layout: MarksShared, then the partitions, their bucket heads, their
 * entries, the scopes, the instance marks, the versions.  Sized at start-up by
 * pg_memshard.tablecache_marks (entries) and pg_memshard.max_maps (scopes).
 *
 * This file: layout and start-up, marks, leases and versions (and the
 * check of the instance marks a lease makes); the scopes and the keeping of
 * instance marks are in marks_scope.c, which calls nothing here
 * (marks_internal.h has the layout and accessors both use).
 *
 * Locking.  Each partition has an LWLock of tranche "pg_memshard_marks"
 * over its chains and free list.  A fill stores its item with the store's
 * functions while it holds the key's partition lock, so that checking the
 * lease and storing are one step for writers, who mark under the same
 * lock (and delete the item after releasing it).  Marks partitions are
 * taken before store locks, never after, and one at a time.  One more
 * LWLock guards attaching and detaching scopes and the instance marks.
 * Nothing here raises an ERROR: results come back for the caller to act on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "access/transam.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "store/marks_internal.h"

/* this process's view of the marks' shared memory, NULL when not preloaded */
MarksShared *marks_shared = NULL;

static Size marks_layout(MarksShared *shared);
static inline MarkPartition *partition_of(uint64 khash);
static inline uint32 *bucket_at(int p, uint32 b);
static inline uint32 *bucket_of(uint64 khash);
static inline MarkEntry *entry_at(int partition, uint32 ref);
static inline pg_atomic_uint64 *version_of(uint64 khash);
static inline int partition_index(uint64 khash);
static uint32 entry_insert(uint64 khash, MarkKind kind, uint64 value,
						   bool use_reserve);
static void entry_remove(uint64 khash, uint32 *link);
static void remove_leases(uint64 khash);

/* ---- sizing and start-up ---- */

/* offsets of everything, relative to the start; the total size */
static Size
marks_layout(MarksShared *shared)
{
	int			per_partition = Max(memshard_tablecache_marks / MARKS_PARTITIONS, 16);
	uint32		nbuckets = 16;
	Size		off = MAXALIGN(sizeof(MarksShared));

	while (nbuckets < (uint32) per_partition)
		nbuckets <<= 1;
	shared->per_partition = per_partition;
	shared->nbuckets = nbuckets;
	shared->nversions = nbuckets * MARKS_VERSIONS_PER_BUCKET;
	shared->nscopes = memshard_max_maps;
	shared->max_instance = max_prepared_xacts + MARKS_INSTANCE_EXTRA;

	shared->buckets_off = off;
	off = MAXALIGN(off + sizeof(uint32) * nbuckets * MARKS_PARTITIONS);
	shared->entries_off = off;
	off = MAXALIGN(off + sizeof(MarkEntry) * per_partition * MARKS_PARTITIONS);
	shared->scopes_off = off;
	off = MAXALIGN(off + sizeof(MarkScope) * (shared->nscopes + 1));
	shared->instance_off = off;
	off = MAXALIGN(off + sizeof(TransactionId) * shared->max_instance);
	shared->versions_off = off;
	off = MAXALIGN(off + sizeof(pg_atomic_uint64) * shared->nversions * MARKS_PARTITIONS);
	return off;
}

Size
marks_shmem_size(void)
{
	MarksShared shared;

	return marks_layout(&shared);
}

int
marks_lwlock_count(void)
{
	return MARKS_PARTITIONS + 1;
}

void
marks_shmem_startup(void)
{
	MarksShared scratch;
	Size		size = marks_layout(&scratch);
	bool		found;
	LWLockPadded *locks;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	marks_shared = ShmemInitStruct("pg_memshard marks", size, &found);
	if (found)
	{
		LWLockRelease(AddinShmemInitLock);
		return;
	}
	locks = GetNamedLWLockTranche(MARKS_LWLOCK_TRANCHE);
	memset(marks_shared, 0, size);
	marks_layout(marks_shared);
	marks_shared->scopes_lock = &locks[MARKS_PARTITIONS].lock;
	pg_atomic_init_u64(&marks_shared->next_lease, 1);
	pg_atomic_init_u64(&marks_shared->next_generation, 1);
	pg_atomic_init_u32(&marks_shared->ninstance, 0);
	for (i = 0; i < MARKS_PARTITIONS; i++)
	{
		MarkPartition *part = &marks_shared->partitions[i].part;
		uint32		j;

		part->lock = &locks[i].lock;
		/* free list in index order: entry j links to j + 1 */
		for (j = 1; j <= (uint32) marks_shared->per_partition; j++)
			entry_at(i, j)->next = (j < (uint32) marks_shared->per_partition) ? j + 1 : 0;
		part->free_head = 1;
		part->nfree = marks_shared->per_partition;
	}
	for (i = 0; i < (int) marks_shared->nversions * MARKS_PARTITIONS; i++)
		pg_atomic_init_u64(&((pg_atomic_uint64 *) ((char *) marks_shared + marks_shared->versions_off))[i], 1);
	for (i = 0; i <= marks_shared->nscopes; i++)
	{
		MarkScope  *scope = scope_of(MAKE_SCOPE(0, i));
		int			c;

		pg_atomic_init_u64(&scope->generation, 0);
		for (c = 0; c < MARKS_NCOUNTERS; c++)
			pg_atomic_init_u64(&scope->counters[c], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

bool
marks_is_ready(void)
{
	return marks_shared != NULL;
}

/* ---- addressing ---- */

static inline int
partition_index(uint64 khash)
{
	return (int) ((khash >> 40) & (MARKS_PARTITIONS - 1));
}

static inline MarkPartition *
partition_of(uint64 khash)
{
	return &marks_shared->partitions[partition_index(khash)].part;
}

/*
 * The version of a key: keys share versions (a few per bucket head), so a
 * bump can invalidate a neighbour too, never miss one.
 */
static inline pg_atomic_uint64 *
version_of(uint64 khash)
{
	return (pg_atomic_uint64 *) ((char *) marks_shared + marks_shared->versions_off) +
		(Size) partition_index(khash) * marks_shared->nversions +
		((khash >> 20) & (marks_shared->nversions - 1));
}

/* bucket head b of partition p */
static inline uint32 *
bucket_at(int p, uint32 b)
{
	return (uint32 *) ((char *) marks_shared + marks_shared->buckets_off) +
		(Size) p * marks_shared->nbuckets + b;
}

static inline uint32 *
bucket_of(uint64 khash)
{
	return bucket_at(partition_index(khash), khash & (marks_shared->nbuckets - 1));
}

static inline MarkEntry *
entry_at(int partition, uint32 ref)
{
	return (MarkEntry *) ((char *) marks_shared + marks_shared->entries_off) +
		(Size) partition * marks_shared->per_partition + (ref - 1);
}

/*
 * Add an entry to the key's chain, under its partition lock (exclusive);
 * its reference, or 0 when the partition has no room (the last eighth is
 * kept for table-wide marks, which may use it).
 */
static uint32
entry_insert(uint64 khash, MarkKind kind, uint64 value, bool use_reserve)
{
	int			p = partition_index(khash);
	MarkPartition *part = partition_of(khash);
	uint32		reserve = use_reserve ? 0 : marks_shared->per_partition / MARKS_RESERVE_DIV;
	uint32	   *bucket = bucket_of(khash);
	uint32		ref;
	MarkEntry  *entry;

	if (part->nfree <= reserve)
		return 0;
	ref = part->free_head;
	entry = entry_at(p, ref);
	part->free_head = entry->next;
	part->nfree--;
	entry->khash = khash;
	entry->kind = kind;
	entry->value = value;
	entry->since = 0;
	entry->next = *bucket;
	*bucket = ref;
	return ref;
}

/* unlink the entry *link points to and free it (partition lock exclusive) */
static void
entry_remove(uint64 khash, uint32 *link)
{
	int			p = partition_index(khash);
	MarkPartition *part = partition_of(khash);
	uint32		ref = *link;
	MarkEntry  *entry = entry_at(p, ref);

	*link = entry->next;
	entry->kind = MARK_FREE;
	entry->next = part->free_head;
	part->free_head = ref;
	part->nfree++;
}

/* what chain_remove removes: entries of a kind, of one key or any, of one value or any */
typedef struct MarkMatch
{
	uint8		kind;
	bool		any_key;
	uint64		khash;
	bool		any_value;
	uint64		value;
} MarkMatch;

/* remove the matching entries of the chain at *link (partition p, exclusive) */
static void
chain_remove(int p, uint32 *link, const MarkMatch *m)
{
	while (*link != 0)
	{
		MarkEntry  *entry = entry_at(p, *link);

		if (entry->kind == m->kind &&
			(m->any_key || entry->khash == m->khash) &&
			(m->any_value || entry->value == m->value))
			entry_remove(entry->khash, link);
		else
			link = &entry->next;
	}
}

/* drop every lease of the key: fills in flight will be refused */
static void
remove_leases(uint64 khash)
{
	MarkMatch	m = {MARK_LEASE, false, khash, true, 0};

	chain_remove(partition_index(khash), bucket_of(khash), &m);
}

/* ---- marks ---- */

/*
 * Mark a key for xid under its partition lock (exclusive), invalidating
 * its leases and moving its version (items filled before carry the old
 * one); false when there is no room (the leases and version are done
 * anyway).
 */
static bool
mark_locked(uint64 khash, TransactionId xid, bool use_reserve)
{
	int			p = partition_index(khash);
	uint32		ref;

	remove_leases(khash);
	pg_atomic_fetch_add_u64(version_of(khash), 1);
	for (ref = *bucket_of(khash); ref != 0; ref = entry_at(p, ref)->next)
	{
		MarkEntry  *entry = entry_at(p, ref);

		if (entry->khash == khash && entry->kind == MARK_MARK &&
			entry->value == xid)
			return true;
	}
	return entry_insert(khash, MARK_MARK, xid, use_reserve) != 0;
}

/*
 * Mark a key for a writer (its top-level xid).  False when the partition
 * is full: the caller marks the whole table instead.
 */
bool
marks_set(uint64 khash, TransactionId xid)
{
	MarkPartition *part = partition_of(khash);
	bool		ok;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	ok = mark_locked(khash, xid, false);
	LWLockRelease(part->lock);
	return ok;
}

/*
 * A table-wide mark: mark the scope's hash and give the scope a new
 * generation, in one step under the partition lock, which is where
 * readers read both (marks_lease_take).  Items filled under an older
 * generation are never served again.  It may use the reserve of the
 * partition; false when even that is full (the generation moved all the
 * same, so the caller may abort its transaction safely).
 */
bool
marks_set_scope(int scope, uint64 thash, TransactionId xid)
{
	MarkScope  *s = scope_of(scope);
	MarkPartition *part = partition_of(thash);
	bool		ok;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	ok = mark_locked(thash, xid, true);
	if (s != NULL && s->in_use)
		pg_atomic_write_u64(&s->generation,
							pg_atomic_fetch_add_u64(&marks_shared->next_generation, 1) + 1);
	LWLockRelease(part->lock);
	return ok;
}

/* remove the writer's mark on a key (or a scope hash), if it is there */
void
marks_clear(uint64 khash, TransactionId xid)
{
	MarkPartition *part = partition_of(khash);
	MarkMatch	m = {MARK_MARK, false, khash, false, xid};

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	chain_remove(partition_index(khash), bucket_of(khash), &m);
	LWLockRelease(part->lock);
}

/*
 * The distinct xids holding marks in the partition of khash (at most max),
 * for a caller that found the partition full: it checks which of them are
 * over and removes their marks with marks_forget_xid.  Abandoned leases
 * of the partition are removed on the way.
 */
int
marks_partition_xids(uint64 khash, TransactionId *xids, int max)
{
	MarkPartition *part = partition_of(khash);
	int			p = partition_index(khash);
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;
	uint32		b;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	for (b = 0; b < marks_shared->nbuckets; b++)
	{
		uint32	   *link = bucket_at(p, b);

		while (*link != 0)
		{
			MarkEntry  *entry = entry_at(p, *link);
			int			i;

			if (entry->kind == MARK_LEASE &&
				TimestampDifferenceExceeds(entry->since, now, MARKS_LEASE_TIMEOUT_MS))
			{
				entry_remove(entry->khash, link);
				continue;
			}
			link = &entry->next;
			if (entry->kind != MARK_MARK || n >= max)
				continue;
			for (i = 0; i < n && xids[i] != (TransactionId) entry->value; i++)
				;
			if (i == n)
				xids[n++] = (TransactionId) entry->value;
		}
	}
	LWLockRelease(part->lock);
	return n;
}

/* remove every mark of xid in the partition of khash (the writer is gone) */
void
marks_forget_xid(uint64 khash, TransactionId xid)
{
	MarkPartition *part = partition_of(khash);
	int			p = partition_index(khash);
	MarkMatch	m = {MARK_MARK, true, 0, false, xid};
	uint32		b;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	for (b = 0; b < marks_shared->nbuckets; b++)
		chain_remove(p, bucket_at(p, b), &m);
	LWLockRelease(part->lock);
}

/* ---- leases ---- */

/*
 * The first mark on khash, or InvalidTransactionId; with a lease check:
 * *busy is set when a lease younger than the timeout holds the key, and
 * abandoned leases are removed.  Partition lock held exclusive.
 */
static TransactionId
scan_key(uint64 khash, TimestampTz now, bool *busy)
{
	int			p = partition_index(khash);
	uint32	   *link = bucket_of(khash);

	*busy = false;
	while (*link != 0)
	{
		MarkEntry  *entry = entry_at(p, *link);

		if (entry->khash != khash)
		{
			link = &entry->next;
			continue;
		}
		if (entry->kind == MARK_MARK)
			return (TransactionId) entry->value;
		if (TimestampDifferenceExceeds(entry->since, now, MARKS_LEASE_TIMEOUT_MS))
		{
			entry_remove(khash, link);
			continue;
		}
		*busy = true;
		link = &entry->next;
	}
	return InvalidTransactionId;
}

/*
 * An instance mark's xid, or InvalidTransactionId (the common case, no
 * lock): while a prepared transaction older than this shared memory is in
 * doubt, it marks every key, so no lease is granted.  The instance marks
 * are kept by marks_scope.c.
 */
TransactionId
marks_instance_blocker(void)
{
	TransactionId xid = InvalidTransactionId;
	int			i;

	if (pg_atomic_read_u32(&marks_shared->ninstance) == 0)
		return InvalidTransactionId;
	LWLockAcquire(marks_shared->scopes_lock, LW_SHARED);
	for (i = 0; i < (int) pg_atomic_read_u32(&marks_shared->ninstance); i++)
	{
		if (instance_xids()[i] != InvalidTransactionId)
		{
			xid = instance_xids()[i];
			break;
		}
	}
	LWLockRelease(marks_shared->scopes_lock);
	return xid;
}

/*
 * A reader missed key khash of the table whose scope hash is thash: may it
 * fill?  First the instance marks, then the table (its marks and its
 * generation, read together under the partition lock where writers change
 * them), then the key (its marks, leases and version).  On
 * MARKS_LEASE_GRANTED *lease is what the fill must present, *generation
 * and *version what it records in the item.
 */
MarksLease
marks_lease_take(int scope, uint64 thash, uint64 khash, uint64 *lease,
				 uint64 *generation, uint64 *version, TransactionId *blocker)
{
	MarkScope  *s = scope_of(scope);
	MarkPartition *part;
	TimestampTz now = GetCurrentTimestamp();
	bool		busy;
	uint32		ref;

	*lease = 0;
	*blocker = InvalidTransactionId;
	if ((*blocker = marks_instance_blocker()) != InvalidTransactionId)
		return MARKS_LEASE_MARKED;
	if (s == NULL || SCOPE_INDEX(scope) == 0 || !s->in_use ||
		(s->version & 0x7FFF) != SCOPE_VERSION(scope))
		return MARKS_LEASE_FULL;

	part = partition_of(thash);
	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	*blocker = scan_key(thash, now, &busy);
	*generation = pg_atomic_read_u64(&s->generation);
	LWLockRelease(part->lock);
	if (*blocker != InvalidTransactionId)
		return MARKS_LEASE_MARKED;

	part = partition_of(khash);
	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	*blocker = scan_key(khash, now, &busy);
	if (*blocker != InvalidTransactionId || busy)
	{
		LWLockRelease(part->lock);
		return busy ? MARKS_LEASE_BUSY : MARKS_LEASE_MARKED;
	}
	*lease = pg_atomic_fetch_add_u64(&marks_shared->next_lease, 1);
	*version = pg_atomic_read_u64(version_of(khash));
	ref = entry_insert(khash, MARK_LEASE, *lease, false);
	if (ref != 0)
		entry_at(partition_index(khash), ref)->since = now;
	LWLockRelease(part->lock);
	if (ref == 0)
	{
		*lease = 0;
		return MARKS_LEASE_FULL;
	}
	return MARKS_LEASE_GRANTED;
}

/* find the lease (khash, lease) in its chain: the link to it, or NULL */
static uint32 *
find_lease(uint64 khash, uint64 lease)
{
	int			p = partition_index(khash);
	uint32	   *link = bucket_of(khash);

	while (*link != 0)
	{
		MarkEntry  *entry = entry_at(p, *link);

		if (entry->khash == khash && entry->kind == MARK_LEASE &&
			entry->value == lease)
			return link;
		link = &entry->next;
	}
	return NULL;
}

/*
 * Store a filled item if the lease still holds: the lease is checked and
 * the item stored under the key's partition lock, which writers take to
 * mark the key, so a mark comes either before (the fill is refused) or
 * after (the writer deletes the item it finds).  The lease is used up.
 */
MarksFill
marks_lease_fill(uint64 khash, uint64 lease, int slot, const char *key,
				 int keylen, const char *value, int vallen, int64 ttl_ms)
{
	MarkPartition *part = partition_of(khash);
	uint32	   *link;
	MarksFill	result;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	link = find_lease(khash, lease);
	if (link == NULL)
		result = MARKS_FILL_REFUSED;
	else
	{
		entry_remove(khash, link);
		result = store_set(slot, key, keylen, value, vallen, ttl_ms,
						   STORE_SET) == STORE_OK ?
			MARKS_FILL_STORED : MARKS_FILL_FAILED;
	}
	LWLockRelease(part->lock);
	return result;
}

/* give a lease back without filling (the read failed or found nothing) */
void
marks_lease_release(uint64 khash, uint64 lease)
{
	(void) marks_lease_end(khash, lease);
}

/*
 * A key's version, read without a lock: an item is served only if it
 * carries it (a writer's mark moved it after the item was filled).
 */
uint64
marks_key_version(uint64 khash)
{
	return pg_atomic_read_u64(version_of(khash));
}

/* give a lease up and say whether it still held (no mark since) */
bool
marks_lease_end(uint64 khash, uint64 lease)
{
	MarkPartition *part = partition_of(khash);
	uint32	   *link;

	LWLockAcquire(part->lock, LW_EXCLUSIVE);
	link = find_lease(khash, lease);
	if (link != NULL)
		entry_remove(khash, link);
	LWLockRelease(part->lock);
	return link != NULL;
}

