/*-------------------------------------------------------------------------
 *
 * recovery_state.c
 *		What the recovery of metadata changes shares between processes: the
 *		databases to visit, the visit running now, and the figures of
 *		memshard.metadata_recovery.
 *
 * Backends flag their database (a part prepared here, a part left
 * unfinished elsewhere), recovery counts what it finished and notes why
 * something stays in doubt; the launcher and its workers (recovery_worker.c)
 * read and clear the flags.  One spinlock guards it all; nothing done under
 * it can fail, so commit and abort callbacks may flag a database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"

/* NULL when not preloaded: no worker, nothing to flag */
RecoveryShared *recovery_shared = NULL;

Size
cluster_recovery_shmem_size(void)
{
	return MAXALIGN(sizeof(RecoveryShared));
}

/* shmem_startup_hook: in the postmaster, so every process inherits it */
void
cluster_recovery_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	recovery_shared = ShmemInitStruct("pg_memshard metadata recovery",
									  cluster_recovery_shmem_size(), &found);
	if (!found)
	{
		memset(recovery_shared, 0, sizeof(RecoveryShared));
		SpinLockInit(&recovery_shared->mutex);
		recovery_shared->visit_all = true;
	}
	LWLockRelease(AddinShmemInitLock);
}

void
recovery_flag_database(Oid dboid, int what)
{
	int			i;

	if (recovery_shared == NULL)
		return;					/* not preloaded: no worker */
	SpinLockAcquire(&recovery_shared->mutex);
	for (i = 0; i < recovery_shared->nflagged; i++)
	{
		if (recovery_shared->flagged[i].dboid == dboid)
			break;
	}
	if (i < recovery_shared->nflagged)
		recovery_shared->flagged[i].what |= what;
	else if (recovery_shared->nflagged < RECOVERY_MAX_FLAGGED)
	{
		recovery_shared->flagged[i].dboid = dboid;
		recovery_shared->flagged[i].what = what;
		recovery_shared->nflagged++;
	}
	else
		recovery_shared->visit_all = true;
	SpinLockRelease(&recovery_shared->mutex);
}

void
recovery_count_resolved(int resolved)
{
	if (recovery_shared == NULL || resolved == 0)
		return;
	SpinLockAcquire(&recovery_shared->mutex);
	recovery_shared->resolved += resolved;
	SpinLockRelease(&recovery_shared->mutex);
}

/* remember why something stays in doubt; true if it is news */
bool
recovery_note_problem(const char *problem)
{
	bool		news;

	if (recovery_shared == NULL)
		return true;
	SpinLockAcquire(&recovery_shared->mutex);
	news = strncmp(recovery_shared->problem, problem,
				   sizeof(recovery_shared->problem) - 1) != 0;
	strlcpy(recovery_shared->problem, problem, sizeof(recovery_shared->problem));
	SpinLockRelease(&recovery_shared->mutex);
	return news;
}

/* what memshard.metadata_recovery shows */
void
cluster_recovery_figures(ClusterRecoveryFigures *figures)
{
	memset(figures, 0, sizeof(ClusterRecoveryFigures));
	if (recovery_shared == NULL)
		return;
	SpinLockAcquire(&recovery_shared->mutex);
	figures->resolved = recovery_shared->resolved;
	figures->last_pass = recovery_shared->last_pass;
	strlcpy(figures->problem, recovery_shared->problem, sizeof(figures->problem));
	SpinLockRelease(&recovery_shared->mutex);
}
