/*-------------------------------------------------------------------------
 *
 * settings.c
 *		The values of the settings that several rooms read (pg_memshard.h).
 *
 * Only variables: _PG_init (pg_memshard.c) registers them with the GUC
 * machinery, and every room reads them.  Keeping them apart from start-up
 * keeps the calls one way: pg_memshard.c calls into the rooms, the rooms
 * read this file and never call back.  A room's own settings stay with the
 * room (the recovery worker's in src/cluster, the Redis front end's in
 * src/resp).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "pg_memshard.h"

/* postmaster settings: they size the shared segment */
int			memshard_memory_kb = 64 * 1024;
int			memshard_partitions = 16;
int			memshard_max_item_size = 1024 * 1024;
int			memshard_max_maps = 1024;
int			memshard_restart = MEMSHARD_RESTART_WARM;
int			memshard_tablecache_marks = 65536;

/* per-session settings for remote nodes */
int			memshard_connect_timeout_ms = 5000;
int			memshard_remote_timeout_ms = 10000;

/* per-session settings of the table cache, and its test hooks */
int			memshard_tablecache_max_keys = 1000;
int			memshard_tablecache_test_fill_lock = 0;
int			memshard_tablecache_test_commit_lock = 0;

bool		memshard_preloaded = false;
