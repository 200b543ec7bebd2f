/*-------------------------------------------------------------------------
 *
 * metadata_lock.c
 *		The metadata lock of a node, and the parts of changes prepared here
 *		that hold it, named by their global transaction identifiers.
 *
 * A change takes ExclusiveLock on memshard.node_catalog, and so does a
 * node's part of a change, which keeps it while prepared.  metadata_lock
 * never waits for a prepared part: it refuses at once (55P03) naming it
 * and its coordinator.  It polls instead of waiting in the lock manager so
 * that a change that becomes prepared while we wait is noticed; the price
 * is that a deadlock through this lock is not detected (lock_timeout and
 * statement_timeout still apply).
 *
 * A part's global transaction identifier names the coordinator of its
 * change and the coordinator's transaction (metadata_internal.h): the parts
 * prepared here are found by it, and so is the node to ask how their
 * change ended (metadata_recover.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "cluster/metadata_internal.h"

static void refuse_in_doubt(const char *gid) pg_attribute_noreturn();
static char *coordinator_name(const char *gid);

/* "memshard_<system identifier>_<database OID>_": our transactions */
char *
metadata_gid_prefix(void)
{
	return psprintf("memshard_" UINT64_FORMAT "_%u_",
					(uint64) cluster_system_identifier(), MyDatabaseId);
}

/* split one of our global transaction identifiers; false if it is not */
bool
metadata_gid_parse(const char *gid, MetadataGid *parsed)
{
	int			consumed = 0;

	if (sscanf(gid, "memshard_" UINT64_FORMAT "_%u_%u_%d%n",
			   &parsed->system_identifier, &parsed->database, &parsed->xid,
			   &parsed->node_id, &consumed) != 4)
		return false;
	return gid[consumed] == '\0';
}

/*
 * Take the metadata lock of this node (ExclusiveLock on node_catalog).
 * Refuses at once (55P03) when a change prepared here holds it; otherwise
 * waits for the local change holding it if 'wait' (up to lock_timeout),
 * else returns false.
 */
bool
metadata_lock(bool wait)
{
	Oid			relid = cluster_node_catalog_relid();
	TimestampTz start = GetCurrentTimestamp();
	long		sleep_ms = 1;

	for (;;)
	{
		List	   *prepared;

		if (ConditionalLockRelationOid(relid, ExclusiveLock))
			return true;
		prepared = metadata_prepared_here();
		if (prepared != NIL)
			refuse_in_doubt(linitial(prepared));
		if (!wait)
			return false;
		if (LockTimeout > 0 &&
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), LockTimeout))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock the cluster metadata of this node within lock_timeout"),
					 errdetail("Another change of the metadata is running on this node.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		sleep_ms = Min(sleep_ms * 2, 100);
	}
}

static void
refuse_in_doubt(const char *gid)
{
	char	   *coordinator = coordinator_name(gid);

	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("the cluster metadata of this node is held by metadata change \"%s\" of %s, prepared here and not finished",
					gid, coordinator),
			 errdetail("A node keeps its part of a change prepared until the node that made it commits or rolls it back; if that node failed in between, the part is in doubt."),
			 errhint("Retry.  If this persists, run memshard.recover_metadata() on any node once %s is reachable, or let the recovery worker finish it (pg_memshard.recovery_interval).",
					 coordinator)));
}

/* the global transaction identifiers of the changes prepared here */
List *
metadata_prepared_here(void)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	ClusterSqlState state;
	List	   *gids = NIL;
	uint64		nrows;
	uint64		row;

	args[0] = CStringGetTextDatum("memshard_");
	cluster_sql_begin(&state);
	nrows = cluster_sql_exec(METADATA_PREPARED_QUERY, 1, argtypes, args, SPI_OK_SELECT);
	for (row = 0; row < nrows; row++)
	{
		char	   *gid = SPI_getvalue(SPI_tuptable->vals[row],
									   SPI_tuptable->tupdesc, 1);
		MemoryContext oldcontext = MemoryContextSwitchTo(caller);

		gids = lappend(gids, pstrdup(gid));
		MemoryContextSwitchTo(oldcontext);
	}
	cluster_sql_end(&state);
	return gids;
}

/*
 * The nodes of our node list on the instance the gid names, one of which
 * made the change (several databases of one instance may be nodes).
 */
List *
metadata_coordinators_of(const MetadataGid *parsed)
{
	List	   *nodes = NIL;
	ListCell   *lc;

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (!node->is_local && OidIsValid(node->serverid) &&
			(uint64) node->system_identifier == parsed->system_identifier)
			nodes = lappend(nodes, node);
	}
	return nodes;
}

/* for messages: 'node "n1"', or what the gid says of an unknown node */
static char *
coordinator_name(const char *gid)
{
	MetadataGid parsed;
	List	   *nodes;

	if (!metadata_gid_parse(gid, &parsed))
		return pstrdup("an unknown node");
	nodes = metadata_coordinators_of(&parsed);
	if (nodes == NIL)
		return psprintf("the node of system identifier " UINT64_FORMAT,
						parsed.system_identifier);
	return psprintf("node \"%s\"",
					NameStr(((ClusterNode *) linitial(nodes))->server));
}
