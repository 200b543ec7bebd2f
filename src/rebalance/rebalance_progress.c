/*-------------------------------------------------------------------------
 *
 * rebalance_progress.c
 *		The progress of this node's rebalance (or move) and its counters
 *		since start, in shared memory: memshard.rebalance_status and the
 *		rebalance series of memshard.metrics() read them.
 *
 * One record per instance under a spinlock (short copies only).  A job is
 * a rebalance, a drain or a single move_shard run from this node.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "rebalance/rebalance.h"

typedef struct ProgressShared
{
	slock_t		mutex;
	RebalanceProgress progress;
} ProgressShared;

static ProgressShared *progress_shared = NULL;

Size
rebalance_shmem_size(void)
{
	return MAXALIGN(sizeof(ProgressShared));
}

void
rebalance_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	progress_shared = ShmemInitStruct("pg_memshard rebalance",
									  rebalance_shmem_size(), &found);
	if (!found)
	{
		memset(progress_shared, 0, sizeof(ProgressShared));
		SpinLockInit(&progress_shared->mutex);
		strlcpy(progress_shared->progress.state, "idle", 16);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
rebalance_progress_get(RebalanceProgress *progress)
{
	if (progress_shared == NULL)
	{
		memset(progress, 0, sizeof(RebalanceProgress));
		strlcpy(progress->state, "idle", 16);
		return;
	}
	SpinLockAcquire(&progress_shared->mutex);
	*progress = progress_shared->progress;
	SpinLockRelease(&progress_shared->mutex);
}

/* a new job of steps moves */
void
rebalance_progress_job(int steps)
{
	RebalanceProgress *p;

	if (progress_shared == NULL)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->progress;
	p->job++;
	strlcpy(p->state, "running", 16);
	p->step = 0;
	p->steps = steps;
	p->map[0] = p->source[0] = p->target[0] = p->error[0] = '\0';
	p->shard = -1;
	p->items_copied = p->bytes_copied = 0;
	p->started = GetCurrentTimestamp();
	SpinLockRelease(&progress_shared->mutex);
}

/* step -1: a move_shard of its own (a job of one step, unless in a job) */
void
rebalance_progress_step(int step, const char *map, int32 shard,
						const char *source, const char *target)
{
	RebalanceProgress *p;

	if (progress_shared == NULL)
		return;
	if (step < 0)
	{
		bool		in_job;

		SpinLockAcquire(&progress_shared->mutex);
		in_job = strcmp(progress_shared->progress.state, "running") == 0 &&
			progress_shared->progress.steps > 0;
		SpinLockRelease(&progress_shared->mutex);
		if (in_job)
			return;
		rebalance_progress_job(1);
		step = 1;
	}
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->progress;
	p->step = step;
	strlcpy(p->map, map, NAMEDATALEN);
	p->shard = shard;
	strlcpy(p->source, source, NAMEDATALEN);
	strlcpy(p->target, target, NAMEDATALEN);
	p->items_copied = p->bytes_copied = 0;
	SpinLockRelease(&progress_shared->mutex);
}

void
rebalance_progress_copied(int64 items, int64 bytes)
{
	if (progress_shared == NULL)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	progress_shared->progress.items_copied = items;
	progress_shared->progress.bytes_copied = bytes;
	SpinLockRelease(&progress_shared->mutex);
}

void
rebalance_progress_move_done(bool ok, int64 bytes)
{
	RebalanceProgress *p;

	if (progress_shared == NULL)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->progress;
	if (ok)
	{
		p->moves_total++;
		p->bytes_moved_total += bytes;
	}
	else
		p->moves_failed++;
	/* a move_shard on its own ends its job here */
	if (p->steps == 1 && p->step == 1 && strcmp(p->state, "running") == 0)
		strlcpy(p->state, ok ? "done" : "failed", 16);
	SpinLockRelease(&progress_shared->mutex);
}

void
rebalance_progress_end(const char *state, const char *error)
{
	if (progress_shared == NULL)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	strlcpy(progress_shared->progress.state, state, 16);
	if (error != NULL)
		strlcpy(progress_shared->progress.error, error, 256);
	SpinLockRelease(&progress_shared->mutex);
}
