/*-------------------------------------------------------------------------
 *
 * pg_memshard.c
 *		Module entry point: GUC definitions and the shared-memory hooks.
 *
 * This file owns nothing but start-up: the settings' values are in
 * settings.c, which every room reads.  The cache itself lives in
 * src/store, which tells us how much shared memory and how many LWLocks it
 * needs; we request them in shmem_request_hook (new in PostgreSQL 15) and let
 * the store lay out its segment in shmem_startup_hook, as
 * pg_stat_statements does.  When preloaded we also register the background
 * workers: the one that finishes metadata changes left in doubt and the
 * failover worker (src/cluster), the Redis protocol's (src/resp), and with
 * pg_memshard.restart = warm the warm restart's (src/persist), which then
 * decides in shmem_startup_hook whether this start loads a dump.
 *
 * A postmaster setting the GUC machinery refuses (out of range, not a power
 * of two, not a number) would be replaced by its default with only a
 * WARNING, and a cache configured for 16GB would run with 64MB.  So a
 * refused value, or settings the segment cannot be laid out with, stop the
 * server at start with a FATAL saying why (require_accepted,
 * store_check_settings).
 *
 * When the library is not in shared_preload_libraries, _PG_init still
 * defines the per-session settings (so the pure partitioning functions and
 * the catalogs work), but no shared memory exists: functions that need it
 * raise an error with a HINT (see store_require_ready).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "cluster/cluster.h"
#include "ddl_hook.h"
#include "pg_memshard.h"
#include "persist/persist.h"
#include "rebalance/rebalance.h"
#include "remote/remote.h"
#include "resp/resp.h"
#include "store/move_log.h"
#include "store/store.h"
#include "tablecache/tablecache.h"

PG_MODULE_MAGIC;

static const struct config_enum_entry restart_options[] = {
	{"warm", MEMSHARD_RESTART_WARM, false},
	{"cold", MEMSHARD_RESTART_COLD, false},
	{NULL, 0, false}
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

/* a postmaster setting and the rule its values follow */
typedef struct PostmasterSetting
{
	const char *name;
	int		   *variable;
	int			flags;			/* GUC_UNIT_ flags, for parse_int */
	const char *rule;			/* what values are allowed, for the DETAIL */
	const char *raw;			/* the configured value, NULL if none */
} PostmasterSetting;

static PostmasterSetting postmaster_settings[] = {
	{"pg_memshard.memory", &memshard_memory_kb, GUC_UNIT_KB,
	"between 4MB and 16GB"},
	{"pg_memshard.partitions", &memshard_partitions, 0,
	"a power of two between 1 and 1024"},
	{"pg_memshard.max_item_size", &memshard_max_item_size, GUC_UNIT_BYTE,
	"between 4kB and 16MB minus 4kB"},
	{"pg_memshard.max_maps", &memshard_max_maps, 0,
	"between 16 and 65000"},
};

static bool check_partitions(int *newval, void **extra, GucSource source);
static void note_configured_values(void);
static void require_accepted(const PostmasterSetting *setting);
static void memshard_shmem_request(void);
static void memshard_shmem_startup(void);
static void define_postmaster_settings(void);
static void define_session_settings(void);

void
_PG_init(void)
{
	define_session_settings();
	ddl_hook_install();
	tablecache_init();

	/*
	 * Shared memory can only be requested by a library loaded at postmaster
	 * start.  Otherwise stay quiet: functions needing it report the problem.
	 */
	if (!process_shared_preload_libraries_in_progress)
	{
		MarkGUCPrefixReserved("pg_memshard");
		return;
	}

	note_configured_values();
	define_postmaster_settings();
	resp_define_gucs();
	MarkGUCPrefixReserved("pg_memshard");
	for (int i = 0; i < lengthof(postmaster_settings); i++)
		require_accepted(&postmaster_settings[i]);
	store_check_settings();
	memshard_preloaded = true;
	resp_register_workers();

	cluster_recovery_register();
	cluster_failover_register();
	if (memshard_restart == MEMSHARD_RESTART_WARM)
		persist_register_worker();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = memshard_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = memshard_shmem_startup;
}

static void
define_postmaster_settings(void)
{
	DefineCustomIntVariable("pg_memshard.memory",
							"Shared memory budget of the cache (everything: items, index, metadata).",
							NULL,
							&memshard_memory_kb,
							64 * 1024,
							4 * 1024,
							16 * 1024 * 1024,	/* chunk references: 32 bits of 4-byte units */
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.partitions",
							"Number of cache partitions, each with its own lock (a power of two).",
							NULL,
							&memshard_partitions,
							16,
							1,
							1024,
							PGC_POSTMASTER,
							0,
							check_partitions, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.max_item_size",
							"Largest item (key plus value) the cache accepts.",
							NULL,
							&memshard_max_item_size,
							1024 * 1024,
							4096,
							16 * 1024 * 1024 - 4096,
							PGC_POSTMASTER,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.max_maps",
							"Number of maps (over all databases) whose counters shared memory can hold.",
							NULL,
							&memshard_max_maps,
							1024,
							16,
							65000,	/* item map slots: 16 bits, a few reserved */
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.recovery_interval",
							"Time between two passes of the worker that finishes metadata changes left in doubt (0: off).",
							NULL,
							&memshard_recovery_interval_ms,
							10000,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.failover_timeout",
							"Time a node must stay unreachable before its shards are promoted to their replicas automatically (0: off).",
							"The failover worker of each node watches the others; one node reaching a majority promotes.",
							&memshard_failover_timeout_ms,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("pg_memshard.restart",
							 "Whether the cache's contents survive a clean restart (warm) or not (cold).",
							 "warm: a clean shutdown writes the cache to disk and the next start loads it back.",
							 &memshard_restart,
							 MEMSHARD_RESTART_WARM,
							 restart_options,
							 PGC_POSTMASTER,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.tablecache_marks",
							"Entries of the table cache's shared table of invalidation marks and fill leases.",
							NULL,
							&memshard_tablecache_marks,
							65536,
							1024,
							16 * 1024 * 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
}

static void
define_session_settings(void)
{
	DefineCustomIntVariable("pg_memshard.connect_timeout",
							"Time allowed to connect to a remote node.",
							NULL,
							&memshard_connect_timeout_ms,
							5000,
							1,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.peer_epoch",
							"Metadata epoch of the node calling this session (set by pg_memshard's connections to nodes; 0: none).",
							NULL,
							&memshard_caller_epoch,
							0,
							0,
							INT_MAX,
							PGC_USERSET,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.remote_timeout",
							"Time allowed for a remote node to answer a request.",
							NULL,
							&memshard_remote_timeout_ms,
							10000,
							1,
							INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* fault points of the metadata change, for the TAP tests only */
	DefineCustomIntVariable("pg_memshard.test_hold_after_prepare",
							"For tests only: once every node prepared its part of a metadata change, wait for the advisory lock of this key before the local commit (0: off).",
							NULL,
							&memshard_test_hold_after_prepare,
							0,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.test_hold_move",
							"For tests only: after a shard move's first full copy, wait for the advisory lock of this key (0: off).",
							NULL,
							&memshard_test_hold_move,
							0,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_NOT_IN_SAMPLE,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_memshard.test_error_after_commit",
							 "For tests only: fail a metadata change after its local commit, where the other nodes' parts are committed.",
							 NULL,
							 &memshard_test_error_after_commit,
							 false,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.tablecache_max_keys",
							"Keys of one cached table a transaction invalidates one by one; beyond, the whole table.",
							NULL,
							&memshard_tablecache_max_keys,
							1000,
							1,
							INT_MAX / 2,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	/*
	 * Test hooks (the isolation specs): wait for an advisory lock at the
	 * points where the table cache's races are decided.
	 */
	DefineCustomIntVariable("pg_memshard.tablecache_test_fill_lock",
							"Tests only: a fill waits for this advisory lock after reading the row.",
							NULL,
							&memshard_tablecache_test_fill_lock,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);

	DefineCustomIntVariable("pg_memshard.tablecache_test_commit_lock",
							"Tests only: a committing writer waits for this advisory lock after marking its keys.",
							NULL,
							&memshard_tablecache_test_commit_lock,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							NULL, NULL, NULL);
}

/*
 * Keep the values the configuration gives the postmaster settings, before
 * defining them replaces what it refuses by the default.
 */
static void
note_configured_values(void)
{
	for (int i = 0; i < lengthof(postmaster_settings); i++)
	{
		const char *raw = GetConfigOption(postmaster_settings[i].name, true, false);

		postmaster_settings[i].raw = raw ? MemoryContextStrdup(TopMemoryContext, raw) : NULL;
	}
}

/*
 * FATAL unless the configured value of a postmaster setting is the value in
 * force: a refused one was replaced by the default.
 */
static void
require_accepted(const PostmasterSetting *setting)
{
	int			parsed;
	const char *hint = NULL;

	if (setting->raw == NULL)
		return;
	if (parse_int(setting->raw, &parsed, setting->flags, &hint) &&
		parsed == *setting->variable)
		return;
	ereport(FATAL,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for parameter \"%s\": \"%s\"",
					setting->name, setting->raw),
			 errdetail("%s must be %s; pg_memshard does not start with another value than the one configured.",
					   setting->name, setting->rule),
			 errhint("Correct %s in postgresql.conf (or wherever it is set) and start the server again.",
					 setting->name)));
}

static bool
check_partitions(int *newval, void **extra, GucSource source)
{
	if (*newval <= 0 || (*newval & (*newval - 1)) != 0)
	{
		GUC_check_errdetail("pg_memshard.partitions must be a power of two.");
		return false;
	}
	return true;
}

static void
memshard_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(store_shmem_size());
	RequestAddinShmemSpace(remote_shmem_size());
	RequestAddinShmemSpace(cluster_recovery_shmem_size());
	RequestAddinShmemSpace(cluster_failover_shmem_size());
	RequestAddinShmemSpace(persist_shmem_size());
	RequestNamedLWLockTranche(STORE_LWLOCK_TRANCHE, store_lwlock_count());
	RequestAddinShmemSpace(marks_shmem_size());
	RequestNamedLWLockTranche(MARKS_LWLOCK_TRANCHE, marks_lwlock_count());
	RequestAddinShmemSpace(resp_clients_shmem_size());
	RequestAddinShmemSpace(move_log_shmem_size());
	RequestNamedLWLockTranche(MOVE_LOG_LWLOCK_TRANCHE, move_log_lwlock_count());
	RequestAddinShmemSpace(rebalance_shmem_size());
}

static void
memshard_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	store_shmem_startup();
	cluster_recovery_shmem_startup();
	cluster_failover_shmem_startup();
	persist_shmem_startup();
	marks_shmem_startup();
	resp_clients_shmem_startup();
	move_log_shmem_startup();
	rebalance_shmem_startup();
}
