/*-------------------------------------------------------------------------
 *
 * store.h
 *		The local shared-memory cache: what the store room offers.
 *
 * The room offers: the segment's sizing and start-up (store_shmem_*,
 * store_check_settings), map slots (store_map_attach/find/detach,
 * store_flush_database), the operations on items (store_set, store_get,
 * store_mget, store_write_if, store_delete, store_incr, store_touch,
 * store_flush_map),
 * statistics (store_*_stats), the warm restart's dump and load
 * (store_dump_*, store_load_*), and the table cache's marks and leases
 * (marks_*).  A scan of a map's keys is key_scan.h's.  Inside the room,
 * files call each other in one direction: the operations (items.c,
 * read_path.c, update.c, quota.c) call the index (index.c) and the allocator (slab_alloc.c
 * and below), which calls the index but never the operations; store.c, the
 * segment, calls nobody.
 *
 * Bytes in, bytes out.  The store knows nothing of SQL types, map names or
 * remote nodes: a map is a "slot" (an index into shared memory's map table)
 * attached for a (database OID, map id) pair.  Every function releases every
 * lock it took before returning and never raises an ERROR while holding
 * one; failures come back as a StoreResult for the caller to report.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_STORE_H
#define MEMSHARD_STORE_H

#include "datatype/timestamp.h"

#define STORE_LWLOCK_TRANCHE "pg_memshard"

/* outcome of a store operation */
typedef enum StoreResult
{
	STORE_OK,					/* done */
	STORE_NOT_FOUND,			/* key absent or expired */
	STORE_EXISTS,				/* add: key already present */
	STORE_NO_MEMORY,			/* no room and nothing evictable (53200) */
	STORE_OVER_QUOTA,			/* the map's max_memory leaves no room (53200) */
	STORE_NOT_NUMBER,			/* incr: value is not an integer (22P02) */
	STORE_OVERFLOW,				/* incr: result out of bigint range (22003) */
	STORE_MAP_GONE				/* the slot no longer belongs to this map */
} StoreResult;

typedef enum StoreSetMode
{
	STORE_SET,					/* store unconditionally */
	STORE_ADD,					/* only if absent */
	STORE_REPLACE				/* only if present */
} StoreSetMode;

/*
 * Ored into the mode of a set, add or replace: the value is text of this
 * database (valid in its encoding, which is the database's for good; a map
 * slot, and so an item, belongs to one database).  store_get then tells
 * store_last_get_was_text(), so that get need not check the encoding again.
 * Never sent to another node.
 */
#define STORE_AS_TEXT		0x100
#define STORE_MODE(mode)	((StoreSetMode) ((mode) & 0xFF))

/* how a map behaves, fixed when it is attached */
typedef struct StoreMapOptions
{
	int64		max_memory;		/* quota in bytes, 0 = none */
	bool		evictable;		/* false: eviction => 'none' */
} StoreMapOptions;

/* one set of counters, as the stats views show them */
typedef struct StoreCounters
{
	int64		items;
	int64		bytes_used;		/* chunk bytes held by items */
	int64		payload_bytes;	/* key + value bytes */
	int64		hits;
	int64		misses;
	int64		sets;
	int64		deletes;
	int64		evictions;
	int64		expirations;
} StoreCounters;

/* one size class, for memshard.slab_stats */
typedef struct StoreClassStats
{
	int			class_id;
	int64		chunk_size;
	int64		pages;
	int64		chunks_per_page;
	int64		chunks_used;
	int64		chunks_free;
	int64		wasted_bytes;	/* chunk bytes not used by header+key+value */
	int64		evictions;
	int64		pages_moved_in;
	int64		pages_moved_out;
} StoreClassStats;

/* whole-cache figures, for memshard.stats */
typedef struct StoreGlobalStats
{
	int64		memory_budget;	/* bytes of the shared segment */
	int64		page_size;
	int64		pages_total;
	int64		pages_free;
	int64		index_bytes;	/* hash index */
	int64		metadata_bytes; /* everything but pages and index */
	int64		item_header_bytes;	/* per-item header size */
	StoreCounters counters;
} StoreGlobalStats;

/* sizing and start-up, called from pg_memshard.c */
extern Size store_shmem_size(void);
extern int	store_lwlock_count(void);
extern void store_shmem_startup(void);
extern void store_check_settings(void);

/* ERROR (55000, HINT shared_preload_libraries) unless shared memory exists */
extern void store_require_ready(void);
extern bool store_is_ready(void);

/*
 * Maps.  store_map_attach returns a handle ("slot") for (dboid, mapid):
 * the same handle for every backend while the map lives, -1 when
 * pg_memshard.max_maps maps are attached already.  store_map_find returns
 * the handle only if the map is attached (-1 otherwise) and never takes a
 * slot.  store_map_detach removes
 * the map's items and invalidates the handle: later calls with it get
 * STORE_MAP_GONE (or NULL from store_get with *vallen = -1).
 */
extern int	store_map_attach(Oid dboid, int32 mapid, const StoreMapOptions *opts);
extern int	store_map_find(Oid dboid, int32 mapid);
extern void store_map_detach(int slot, Oid dboid, int32 mapid);
extern bool store_map_owned(int slot, Oid dboid, int32 mapid);
extern int64 store_flush_database(Oid dboid);

/*
 * Items.  ttl_ms is a time to live in milliseconds, 0 for none (for incr
 * and an existing counter, 0 keeps its expiry; a new one gets none).  Keys
 * and values are plain bytes; the caller has checked their sizes against
 * MEMSHARD_MAX_KEY_SIZE and store_max_item_size() (key + value).
 */
extern StoreResult store_set(int slot, const char *key, int keylen,
							 const char *value, int vallen,
							 int64 ttl_ms, StoreSetMode mode);
/*
 * store_get returns a palloc'd buffer of prefix + *vallen bytes with the value
 * at offset prefix (room for a varlena header), or NULL on a miss (*vallen is
 * then 0, or -1 when the map is gone).
 */
extern char *store_get(int slot, const char *key, int keylen, Size prefix,
					   int *vallen);
extern StoreResult store_delete(int slot, const char *key, int keylen);

/*
 * Read-modify-write (the RESP front end): store_get_expiry is store_get
 * that also tells the item's absolute expiry (0: none; times are kept to
 * 100 ms, rounded up).  store_write_if stores value (or deletes the key,
 * value NULL) only if the key still holds what was read: expect/expectlen
 * with expiry expect_expires, or nothing when expectlen < 0; STORE_EXISTS
 * or STORE_NOT_FOUND when it changed since.
 */
extern char *store_get_expiry(int slot, const char *key, int keylen,
							  Size prefix, int *vallen, TimestampTz *expires);

/*
 * Many keys of one map (read_path.c): values[i] and vallens[i] as store_get
 * gives them, and texts[i] (when texts != NULL) whether the value was set
 * with STORE_AS_TEXT.  False when the map is gone meanwhile: look it up
 * again and ask again.
 */
/*
 * Whether the value the last store_get of this backend returned was set
 * with STORE_AS_TEXT; the answer is given once (false afterwards, until the
 * next store_get), so a caller clears it before a read that may not reach
 * this store at all.
 */
extern bool store_take_last_get_text(void);
extern bool store_mget(int slot, int nkeys, char **keys, int *keylens,
					   Size prefix, char **values, int *vallens, bool *texts);
extern StoreResult store_write_if(int slot, const char *key, int keylen,
								  const char *expect, int expectlen,
								  TimestampTz expect_expires,
								  const char *value, int vallen,
								  TimestampTz expires);
extern StoreResult store_incr(int slot, const char *key, int keylen,
							  int64 delta, int64 ttl_ms, int64 *result);
extern StoreResult store_touch(int slot, const char *key, int keylen,
							   int64 ttl_ms);
/* items removed, or -1 when the handle is stale (the map was dropped) */
extern int64 store_flush_map(int slot);

extern int	store_max_item_size(void);

/* statistics */
/*
 * Hits and misses are counted per backend and added to the shared counters
 * every 256 reads and at transaction end; the stats readers below add this
 * backend's first.  store_read_path_stats: the optimistic reads' retries and
 * fallbacks to the lock.
 */
extern void store_read_path_stats(int64 *retries, int64 *fallbacks);
extern void store_global_stats(StoreGlobalStats *stats);
extern int	store_partition_count(void);
extern void store_partition_stats(int partition, StoreCounters *counters);
extern int	store_class_count(void);
extern void store_class_stats(int class_id, StoreClassStats *stats);
extern void store_map_stats(int slot, StoreCounters *counters);
extern void store_stats_reset(void);

/*
 * Warm restart (store_dump.c): reading every item out for a dump, putting
 * items back with their absolute expiry, and the gate that makes data
 * calls wait while a load fills the cache.
 *
 * store_dump_next copies the items of one partition, from the cursor on,
 * into buf (their keys and values) and items[], under the partition's lock
 * held shared, and stops when buf or items[] is full or at the partition's
 * end: a batch never holds a lock for longer than it takes to copy bufsize
 * bytes.  It returns the number of items copied; the cursor says where the
 * next call goes on (cursor->done at the end of the cache).  Expired items
 * and items of maps being detached are left out.  buf must hold at least
 * store_dump_buffer_size() bytes.
 */
typedef struct StoreDumpCursor
{
	int			partition;
	uint32		bucket;
	uint32		skip;			/* items of the bucket's chain already copied */
	bool		done;
	int64		expired;		/* expired items left out so far */
} StoreDumpCursor;

typedef struct StoreDumpItem
{
	Oid			dboid;			/* the map slot's database and map id */
	int32		mapid;
	TimestampTz expire_at;		/* 0: none; DT_NOEND: never */
	bool		recent;			/* CLOCK reference set: read or written lately */
	int			keylen;
	int			vallen;
	const char *key;			/* in the caller's buf */
	const char *value;
} StoreDumpItem;

extern Size store_dump_buffer_size(void);
extern void store_dump_start(StoreDumpCursor *cursor);
extern int	store_dump_next(StoreDumpCursor *cursor, char *buf, Size bufsize,
							StoreDumpItem *items, int maxitems);

/*
 * store_load_item: add an item (only if its key is absent) with an absolute
 * expiry, into memory that is free now: it never evicts, so that what a
 * load put in first stays.  STORE_NOT_FOUND if it has expired, STORE_EXISTS
 * if the key is set already, STORE_NO_MEMORY / STORE_OVER_QUOTA when it
 * does not fit, STORE_MAP_GONE when the map was dropped.
 */
extern StoreResult store_load_item(int handle, const char *key, int keylen,
								   const char *value, int vallen,
								   TimestampTz expire_at);

/*
 * The load gate.  store_load_begin (postmaster, before any backend) closes
 * it; store_load_end opens it.  While it is closed, store_map_attach (the
 * first use of a map by a backend) waits, as long as the loader shows
 * progress (store_load_progress) at least every STORE_LOAD_STALL_MS: a
 * stalled load (blocked on a lock the waiting session holds) lets the
 * waiter go on.  The loading process itself never waits
 * (store_load_as_loader).
 */
#define STORE_LOAD_STALL_MS	5000

extern Size store_load_gate_size(void);
extern void store_load_gate_startup(void);
extern void store_load_begin(void);
extern void store_load_progress(void);
extern void store_load_end(void);
extern bool store_load_in_progress(void);
extern void store_load_as_loader(void);
extern void store_load_wait(void);

/*
 * Marks and leases of the table cache (marks.c, marks_scope.c), in shared
 * memory of their own beside the segment: per-key invalidation marks of
 * writers (their xids), fill leases of readers, key versions, per-table
 * scopes (a generation and counters) and the marks of prepared
 * transactions older than the shared memory.  Key and scope hashes are
 * the caller's 64-bit hashes.
 */
#define MARKS_LWLOCK_TRANCHE "pg_memshard_marks"

/* a scope's counters */
typedef enum MarksCounter
{
	MARKS_HITS,
	MARKS_MISSES,
	MARKS_FILLS,
	MARKS_FILLS_REFUSED,
	MARKS_INVALIDATIONS,
	MARKS_BYPASSES,
	MARKS_NCOUNTERS
} MarksCounter;

typedef enum MarksLease
{
	MARKS_LEASE_GRANTED,		/* fill with *lease, record *generation */
	MARKS_LEASE_MARKED,			/* a writer's mark: *blocker is its xid */
	MARKS_LEASE_BUSY,			/* another reader is filling the key */
	MARKS_LEASE_FULL			/* no room for a lease, or no scope */
} MarksLease;

typedef enum MarksFill
{
	MARKS_FILL_STORED,
	MARKS_FILL_REFUSED,			/* the lease was taken away by a mark */
	MARKS_FILL_FAILED			/* the store refused the item (map gone, no room) */
} MarksFill;

extern Size marks_shmem_size(void);
extern int	marks_lwlock_count(void);
extern void marks_shmem_startup(void);
extern bool marks_is_ready(void);

extern bool marks_set(uint64 khash, TransactionId xid);
extern bool marks_set_scope(int scope, uint64 thash, TransactionId xid);
extern void marks_clear(uint64 khash, TransactionId xid);
extern int	marks_partition_xids(uint64 khash, TransactionId *xids, int max);
extern void marks_forget_xid(uint64 khash, TransactionId xid);

extern MarksLease marks_lease_take(int scope, uint64 thash, uint64 khash,
								   uint64 *lease, uint64 *generation,
								   uint64 *version, TransactionId *blocker);
extern MarksFill marks_lease_fill(uint64 khash, uint64 lease, int slot,
								  const char *key, int keylen,
								  const char *value, int vallen,
								  int64 ttl_ms);
extern void marks_lease_release(uint64 khash, uint64 lease);
extern bool marks_lease_end(uint64 khash, uint64 lease);
extern uint64 marks_key_version(uint64 khash);

extern int	marks_scope_attach(Oid dboid, Oid relid);
extern int	marks_scope_find(Oid dboid, Oid relid);
extern bool marks_scope_owned(int scope, Oid dboid, Oid relid);
extern void marks_scope_detach(int scope, Oid dboid, Oid relid);
extern void marks_scope_detach_database(Oid dboid);
extern uint64 marks_scope_generation(int scope);
extern void marks_count(int scope, MarksCounter counter, int64 n);
extern void marks_scope_counters(int scope, int64 *counters);
extern void marks_stats_reset(void);

extern bool marks_instance_known(void);
extern void marks_instance_record(const TransactionId *xids, int n);
extern int	marks_instance_capacity(void);
extern TransactionId marks_instance_blocker(void);
extern void marks_instance_clear(TransactionId xid);

#endif							/* MEMSHARD_STORE_H */
