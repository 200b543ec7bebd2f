/*-------------------------------------------------------------------------
 *
 * failover_state.c
 *		What failover keeps in shared memory, per database: the newest
 *		metadata epoch this node has seen on another node (fencing), since
 *		when each node has been unreachable (the failover worker), and the
 *		figures of memshard.failover_stats.
 *
 * One slot per database, found by OID, made on first use; when the table
 * is full the slot of the database seen longest ago is reused (a database
 * dropped long ago).  Everything is under one spinlock, held only to copy
 * a few words: nothing here can fail or wait.
 *
 * Not preloaded, there is no table: nothing is remembered, no node is
 * fenced by what another node said (the epoch check of peer calls still
 * refuses the caller), and the figures are zero.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/failover_internal.h"

#define FAILOVER_SLOTS		16
#define FAILOVER_MAX_NODES	64

typedef struct NodeWatch
{
	int32		node_id;		/* 0: free */
	TimestampTz unreachable_since;	/* 0: reachable at the last probe */
	TimestampTz reachable_since;	/* 0: unreachable at the last probe */
} NodeWatch;

typedef struct FailoverSlot
{
	Oid			dboid;			/* InvalidOid: free */
	TimestampTz last_use;
	FailoverFigures figures;
	NodeWatch	watch[FAILOVER_MAX_NODES];
} FailoverSlot;

typedef struct FailoverShared
{
	slock_t		mutex;
	bool		visit_found;	/* the worker's visit found a node of a
								 * cluster (the launcher visits one at a
								 * time) */
	uint64		changes;		/* metadata changes made or taken here */
	FailoverSlot slots[FAILOVER_SLOTS];
} FailoverShared;

static FailoverShared *failover_shared = NULL;

/* pg_memshard.failover_timeout (the worker's; fencing reads it too) */
int			memshard_failover_timeout_ms = 0;

static FailoverSlot *slot_for(Oid dboid);

Size
cluster_failover_shmem_size(void)
{
	return MAXALIGN(sizeof(FailoverShared));
}

void
cluster_failover_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	failover_shared = ShmemInitStruct("pg_memshard failover",
									  cluster_failover_shmem_size(), &found);
	if (!found)
	{
		memset(failover_shared, 0, sizeof(FailoverShared));
		SpinLockInit(&failover_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* the slot of a database, made if needed; caller holds the mutex */
static FailoverSlot *
slot_for(Oid dboid)
{
	FailoverSlot *oldest = &failover_shared->slots[0];
	int			i;

	for (i = 0; i < FAILOVER_SLOTS; i++)
	{
		FailoverSlot *slot = &failover_shared->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (slot->dboid == InvalidOid ||
			(oldest->dboid != InvalidOid && slot->last_use < oldest->last_use))
			oldest = slot;
	}
	memset(oldest, 0, sizeof(FailoverSlot));
	oldest->dboid = dboid;
	return oldest;
}

/* this database's figures; all zero when not preloaded */
void
failover_figures_get(FailoverFigures *figures)
{
	memset(figures, 0, sizeof(FailoverFigures));
	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	*figures = slot_for(MyDatabaseId)->figures;
	SpinLockRelease(&failover_shared->mutex);
}

/*
 * What fencing needs on every request, read without the lock (a torn or
 * stale read only delays fencing by one request): false when nothing is
 * known of this database.
 */
bool
failover_fence_peek(int64 *newest_seen, bool *verified, TimestampTz *last_verify)
{
	int			i;

	if (failover_shared == NULL)
		return false;
	for (i = 0; i < FAILOVER_SLOTS; i++)
	{
		volatile FailoverSlot *slot = &failover_shared->slots[i];

		if (slot->dboid == MyDatabaseId)
		{
			*newest_seen = slot->figures.newest_seen;
			*verified = slot->figures.verified;
			*last_verify = slot->figures.last_verify;
			return true;
		}
	}
	return false;
}

/*
 * Another node has epoch seen (a probe's answer, a caller's epoch);
 * verified: a probe reached another node, so what we know is current.
 */
void
failover_note_epoch(int64 seen, bool verified)
{
	TimestampTz now = GetCurrentTimestamp();
	FailoverSlot *slot;

	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	slot = slot_for(MyDatabaseId);
	slot->last_use = now;
	slot->figures.newest_seen = Max(slot->figures.newest_seen, seen);
	slot->figures.verified |= verified;
	slot->figures.last_verify = now;
	SpinLockRelease(&failover_shared->mutex);
}

/*
 * This node took a coordinator's metadata (epoch): what it saw before, up
 * to that epoch, is no longer news.  Only lowered, never raised: the
 * change is not committed yet (its part here is still to be prepared), and
 * the other sessions of this node must go on serving at the epoch they see
 * until it is; raised here, they would fence themselves in the meantime.
 */
void
failover_epoch_applied(int64 epoch)
{
	FailoverSlot *slot;

	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	slot = slot_for(MyDatabaseId);
	slot->figures.newest_seen = Min(slot->figures.newest_seen, epoch);
	SpinLockRelease(&failover_shared->mutex);
}

/* a promotion this node coordinated committed */
void
failover_count_promotion(int shards)
{
	TimestampTz now = GetCurrentTimestamp();
	FailoverSlot *slot;

	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	slot = slot_for(MyDatabaseId);
	slot->figures.failovers++;
	slot->figures.shards_promoted += shards;
	slot->figures.last_failover = now;
	SpinLockRelease(&failover_shared->mutex);
}

/*
 * The failover worker's probe of a node: since when it has been
 * unreachable (0: it answered) and since when it has answered (0: it did
 * not), over the probes in a row that said so.
 */
void
failover_watch(int32 node_id, bool reachable, TimestampTz now,
			   TimestampTz *unreachable_since, TimestampTz *reachable_since)
{
	FailoverSlot *slot;
	NodeWatch  *watch = NULL;
	int			i;

	*unreachable_since = *reachable_since = 0;
	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	slot = slot_for(MyDatabaseId);
	slot->last_use = now;
	for (i = 0; i < FAILOVER_MAX_NODES; i++)
	{
		if (slot->watch[i].node_id == node_id)
		{
			watch = &slot->watch[i];
			break;
		}
		if (slot->watch[i].node_id == 0 && watch == NULL)
			watch = &slot->watch[i];
	}
	if (watch != NULL)
	{
		if (watch->node_id != node_id)
			memset(watch, 0, sizeof(NodeWatch));
		watch->node_id = node_id;
		if (reachable)
		{
			watch->unreachable_since = 0;
			if (watch->reachable_since == 0)
				watch->reachable_since = now;
		}
		else
		{
			watch->reachable_since = 0;
			if (watch->unreachable_since == 0)
				watch->unreachable_since = now;
		}
		*unreachable_since = watch->unreachable_since;
		*reachable_since = watch->reachable_since;
	}
	SpinLockRelease(&failover_shared->mutex);
}

/* the launcher, before a visit; the worker, when it found a cluster */
void
failover_visit_report(bool found)
{
	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	failover_shared->visit_found = found;
	SpinLockRelease(&failover_shared->mutex);
}

/* the launcher, after a visit */
bool
failover_visit_found(void)
{
	bool		found;

	if (failover_shared == NULL)
		return false;
	SpinLockAcquire(&failover_shared->mutex);
	found = failover_shared->visit_found;
	SpinLockRelease(&failover_shared->mutex);
	return found;
}

/*
 * A metadata change was made or taken in this instance (it may have made
 * a database a node of a cluster): the launcher visits every database
 * again.
 */
void
failover_count_change(void)
{
	if (failover_shared == NULL)
		return;
	SpinLockAcquire(&failover_shared->mutex);
	failover_shared->changes++;
	SpinLockRelease(&failover_shared->mutex);
}

uint64
failover_changes(void)
{
	uint64		changes;

	if (failover_shared == NULL)
		return 0;
	SpinLockAcquire(&failover_shared->mutex);
	changes = failover_shared->changes;
	SpinLockRelease(&failover_shared->mutex);
	return changes;
}
