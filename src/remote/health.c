/*-------------------------------------------------------------------------
 *
 * health.c
 *		What every backend of this instance last saw of each node.
 *
 * A small table in shared memory, one slot per (database, server): whether
 * the last attempt to reach the node failed, and the error it gave.  It
 * feeds the state and last_error columns of memshard.nodes, so that a
 * session sees the failure another session ran into.  A success clears the
 * slot.  When the table is full the oldest slot is reused: this is a hint
 * for administrators, not metadata.  The error may name the remote user
 * of the role that ran into it, so each slot says which role that was
 * (memshard.nodes shows it to that role, superusers and pg_monitor only).
 *
 * The table is attached on first use with ShmemInitStruct.  Its size,
 * remote_shmem_size(), is reserved at start-up when the library is
 * preloaded; otherwise the few kilobytes come from the slack PostgreSQL
 * keeps in its main segment for such late allocations.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "remote/remote_int.h"

#define HEALTH_SLOTS	64

typedef struct HealthSlot
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			serverid;
	RemoteHealth health;
} HealthSlot;

typedef struct HealthTable
{
	slock_t		mutex;
	int			used;			/* slots in use */
	HealthSlot	slots[HEALTH_SLOTS];
} HealthTable;

static HealthTable *health_table = NULL;

static HealthTable *health_attach(void);
static HealthSlot *health_find(HealthTable *table, Oid serverid);

Size
remote_shmem_size(void)
{
	return MAXALIGN(sizeof(HealthTable));
}

static HealthTable *
health_attach(void)
{
	bool		found;

	if (health_table != NULL)
		return health_table;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	health_table = ShmemInitStruct("pg_memshard node health",
								   remote_shmem_size(), &found);
	if (!found)
	{
		memset(health_table, 0, remote_shmem_size());
		SpinLockInit(&health_table->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
	return health_table;
}

/* the slot of a server in this database, or NULL; caller holds the mutex */
static HealthSlot *
health_find(HealthTable *table, Oid serverid)
{
	int			i;

	for (i = 0; i < HEALTH_SLOTS; i++)
	{
		HealthSlot *slot = &table->slots[i];

		if (slot->dboid == MyDatabaseId && slot->serverid == serverid)
			return slot;
	}
	return NULL;
}

/*
 * Remember the outcome of an attempt to reach a node.  reached = true
 * clears what was remembered; otherwise error says what went wrong.
 */
void
remote_health_record(Oid serverid, bool reached, const char *error)
{
	HealthTable *table = health_attach();
	TimestampTz now = GetCurrentTimestamp();
	HealthSlot *slot;
	int			i;

	/*
	 * The common case, a success with nothing remembered, takes no lock.  A
	 * stale read can only leave a failure shown until the next success.
	 */
	if (reached && table->used == 0)
		return;

	SpinLockAcquire(&table->mutex);
	slot = health_find(table, serverid);
	if (reached)
	{
		if (slot != NULL)
		{
			slot->dboid = InvalidOid;
			table->used--;
		}
		SpinLockRelease(&table->mutex);
		return;
	}
	if (slot == NULL)
	{
		/* a free slot, else the oldest */
		slot = &table->slots[0];
		for (i = 0; i < HEALTH_SLOTS; i++)
		{
			HealthSlot *candidate = &table->slots[i];

			if (candidate->dboid == InvalidOid)
			{
				slot = candidate;
				table->used++;
				break;
			}
			if (candidate->health.error_time < slot->health.error_time)
				slot = candidate;
		}
	}
	slot->dboid = MyDatabaseId;
	slot->serverid = serverid;
	slot->health.unreachable = true;
	slot->health.error_time = now;
	slot->health.userid = GetUserId();
	strlcpy(slot->health.error, error, sizeof(slot->health.error));
	SpinLockRelease(&table->mutex);
}

/* what is remembered of a node; all zero when nothing is */
void
remote_health_get(Oid serverid, RemoteHealth *health)
{
	HealthTable *table = health_attach();
	HealthSlot *slot;

	memset(health, 0, sizeof(RemoteHealth));
	SpinLockAcquire(&table->mutex);
	slot = health_find(table, serverid);
	if (slot != NULL)
		*health = slot->health;
	SpinLockRelease(&table->mutex);
}

/*
 * True when an attempt to reach the node failed less than
 * pg_memshard.connect_timeout ago: readers with a replica elsewhere try it
 * first rather than wait for a node that is likely still down.
 */
bool
remote_recently_unreachable(Oid serverid)
{
	HealthTable *table = health_attach();
	RemoteHealth health;

	if (table->used == 0)
		return false;
	remote_health_get(serverid, &health);
	return health.unreachable &&
		!TimestampDifferenceExceeds(health.error_time, GetCurrentTimestamp(),
									memshard_connect_timeout_ms);
}
