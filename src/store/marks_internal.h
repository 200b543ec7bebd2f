/*-------------------------------------------------------------------------
 *
 * marks_internal.h
 *		Shared-memory layout of the table cache's marks, shared by marks.c
 *		(marks, leases, versions) and marks_scope.c (scopes, instance
 *		marks).  See marks.c for what they are and how they are locked.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_MARKS_INTERNAL_H
#define MEMSHARD_MARKS_INTERNAL_H

#include "port/atomics.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#include "store/store.h"

#define MARKS_PARTITIONS	64
/* share of a partition's entries that only table-wide marks may use */
#define MARKS_RESERVE_DIV	8
/* a lease older than this is abandoned: another reader may take the key */
#define MARKS_LEASE_TIMEOUT_MS 2000
/* room for instance marks beyond max_prepared_transactions */
#define MARKS_INSTANCE_EXTRA 16
/* key versions per bucket head */
#define MARKS_VERSIONS_PER_BUCKET 4

typedef enum MarkKind
{
	MARK_FREE,
	MARK_MARK,					/* value: xid of the writer */
	MARK_LEASE					/* value: lease number */
} MarkKind;

typedef struct MarkEntry
{
	uint64		khash;
	uint64		value;
	TimestampTz since;			/* leases: when taken */
	uint32		next;			/* chain or free list: index + 1, 0 = end */
	uint8		kind;
} MarkEntry;

typedef struct MarkPartition
{
	LWLock	   *lock;
	uint32		free_head;		/* index + 1 of a free entry, 0 = none */
	uint32		nfree;
} MarkPartition;

typedef union MarkPartitionPadded
{
	MarkPartition part;
	char		pad[PG_CACHE_LINE_SIZE];
} MarkPartitionPadded;

typedef struct MarkScope
{
	Oid			dboid;
	Oid			relid;
	uint32		version;		/* bumped on detach: stale handles fail */
	bool		in_use;
	pg_atomic_uint64 generation;
	pg_atomic_uint64 counters[MARKS_NCOUNTERS];
} MarkScope;

typedef struct MarksShared
{
	int			per_partition;	/* entries of each partition */
	uint32		nbuckets;		/* bucket heads of each partition (2^n) */
	uint32		nversions;		/* key versions of each partition (2^n) */
	int			nscopes;
	int			max_instance;
	Size		buckets_off;
	Size		entries_off;
	Size		scopes_off;
	Size		instance_off;
	Size		versions_off;
	LWLock	   *scopes_lock;	/* scopes attach/detach, instance marks */
	pg_atomic_uint64 next_lease;
	pg_atomic_uint64 next_generation;
	pg_atomic_uint32 ninstance; /* instance marks held (0: none) */
	bool		instance_known; /* instance marks recorded once */
	MarkPartitionPadded partitions[MARKS_PARTITIONS];
} MarksShared;

extern MarksShared *marks_shared;

#define SCOPE_INDEX(h)		((h) & 0xFFFF)
#define SCOPE_VERSION(h)	(((uint32) (h) >> 16) & 0x7FFF)
#define MAKE_SCOPE(v, i)	((int) ((((v) & 0x7FFF) << 16) | (i)))

/* a scope's slot (index 0 is never used) */
static inline MarkScope *
scope_at(int i)
{
	return (MarkScope *) ((char *) marks_shared + marks_shared->scopes_off) + i;
}

/* the instance marks' xids (marks_shared->ninstance of them in use) */
static inline TransactionId *
instance_xids(void)
{
	return (TransactionId *) ((char *) marks_shared + marks_shared->instance_off);
}

/* the scope of a handle, or NULL out of range */
static inline MarkScope *
scope_of(int handle)
{
	int			idx = SCOPE_INDEX(handle);

	if (handle < 0 || idx > marks_shared->nscopes)
		return NULL;
	return scope_at(idx);
}

#endif							/* MEMSHARD_MARKS_INTERNAL_H */
