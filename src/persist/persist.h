/*-------------------------------------------------------------------------
 *
 * persist.h
 *		Warm restart: what the persist room offers.
 *
 * With pg_memshard.restart = warm, a clean shutdown (smart or fast) writes
 * the cache's items to $PGDATA/pg_memshard/cache.dump, and the next start
 * loads them back in the background, when it is the start that follows
 * that shutdown and nothing else (see persist_state.c for the rules that
 * keep a crash from ever bringing old contents back).
 *
 * pg_memshard.c calls the three start-up functions; the api room reads the
 * figures for memshard.restart_stats.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_PERSIST_H
#define MEMSHARD_PERSIST_H

#include "datatype/timestamp.h"

/* what became of the cache at this start */
typedef enum PersistStartState
{
	PERSIST_START_COLD,			/* pg_memshard.restart = cold */
	PERSIST_START_EMPTY,		/* nothing loaded: the detail says why */
	PERSIST_START_PENDING,		/* a dump waits for the worker */
	PERSIST_START_LOADING,
	PERSIST_START_LOADED
} PersistStartState;

/* the load's figures, one counter each */
typedef enum PersistCounter
{
	PERSIST_LOADED,
	PERSIST_BYTES_LOADED,		/* key + value bytes of the loaded items */
	PERSIST_SKIPPED_EXPIRED,	/* expired while the server was down */
	PERSIST_SKIPPED_DROPPED_MAP,	/* map or extension gone since */
	PERSIST_SKIPPED_NOT_HELD,	/* shard no longer (or only as a replica) here */
	PERSIST_SKIPPED_NO_ROOM,	/* no free memory or quota left */
	PERSIST_SKIPPED_NEWER,		/* the key was set again during the load */
	PERSIST_SKIPPED_FAILED,		/* its loader could not run or failed */
	PERSIST_PROCESSED,			/* records handled by loaders (all the above) */
	PERSIST_NCOUNTERS
} PersistCounter;

/* a copy of the figures, for memshard.restart_stats */
typedef struct PersistStats
{
	PersistStartState state;
	char		detail[256];
	TimestampTz dump_written_at;	/* 0: no dump was read */
	int64		dump_items;
	int64		dump_bytes;
	double		dump_seconds;
	TimestampTz load_started;	/* 0: no load */
	double		load_seconds;	/* so far, while loading */
	int64		counters[PERSIST_NCOUNTERS];
} PersistStats;

/* start-up, from pg_memshard.c (postmaster) */
extern void persist_register_worker(void);
extern Size persist_shmem_size(void);
extern void persist_shmem_startup(void);

/* figures; false when the library was not preloaded */
extern bool persist_read_stats(PersistStats *stats);
extern const char *persist_state_name(PersistStartState state);

#endif							/* MEMSHARD_PERSIST_H */
