/*-------------------------------------------------------------------------
 *
 * reader.c
 *		Readers' side of the table cache: hit, lease, read the table, fill.
 *
 * A hit serves an item only if it carries the table's current generation
 * (a table-wide invalidation changes it), an item from another node only
 * if it carries its key's current version (a writer's mark moves it, see
 * tc_remote.c), and, under REPEATABLE READ, only if the transaction's
 * snapshot sees the row's xmin.  Items of changed keys here are deleted by
 * their writers before the commit is visible, and no fill can put them
 * back while the key is marked (a fill is checked and stored under the
 * lock writers mark with), so a hit never needs to look at the marks, nor
 * at the version of a key of this node.
 *
 * A miss takes a lease on the key (store/marks.c) and only then takes a
 * fresh snapshot to read the row with: any writer whose commit that
 * snapshot does not see had not yet cleared its mark when the lease was
 * granted, so it will either find the lease (its mark removes it, and the
 * fill is refused) or had marked the key before (and the lease was not
 * granted).  The row read is stored only if the lease is still there when
 * the fill takes the key's partition lock.  A key that is marked, or whose
 * lease another reader holds, is read from the table and not filled.  A
 * mark whose writer is no longer in progress (it crashed, or it was a
 * prepared transaction finished by another session) is removed here.
 *
 * What reads the table instead of the cache (and is counted as a bypass):
 * a transaction that has written to the table or changed its definition
 * (its own changes must show), SERIALIZABLE (the read must take its
 * predicate locks), row level security that applies to the caller, a
 * standby (writes come from WAL, which no trigger sees), a table whose
 * triggers are missing or disabled, and keys longer than the store takes.
 * Reads go through SPI as the caller, so privileges and policies apply.
 *
 * This file also keeps the lease a miss holds while it reads, which the
 * transaction callbacks of invalidate.c give back when the (sub)transaction
 * fails (tc_lease_release), and the tests' wait hook both sides use
 * (tc_test_wait); it calls nothing of invalidate.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "cluster/cluster.h"
#include "pg_memshard.h"
#include "tablecache/tablecache_internal.h"

/* times a reader removes a finished writer's mark and asks again */
#define TC_RESOLVE_TRIES	4

typedef enum TcMode
{
	TC_SERVE,					/* READ COMMITTED: serve and fill */
	TC_SERVE_RR,				/* REPEATABLE READ: serve what the snapshot sees */
	TC_BYPASS					/* read the table */
} TcMode;

typedef enum TcSnap
{
	TC_SNAP_LATEST,				/* a snapshot taken now (fills) */
	TC_SNAP_XACT				/* as a statement of the transaction would */
} TcSnap;

static TcMode read_mode(TcTable *table);
/* a key of a lookup: its bytes, hash, and the node holding its row */
typedef struct TcKey
{
	const char *key;
	int			keylen;
	uint64		khash;
	Oid			serverid;		/* InvalidOid: this node */
} TcKey;

static bool try_hit(TcTable *table, const TcKey *k, TcMode mode,
					Datum *result);
static bool miss(TcTable *table, const Datum *keyvals, const TcKey *k,
				 TcMode mode, Datum *result);
static void fill(TcTable *table, const TcKey *k, uint64 lease,
				 uint64 generation, uint64 version, TransactionId xmin,
				 Datum row);
/* the lease held by a miss in progress (see lease_held) */
static uint64 lease_khash = 0;
static uint64 lease_id = 0;
static int	lease_level = 0;

static void lease_held(uint64 khash, uint64 lease);
static MarksLease take_lease(TcTable *table, uint64 khash, uint64 *lease,
							 uint64 *generation, uint64 *version);
static void record_instance_marks(void);
static bool read_table(TcTable *table, const Datum *keyvals, TcSnap snap,
					   Datum *row, TransactionId *xmin);
static bool read_by_index(TcTable *table, const Datum *keyvals, Datum *row,
						  TransactionId *xmin);

/* the table's store slot and marks scope, attached on first use */
void
tc_attach(TcTable *table)
{
	if (table->slot < 0)
		table->slot = store_map_attach(MyDatabaseId, -table->mapid,
									   &table->opts);
	if (table->scope < 0)
		table->scope = marks_scope_attach(MyDatabaseId, table->relid);
}

/* the lease a miss holds while it reads the table, or lease_id 0 */
static void
lease_held(uint64 khash, uint64 lease)
{
	lease_khash = khash;
	lease_id = lease;
	lease_level = GetCurrentTransactionNestLevel();
}

/*
 * The (sub)transaction ends in an error while a miss held a lease: give it
 * back, when it was taken at nest level 'nestlevel' or deeper (0: any).
 * Called by the transaction callbacks (invalidate.c).
 */
void
tc_lease_release(int nestlevel)
{
	if (lease_id != 0 && lease_level >= nestlevel && marks_is_ready())
		marks_lease_release(lease_khash, lease_id);
	if (lease_level >= nestlevel)
		lease_id = 0;
}

/*
 * Test hook: wait until advisory lock 'key' (pg_advisory_lock(key), a
 * bigint key) is free, holding it only for a moment.
 */
void
tc_test_wait(int key)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, (uint32) key, 1);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	LockRelease(&tag, ExclusiveLock, false);
}


static TcMode
read_mode(TcTable *table)
{
	if (!table->usable || RecoveryInProgress())
		return TC_BYPASS;
	if (table->written_lxid == MyProc->lxid ||
		TransactionIdIsCurrentTransactionId(table->class_xmin))
		return TC_BYPASS;
	if (table->rowsecurity &&
		check_enable_rls(table->relid, InvalidOid, true) == RLS_ENABLED)
		return TC_BYPASS;
	if (IsolationIsSerializable())
		return TC_BYPASS;
	return IsolationUsesXactSnapshot() ? TC_SERVE_RR : TC_SERVE;
}

/*
 * The row of the key (values of the key columns' types) as a composite
 * Datum of the table's row type; false when there is no such row.
 */
bool
tc_read(TcTable *table, const Datum *keyvals, Datum *result)
{
	TcMode		mode = read_mode(table);
	char		space[128];
	int			keylen;
	char	   *key = tc_key_encode(table, keyvals, space, sizeof(space), &keylen);

	int64		newest_epoch;

	/*
	 * A node left behind by a failover (fenced, epoch.c) may hold copies of
	 * shards given to others since: neither its cache nor another node's
	 * serves it; the table does, so get_row still answers (and right).
	 */
	if (table->over_nodes && cluster_fenced_now(&newest_epoch))
		mode = TC_BYPASS;
	if (mode != TC_BYPASS && keylen <= MEMSHARD_MAX_KEY_SIZE)
	{
		tc_attach(table);
		if (table->slot >= 0 && table->scope >= 0)
		{
			TcKey		k;

			k.key = key;
			k.keylen = keylen;
			k.khash = tc_key_hash(table->relid, key, keylen);
			k.serverid = InvalidOid;
			if (table->over_nodes &&
				tc_key_place(table, key, keylen, &k.serverid))
				k.serverid = InvalidOid;
			if (try_hit(table, &k, mode, result))
			{
				marks_count(table->scope, MARKS_HITS, 1);
				return true;
			}
			marks_count(table->scope, MARKS_MISSES, 1);
			return miss(table, keyvals, &k, mode, result);
		}
	}
	marks_count(table->scope, MARKS_BYPASSES, 1);
	return read_table(table, keyvals, TC_SNAP_XACT, result, NULL);
}

static bool
try_hit(TcTable *table, const TcKey *k, TcMode mode, Datum *result)
{
	int			vallen = 0;
	char	   *value;
	uint64		generation;
	uint64		version;
	TransactionId xmin;

	if (OidIsValid(k->serverid))
		value = tc_remote_get(table, k->serverid, k->key, k->keylen, &vallen);
	else
		value = store_get(table->slot, k->key, k->keylen, 0, &vallen);
	if (value == NULL)
	{
		if (vallen < 0)
			table->slot = -1;	/* the slot went away: attach again */
		return false;
	}
	if (!tc_value_decode(value, vallen, &generation, &version, &xmin) ||
		generation != marks_scope_generation(table->scope) ||
		(OidIsValid(k->serverid) && version != marks_key_version(k->khash)) ||
		HeapTupleHeaderGetTypeId((HeapTupleHeader) value) != table->rowtype ||
		(mode == TC_SERVE_RR && XidInMVCCSnapshot(xmin, GetTransactionSnapshot())))
	{
		pfree(value);
		return false;
	}
	/* the row is at offset 0: the Datum, its trailer after it unused */
	*result = PointerGetDatum(value);
	return true;
}

/* a miss: lease, read with a snapshot taken after it, fill if still leased */
static bool
miss(TcTable *table, const Datum *keyvals, const TcKey *k, TcMode mode,
	 Datum *result)
{
	uint64		lease;
	uint64		generation;
	uint64		version;
	TransactionId xmin;
	bool		found;

	if (take_lease(table, k->khash, &lease, &generation, &version) != MARKS_LEASE_GRANTED)
	{
		marks_count(table->scope, MARKS_BYPASSES, 1);
		return read_table(table, keyvals, TC_SNAP_XACT, result, NULL);
	}
	lease_held(k->khash, lease);
	found = read_table(table, keyvals, TC_SNAP_LATEST, result, &xmin);
	if (memshard_tablecache_test_fill_lock != 0)
		tc_test_wait(memshard_tablecache_test_fill_lock);

	/* never our own uncommitted row (a write the trigger did not see) */
	if (found && !TransactionIdIsCurrentTransactionId(xmin))
		fill(table, k, lease, generation, version, xmin, *result);
	else
		marks_lease_release(k->khash, lease);
	lease_id = 0;

	/* REPEATABLE READ: the latest row is the answer only if our snapshot sees it */
	if (mode == TC_SERVE_RR &&
		!(found && !XidInMVCCSnapshot(xmin, GetTransactionSnapshot())))
		return read_table(table, keyvals, TC_SNAP_XACT, result, NULL);
	return found;
}

/*
 * Store the row read under the lease, if the lease still holds.  Here:
 * checked and stored in one step under the key's marks partition lock.
 * On another node: the lease is checked, then the row stored there; a
 * writer marking the key in between moves its version, so that copy is
 * never served.
 */
static void
fill(TcTable *table, const TcKey *k, uint64 lease, uint64 generation,
	 uint64 version, TransactionId xmin, Datum row)
{
	int			vallen;
	char	   *value = tc_value_encode((HeapTupleHeader) DatumGetPointer(row),
										generation, version, xmin, &vallen);
	MarksFill	outcome;

	if (k->keylen + vallen > store_max_item_size())
	{
		marks_lease_release(k->khash, lease);	/* too large to cache */
		pfree(value);
		return;
	}
	/* both ways use the lease up */
	if (!OidIsValid(k->serverid))
		outcome = marks_lease_fill(k->khash, lease, table->slot, k->key,
								   k->keylen, value, vallen, table->ttl_ms);
	else if (!marks_lease_end(k->khash, lease))
		outcome = MARKS_FILL_REFUSED;
	else
		outcome = tc_remote_set(table, k->serverid, k->key, k->keylen, value,
								vallen, table->ttl_ms) ?
			MARKS_FILL_STORED : MARKS_FILL_FAILED;

	if (outcome == MARKS_FILL_STORED)
		marks_count(table->scope, MARKS_FILLS, 1);
	else if (outcome == MARKS_FILL_REFUSED)
		marks_count(table->scope, MARKS_FILLS_REFUSED, 1);
	else if (!OidIsValid(k->serverid))
		table->slot = -1;		/* the local slot went away: attach again */
	pfree(value);
}

/*
 * Ask for a lease.  A mark whose writer is no longer in progress is
 * removed (key, table and instance marks alike) and the question asked
 * again.
 */
static MarksLease
take_lease(TcTable *table, uint64 khash, uint64 *lease, uint64 *generation,
		   uint64 *version)
{
	static bool instance_checked = false;
	MarksLease	result = MARKS_LEASE_MARKED;
	int			i;

	if (!instance_checked)
	{
		record_instance_marks();
		instance_checked = true;
	}
	for (i = 0; i < TC_RESOLVE_TRIES; i++)
	{
		TransactionId blocker;

		result = marks_lease_take(table->scope, table->thash, khash, lease,
								  generation, version, &blocker);
		if (result == MARKS_LEASE_FULL &&
			!marks_scope_owned(table->scope, MyDatabaseId, table->relid))
			table->scope = -1;	/* detached under us: attach again next time */
		if (result != MARKS_LEASE_MARKED || TransactionIdIsInProgress(blocker))
			break;
		marks_instance_clear(blocker);
		marks_clear(table->thash, blocker);
		marks_clear(khash, blocker);
	}
	return result;
}

/*
 * Once per shared memory's life: prepared transactions that may predate
 * it (a crash empties shared memory, and their marks with it, but they
 * survive) mark every key until they finish.  They are the transactions
 * in progress that no backend runs.
 */
static void
record_instance_marks(void)
{
	Snapshot	snap;
	TransactionId *running;
	TransactionId *prepared;
	int			nrunning;
	int			n = 0;
	int			i;

	if (marks_instance_known())
		return;
	snap = GetLatestSnapshot();
	nrunning = snap->xcnt;
	running = palloc(sizeof(TransactionId) * Max(nrunning, 1));
	memcpy(running, snap->xip, sizeof(TransactionId) * nrunning);
	prepared = palloc(sizeof(TransactionId) * marks_instance_capacity());
	for (i = 0; i < nrunning && n < marks_instance_capacity(); i++)
	{
		if (BackendXidGetPid(running[i]) == 0 &&
			TransactionIdIsInProgress(running[i]))
			prepared[n++] = running[i];
	}
	marks_instance_record(prepared, n);
	pfree(running);
	pfree(prepared);
}

/*
 * A fill's read of a plain table: the primary key's index, with a snapshot
 * taken now, as the executor's index scan would read it (the caller's
 * SELECT privilege is checked, row level security does not apply, see
 * read_mode) but without planning or executor start-up.  The row is the
 * table's composite Datum, toasted fields inlined, as a whole-row Var.
 */
static bool
read_by_index(TcTable *table, const Datum *keyvals, Datum *row,
			  TransactionId *xmin)
{
	Relation	rel = table_open(table->relid, AccessShareLock);
	Relation	index = index_open(table->pkindex, AccessShareLock);
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	ScanKeyData keys[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found;
	int			i;

	for (i = 0; i < table->nkeys; i++)
	{
		ScanKeyInit(&keys[i], i + 1, BTEqualStrategyNumber,
					table->keys[i].eqproc, keyvals[i]);
		keys[i].sk_collation = table->keys[i].collation;
	}
	scan = index_beginscan(rel, index, snap, table->nkeys, 0);
	index_rescan(scan, keys, table->nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		bool		should_free;
		HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		HeapTuple	full;

		*xmin = HeapTupleHeaderGetRawXmin(tuple->t_data);
		if (should_free)
			heap_freetuple(tuple);
		/* from the values, as a whole-row Var: columns added since count */
		slot_getallattrs(slot);
		full = heap_form_tuple(RelationGetDescr(rel), slot->tts_values,
							   slot->tts_isnull);
		*row = PointerGetDatum(heap_copy_tuple_as_datum(full, RelationGetDescr(rel)));
		heap_freetuple(full);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snap);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Read the row of the key from the table through SPI, as the caller.
 * TC_SNAP_LATEST: with a snapshot taken now, read-only; TC_SNAP_XACT: as a
 * query of the transaction would (a new command id, the transaction's
 * snapshot).  The row (a composite Datum) is copied into the caller's
 * memory context; *xmin, if asked for, is the row's xmin.
 */
static bool
read_table(TcTable *table, const Datum *keyvals, TcSnap snapkind,
		   Datum *row, TransactionId *xmin)
{
	MemoryContext caller = CurrentMemoryContext;
	char		nulls[INDEX_MAX_KEYS];
	SPIPlanPtr	plan;
	int			rc;
	bool		found;

	if (snapkind == TC_SNAP_LATEST && !table->partitioned)
		return read_by_index(table, keyvals, row, xmin);
	memset(nulls, ' ', sizeof(nulls));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = tc_table_plan(table);
	if (snapkind == TC_SNAP_LATEST)
	{
		Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());

		rc = SPI_execute_snapshot(plan, (Datum *) keyvals, nulls, snap,
								  InvalidSnapshot, true, false, 1);
		UnregisterSnapshot(snap);
	}
	else
		rc = SPI_execute_plan(plan, (Datum *) keyvals, nulls, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading cached table %u failed: %s", table->relid,
			 SPI_result_code_string(rc));

	found = SPI_processed > 0;
	if (found)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		value = SPI_getbinval(tuple, desc, 1, &isnull);
		MemoryContext old;

		if (xmin != NULL)
			*xmin = DatumGetTransactionId(SPI_getbinval(tuple, desc, 2, &isnull));
		old = MemoryContextSwitchTo(caller);
		*row = PointerGetDatum(PG_DETOAST_DATUM_COPY(value));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	return found;
}
