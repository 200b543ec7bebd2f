/*-------------------------------------------------------------------------
 *
 * cluster.h
 *		Metadata of the cluster (nodes, placements of shards) and its
 *		distribution to every node: what the cluster room offers.
 *
 * The metadata lives in tables of schema memshard on every node and is the
 * same everywhere.  A change (add_node, remove_node, create_map, drop_map)
 * is made locally between cluster_change_begin() and cluster_change_end(),
 * and reaches the other nodes inside remote transactions that are prepared
 * (PREPARE TRANSACTION) when the local transaction commits and committed
 * after it: every node gets the change or none does (metadata_sync.c).
 * A part left prepared ("in doubt") when a node fails in between is
 * finished from any node (metadata_recover.c), by hand or by the recovery
 * worker (recovery_worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_CLUSTER_H
#define MEMSHARD_CLUSTER_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* a node of the cluster, as the per-backend cache holds it */
typedef struct ClusterNode
{
	int32		id;
	NameData	server;			/* foreign server, same name on every node */
	Oid			serverid;		/* InvalidOid when the server is missing here */
	bool		is_local;		/* this instance and database */
	int64		system_identifier;
	NameData	database;
	char		state[16];
} ClusterNode;

/* nodes (node_catalog.c); the pointers stay valid until invalidation */
extern List *cluster_nodes(void);	/* of ClusterNode *, ordered by id */
extern const ClusterNode *cluster_node_by_id(int32 id);
extern const ClusterNode *cluster_node_by_server(const char *server);
extern const ClusterNode *cluster_local_node(void);
extern bool cluster_is_active(void);	/* this node is in its node list */
extern bool cluster_has_nodes(void);
extern Oid	cluster_node_catalog_relid(void);
extern void cluster_nodes_changed(void);

/*
 * SQL on the cluster tables, as their owner, under search_path =
 * pg_catalog, pg_temp (cluster_sql.c)
 */
typedef struct ClusterSqlState
{
	Oid			userid;			/* the caller's, restored at the end */
	int			sec_context;
	int			guc_nestlevel;	/* of the fixed search_path */
} ClusterSqlState;

extern void cluster_sql_begin(ClusterSqlState *state);
extern void cluster_sql_begin_as_caller(ClusterSqlState *state);
extern uint64 cluster_sql_exec(const char *sql, int nargs, Oid *argtypes,
							   Datum *args, int expected);
extern void cluster_sql_end(ClusterSqlState *state);
extern uint64 cluster_sql(const char *sql, int nargs, Oid *argtypes,
						  Datum *args, int expected);
extern char *cluster_sql_text(const char *sql);

/* node administration (nodes.c) */
extern int32 cluster_add_node(const char *server);
extern void cluster_remove_node(const char *server);

/* identity of this node, as add_node records it */
extern int64 cluster_system_identifier(void);

/* metadata changes (metadata_sync.c) */
extern void cluster_change_begin(void);
extern void cluster_change_end(void);
extern bool cluster_applying_from_peer(void);
extern void cluster_apply_snapshot(const char *before_digest,
								   const char *snapshot,
								   const char *after_digest);
extern char *cluster_metadata_digest(void);

/* for the tests: stop or fail a change after PREPARE (metadata_sync.c) */
extern int	memshard_test_hold_after_prepare;	/* advisory lock key, 0 off */
extern bool memshard_test_error_after_commit;

/* changes left in doubt (metadata_recover.c) */
extern int	cluster_recover(bool all_nodes);	/* recover_metadata() */
extern int	cluster_recover_background(bool coordinated, int *left);
extern const char *cluster_metadata_outcome(const char *gid);

/* the recovery worker (recovery_worker.c) */
extern int	memshard_recovery_interval_ms;	/* pg_memshard.recovery_interval */

typedef struct ClusterRecoveryFigures
{
	uint64		resolved;		/* in-doubt parts finished since start */
	TimestampTz last_pass;		/* end of the worker's last pass, 0 none */
	char		problem[256];	/* why that pass left one in doubt, or "" */
} ClusterRecoveryFigures;

extern Size cluster_recovery_shmem_size(void);
extern void cluster_recovery_shmem_startup(void);
extern void cluster_recovery_register(void);
extern void cluster_recovery_figures(ClusterRecoveryFigures *figures);

#endif							/* MEMSHARD_CLUSTER_H */
