/*-------------------------------------------------------------------------
 *
 * resp_clients.c
 *		The clients of the RESP workers as other processes see them: a slot
 *		per client in shared memory, for the view memshard.resp_clients.
 *
 * At start the postmaster makes resp_workers x resp_max_clients slots (the
 * values of that moment: clients beyond them, after resp_max_clients is
 * raised, are served but not shown).  Worker w owns the slots [w * per,
 * (w + 1) * per) and is their only writer; it publishes a client when it
 * connects, after a turn in which it ran commands or had replies pending,
 * and clears the slot when the client goes.
 *
 * No lock: as PgBackendStatus (pgstat_begin_write_activity), a writer
 * bumps the slot's change count before and after writing it, with write
 * barriers, and a reader copies the slot until it sees the same even count
 * before and after its copy.  A writer never waits for a reader.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "resp/resp.h"

typedef struct RespClientSlot
{
	uint32		changecount;	/* odd while being written */
	RespClientInfo info;
} RespClientSlot;

typedef struct RespClientsShared
{
	int			nworkers;
	int			per_worker;
	RespClientSlot slots[FLEXIBLE_ARRAY_MEMBER];
} RespClientsShared;

static RespClientsShared *shared = NULL;

static int	slot_count(void);
static void slot_write(RespClientSlot *slot, const RespClientInfo *info);

static int
slot_count(void)
{
	return resp_port > 0 ? resp_workers * resp_max_clients : 0;
}

Size
resp_clients_shmem_size(void)
{
	return add_size(offsetof(RespClientsShared, slots),
					mul_size(slot_count(), sizeof(RespClientSlot)));
}

void
resp_clients_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_memshard resp clients",
							 resp_clients_shmem_size(), &found);
	if (!found)
	{
		memset(shared, 0, resp_clients_shmem_size());
		shared->nworkers = resp_port > 0 ? resp_workers : 0;
		shared->per_worker = resp_port > 0 ? resp_max_clients : 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

static void
slot_write(RespClientSlot *slot, const RespClientInfo *info)
{
	slot->changecount++;
	pg_write_barrier();
	if (info)
		slot->info = *info;
	else
		slot->info.in_use = false;
	pg_write_barrier();
	slot->changecount++;
}

/* what the view shows of a client, taken from the worker's state */
static void
client_info(RespClient *c, RespClientInfo *info)
{
	memset(info, 0, sizeof(RespClientInfo));
	info->in_use = true;
	info->worker = resp_figures.worker_number;
	info->id = c->id;
	strlcpy(info->addr, c->addr, sizeof(info->addr));
	strlcpy(info->name, c->name ? c->name : "", sizeof(info->name));
	strlcpy(info->role, c->rolename ? c->rolename : "", sizeof(info->role));
	strlcpy(info->last_command, c->last_command ? c->last_command : "",
			sizeof(info->last_command));
	info->db = c->db;
	info->connected = c->connected;
	info->last_active = c->last_active ? c->last_active : c->connected;
	info->query_buffer = c->inlen - c->inpos;
	info->output_buffer = resp_output_pending(c);
}

/*
 * Publish the client (taking a free slot of this worker first, if it has
 * none yet and one is free).
 */
void
resp_client_publish(RespClient *c)
{
	RespClientInfo info;
	int			first;
	int			i;

	if (shared == NULL || resp_figures.worker_number >= shared->nworkers)
		return;
	first = resp_figures.worker_number * shared->per_worker;
	if (c->slot < 0)
	{
		for (i = first; i < first + shared->per_worker; i++)
		{
			if (!shared->slots[i].info.in_use)
			{
				c->slot = i;
				break;
			}
		}
		if (c->slot < 0)
			return;				/* more clients than slots: not shown */
	}
	client_info(c, &info);
	slot_write(&shared->slots[c->slot], &info);
	c->published_commands = c->commands;
	c->published_output = info.output_buffer;
}

/* after a turn: publish what changed (commands ran, replies pending) */
void
resp_client_touch(RespClient *c)
{
	if (c->commands != c->published_commands ||
		resp_output_pending(c) != c->published_output)
		resp_client_publish(c);
}

void
resp_client_unpublish(RespClient *c)
{
	if (shared == NULL || c->slot < 0)
		return;
	slot_write(&shared->slots[c->slot], NULL);
	c->slot = -1;
}

/*
 * A consistent copy of every client shown, into a palloc'd array; the
 * number of them.
 */
int
resp_clients_read(RespClientInfo **out)
{
	int			n = shared ? shared->nworkers * shared->per_worker : 0;
	int			count = 0;
	int			i;

	*out = palloc(sizeof(RespClientInfo) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		RespClientSlot *slot = &shared->slots[i];

		for (;;)
		{
			uint32		before = slot->changecount;
			uint32		after;

			pg_read_barrier();
			(*out)[count] = slot->info;
			pg_read_barrier();
			after = slot->changecount;
			if (before == after && (before & 1) == 0)
				break;
			CHECK_FOR_INTERRUPTS();
		}
		if ((*out)[count].in_use)
			count++;
	}
	return count;
}
