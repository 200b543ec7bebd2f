/*-------------------------------------------------------------------------
 *
 * nodes.c
 *		add_node and remove_node: membership of the cluster.
 *
 * A node is a foreign server of FOREIGN DATA WRAPPER memshard, with the
 * same server name on every node.  add_node connects to it, checks that it
 * runs the same pg_memshard, records who it is (system identifier and
 * database, by which each node recognises itself in the list) and sends the
 * cluster metadata to every node, the new one included.  remove_node is
 * refused while the node holds shards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "remote/remote.h"

#define MEMSHARD_FDW "memshard"

/* what a node says about itself (memshard.peer_identity) */
typedef struct NodeIdentity
{
	char	   *library_version;
	char	   *extension_version;
	int64		system_identifier;
	char	   *database;
	char	   *encoding;		/* keys hash as bytes: one encoding for all */
} NodeIdentity;

static const char *identity_query =
"SELECT memshard.version(), e.extversion, i.system_identifier, i.database, "
"pg_catalog.current_setting('server_encoding') "
"FROM memshard.peer_identity() i, pg_catalog.pg_extension e "
"WHERE e.extname OPERATOR(pg_catalog.=) 'pg_memshard'";

static ForeignServer *node_server(const char *servername);
static void remote_identity(ForeignServer *server, NodeIdentity *identity);
static void local_identity(NodeIdentity *identity);
static int32 next_node_id(void);
static void insert_node(int32 id, const char *server,
						const NodeIdentity *identity);
static void delete_node(int32 id);

int32
cluster_add_node(const char *servername)
{
	ForeignServer *server = node_server(servername);
	NodeIdentity remote;
	NodeIdentity local;
	int32		id;
	ListCell   *lc;

	cluster_change_begin();

	if (cluster_node_by_server(servername) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("node \"%s\" is already in the cluster", servername)));

	remote_identity(server, &remote);
	local_identity(&local);
	if (strcmp(remote.library_version, local.library_version) != 0 ||
		strcmp(remote.extension_version, local.extension_version) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" runs pg_memshard %s (library %s), this node runs %s (library %s)",
						servername, remote.extension_version,
						remote.library_version, local.extension_version,
						local.library_version),
				 errhint("Install the same version of pg_memshard on every node.")));

	if (strcmp(remote.encoding, local.encoding) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" uses encoding %s, this node uses %s",
						servername, remote.encoding, local.encoding),
				 errdetail("Keys are hashed as bytes, so every node must use the same database encoding.")));

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);

		if (node->system_identifier == remote.system_identifier &&
			strcmp(NameStr(node->database), remote.database) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("server \"%s\" reaches node \"%s\", which is already in the cluster",
							servername, NameStr(node->server))));
	}

	id = next_node_id();
	insert_node(id, servername, &remote);
	cluster_change_end();
	return id;
}

void
cluster_remove_node(const char *servername)
{
	const ClusterNode *node;
	int32		id;
	int			shards;
	char	   *maps;

	cluster_change_begin();

	node = cluster_node_by_server(servername);
	if (node == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", servername)));
	if (node->is_local && list_length(cluster_nodes()) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot remove node \"%s\" from itself", servername),
				 errhint("Run memshard.remove_node() on another node of the cluster.")));

	shards = placement_count_on_node(node->id, &maps);
	if (shards > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("node \"%s\" holds %d shards", servername, shards),
				 errdetail("Maps with shards on it: %s.", maps),
				 errhint("Drop those maps, or move their shards, first.")));

	id = node->id;
	delete_node(id);
	cluster_change_end();
}

/* the server, which must belong to FOREIGN DATA WRAPPER memshard */
static ForeignServer *
node_server(const char *servername)
{
	ForeignServer *server = GetForeignServerByName(servername, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	if (strcmp(fdw->fdwname, MEMSHARD_FDW) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use foreign-data wrapper %s",
						servername, MEMSHARD_FDW),
				 errhint("Nodes are servers created with FOREIGN DATA WRAPPER %s.",
						 MEMSHARD_FDW)));
	return server;
}

/* ask the node who it is; a node without pg_memshard gets a clear error */
static void
remote_identity(ForeignServer *server, NodeIdentity *identity)
{
	RemoteCall	call = {0};
	RemoteResult *result;

	call.serverid = server->serverid;
	call.sql = identity_query;
	call.session = REMOTE_ANY;
	remote_run(&call, 1);

	if (call.error != NULL &&
		(call.error->sqlstate == ERRCODE_INVALID_SCHEMA_NAME ||
		 call.error->sqlstate == ERRCODE_UNDEFINED_FUNCTION ||
		 call.error->sqlstate == ERRCODE_UNDEFINED_TABLE))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" does not run pg_memshard", server->servername),
				 errdetail_internal("%s", call.error->message),
				 errhint("Run CREATE EXTENSION pg_memshard in the node's database.")));
	if (call.error != NULL)
		remote_throw(&call);

	result = call.result;
	if (result->ntuples != 1 || result->nfields != 5)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" does not run pg_memshard", server->servername)));
	identity->library_version = result->values[0];
	identity->extension_version = result->values[1];
	identity->system_identifier =
		DatumGetInt64(DirectFunctionCall1(int8in,
										  CStringGetDatum(result->values[2])));
	identity->database = result->values[3];
	identity->encoding = result->values[4];
}

/* the same query, here */
static void
local_identity(NodeIdentity *identity)
{
	MemoryContext caller = CurrentMemoryContext;
	ClusterSqlState state;
	TupleDesc	desc;
	HeapTuple	tuple;

	cluster_sql_begin(&state);
	if (cluster_sql_exec(identity_query, 0, NULL, NULL, SPI_OK_SELECT) != 1)
		elog(ERROR, "could not read the identity of this node");
	desc = SPI_tuptable->tupdesc;
	tuple = SPI_tuptable->vals[0];
	identity->library_version = MemoryContextStrdup(caller, SPI_getvalue(tuple, desc, 1));
	identity->extension_version = MemoryContextStrdup(caller, SPI_getvalue(tuple, desc, 2));
	identity->database = MemoryContextStrdup(caller, SPI_getvalue(tuple, desc, 4));
	identity->encoding = MemoryContextStrdup(caller, SPI_getvalue(tuple, desc, 5));
	identity->system_identifier = cluster_system_identifier();
	cluster_sql_end(&state);
}

static int32
next_node_id(void)
{
	int32		max_id = 0;
	ListCell   *lc;

	foreach(lc, cluster_nodes())
		max_id = Max(max_id, ((ClusterNode *) lfirst(lc))->id);
	return max_id + 1;
}

static void
insert_node(int32 id, const char *server, const NodeIdentity *identity)
{
	Oid			argtypes[4] = {INT4OID, TEXTOID, INT8OID, TEXTOID};
	Datum		args[4];

	args[0] = Int32GetDatum(id);
	args[1] = CStringGetTextDatum(server);
	args[2] = Int64GetDatum(identity->system_identifier);
	args[3] = CStringGetTextDatum(identity->database);
	cluster_sql("INSERT INTO memshard.node_catalog "
				"(id, server, system_identifier, database) "
				"VALUES ($1, $2, $3, $4)",
				4, argtypes, args, SPI_OK_INSERT);
}

static void
delete_node(int32 id)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];

	args[0] = Int32GetDatum(id);
	cluster_sql("DELETE FROM memshard.node_catalog WHERE id OPERATOR(pg_catalog.=) $1",
				1, argtypes, args, SPI_OK_DELETE);
}
