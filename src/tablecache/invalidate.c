/*-------------------------------------------------------------------------
 *
 * invalidate.c
 *		Writers' side of the table cache: the trigger, and marks at commit.
 *
 * The protocol.  A row trigger (AFTER INSERT OR UPDATE OR DELETE, FOR EACH
 * ROW, ENABLE ALWAYS) records in backend memory the keys a transaction
 * changes (old and new key of an UPDATE), per cached table; the TRUNCATE
 * trigger, DDL, or more than pg_memshard.tablecache_max_keys keys record
 * the whole table instead.  Nothing is shared until the transaction ends:
 *
 *	 PRE_COMMIT / PRE_PREPARE (before the commit record and before the
 *	 transaction leaves the proc array, i.e. before anybody can see its
 *	 changes): mark every recorded key with the top-level xid (removing
 *	 fill leases, so fills in flight are refused), then delete its item;
 *	 a whole table gets a table mark and a new generation instead.  While a
 *	 key is marked nobody fills it (readers read the table).  Errors here
 *	 abort the transaction, which is still possible.
 *	 COMMIT / ABORT: remove the marks (only LWLock operations on shared
 *	 memory that exists: nothing can fail).  By then a commit is visible
 *	 to every new snapshot, so the next fill reads the new row.
 *	 PREPARE: the marks stay, under the prepared transaction's xid, until
 *	 COMMIT / ROLLBACK PREPARED (in any session): readers that meet a mark
 *	 whose xid is no longer in progress remove it (reader.c).  A writer that
 *	 dies is resolved the same way; a crash empties shared memory anyway.
 *
 * DDL.  A transaction that ran a utility statement looks at the relcache
 * invalidations it is about to send (xactGetCommittedInvalidationMessages):
 * a cached table among them, or a partition of one, or "all relations",
 * is invalidated as a whole.  That covers ALTER TABLE (a new row type or a
 * rewrite), TRUNCATE of a partition, DETACH/ATTACH, DROP of a partition,
 * and anything else that changes pg_class (harmlessly, GRANT or CREATE
 * INDEX).  VACUUM and ANALYZE are left out.
 *
 * Subtransactions: keys recorded in a subtransaction that rolls back stay
 * recorded (invalidating a key that did not change is harmless).  A lease
 * taken in it is given back.  State lives in a context of its own, reset
 * when the top-level transaction ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/autovacuum.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/sinval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "pg_memshard.h"
#include "tablecache/tablecache.h"
#include "tablecache/tablecache_internal.h"

/* keys compared for duplicates before the list is just appended to */
#define TC_DEDUPE_KEYS	16
/* xids looked at when a marks partition is full */
#define TC_SWEEP_XIDS	64

typedef struct TcPendingKey
{
	uint64		khash;
	int			keylen;
	char	   *key;
} TcPendingKey;

/* what the transaction changed in one cached table */
typedef struct TcPendingTable
{
	Oid			relid;
	int32		mapid;
	uint64		thash;
	bool		whole;
	int			nkeys;
	int			maxkeys;
	TcPendingKey *keys;
} TcPendingTable;

/* a store slot and scope to release when the (sub)transaction ends */
typedef struct TcRelease
{
	int32		mapid;
	Oid			relid;
	bool		at_commit;		/* uncache/drop: at commit; cache_table: at abort */
	int			nestlevel;
} TcRelease;

static MemoryContext xact_cxt = NULL;
static List *pending = NIL;
static List *releases = NIL;
static bool ddl_seen = false;
static bool precommit_done = false;
static TransactionId marked_xid = InvalidTransactionId;
static uint64 *marked = NULL;	/* hashes to clear after the commit */
static int	nmarked = 0;
static int	maxmarked = 0;

PG_FUNCTION_INFO_V1(memshard_tablecache_trigger);

static TcPendingTable *pending_table(TcTable *root);
static void note_key(TcTable *root, char *key, int keylen);
static void note_whole(TcTable *root);
static void note_ddl_tables(void);
static void tc_precommit(void);
static void mark_table(TcPendingTable *pt, TransactionId xid, int from);
static bool mark_key(uint64 khash, TransactionId xid);
static void remember_mark(uint64 hash);
static void clear_marks(void);
static void run_releases(bool committed);
static void reset_state(void);
static void tc_xact_callback(XactEvent event, void *arg);
static void tc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);

void
tablecache_init(void)
{
	RegisterXactCallback(tc_xact_callback, NULL);
	RegisterSubXactCallback(tc_subxact_callback, NULL);
}

static MemoryContext
state_cxt(void)
{
	if (xact_cxt == NULL)
		xact_cxt = AllocSetContextCreate(TopMemoryContext,
										 "pg_memshard table cache xact",
										 ALLOCSET_SMALL_SIZES);
	return xact_cxt;
}

/* ---- the trigger ---- */

/*
 * memshard.tablecache_trigger(): AFTER ROW (insert, update, delete) and
 * AFTER TRUNCATE on a cached table, cloned to its partitions.  It only
 * records what changed; see the header comment.
 */
Datum
memshard_tablecache_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TcTable    *entry;
	TcTable    *root;
	TupleDesc	desc;
	char	   *key;
	int			keylen;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("memshard.tablecache_trigger() must be called as an AFTER trigger")));

	/* without shared memory there is no cache to keep right */
	if (!marks_is_ready())
		return PointerGetDatum(NULL);
	entry = tc_lookup(RelationGetRelid(td->tg_relation));
	if (!OidIsValid(entry->root))
		return PointerGetDatum(NULL);	/* not (or no longer) cached */
	root = tc_root(entry);

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		note_whole(root);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	key = tc_key_from_tuple(entry, td->tg_trigtuple, desc, &keylen);
	note_key(root, key, keylen);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		int			newlen;
		char	   *newkey = tc_key_from_tuple(entry, td->tg_newtuple, desc,
											   &newlen);

		if (newlen != keylen || memcmp(newkey, key, keylen) != 0)
			note_key(root, newkey, newlen);
	}
	return PointerGetDatum(NULL);
}

/* the transaction wrote to the table: it reads the table from now on */
void
tc_note_written(TcTable *root)
{
	root->written_lxid = MyProc->lxid;
}

static TcPendingTable *
pending_table(TcTable *root)
{
	TcPendingTable *pt;
	ListCell   *lc;
	MemoryContext old;

	foreach(lc, pending)
	{
		pt = lfirst(lc);
		if (pt->relid == root->relid)
			return pt;
	}
	old = MemoryContextSwitchTo(state_cxt());
	pt = palloc0(sizeof(TcPendingTable));
	pt->relid = root->relid;
	pt->mapid = root->mapid;
	pt->thash = root->thash;
	pending = lappend(pending, pt);
	MemoryContextSwitchTo(old);
	return pt;
}

static void
note_key(TcTable *root, char *key, int keylen)
{
	TcPendingTable *pt = pending_table(root);
	uint64		khash = tc_key_hash(root->relid, key, keylen);
	TcPendingKey *pk;
	int			i;

	tc_note_written(root);
	if (pt->whole)
		return;
	for (i = 0; i < Min(pt->nkeys, TC_DEDUPE_KEYS); i++)
	{
		if (pt->keys[i].khash == khash && pt->keys[i].keylen == keylen &&
			memcmp(pt->keys[i].key, key, keylen) == 0)
			return;
	}
	if (pt->nkeys >= memshard_tablecache_max_keys)
	{
		note_whole(root);
		return;
	}
	if (pt->nkeys == pt->maxkeys)
	{
		pt->maxkeys = Max(8, pt->maxkeys * 2);
		pt->keys = pt->keys == NULL ?
			MemoryContextAlloc(state_cxt(), sizeof(TcPendingKey) * pt->maxkeys) :
			repalloc(pt->keys, sizeof(TcPendingKey) * pt->maxkeys);
	}
	pk = &pt->keys[pt->nkeys++];
	pk->khash = khash;
	pk->keylen = keylen;
	pk->key = MemoryContextAlloc(state_cxt(), keylen);
	memcpy(pk->key, key, keylen);

	/* a write after our pre-commit (another extension's callback): now */
	if (precommit_done)
		mark_table(pt, GetTopTransactionId(), pt->nkeys - 1);
}

static void
note_whole(TcTable *root)
{
	TcPendingTable *pt = pending_table(root);

	tc_note_written(root);
	if (pt->whole)
		return;
	pt->whole = true;
	pt->nkeys = 0;
	if (precommit_done)
		mark_table(pt, GetTopTransactionId(), 0);
}

/* ---- DDL ---- */

/*
 * Utility statements that cannot change a table's rows or row type (or
 * change them only through statements of their own, which come here too)
 * do not make the transaction look at its invalidations.
 */
void
tablecache_utility(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_TransactionStmt:
		case T_VacuumStmt:
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_ExplainStmt:
		case T_DoStmt:
		case T_CallStmt:
		case T_CopyStmt:
		case T_PrepareStmt:
		case T_ExecuteStmt:
		case T_DeallocateStmt:
		case T_DeclareCursorStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
		case T_NotifyStmt:
		case T_ListenStmt:
		case T_UnlistenStmt:
		case T_LockStmt:
		case T_CheckPointStmt:
		case T_DiscardStmt:
		case T_CommentStmt:
			return;
		default:
			ddl_seen = true;
	}
}

/* every cached table the transaction's relcache invalidations touch */
static void
note_ddl_tables(void)
{
	SharedInvalidationMessage *msgs;
	bool		initfile;
	int			n = xactGetCommittedInvalidationMessages(&msgs, &initfile);
	int			i;

	for (i = 0; i < n; i++)
	{
		SharedInvalRelcacheMsg *rc = &msgs[i].rc;

		if (msgs[i].id != SHAREDINVALRELCACHE_ID ||
			(rc->dbId != MyDatabaseId && OidIsValid(rc->dbId)))
			continue;
		if (!OidIsValid(rc->relId))
		{
			List	   *rows = tc_catalog_list();
			ListCell   *lc;

			foreach(lc, rows)
			{
				TcTable    *t = tc_lookup(((TcCatalogRow *) lfirst(lc))->relid);

				if (t->root == t->relid)
					note_whole(t);
			}
		}
		else
		{
			TcTable    *t = tc_lookup(rc->relId);

			/* cached by this transaction (cache_table's own DDL): nothing yet */
			if (OidIsValid(t->root) &&
				!TransactionIdIsCurrentTransactionId(tc_root(t)->catalog_xmin))
				note_whole(tc_root(t));
		}
	}
}

/* ---- marking at commit ---- */

/*
 * Pre-commit (and pre-prepare): mark what the transaction changed.  The
 * xid is the top-level one, which the proc array (or the prepared
 * transaction's dummy proc) shows in progress until the outcome is known.
 */
static void
tc_precommit(void)
{
	TransactionId xid;
	ListCell   *lc;

	if (!marks_is_ready() || IsAutoVacuumWorkerProcess())
		return;
	if (ddl_seen && OidIsValid(tc_catalog_relid(true)))
		note_ddl_tables();
	precommit_done = true;
	xid = GetTopTransactionIdIfAny();
	if (pending == NIL || !TransactionIdIsValid(xid))
		return;
	foreach(lc, pending)
		mark_table(lfirst(lc), xid, 0);
	if (memshard_tablecache_test_commit_lock != 0)
		tc_test_wait(memshard_tablecache_test_commit_lock);
}

/*
 * Mark a table's keys from index 'from' on (or the whole table), and
 * delete their items.  A key that finds no room escalates to the table.
 */
static void
mark_table(TcPendingTable *pt, TransactionId xid, int from)
{
	TcTable    *table = tc_lookup(pt->relid);
	int			slot;
	int			scope;
	int			i;

	/* the backend's handles when the table is still cached as it was */
	if (table->root == table->relid && table->mapid == pt->mapid)
	{
		tc_attach(table);
		slot = table->slot;
		scope = table->scope;
	}
	else
	{
		slot = store_map_find(MyDatabaseId, -pt->mapid);
		scope = marks_scope_attach(MyDatabaseId, pt->relid);
	}

	marked_xid = xid;
	for (i = from; i < pt->nkeys && !pt->whole; i++)
	{
		TcPendingKey *pk = &pt->keys[i];

		if (!mark_key(pk->khash, xid))
		{
			pt->whole = true;
			break;
		}
		remember_mark(pk->khash);
		if (slot >= 0 && pk->keylen <= MEMSHARD_MAX_KEY_SIZE)
			(void) store_delete(slot, pk->key, pk->keylen);
	}
	if (pt->whole)
	{
		if (scope < 0 || !marks_set_scope(scope, pt->thash, xid))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("no room to invalidate cached table %u at commit", pt->relid),
					 errhint(scope < 0 ?
							 "Raise pg_memshard.max_maps: it bounds the cached tables in use." :
							 "Raise pg_memshard.tablecache_marks.")));
		remember_mark(pt->thash);
	}
	marks_count(scope, MARKS_INVALIDATIONS, pt->whole ? 1 : pt->nkeys - from);
}

/* mark a key; a full partition is swept of finished writers' marks once */
static bool
mark_key(uint64 khash, TransactionId xid)
{
	TransactionId xids[TC_SWEEP_XIDS];
	int			n;
	int			i;

	if (marks_set(khash, xid))
		return true;
	n = marks_partition_xids(khash, xids, TC_SWEEP_XIDS);
	for (i = 0; i < n; i++)
	{
		if (!TransactionIdIsInProgress(xids[i]))
			marks_forget_xid(khash, xids[i]);
	}
	return marks_set(khash, xid);
}

static void
remember_mark(uint64 hash)
{
	if (nmarked == maxmarked)
	{
		maxmarked = Max(16, maxmarked * 2);
		marked = marked == NULL ?
			MemoryContextAlloc(state_cxt(), sizeof(uint64) * maxmarked) :
			repalloc(marked, sizeof(uint64) * maxmarked);
	}
	marked[nmarked++] = hash;
}

/* after the outcome: our marks go (LWLock operations only) */
static void
clear_marks(void)
{
	int			i;

	for (i = 0; i < nmarked; i++)
		marks_clear(marked[i], marked_xid);
	nmarked = 0;
}

/* ---- store slots and scopes released at the end ---- */

/*
 * Release the store slot (items) and scope of a cached table when the
 * transaction ends: at commit for uncache_table and DROP TABLE, at abort
 * for a cache_table rolled back.
 */
void
tc_release_at_end(int32 mapid, Oid relid, bool at_commit)
{
	MemoryContext old = MemoryContextSwitchTo(state_cxt());
	TcRelease  *r = palloc(sizeof(TcRelease));

	r->mapid = mapid;
	r->relid = relid;
	r->at_commit = at_commit;
	r->nestlevel = GetCurrentTransactionNestLevel();
	releases = lappend(releases, r);
	MemoryContextSwitchTo(old);
}

static void
release_now(TcRelease *r)
{
	int			slot;
	int			scope;

	if (!marks_is_ready())
		return;
	slot = store_map_find(MyDatabaseId, -r->mapid);
	if (slot >= 0)
		store_map_detach(slot, MyDatabaseId, -r->mapid);
	scope = marks_scope_find(MyDatabaseId, r->relid);
	if (scope >= 0)
		marks_scope_detach(scope, MyDatabaseId, r->relid);
}

static void
run_releases(bool committed)
{
	ListCell   *lc;

	foreach(lc, releases)
	{
		TcRelease  *r = lfirst(lc);

		if (r->at_commit == committed)
			release_now(r);
	}
}

/* ---- transaction callbacks ---- */

static void
reset_state(void)
{
	pending = NIL;
	releases = NIL;
	marked = NULL;
	nmarked = maxmarked = 0;
	marked_xid = InvalidTransactionId;
	ddl_seen = false;
	precommit_done = false;
	if (xact_cxt != NULL)
		MemoryContextReset(xact_cxt);
}

static void
tc_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			tc_precommit();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
			tc_lease_release(0);
			clear_marks();
			run_releases(event == XACT_EVENT_COMMIT);
			tc_catalog_end_of_xact();
			reset_state();
			break;
		case XACT_EVENT_PREPARE:
			/* the marks stay with the prepared xid: readers resolve them */
			tc_lease_release(0);
			nmarked = 0;
			run_releases(true);
			tc_catalog_end_of_xact();
			reset_state();
			break;
		default:
			break;
	}
}

/* a subtransaction ends: its lease goes back; its releases move or run */
static void
tc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	int			nestlevel = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		tc_lease_release(nestlevel);
	foreach(lc, releases)
	{
		TcRelease  *r = lfirst(lc);

		if (r->nestlevel < nestlevel)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			r->nestlevel = nestlevel - 1;
		else
		{
			if (!r->at_commit)
				release_now(r);
			releases = foreach_delete_current(releases, lc);
		}
	}
}

/* DROP EXTENSION or DROP DATABASE: the database's scopes go */
void
tablecache_forget_database(Oid dboid)
{
	if (marks_is_ready())
		marks_scope_detach_database(dboid);
	if (dboid == MyDatabaseId)
		tc_forget_all();
}
