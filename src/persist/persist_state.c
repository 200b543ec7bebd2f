/*-------------------------------------------------------------------------
 *
 * persist_state.c
 *		Whether this start may load a dump, and the figures of the load.
 *
 * The decision is taken once per shared-memory initialisation, in the
 * postmaster (shmem_startup_hook), before the startup process and before
 * any backend exists.  A dump is loaded only when all of these hold:
 *
 *	 - pg_memshard.restart is warm, and this is the postmaster's first
 *	   initialisation of shared memory (not the reset after a crash of any
 *	   process, nor a single-user backend);
 *	 - pg_control, read now, before recovery could change it, says the
 *	   cluster was shut down cleanly (DB_SHUTDOWNED);
 *	 - the start does not recover: no recovery.signal, standby.signal or
 *	   backup_label (a restored backup, a point-in-time recovery or a
 *	   standby would bring the database forward past the cache's contents);
 *	 - the dump exists.  The worker checks later that it was written by this
 *	   cluster, on this timeline, before the checkpoint that ended the last
 *	   run, by this version, and that its checksum is right (load.c).
 *
 * The dump is then claimed: renamed to cache.dump.load at once, so that it
 * is never loaded twice.  Whenever the decision is "no", every dump file is
 * removed, so a dump can never wait for a later start: a start after a
 * crash (the previous start renamed it; a postmaster killed before that
 * leaves pg_control "in production", not "shut down"), a cold start, or a
 * reset of shared memory all leave no file behind.  Only the shutdown that
 * follows writes a new one (dump.c).
 *
 * Locking: the state's mutex (a spinlock) protects the state, its detail
 * and the dump's figures; the counters are atomics, added to by loaders.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "access/xlog.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "persist/persist_internal.h"
#include "store/store.h"

PersistShared *persist_shared = NULL;

static void decide_start(bool first_init);
static const char *refusal(void);
static bool file_exists(const char *path);

Size
persist_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(PersistShared)), store_load_gate_size());
}

void
persist_shmem_startup(void)
{
	static int	initialisations = 0;
	bool		found;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	persist_shared = ShmemInitStruct("pg_memshard persist",
									 sizeof(PersistShared), &found);
	if (!found)
	{
		memset(persist_shared, 0, sizeof(PersistShared));
		SpinLockInit(&persist_shared->mutex);
		for (i = 0; i < PERSIST_NCOUNTERS; i++)
			pg_atomic_init_u64(&persist_shared->counters[i], 0);
	}
	LWLockRelease(AddinShmemInitLock);
	store_load_gate_startup();

	/* the process that created the segment decides, once per segment */
	if (!found)
		decide_start(initialisations++ == 0);
}

static void
decide_start(bool first_init)
{
	const char *reason;

	if (!IsPostmasterEnvironment)
		reason = "single-user mode";
	else if (!first_init)
		reason = "shared memory was reset after a crash";
	else if (memshard_restart != MEMSHARD_RESTART_WARM)
	{
		persist_remove_dumps();
		persist_set_state(PERSIST_START_COLD, "pg_memshard.restart is cold");
		return;
	}
	else
		reason = refusal();

	if (reason == NULL && rename(DUMP_FILE, DUMP_LOAD_FILE) != 0)
		reason = "the dump file could not be claimed";
	if (reason != NULL)
	{
		if (file_exists(DUMP_FILE))
			ereport(LOG,
					(errmsg("pg_memshard: cache dump \"%s\" not loaded: %s",
							DUMP_FILE, reason)));
		persist_remove_dumps();
		persist_set_state(PERSIST_START_EMPTY, reason);
		return;
	}
	persist_set_state(PERSIST_START_PENDING, "waiting for the worker");
	store_load_begin();
}

/*
 * Why this start must not load the dump (NULL: it may), from pg_control
 * and the files of the data directory.  Remembers what the worker checks
 * the dump's header against.
 */
static const char *
refusal(void)
{
	ControlFileData *control;
	bool		crc_ok;
	bool		clean;

	unlink(DUMP_LOAD_FILE);		/* left by a start that was interrupted */
	unlink(DUMP_TEMP_FILE);
	if (!file_exists(DUMP_FILE))
		return "no dump file";
	if (file_exists(RECOVERY_SIGNAL_FILE) || file_exists(STANDBY_SIGNAL_FILE))
		return "the server starts in recovery";
	if (file_exists(BACKUP_LABEL_FILE))
		return "the server starts from a base backup";

	control = get_controlfile(DataDir, &crc_ok);
	clean = crc_ok && control->state == DB_SHUTDOWNED;
	persist_shared->system_identifier = control->system_identifier;
	persist_shared->checkpoint_lsn = control->checkPoint;
	persist_shared->timeline = control->checkPointCopy.ThisTimeLineID;
	pfree(control);
	if (!clean)
		return "the previous shutdown was not clean";
	return NULL;
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* remove every dump file there may be */
void
persist_remove_dumps(void)
{
	unlink(DUMP_FILE);
	unlink(DUMP_LOAD_FILE);
	unlink(DUMP_TEMP_FILE);
}

void
persist_set_state(PersistStartState state, const char *detail)
{
	SpinLockAcquire(&persist_shared->mutex);
	persist_shared->state = state;
	strlcpy(persist_shared->detail, detail, sizeof(persist_shared->detail));
	if (state == PERSIST_START_LOADING)
		persist_shared->load_started = GetCurrentTimestamp();
	else if (persist_shared->load_started != 0 &&
			 persist_shared->load_ended == 0)
		persist_shared->load_ended = GetCurrentTimestamp();
	SpinLockRelease(&persist_shared->mutex);
}

/* the worker takes the pending load, once: true if there is one */
bool
persist_claim_load(void)
{
	bool		mine;

	SpinLockAcquire(&persist_shared->mutex);
	mine = (persist_shared->state == PERSIST_START_PENDING);
	SpinLockRelease(&persist_shared->mutex);
	if (mine)
		persist_set_state(PERSIST_START_LOADING, "loading");
	return mine;
}

/*
 * A worker that has no load to do: remove any dump (one written while the
 * server went on running is not a shutdown's), and if its predecessor died
 * in the middle of a load, end that load.
 */
void
persist_abandon_load(void)
{
	bool		interrupted;

	persist_remove_dumps();
	SpinLockAcquire(&persist_shared->mutex);
	interrupted = (persist_shared->state == PERSIST_START_LOADING);
	SpinLockRelease(&persist_shared->mutex);
	if (interrupted)
	{
		persist_set_state(PERSIST_START_EMPTY, "the load was interrupted");
		store_load_end();
	}
}

void
persist_count(PersistCounter counter, int64 n)
{
	if (n != 0)
		pg_atomic_fetch_add_u64(&persist_shared->counters[counter], n);
}

int64
persist_counter(PersistCounter counter)
{
	return (int64) pg_atomic_read_u64(&persist_shared->counters[counter]);
}

const char *
persist_state_name(PersistStartState state)
{
	switch (state)
	{
		case PERSIST_START_COLD:
			return "cold";
		case PERSIST_START_EMPTY:
			return "empty";
		case PERSIST_START_PENDING:
		case PERSIST_START_LOADING:
			return "loading";
		case PERSIST_START_LOADED:
			return "loaded";
	}
	return "?";
}

bool
persist_read_stats(PersistStats *stats)
{
	TimestampTz ended;
	int			i;

	memset(stats, 0, sizeof(PersistStats));
	if (persist_shared == NULL)
		return false;
	SpinLockAcquire(&persist_shared->mutex);
	stats->state = persist_shared->state;
	strlcpy(stats->detail, persist_shared->detail, sizeof(stats->detail));
	stats->dump_written_at = persist_shared->dump_written_at;
	stats->dump_items = persist_shared->dump_items;
	stats->dump_bytes = persist_shared->dump_bytes;
	stats->dump_seconds = persist_shared->dump_seconds;
	stats->load_started = persist_shared->load_started;
	ended = persist_shared->load_ended;
	SpinLockRelease(&persist_shared->mutex);

	if (stats->load_started != 0)
		stats->load_seconds =
			(double) ((ended != 0 ? ended : GetCurrentTimestamp()) -
					  stats->load_started) / USECS_PER_SEC;
	for (i = 0; i < PERSIST_NCOUNTERS; i++)
		stats->counters[i] = persist_counter(i);
	return true;
}
