/*-------------------------------------------------------------------------
 *
 * metadata_apply.c
 *		The node's side of a metadata change: install the metadata a
 *		coordinator sends (memshard.peer_metadata_apply), inside the remote
 *		transaction that the coordinator then prepares and commits.
 *
 * The node takes its metadata lock without waiting (a concurrent change
 * fails at once with 55P03; so does a change still prepared here, named by
 * metadata_lock), checks that its metadata is what the coordinator had
 * before the change, replaces it, and checks that it reached what the
 * coordinator has after.  See metadata_sync.c for the whole protocol.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"

#include "cluster/cluster.h"
#include "cluster/metadata_int.h"
#include "cluster/placement.h"

/* the maps of a snapshot ($1), as rows */
#define SNAPSHOT_MAPS \
	"pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'maps') AS m " \
	"(name pg_catalog.text, default_ttl interval, max_memory bigint, " \
	"eviction pg_catalog.text, method pg_catalog.text, shard_count integer, " \
	"bounds pg_catalog.text[], nodes pg_catalog.name[], replicas integer)"

/* column x of map_catalog c and snapshot m differ (IS DISTINCT FROM) */
#define DISTINCT(x) \
	"((c." x " OPERATOR(pg_catalog.=) m." x ") IS NOT TRUE AND " \
	"(c." x " IS NOT NULL OR m." x " IS NOT NULL))"

/* this backend applies metadata sent by a coordinator (until its xact ends) */
static bool applying_from_peer = false;

static void apply_snapshot(const char *snapshot);
static uint64 spi_exec_snapshot(const char *sql, int expected, Datum *args);

bool
cluster_applying_from_peer(void)
{
	return applying_from_peer;
}

/* the end of the transaction (commit, abort or prepare) */
void
metadata_apply_done(void)
{
	applying_from_peer = false;
}

/*
 * Apply metadata sent by a coordinator (memshard.peer_metadata_apply), in
 * the coordinator's remote transaction.  before_digest NULL: this node must
 * not belong to a cluster yet.
 */
void
cluster_apply_snapshot(const char *before_digest, const char *snapshot,
					   const char *after_digest)
{
	Oid			relid = cluster_node_catalog_relid();
	char	   *digest;

	metadata_register_callbacks();
	/* a change prepared here and not finished is named by metadata_lock */
	if (!metadata_lock(false))
		ereport(ERROR,
				(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				 errmsg("the metadata of this node is being changed by another transaction"),
				 errhint("Retry.")));
	cluster_nodes_changed();

	digest = cluster_metadata_digest();
	if (before_digest == NULL && cluster_nodes() != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node already belongs to a cluster"),
				 errhint("Remove it from its cluster with memshard.remove_node() first.")));
	if (before_digest != NULL && strcmp(digest, before_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the metadata of this node differs from the coordinator's"),
				 errdetail("Digest here %s, expected %s.", digest, before_digest),
				 errhint("A change may be in doubt here or on the coordinator: run memshard.recover_metadata() on this node.")));

	applying_from_peer = true;
	apply_snapshot(snapshot);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(relid);
	cluster_nodes_changed();

	digest = cluster_metadata_digest();
	if (strcmp(digest, after_digest) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node did not reach the coordinator's metadata"),
				 errdetail("Digest here %s, expected %s.", digest, after_digest)));
}

/*
 * Make this node's metadata what the snapshot says.  Maps are created and
 * dropped through memshard.create_map/drop_map, so that their store state
 * follows as for any map; applying_from_peer keeps those from placing
 * shards or starting a change of their own.  The placements come as they
 * are in the snapshot.
 */
static void
apply_snapshot(const char *snapshot)
{
	ClusterSqlState state;
	Datum		args[1];
	uint64		nconflicts;
	uint64		row;

	args[0] = DirectFunctionCall1(jsonb_in, CStringGetDatum(snapshot));
	cluster_sql_begin(&state);

	spi_exec_snapshot("DELETE FROM memshard.placement_catalog",
					  SPI_OK_DELETE, args);
	spi_exec_snapshot("DELETE FROM memshard.node_catalog", SPI_OK_DELETE, args);
	spi_exec_snapshot("INSERT INTO memshard.node_catalog "
					  "(id, server, system_identifier, database) "
					  "SELECT n.id, n.server, n.system_identifier, n.database "
					  "FROM pg_catalog.jsonb_to_recordset($1 OPERATOR(pg_catalog.->) 'nodes') AS n "
					  "(id integer, server pg_catalog.name, system_identifier bigint, "
					  "database pg_catalog.name)",
					  SPI_OK_INSERT, args);

	/* a map of the same name but another definition is a conflict */
	nconflicts = spi_exec_snapshot("SELECT c.name FROM " SNAPSHOT_MAPS " "
								   "JOIN memshard.map_catalog c ON c.name OPERATOR(pg_catalog.=) m.name "
								   "WHERE " DISTINCT("default_ttl") " OR " DISTINCT("max_memory")
								   " OR " DISTINCT("eviction") " OR " DISTINCT("method")
								   " OR " DISTINCT("shard_count") " OR " DISTINCT("bounds")
								   " OR " DISTINCT("nodes") " OR " DISTINCT("replicas"),
								   SPI_OK_SELECT, args);
	for (row = 0; row < nconflicts; row++)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("map \"%s\" exists on this node with another definition",
						SPI_getvalue(SPI_tuptable->vals[row],
									 SPI_tuptable->tupdesc, 1)),
				 errhint("Drop the map on this node, or give the cluster's map another name.")));

	spi_exec_snapshot("SELECT memshard.drop_map(c.name) FROM memshard.map_catalog c "
					  "WHERE c.nodes IS NOT NULL AND NOT EXISTS "
					  "(SELECT FROM " SNAPSHOT_MAPS " WHERE m.name OPERATOR(pg_catalog.=) c.name)",
					  SPI_OK_SELECT, args);
	spi_exec_snapshot("SELECT memshard.create_map(m.name, m.default_ttl, m.max_memory, "
					  "m.eviction, m.method, m.shard_count, m.bounds, m.nodes, m.replicas) "
					  "FROM " SNAPSHOT_MAPS " WHERE NOT EXISTS "
					  "(SELECT FROM memshard.map_catalog c WHERE c.name OPERATOR(pg_catalog.=) m.name)",
					  SPI_OK_SELECT, args);
	spi_exec_snapshot("INSERT INTO memshard.placement_catalog "
					  "(map_id, shard, replica, node_id) "
					  "SELECT c.id, (p OPERATOR(pg_catalog.->>) 1)::integer, "
					  "(p OPERATOR(pg_catalog.->>) 2)::integer, "
					  "(p OPERATOR(pg_catalog.->>) 3)::integer "
					  "FROM pg_catalog.jsonb_array_elements($1 OPERATOR(pg_catalog.->) 'placements') p "
					  "JOIN memshard.map_catalog c ON c.name OPERATOR(pg_catalog.=) (p OPERATOR(pg_catalog.->>) 0)",
					  SPI_OK_INSERT, args);
	cluster_sql_end(&state);

	CommandCounterIncrement();
	CacheInvalidateRelcacheByRelid(cluster_node_catalog_relid());
	cluster_placements_changed();
	cluster_nodes_changed();
}

/* one statement of apply_snapshot, $1 being the snapshot */
static uint64
spi_exec_snapshot(const char *sql, int expected, Datum *args)
{
	Oid			argtypes[1] = {JSONBOID};

	return cluster_sql_exec(sql, 1, argtypes, args, expected);
}
