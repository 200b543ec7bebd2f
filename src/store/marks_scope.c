/*-------------------------------------------------------------------------
 *
 * marks_scope.c
 *		The table cache's scopes (one per cached table and instance: a
 *		generation and counters) and its instance marks (prepared
 *		transactions older than the shared memory).
 *
 * Scopes and instance marks live in the marks' shared memory (see marks.c
 * and marks_internal.h).  The scopes lock guards attaching and detaching
 * scopes and the instance marks; a scope's generation is changed under the
 * marks partition lock of the table's scope hash (marks_set_scope, in
 * marks.c) and read without a lock; counters are atomics.  Nothing here
 * raises an ERROR.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

#include "store/marks_internal.h"

/* ---- scopes ---- */

/* the handle of (dboid, relid), attaching it; -1 when every scope is taken */
int
marks_scope_attach(Oid dboid, Oid relid)
{
	int			handle = -1;
	int			free_idx = -1;
	int			i;

	LWLockAcquire(marks_shared->scopes_lock, LW_EXCLUSIVE);
	for (i = 1; i <= marks_shared->nscopes; i++)
	{
		MarkScope  *s = scope_at(i);

		if (s->in_use && s->dboid == dboid && s->relid == relid)
		{
			handle = MAKE_SCOPE(s->version, i);
			break;
		}
		if (!s->in_use && free_idx < 0)
			free_idx = i;
	}
	if (handle < 0 && free_idx > 0)
	{
		MarkScope  *s = scope_at(free_idx);
		int			c;

		s->dboid = dboid;
		s->relid = relid;
		/* generations are unique over all scopes and their lives */
		pg_atomic_write_u64(&s->generation,
							pg_atomic_fetch_add_u64(&marks_shared->next_generation, 1) + 1);
		for (c = 0; c < MARKS_NCOUNTERS; c++)
			pg_atomic_write_u64(&s->counters[c], 0);
		s->in_use = true;
		handle = MAKE_SCOPE(s->version, free_idx);
	}
	LWLockRelease(marks_shared->scopes_lock);
	return handle;
}

/* the scope is still (dboid, relid)'s under this handle */
bool
marks_scope_owned(int handle, Oid dboid, Oid relid)
{
	MarkScope  *s = scope_of(handle);

	return s != NULL && SCOPE_INDEX(handle) > 0 && s->in_use &&
		s->dboid == dboid && s->relid == relid &&
		(s->version & 0x7FFF) == SCOPE_VERSION(handle);
}

/* the scope's handle if attached, else -1 (never attaches) */
int
marks_scope_find(Oid dboid, Oid relid)
{
	int			handle = -1;
	int			i;

	LWLockAcquire(marks_shared->scopes_lock, LW_SHARED);
	for (i = 1; i <= marks_shared->nscopes && handle < 0; i++)
	{
		MarkScope  *s = scope_at(i);

		if (s->in_use && s->dboid == dboid && s->relid == relid)
			handle = MAKE_SCOPE(s->version, i);
	}
	LWLockRelease(marks_shared->scopes_lock);
	return handle;
}

void
marks_scope_detach(int handle, Oid dboid, Oid relid)
{
	MarkScope  *s = scope_of(handle);

	LWLockAcquire(marks_shared->scopes_lock, LW_EXCLUSIVE);
	if (marks_scope_owned(handle, dboid, relid))
	{
		s->in_use = false;
		s->version++;
		s->dboid = InvalidOid;
		s->relid = InvalidOid;
	}
	LWLockRelease(marks_shared->scopes_lock);
}

/* detach every scope of a database (DROP EXTENSION, DROP DATABASE) */
void
marks_scope_detach_database(Oid dboid)
{
	int			i;

	LWLockAcquire(marks_shared->scopes_lock, LW_EXCLUSIVE);
	for (i = 1; i <= marks_shared->nscopes; i++)
	{
		MarkScope  *s = scope_at(i);

		if (s->in_use && s->dboid == dboid)
		{
			s->in_use = false;
			s->version++;
		}
	}
	LWLockRelease(marks_shared->scopes_lock);
}

/*
 * The scope's generation, read without a lock: an item is served only if
 * it carries this generation.  0 for a stale handle (no item carries 0).
 */
uint64
marks_scope_generation(int handle)
{
	MarkScope  *s = scope_of(handle);

	if (s == NULL || (s->version & 0x7FFF) != SCOPE_VERSION(handle))
		return 0;
	return pg_atomic_read_u64(&s->generation);
}

void
marks_count(int handle, MarksCounter counter, int64 n)
{
	MarkScope  *s = scope_of(handle);

	if (s != NULL && SCOPE_INDEX(handle) > 0)
		pg_atomic_fetch_add_u64(&s->counters[counter], (uint64) n);
}

/* the scope's counters; zeros for a stale handle */
void
marks_scope_counters(int handle, int64 *counters)
{
	MarkScope  *s = scope_of(handle);
	bool		live = s != NULL && SCOPE_INDEX(handle) > 0 && s->in_use &&
		(s->version & 0x7FFF) == SCOPE_VERSION(handle);
	int			c;

	for (c = 0; c < MARKS_NCOUNTERS; c++)
		counters[c] = live ? (int64) pg_atomic_read_u64(&s->counters[c]) : 0;
}

void
marks_stats_reset(void)
{
	int			i;
	int			c;

	for (i = 1; i <= marks_shared->nscopes; i++)
	{
		MarkScope  *s = scope_at(i);

		for (c = 0; c < MARKS_NCOUNTERS; c++)
			pg_atomic_write_u64(&s->counters[c], 0);
	}
}

/* ---- instance marks ---- */

/* whether the instance marks have been recorded since start-up */
bool
marks_instance_known(void)
{
	bool		known;

	LWLockAcquire(marks_shared->scopes_lock, LW_SHARED);
	known = marks_shared->instance_known;
	LWLockRelease(marks_shared->scopes_lock);
	return known;
}

/*
 * Record the instance marks, once: the first caller's list counts, later
 * ones are ignored.  The caller passes at most marks_instance_capacity()
 * xids.
 */
void
marks_instance_record(const TransactionId *xids, int n)
{
	int			i;

	LWLockAcquire(marks_shared->scopes_lock, LW_EXCLUSIVE);
	if (!marks_shared->instance_known)
	{
		n = Min(n, marks_shared->max_instance);
		for (i = 0; i < n; i++)
			instance_xids()[i] = xids[i];
		pg_atomic_write_u32(&marks_shared->ninstance, (uint32) n);
		marks_shared->instance_known = true;
	}
	LWLockRelease(marks_shared->scopes_lock);
}

int
marks_instance_capacity(void)
{
	return marks_shared->max_instance;
}

/* the prepared transaction xid is over: its instance mark goes */
void
marks_instance_clear(TransactionId xid)
{
	int			n;
	int			i;
	bool		any = false;

	LWLockAcquire(marks_shared->scopes_lock, LW_EXCLUSIVE);
	n = (int) pg_atomic_read_u32(&marks_shared->ninstance);
	for (i = 0; i < n; i++)
	{
		if (instance_xids()[i] == xid)
			instance_xids()[i] = InvalidTransactionId;
		any |= (instance_xids()[i] != InvalidTransactionId);
	}
	if (!any)
		pg_atomic_write_u32(&marks_shared->ninstance, 0);
	LWLockRelease(marks_shared->scopes_lock);
}
