/*-------------------------------------------------------------------------
 *
 * node_catalog.c
 *		The nodes of the cluster, read from memshard.node_catalog and cached
 *		per backend.
 *
 * Routing asks "which node is this, is it me, which server reaches it" for
 * every remote call, so the table is read once and kept until it changes.
 * Every change to the table (here or, through COMMIT PREPARED, sent by
 * another node) sends a relcache invalidation for it; a change of a foreign
 * server (CREATE/ALTER/DROP SERVER) may change which server a name means.
 * Both empty the cache.
 *
 * A node recognises itself by system identifier and database name, which
 * add_node recorded from the node itself.  The metadata epoch (epoch.c) is
 * read with the nodes, cached with them, and handed to src/remote, which
 * tells every session to a node (fencing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "cluster/cluster.h"
#include "remote/remote.h"

static MemoryContext nodes_context = NULL;
static List *node_list = NIL;
static bool nodes_valid = false;
static Oid	node_catalog_oid = InvalidOid;
static int64 nodes_epoch = 0;	/* the metadata epoch, read with the nodes */

static void nodes_load(void);
static int64 epoch_load(bool *ours);
static void nodes_register_callbacks(void);
static void nodes_relcache_callback(Datum arg, Oid relid);
static void nodes_syscache_callback(Datum arg, int cacheid, uint32 hashvalue);

int64
cluster_system_identifier(void)
{
	/* stored as bigint, as pg_control_system() shows it */
	return (int64) GetSystemIdentifier();
}

Oid
cluster_node_catalog_relid(void)
{
	if (!OidIsValid(node_catalog_oid))
		node_catalog_oid = memshard_relid(MEMSHARD_NODE_CATALOG);
	return node_catalog_oid;
}

/* forget the cached nodes: the next caller reads the table again */
void
cluster_nodes_changed(void)
{
	nodes_valid = false;
}

List *
cluster_nodes(void)
{
	nodes_register_callbacks();
	/* an invalidation while loading means: load again */
	while (!nodes_valid)
	{
		nodes_valid = true;
		nodes_load();
	}
	return node_list;
}

const ClusterNode *
cluster_node_by_id(int32 id)
{
	ListCell   *lc;

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (node->id == id)
			return node;
	}
	return NULL;
}

const ClusterNode *
cluster_node_by_server(const char *server)
{
	ListCell   *lc;

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (strcmp(NameStr(node->server), server) == 0)
			return node;
	}
	return NULL;
}

const ClusterNode *
cluster_local_node(void)
{
	ListCell   *lc;

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (node->is_local)
			return node;
	}
	return NULL;
}

/*
 * The metadata epoch of this node (epoch.c), as of the node list cached
 * here: every change of the epoch changes the node table's relcache too.
 */
int64
cluster_epoch(void)
{
	(void) cluster_nodes();
	return nodes_epoch;
}

/* promoted away, not back yet: changes skip it (promote.c) */
bool
cluster_node_is_failed(const ClusterNode *node)
{
	return strcmp(node->state, "failed") == 0;
}

bool
cluster_is_active(void)
{
	return cluster_local_node() != NULL;
}

bool
cluster_has_nodes(void)
{
	return cluster_nodes() != NIL;
}

/* read memshard.node_catalog into a fresh context, then swap it in */
static void
nodes_load(void)
{
	MemoryContext loading;
	MemoryContext oldcontext;
	ClusterSqlState state;
	List	   *loaded = NIL;
	int64		my_sysid = cluster_system_identifier();
	char	   *my_database = get_database_name(MyDatabaseId);
	uint64		row;
	bool		epoch_is_ours;

	/*
	 * The relcache callback recognizes the table by this OID: unknown, a
	 * backend that never asked for it would miss every change of the node
	 * list but a full cache reset.
	 */
	(void) cluster_node_catalog_relid();

	cluster_sql_begin(&state);
	cluster_sql_exec("SELECT id, server, system_identifier, database, state "
					 "FROM memshard.node_catalog ORDER BY id",
					 0, NULL, NULL, SPI_OK_SELECT);

	loading = AllocSetContextCreate(CacheMemoryContext,
									"pg_memshard nodes",
									ALLOCSET_SMALL_SIZES);
	oldcontext = MemoryContextSwitchTo(loading);
	for (row = 0; row < SPI_processed; row++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[row];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		ClusterNode *node = palloc0(sizeof(ClusterNode));
		bool		isnull;
		ForeignServer *server;

		node->id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
		namestrcpy(&node->server, SPI_getvalue(tuple, desc, 2));
		node->system_identifier =
			DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
		namestrcpy(&node->database, SPI_getvalue(tuple, desc, 4));
		strlcpy(node->state, SPI_getvalue(tuple, desc, 5), sizeof(node->state));

		server = GetForeignServerByName(NameStr(node->server), true);
		node->serverid = server ? server->serverid : InvalidOid;
		node->is_local = (node->system_identifier == my_sysid &&
						  strcmp(NameStr(node->database), my_database) == 0);
		loaded = lappend(loaded, node);
	}
	MemoryContextSwitchTo(oldcontext);
	cluster_sql_end(&state);
	nodes_epoch = epoch_load(&epoch_is_ours);

	/*
	 * What our peer calls tell the nodes (fencing, epoch.c): the committed
	 * epoch.  While this transaction is the change that bumped it, the
	 * other nodes do not have it yet (their parts are not even prepared):
	 * sending it would make them fence themselves until the change commits.
	 * The commit invalidates this list, and the next load sends the new one.
	 */
	remote_set_peer_epoch(epoch_is_ours ? nodes_epoch - 1 : nodes_epoch);

	if (nodes_context != NULL)
		MemoryContextDelete(nodes_context);
	nodes_context = loading;
	node_list = loaded;
}

/*
 * The epoch in memshard.metadata_epoch (0 without a row, or the table);
 * *ours: the row is this transaction's own, not committed yet.
 */
static int64
epoch_load(bool *ours)
{
	char	   *text;
	int64		epoch;
	unsigned long xmin;

	*ours = false;
	if (!memshard_epoch_table_exists())
		return 0;
	text = cluster_sql_text("SELECT COALESCE((SELECT e.epoch::pg_catalog.text "
							"OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) "
							"e.xmin::pg_catalog.text FROM memshard.metadata_epoch e), '0 0')");
	if (sscanf(text, INT64_FORMAT " %lu", &epoch, &xmin) != 2)
		elog(ERROR, "unexpected metadata epoch \"%s\"", text);
	*ours = (xmin != 0 &&
			 TransactionIdIsCurrentTransactionId((TransactionId) xmin));
	return epoch;
}

static void
nodes_register_callbacks(void)
{
	static bool registered = false;

	if (registered)
		return;
	CacheRegisterRelcacheCallback(nodes_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, nodes_syscache_callback,
								  (Datum) 0);
	registered = true;
}

static void
nodes_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == node_catalog_oid)
	{
		nodes_valid = false;
		/* the table itself may be gone (DROP EXTENSION) */
		node_catalog_oid = InvalidOid;
	}
}

static void
nodes_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	nodes_valid = false;
}
