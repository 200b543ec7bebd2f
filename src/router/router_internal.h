/*-------------------------------------------------------------------------
 *
 * router_internal.h
 *		Declarations shared by the files of the router room only.
 *
 * The calls go one way: router.c (the dispatcher) -> router_cluster.c (maps
 * over nodes) -> peer_calls.c (the calls to other nodes) and
 * router_local.c (this node's store); router_peer.c (other nodes' calls)
 * -> router_local.c; router_shards.c (a key's shard and placements) is
 * used by the cluster and peer sides.  The read-modify-write calls, the key
 * scan and the count dispatch in their own files: router_rmw.c ->
 * router_cluster.c, peer_calls.c, router_local_rmw.c; router_scan.c ->
 * peer_calls.c; router_peer_rmw.c -> router_peer.c (its checks),
 * router_local_rmw.c, router_scan.c.
 *
 * The router_local_* functions take a MapInfo ** because a stale map is
 * reloaded on the way (STORE_MAP_GONE); they raise the store's errors.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_ROUTER_INTERNAL_H
#define MEMSHARD_ROUTER_INTERNAL_H

#include "cluster/placement.h"
#include "remote/remote.h"
#include "router/router.h"

/* router_local.c: this node's store */
extern StoreResult router_local_set(MapInfo **map, const char *key, int keylen,
									const char *value, int vallen,
									int64 ttl_ms, StoreSetMode mode);
extern char *router_local_get(MapInfo **map, const char *key, int keylen,
							  Size prefix, int *vallen);
extern void router_local_mget(MapInfo **map, int nkeys, char **keys,
							  int *keylens, Size prefix, char **values,
							  int *vallens, bool *texts);
extern int	router_local_mset(MapInfo **map, int nkeys, char **keys,
							  int *keylens, char **values, int *vallens,
							  int64 ttl_ms);
extern bool router_local_delete(MapInfo **map, const char *key, int keylen);
extern int64 router_local_incr(MapInfo **map, const char *key, int keylen,
							   int64 delta, int64 ttl_ms);
extern bool router_local_touch(MapInfo **map, const char *key, int keylen,
							   int64 ttl_ms);
extern int64 router_local_flush(MapInfo **map);

/* router_cluster.c: maps over nodes */
extern bool router_cluster_set(MapInfo *map, const char *key, int keylen,
							   const char *value, int vallen, int64 ttl_ms,
							   StoreSetMode mode);
extern char *router_cluster_get(MapInfo *map, const char *key, int keylen,
								Size prefix, int *vallen);
extern void router_cluster_mget(MapInfo *map, int nkeys, char **keys,
								int *keylens, Size prefix, char **values,
								int *vallens, bool *texts);
extern int	router_cluster_mset(MapInfo *map, int nkeys, char **keys,
								int *keylens, char **values, int *vallens,
								int64 ttl_ms);
extern bool router_cluster_delete(MapInfo *map, const char *key, int keylen);
extern int64 router_cluster_incr(MapInfo *map, const char *key, int keylen,
								 int64 delta, int64 ttl_ms);
extern bool router_cluster_touch(MapInfo *map, const char *key, int keylen,
								 int64 ttl_ms);
extern int64 router_cluster_flush(MapInfo *map);

/*
 * router_local_rmw.c and router_scan.c: the local side of
 * router_get_expiry, router_write_if, the scan and the count (shards NULL:
 * every shard, else a flag per shard)
 */
extern char *router_local_get_expiry(MapInfo **map, const char *key,
									 int keylen, int *vallen,
									 TimestampTz *expires);
extern bool router_local_write_if(MapInfo **map, const char *key, int keylen,
								  const char *expect, int expectlen,
								  TimestampTz expect_expires,
								  const char *value, int vallen,
								  TimestampTz expires);
extern uint64 router_local_scan_keys(MapInfo **map, const bool *shards,
									 uint64 cursor, int count, List **keys);
extern int64 router_local_count_items(MapInfo **map, const bool *shards);
extern char *router_cluster_get_expiry(MapInfo *map, const char *key,
									   int keylen, int *vallen,
									   TimestampTz *expires);
extern void warn_replica_missed(MapInfo *map, const RemoteCall *call);

/* router_peer.c: the checks of a peer call */
extern const MapPlacements *peer_placements(MapInfo *map);
extern void check_shard_held(MapInfo *map, const MapPlacements *placements,
							 const char *key, int keylen);

/* router_shards.c: the placements of a map over nodes, or ERROR */
extern const MapPlacements *router_map_placements(MapInfo *map);

/* a single-key operation, wherever it runs */
typedef enum KeyOpKind
{
	KEY_SET,
	KEY_GET,
	KEY_DELETE,
	KEY_INCR,
	KEY_TOUCH,
	KEY_GET_EXPIRY,
	KEY_WRITE_IF
} KeyOpKind;

typedef struct KeyOp
{
	KeyOpKind	kind;
	const char *key;
	int			keylen;
	const char *value;			/* set */
	int			vallen;
	int64		ttl_ms;			/* set, incr, touch */
	StoreSetMode mode;			/* set */
	int64		delta;			/* incr */
	Size		prefix;			/* get: room before the value */
	/* write_if: what the key must hold (expectlen < 0: absent) */
	const char *expect;
	int			expectlen;
	TimestampTz expect_expires;
	TimestampTz expires;		/* write_if: the new absolute expiry */
} KeyOp;

/* what one copy answered */
typedef struct KeyAnswer
{
	bool		flag;			/* set, delete, touch */
	int64		number;			/* incr */
	char	   *value;			/* get: prefix + vallen bytes, NULL: miss */
	int			vallen;
	TimestampTz expires;		/* get_expiry */
} KeyAnswer;

/*
 * peer_calls.c: a call of memshard.peer_* for a node of the map, added to
 * a fan-out (ERROR if the node's server is missing here), and its answer.
 * The batches take the keys keys[which[0..n-1]].
 */
extern void peer_call_key_op(RemoteFanout *fanout, const PlacementNode *node,
							 MapInfo *map, const KeyOp *op);
extern void peer_call_mget(RemoteFanout *fanout, const PlacementNode *node,
						   MapInfo *map, char **keys, int *keylens,
						   const int *which, int n);
extern void peer_call_mset(RemoteFanout *fanout, const PlacementNode *node,
						   MapInfo *map, char **keys, int *keylens,
						   char **values, int *vallens, const int *which,
						   int n, int64 ttl_ms);
extern void peer_call_flush(RemoteFanout *fanout, const PlacementNode *node,
							MapInfo *map);
extern void peer_call_scan(RemoteFanout *fanout, const PlacementNode *node,
						   MapInfo *map, const int *shards, int nshards,
						   uint64 cursor, int count);
extern void peer_call_count(RemoteFanout *fanout, const PlacementNode *node,
							MapInfo *map, const int *shards, int nshards);
extern char *peer_int_array_text(const int *values, int n);
extern void peer_answer_key_op(const KeyOp *op, const RemoteCall *call,
							   KeyAnswer *answer);
extern char *peer_answer_value(const RemoteCall *call, int row, Size prefix,
							   int *vallen);
extern int64 peer_answer_int64(const RemoteCall *call);

#endif							/* MEMSHARD_ROUTER_INTERNAL_H */
