/*-------------------------------------------------------------------------
 *
 * fanout.c
 *		Run one SQL call on each of several nodes at once, and wait for all
 *		of them with bounded, interruptible waits.
 *
 * Every call advances on its own connection, step by step (call.c); here
 * all of them advance together in one loop that waits on every socket and
 * on our latch (WaitEventSet), then checks for interrupts: query cancel
 * and statement_timeout work while we wait.
 *
 * Deadlines: connecting must finish within pg_memshard.connect_timeout,
 * the answer must come within pg_memshard.remote_timeout of sending.  A
 * call that misses its deadline fails alone; the other calls carry on.
 * The remote session's statement_timeout is a little more than
 * pg_memshard.remote_timeout, so work we stopped waiting for ends there too.
 *
 * When we are interrupted (or anything else raises an ERROR) while calls
 * are in flight, their connections are closed before the error goes on:
 * PQcancel can block on PostgreSQL 15, a closed socket cannot.
 *
 * A RemoteFanout is a batch of calls, each with the caller's node it goes
 * to (RemoteNodeCall): the caller reads every answer back from the entry
 * of its node, never by matching positions or server OIDs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "remote/remote_internal.h"

static void run_states(CallState *states, int ncalls);
static void wait_for_progress(CallState *states, int ncalls);

void
remote_run(RemoteCall *calls, int ncalls)
{
	CallState  *states = palloc0(sizeof(CallState) * Max(ncalls, 1));
	int			i;

	for (i = 0; i < ncalls; i++)
		states[i].call = &calls[i];
	run_states(states, ncalls);
}

/* room for maxcalls calls, none added yet */
RemoteFanout *
remote_fanout_create(int maxcalls)
{
	RemoteFanout *fanout = palloc0(sizeof(RemoteFanout));

	fanout->maxcalls = maxcalls;
	fanout->calls = palloc0(sizeof(RemoteNodeCall) * Max(maxcalls, 1));
	return fanout;
}

/*
 * A call of sql to serverid for the caller's node, to be sent by
 * remote_fanout_run; the caller sets its parameters and options on the
 * call returned (REMOTE_ANY session, text, not prepared by default).
 */
RemoteCall *
remote_fanout_add(RemoteFanout *fanout, const void *node, Oid serverid,
				  const char *sql)
{
	RemoteNodeCall *entry;

	if (fanout->ncalls >= fanout->maxcalls)
		elog(ERROR, "more than %d calls in one fan-out", fanout->maxcalls);
	entry = &fanout->calls[fanout->ncalls++];
	entry->node = node;
	entry->call.serverid = serverid;
	entry->call.sql = sql;
	entry->call.session = REMOTE_ANY;
	return &entry->call;
}

/*
 * A node the caller answers for itself (this node, a node without a
 * server): it keeps its place among the entries and is not sent.
 */
void
remote_fanout_skip(RemoteFanout *fanout, const void *node)
{
	(void) remote_fanout_add(fanout, node, InvalidOid, NULL);
}

/* send every call of the fan-out at once; node failures come back in them */
void
remote_fanout_run(RemoteFanout *fanout)
{
	CallState  *states = palloc0(sizeof(CallState) * Max(fanout->ncalls, 1));
	int			nstates = 0;
	int			i;

	for (i = 0; i < fanout->ncalls; i++)
	{
		RemoteCall *call = &fanout->calls[i].call;

		call->result = NULL;
		call->error = NULL;
		if (call->sql != NULL)
			states[nstates++].call = call;
	}
	run_states(states, nstates);
}

/* remote_fanout_run, then raise the first error, if any */
void
remote_fanout_run_or_throw(RemoteFanout *fanout)
{
	int			i;

	remote_fanout_run(fanout);
	for (i = 0; i < fanout->ncalls; i++)
	{
		if (fanout->calls[i].call.error != NULL)
			remote_throw(&fanout->calls[i].call);
	}
}

/* run the calls of states[] (call set, the rest zero) until all are done */
static void
run_states(CallState *states, int ncalls)
{
	int			i;

	for (i = 0; i < ncalls; i++)
	{
		states[i].phase = PHASE_DONE;
		states[i].call->result = NULL;
		states[i].call->error = NULL;
	}

	PG_TRY();
	{
		bool		active = true;

		for (i = 0; i < ncalls; i++)
			call_begin(&states[i]);

		while (active)
		{
			wait_for_progress(states, ncalls);
			active = false;
			for (i = 0; i < ncalls; i++)
				active |= (states[i].phase != PHASE_DONE);
		}
	}
	PG_CATCH();
	{
		for (i = 0; i < ncalls; i++)
			call_abandon(&states[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();

	pfree(states);
}

/*
 * Wait until some socket is ready, the latch is set or the earliest
 * deadline passes; fail the calls past their deadline, then advance the
 * ready ones.
 */
static void
wait_for_progress(CallState *states, int ncalls)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz earliest = 0;
	WaitEventSet *set;
	WaitEvent  *events;
	int			nwaiting = 0;
	int			nevents;
	int			i;

	for (i = 0; i < ncalls; i++)
	{
		CallState  *st = &states[i];

		if (st->phase == PHASE_DONE)
			continue;
		if (now >= st->deadline)
		{
			call_timed_out(st);
			continue;
		}
		if (earliest == 0 || st->deadline < earliest)
			earliest = st->deadline;
		nwaiting++;
	}
	if (nwaiting == 0)
		return;

	set = CreateWaitEventSet(CurrentMemoryContext, nwaiting + 2);
	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < ncalls; i++)
	{
		CallState  *st = &states[i];

		if (st->phase == PHASE_DONE)
			continue;
		AddWaitEventToSet(set, call_wait_events(st), PQsocket(st->entry->conn),
						  NULL, st);
	}

	events = palloc(sizeof(WaitEvent) * (nwaiting + 2));
	nevents = WaitEventSetWait(set,
							   Max(TimestampDifferenceMilliseconds(now, earliest), 1),
							   events, nwaiting + 2, PG_WAIT_EXTENSION);
	FreeWaitEventSet(set);

	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();

	for (i = 0; i < nevents; i++)
	{
		if (events[i].user_data != NULL)
			call_advance((CallState *) events[i].user_data);
	}
	pfree(events);
}
