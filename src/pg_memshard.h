/*-------------------------------------------------------------------------
 *
 * pg_memshard.h
 *		Settings (GUCs) shared by all rooms of pg_memshard.
 *
 * The variables are defined in settings.c and registered by _PG_init
 * (pg_memshard.c); the rooms read them.  Postmaster-level settings are
 * fixed once shared memory has been sized.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_MEMSHARD_H
#define PG_MEMSHARD_H

/* postmaster settings: they size the shared segment */
extern int	memshard_memory_kb;		/* pg_memshard.memory */
extern int	memshard_partitions;	/* pg_memshard.partitions */
extern int	memshard_max_item_size; /* pg_memshard.max_item_size, bytes */
extern int	memshard_max_maps;		/* pg_memshard.max_maps */
extern int	memshard_tablecache_marks;	/* pg_memshard.tablecache_marks */

/* per-session settings for remote nodes */
extern int	memshard_connect_timeout_ms;	/* pg_memshard.connect_timeout */
extern int	memshard_remote_timeout_ms; /* pg_memshard.remote_timeout */

/* version of the library (memshard.version(), the warm restart's dumps) */
#define MEMSHARD_VERSION "1.0"

/* pg_memshard.restart */
typedef enum MemshardRestart
{
	MEMSHARD_RESTART_WARM,		/* dump at a clean shutdown, load at start */
	MEMSHARD_RESTART_COLD		/* every start with an empty cache */
} MemshardRestart;

extern int	memshard_restart;	/* pg_memshard.restart */
/* per-session setting of the table cache */
extern int	memshard_tablecache_max_keys;	/* pg_memshard.tablecache_max_keys */
extern int	memshard_tablecache_test_fill_lock; /* test hooks: advisory lock keys */
extern int	memshard_tablecache_test_commit_lock;

/* largest key in bytes (fixed, documented) */
#define MEMSHARD_MAX_KEY_SIZE	1024

/* true once _PG_init ran from shared_preload_libraries */
extern bool memshard_preloaded;

#endif							/* PG_MEMSHARD_H */
