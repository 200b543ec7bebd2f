/*-------------------------------------------------------------------------
 *
 * resp_xact.c
 *		The transaction of a turn of the worker's event loop.
 *
 * The commands of one turn that read catalogs or maps run in one
 * transaction, started by the first of them (resp_ensure_xact) and ended by
 * the worker at the end of the turn (resp_commit_xact), or by a command's
 * ERROR (resp_abort_xact, resp_commands.c).  Creating a map ends it and
 * starts another (resp_data.c).  A worker is one process: no locks here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "resp/resp.h"

static bool xact_open = false;

/*
 * The turn's transaction, started on first need; memory stays the turn's.
 * It has an active snapshot, as a statement has: the metadata of maps over
 * nodes (their placements) is read with SPI.
 */
void
resp_ensure_xact(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (xact_open)
		return;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	xact_open = true;
	MemoryContextSwitchTo(cxt);
}

void
resp_commit_xact(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (!xact_open)
		return;
	while (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
	xact_open = false;
	MemoryContextSwitchTo(cxt);
}

void
resp_abort_xact(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	AbortCurrentTransaction();
	xact_open = false;
	MemoryContextSwitchTo(cxt);
}
