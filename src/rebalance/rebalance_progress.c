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

#include "miscadmin.h"
#include "storage/ipc.h"
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
static bool exit_callback_registered = false;

static void progress_at_exit(int code, Datum arg);
static void own_job(void);

/*
 * A backend that exits while its job runs (terminated, FATAL) leaves it
 * failed, not running for ever.
 */
static void
progress_at_exit(int code, Datum arg)
{
	RebalanceProgress *p;

	if (progress_shared == NULL)
		return;
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->progress;
	if (strcmp(p->state, "running") == 0 && p->pid == MyProcPid)
	{
		strlcpy(p->state, "failed", 16);
		strlcpy(p->error, "the backend running the job exited", 256);
	}
	SpinLockRelease(&progress_shared->mutex);
}

/* the job is this backend's: it is ended if the backend exits */
static void
own_job(void)
{
	if (!exit_callback_registered)
	{
		before_shmem_exit(progress_at_exit, (Datum) 0);
		exit_callback_registered = true;
	}
}

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
	if (!p->claimed)
		p->job++;
	if (!p->claimed)
		p->stop_requested = false;
	p->claimed = false;
	strlcpy(p->state, "running", 16);
	p->step = 0;
	p->steps = steps;
	p->map[0] = p->source[0] = p->target[0] = p->error[0] = '\0';
	p->shard = -1;
	p->items_copied = p->bytes_copied = 0;
	p->started = GetCurrentTimestamp();
	p->pid = MyProcPid;
	SpinLockRelease(&progress_shared->mutex);
	own_job();
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
			progress_shared->progress.pid == MyProcPid;
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

/*
 * rebalance_start: a job number for the worker to come, state running from
 * now on; ERROR if a job runs here already
 */
int64
rebalance_progress_claim(void)
{
	RebalanceProgress *p;
	int64		job;
	bool		busy;

	if (progress_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_memshard is not loaded by shared_preload_libraries")));
	SpinLockAcquire(&progress_shared->mutex);
	p = &progress_shared->progress;
	busy = strcmp(p->state, "running") == 0;
	if (!busy)
	{
		job = ++p->job;
		p->claimed = true;
		p->stop_requested = false;
		strlcpy(p->state, "running", 16);
		p->step = p->steps = 0;
		p->map[0] = p->source[0] = p->target[0] = p->error[0] = '\0';
		p->started = GetCurrentTimestamp();
	}
	SpinLockRelease(&progress_shared->mutex);
	if (busy)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("a rebalance is already running on this node"),
				 errhint("Wait for it with memshard.rebalance_wait(), or stop it with memshard.rebalance_stop().")));
	return job;
}

bool
rebalance_progress_stop_requested(void)
{
	bool		stop;

	if (progress_shared == NULL)
		return false;
	SpinLockAcquire(&progress_shared->mutex);
	stop = progress_shared->progress.stop_requested;
	SpinLockRelease(&progress_shared->mutex);
	return stop;
}

bool
rebalance_progress_request_stop(void)
{
	bool		running;

	if (progress_shared == NULL)
		return false;
	SpinLockAcquire(&progress_shared->mutex);
	running = strcmp(progress_shared->progress.state, "running") == 0;
	if (running)
		progress_shared->progress.stop_requested = true;
	SpinLockRelease(&progress_shared->mutex);
	return running;
}

/*
 * ERROR if rebalance_stop() asked this job to stop: here, beside the
 * request it reads, so that the moves and the jobs both call down to it.
 */
void
rebalance_check_stop(void)
{
	CHECK_FOR_INTERRUPTS();
	if (rebalance_progress_stop_requested())
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the rebalance was stopped"),
				 errdetail("memshard.rebalance_stop() was called; the move in progress is undone.")));
}
