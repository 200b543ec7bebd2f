/*-------------------------------------------------------------------------
 *
 * cluster.h
 *		Metadata (maps, nodes, placements of shards) and its distribution
 *		to every node: what the cluster room offers.
 *
 * The metadata lives in tables of schema memshard (catalog.c names them)
 * on every node and is the same everywhere, but for the maps of one node
 * only.  Maps are rows of memshard.map_catalog (map_catalog.c), defined
 * and removed by maps.c with their placements (placement.h, which the
 * router reads) and their state in the store; the nodes are rows of
 * memshard.node_catalog (node_catalog.c, nodes.c).  Every statement on
 * those tables goes through cluster_sql.c.
 *
 * A change (add_node, remove_node, create_map, drop_map, promote, rejoin)
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
#include "store/store.h"
#include "utils/array.h"

/* the extension's schema and the tables of the metadata (catalog.c) */
#define MEMSHARD_SCHEMA "memshard"

typedef enum MemshardRelation
{
	MEMSHARD_MAP_CATALOG,
	MEMSHARD_MAP_CATALOG_NAME_INDEX,
	MEMSHARD_MAP_ID_SEQUENCE,
	MEMSHARD_NODE_CATALOG,
	MEMSHARD_PLACEMENT_CATALOG,
	MEMSHARD_RELATION_COUNT
} MemshardRelation;

extern Oid	memshard_schema_oid(bool missing_ok);
extern Oid	memshard_relid(MemshardRelation rel);
extern bool memshard_epoch_table_exists(void);

/* longest map name in bytes */
#define MAP_NAME_MAX_LEN		(NAMEDATALEN - 1)

typedef enum MapMethod
{
	MAP_METHOD_HASH,
	MAP_METHOD_RANGE
} MapMethod;

/*
 * What create_map records: one row of memshard.map_catalog.  Arrays are
 * kept as Datums of the SQL arrays (NULL when absent), so the catalog code
 * can store them without rebuilding.
 */
typedef struct MapDefinition
{
	char	   *name;
	int32		id;				/* assigned by map_catalog_insert */
	Interval   *default_ttl;	/* NULL: none */
	int64		max_memory;		/* 0: no quota */
	bool		evictable;		/* eviction 'lru' (true) or 'none' */
	MapMethod	method;
	int32		shard_count;
	Datum		bounds;			/* text[], range maps only */
	bool		bounds_null;
	Datum		nodes;			/* name[]; NULL means this node only */
	bool		nodes_null;
	int32		replicas;
} MapDefinition;

/*
 * A map as a backend sees it, from the per-backend cache.  A MapInfo
 * pointer is valid until the next router call: a cache invalidation may
 * free it.
 */
typedef struct MapInfo
{
	char		name[NAMEDATALEN];	/* hash key, NUL-terminated */
	int			namelen;
	int32		id;
	int			slot;			/* store handle, -1 until attached */
	int64		default_ttl_ms; /* 0: items live until evicted */
	StoreMapOptions opts;
	MapMethod	method;
	int32		shard_count;
	int			nbounds;		/* range maps: split points */
	Datum	   *bounds;			/* text Datums, in the cache's memory */
	int32		replicas;
	bool		local_only;		/* nodes is NULL */
} MapInfo;

/* map catalog (map_catalog.c) */
extern int64 ttl_interval_to_ms(const Interval *ttl);
extern Oid	map_catalog_relid(void);
extern bool map_catalog_lookup(const char *name, MapInfo *map,
							   MemoryContext cxt);
extern int32 map_catalog_insert(MapDefinition *def);
extern bool map_catalog_delete(const char *name, int32 *mapid);
extern List *map_catalog_list(void);

/*
 * Placements given for a map (a coordinator's metadata): row i is copy
 * replica[i] of shard shard[i], on node node_id[i].
 */
typedef struct MapPlacementRows
{
	int			count;
	int32	   *shard;
	int32	   *replica;
	int32	   *node_id;
} MapPlacementRows;

/*
 * Defining and removing maps (maps.c): the catalog row, the placements of
 * a map over nodes (given, or NULL: round robin over def->nodes), and the
 * map's state in the store, which follows the transaction.  A change of
 * the cluster's metadata is the caller's (cluster_change_begin/end).
 */
extern int32 cluster_define_map(MapDefinition *def,
								const MapPlacementRows *placements);
extern bool cluster_remove_map(const char *name);
extern void cluster_map_store_created(int32 mapid);
extern void cluster_map_store_dropped(int32 mapid);

/* the checks of a definition's values, in the order create_map makes them */
extern void map_check_name(const char *name);
extern void map_check_max_memory(int64 max_memory);
extern bool map_choice(const char *value, const char *what, const char *yes,
					   const char *no);
extern void map_check_shard_count(int32 shard_count);
extern int32 map_check_bounds(MapMethod method, ArrayType *bounds,
							  int32 shard_count);
extern void map_check_replicas(int32 replicas);
extern void map_check_local_replicas(const MapDefinition *def);

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
extern char *cluster_metadata_digest(void);

/* a node's side of a change: the coordinator's metadata (metadata_apply.c) */
extern void cluster_apply_snapshot(const char *before_digest,
								   const char *snapshot,
								   const char *after_digest);

/* for the tests: stop or fail a change after PREPARE (metadata_sync.c) */
extern int	memshard_test_hold_after_prepare;	/* advisory lock key, 0 off */
extern bool memshard_test_error_after_commit;

/* changes left in doubt (metadata_recover.c) */
extern int	cluster_recover(bool all_nodes);	/* recover_metadata() */
extern int	cluster_recover_background(bool coordinated, int *left);
extern const char *cluster_metadata_outcome(const char *gid);

/*
 * the recovery worker (recovery_worker.c) and its shared state
 * (recovery_state.c)
 */
extern int	memshard_recovery_interval_ms;	/* pg_memshard.recovery_interval */

typedef struct ClusterRecoveryFigures
{
	uint64		resolved;		/* in-doubt parts finished since start */
	TimestampTz last_pass;		/* end of the worker's last pass, 0 none */
	char		problem[256];	/* why that pass left one in doubt, or "" */
} ClusterRecoveryFigures;

extern Size cluster_recovery_shmem_size(void);
extern void cluster_recovery_shmem_startup(void);
extern void cluster_recovery_figures(ClusterRecoveryFigures *figures);
extern void cluster_recovery_register(void);

/*
 * failover: the metadata epoch and fencing (epoch.c), promote and rejoin
 * (promote.c), the failover worker (failover_worker.c) and its shared
 * state (failover_state.c)
 */
extern int	memshard_failover_timeout_ms;	/* pg_memshard.failover_timeout */
extern int	memshard_caller_epoch;	/* pg_memshard.peer_epoch, the caller's */

extern int64 cluster_epoch(void);	/* node_catalog.c, cached */
extern void cluster_epoch_bump(void);
extern void cluster_epoch_from_snapshot(Datum snapshot);
extern void cluster_peer_epoch_check(void);
extern void cluster_fence_check(void);
extern bool cluster_is_fenced(void);
extern bool cluster_fenced_now(int64 *newest_seen);
extern bool cluster_node_is_failed(const ClusterNode *node);

extern int	cluster_promote(const char *server);
extern void cluster_rejoin(const char *server);
extern void cluster_mark_draining(const char *server);
extern void cluster_apply_rejoin(const char *snapshot, const char *after_digest);
extern void cluster_change_begin_degraded(void);

typedef struct ClusterFailoverStats
{
	int64		epoch;
	int64		nodes_failed;
	int64		failovers;
	int64		shards_promoted;
	TimestampTz last_failover;	/* 0: never */
	bool		fenced;
} ClusterFailoverStats;

extern void cluster_failover_stats(ClusterFailoverStats *stats);
extern Size cluster_failover_shmem_size(void);
extern void cluster_failover_shmem_startup(void);
extern void cluster_failover_register(void);

#endif							/* MEMSHARD_CLUSTER_H */
