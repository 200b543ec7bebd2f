/*-------------------------------------------------------------------------
 *
 * router_cluster.c
 *		The routing of maps over nodes: each key to the nodes that hold its
 *		shard, this one through the local store, the others through libpq.
 *
 * A key's shard is exactly hash_partition(key, shard_count) or
 * range_partition(key, bounds) (src/partition); its placements (copy 0 the
 * primary, then the replicas) come from src/cluster.  The other nodes run
 * the memshard.peer_* functions, which refuse a key whose shard they do not
 * hold under their own metadata, then use their local store.
 *
 * Writes (set, add, replace, delete, incr, touch, mset) go to every copy
 * at once; the primary's answer is the answer.  If the primary fails the
 * call fails (a replica may have taken the write).  A replica that cannot
 * be reached is skipped with a WARNING; any other error of a replica fails
 * the call.  Reads (get, mget) ask the primary and fall back to the next
 * copy when a node cannot be reached.  mget, mset and flush send one call
 * per node, to all nodes at once.
 *
 * Parameters travel as text except values and key batches, which are
 * binary (bytea, text[], bytea[]); answers come back binary.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type_d.h"
#include "port/pg_bswap.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "partition/partition.h"
#include "remote/remote.h"
#include "router/router.h"
#include "router/router_int.h"

/* the single-key operations */
typedef enum KeyOpKind
{
	KEY_SET,
	KEY_GET,
	KEY_DELETE,
	KEY_INCR,
	KEY_TOUCH
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
} KeyOp;

/* what one copy answered */
typedef struct KeyAnswer
{
	bool		flag;			/* set, delete, touch */
	int64		number;			/* incr */
	char	   *value;			/* get: prefix + vallen bytes, NULL: miss */
	int			vallen;
} KeyAnswer;

/* parameters of one remote call */
#define MAX_CALL_PARAMS 5
typedef struct CallParams
{
	int			count;
	Oid			types[MAX_CALL_PARAMS];
	const char *values[MAX_CALL_PARAMS];
	int			lengths[MAX_CALL_PARAMS];
	int			formats[MAX_CALL_PARAMS];
} CallParams;

static const MapPlacements *map_placements(MapInfo *map);
static void param_text(CallParams *params, Oid type, const char *value);
static void param_int64(CallParams *params, Oid type, int64 value);
static void param_binary(CallParams *params, Oid type, const char *data,
						 int len);
static void call_init(RemoteCall *call, const PlacementNode *node,
					  const char *sql, CallParams *params);
static void key_op_local(MapInfo **map, const KeyOp *op, KeyAnswer *answer);
static void key_op_call(MapInfo *map, const KeyOp *op,
						const PlacementNode *node, RemoteCall *call);
static void key_op_decode(const KeyOp *op, const RemoteCall *call,
						  KeyAnswer *answer);
static void write_all_copies(MapInfo *map, const KeyOp *op, KeyAnswer *answer);
static void read_first_copy(MapInfo *map, const KeyOp *op, KeyAnswer *answer);
static void warn_replica_missed(MapInfo *map, const RemoteCall *call);
static char *value_copy(const char *data, int len, Size prefix);
static bool result_bool(const RemoteCall *call);
static int64 result_int64(const RemoteCall *call);
static void check_shard_held(MapInfo *map, const MapPlacements *placements,
							 const char *key, int keylen);

/* the shard of a key: hash_partition or range_partition, exactly */
int
router_key_shard(MapInfo *map, const char *key, int keylen)
{
	if (map->method == MAP_METHOD_RANGE)
		return partition_range_text(key, keylen, map->bounds, map->nbounds,
									DEFAULT_COLLATION_OID);
	return partition_hash_text(key, keylen, map->shard_count);
}

/*
 * The server name of the node holding the primary copy of a key, or NULL
 * for a map of this node only.
 */
const char *
router_key_node(MapInfo *map, const char *key, int keylen)
{
	const MapPlacements *placements;

	if (map->local_only)
		return NULL;
	placements = map_placements(map);
	return NameStr(placement_node(placements,
								  router_key_shard(map, key, keylen), 0)->server);
}

static const MapPlacements *
map_placements(MapInfo *map)
{
	const MapPlacements *placements = cluster_map_placements(map->id);

	if (placements == NULL || placements->nshards != map->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("map \"%s\" has no valid placements on this node",
						map->name),
				 errhint("Compare memshard.shards on the nodes of the cluster.")));
	return placements;
}

/* --- the coordinator's side: maps over nodes --- */

bool
router_cluster_set(MapInfo *map, const char *key, int keylen,
				   const char *value, int vallen, int64 ttl_ms,
				   StoreSetMode mode)
{
	KeyOp		op = {KEY_SET, key, keylen, value, vallen, ttl_ms, mode};
	KeyAnswer	answer;

	write_all_copies(map, &op, &answer);
	return answer.flag;
}

char *
router_cluster_get(MapInfo *map, const char *key, int keylen, Size prefix,
				   int *vallen)
{
	KeyOp		op = {KEY_GET, key, keylen};
	KeyAnswer	answer;

	op.prefix = prefix;
	read_first_copy(map, &op, &answer);
	*vallen = answer.vallen;
	return answer.value;
}

bool
router_cluster_delete(MapInfo *map, const char *key, int keylen)
{
	KeyOp		op = {KEY_DELETE, key, keylen};
	KeyAnswer	answer;

	write_all_copies(map, &op, &answer);
	return answer.flag;
}

/*
 * Every copy adds delta to its own counter; the primary's result is the
 * answer (copies that missed writes may differ: they are a cache).
 */
int64
router_cluster_incr(MapInfo *map, const char *key, int keylen, int64 delta,
					int64 ttl_ms)
{
	KeyOp		op = {KEY_INCR, key, keylen};
	KeyAnswer	answer;

	op.delta = delta;
	op.ttl_ms = ttl_ms;
	write_all_copies(map, &op, &answer);
	return answer.number;
}

bool
router_cluster_touch(MapInfo *map, const char *key, int keylen, int64 ttl_ms)
{
	KeyOp		op = {KEY_TOUCH, key, keylen};
	KeyAnswer	answer;

	op.ttl_ms = ttl_ms;
	write_all_copies(map, &op, &answer);
	return answer.flag;
}

/*
 * A single-key write on every copy of the key's shard at once: the local
 * copy first (its errors come before anything is sent), then the others in
 * parallel.
 */
static void
write_all_copies(MapInfo *map, const KeyOp *op, KeyAnswer *answer)
{
	const MapPlacements *placements = map_placements(map);
	int			shard = router_key_shard(map, op->key, op->keylen);
	int			ncopies = placements->replicas;
	RemoteCall *calls = palloc0(sizeof(RemoteCall) * ncopies);
	int		   *copy_of_call = palloc(sizeof(int) * ncopies);
	int			ncalls = 0;
	int			i;

	for (i = 0; i < ncopies; i++)
	{
		const PlacementNode *node = placement_node(placements, shard, i);

		if (node->is_local)
		{
			KeyAnswer	local;

			key_op_local(&map, op, &local);
			if (i == 0)
				*answer = local;
			continue;
		}
		key_op_call(map, op, node, &calls[ncalls]);
		copy_of_call[ncalls++] = i;
	}
	remote_run(calls, ncalls);

	/* the primary's failure first, then other failures, then warnings */
	for (i = 0; i < ncalls; i++)
	{
		if (copy_of_call[i] == 0 && calls[i].error != NULL)
			remote_throw(&calls[i]);
	}
	for (i = 0; i < ncalls; i++)
	{
		if (calls[i].error != NULL &&
			!remote_error_is_unreachable(calls[i].error))
			remote_throw(&calls[i]);
	}
	for (i = 0; i < ncalls; i++)
	{
		if (calls[i].error != NULL)
			warn_replica_missed(map, &calls[i]);
		else if (copy_of_call[i] == 0)
			key_op_decode(op, &calls[i], answer);
	}
}

/* a read from the primary, or the next copy while nodes are unreachable */
static void
read_first_copy(MapInfo *map, const KeyOp *op, KeyAnswer *answer)
{
	const MapPlacements *placements = map_placements(map);
	int			shard = router_key_shard(map, op->key, op->keylen);
	RemoteCall *first_failure = NULL;
	int			i;

	for (i = 0; i < placements->replicas; i++)
	{
		const PlacementNode *node = placement_node(placements, shard, i);
		RemoteCall *call;

		if (node->is_local)
		{
			key_op_local(&map, op, answer);
			return;
		}
		call = palloc0(sizeof(RemoteCall));
		key_op_call(map, op, node, call);
		remote_run(call, 1);
		if (call->error == NULL)
		{
			key_op_decode(op, call, answer);
			return;
		}
		if (!remote_error_is_unreachable(call->error))
			remote_throw(call);
		if (first_failure == NULL)
			first_failure = call;
	}
	remote_throw(first_failure);
}

/*
 * mget: keys grouped by node, one call per node, all nodes at once.  The
 * keys of a node that cannot be reached go to their next copy, in another
 * round.
 */
void
router_cluster_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
					Size prefix, char **values, int *vallens)
{
	const MapPlacements *placements = map_placements(map);
	int			nnodes = placements->nnodes;
	int		   *shard = palloc(sizeof(int) * Max(nkeys, 1));
	int		   *copy = palloc0(sizeof(int) * Max(nkeys, 1));
	bool	   *pending = palloc(sizeof(bool) * Max(nkeys, 1));
	int		  **group = palloc(sizeof(int *) * nnodes);
	int		   *group_size = palloc(sizeof(int) * nnodes);
	int			npending = nkeys;
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		shard[i] = router_key_shard(map, keys[i], keylens[i]);
		pending[i] = true;
	}
	for (i = 0; i < nnodes; i++)
		group[i] = palloc(sizeof(int) * Max(nkeys, 1));

	while (npending > 0)
	{
		RemoteCall *calls = palloc0(sizeof(RemoteCall) * nnodes);
		int		   *node_of_call = palloc(sizeof(int) * nnodes);
		int			ncalls = 0;
		int			n;

		/* group the pending keys by the node of their current copy */
		memset(group_size, 0, sizeof(int) * nnodes);
		for (i = 0; i < nkeys; i++)
		{
			if (!pending[i])
				continue;
			n = placements->placement[shard[i] * placements->replicas + copy[i]];
			group[n][group_size[n]++] = i;
		}

		for (n = 0; n < nnodes; n++)
		{
			const PlacementNode *node = &placements->nodes[n];
			const char **batch;
			int		   *batchlens;
			CallParams *params;
			int			size;
			char	   *array;
			int			k;

			if (group_size[n] == 0)
				continue;
			if (node->is_local)
			{
				for (k = 0; k < group_size[n]; k++)
				{
					i = group[n][k];
					values[i] = router_local_get(&map, keys[i], keylens[i],
												 prefix, &vallens[i]);
					pending[i] = false;
					npending--;
				}
				continue;
			}
			batch = palloc(sizeof(char *) * group_size[n]);
			batchlens = palloc(sizeof(int) * group_size[n]);
			for (k = 0; k < group_size[n]; k++)
			{
				batch[k] = keys[group[n][k]];
				batchlens[k] = keylens[group[n][k]];
			}
			array = remote_binary_text_array(batch, batchlens, group_size[n],
											 &size);
			params = palloc0(sizeof(CallParams));
			param_text(params, TEXTOID, map->name);
			param_binary(params, TEXTARRAYOID, array, size);
			call_init(&calls[ncalls], node,
					  "SELECT * FROM memshard.peer_mget($1, $2)", params);
			node_of_call[ncalls++] = n;
		}
		remote_run(calls, ncalls);

		for (i = 0; i < ncalls; i++)
		{
			RemoteCall *call = &calls[i];
			int			k;

			n = node_of_call[i];
			if (call->error != NULL)
			{
				/* unreachable: the next copy, if there is one */
				if (!remote_error_is_unreachable(call->error))
					remote_throw(call);
				for (k = 0; k < group_size[n]; k++)
				{
					if (++copy[group[n][k]] >= placements->replicas)
						remote_throw(call);
				}
				continue;
			}
			if (call->result->ntuples != group_size[n])
				elog(ERROR, "node \"%s\" returned %d values for %d keys",
					 NameStr(placements->nodes[n].server),
					 call->result->ntuples, group_size[n]);
			for (k = 0; k < group_size[n]; k++)
			{
				int			key = group[n][k];
				const char *data = call->result->values[k];

				values[key] = data ? value_copy(data, call->result->lengths[k],
												prefix) : NULL;
				vallens[key] = data ? call->result->lengths[k] : 0;
				pending[key] = false;
				npending--;
			}
		}
	}
}

/*
 * mset: each key to every copy of its shard, grouped by node, one call per
 * node, all at once.  A node's failure fails the call if it holds the
 * primary copy of any of its keys; a replica node that cannot be reached
 * only gets a WARNING.  Returns the number of keys (all stored, or ERROR).
 */
int
router_cluster_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
					char **values, int *vallens, int64 ttl_ms)
{
	const MapPlacements *placements = map_placements(map);
	int			nnodes = placements->nnodes;
	int		  **group = palloc(sizeof(int *) * nnodes);
	int		   *group_size = palloc0(sizeof(int) * nnodes);
	bool	   *holds_primary = palloc0(sizeof(bool) * nnodes);
	RemoteCall *calls = palloc0(sizeof(RemoteCall) * nnodes);
	int		   *node_of_call = palloc(sizeof(int) * nnodes);
	int			ncalls = 0;
	int			i;
	int			n;

	for (n = 0; n < nnodes; n++)
		group[n] = palloc(sizeof(int) * Max(nkeys, 1));
	for (i = 0; i < nkeys; i++)
	{
		int			shard = router_key_shard(map, keys[i], keylens[i]);
		int			c;

		for (c = 0; c < placements->replicas; c++)
		{
			n = placements->placement[shard * placements->replicas + c];
			group[n][group_size[n]++] = i;
			holds_primary[n] |= (c == 0);
		}
	}

	/* the local group first: its errors come before anything is sent */
	for (n = 0; n < nnodes; n++)
	{
		int			k;

		if (!placements->nodes[n].is_local)
			continue;
		for (k = 0; k < group_size[n]; k++)
		{
			i = group[n][k];
			(void) router_local_set(&map, keys[i], keylens[i], values[i],
									vallens[i], ttl_ms, STORE_SET);
		}
	}

	for (n = 0; n < nnodes; n++)
	{
		const char **kbatch;
		const char **vbatch;
		int		   *klens;
		int		   *vlens;
		CallParams *params;
		char	   *array;
		int			size;
		int			k;

		if (group_size[n] == 0 || placements->nodes[n].is_local)
			continue;
		kbatch = palloc(sizeof(char *) * group_size[n]);
		vbatch = palloc(sizeof(char *) * group_size[n]);
		klens = palloc(sizeof(int) * group_size[n]);
		vlens = palloc(sizeof(int) * group_size[n]);
		for (k = 0; k < group_size[n]; k++)
		{
			i = group[n][k];
			kbatch[k] = keys[i];
			klens[k] = keylens[i];
			vbatch[k] = values[i];
			vlens[k] = vallens[i];
		}
		params = palloc0(sizeof(CallParams));
		param_text(params, TEXTOID, map->name);
		array = remote_binary_text_array(kbatch, klens, group_size[n], &size);
		param_binary(params, TEXTARRAYOID, array, size);
		array = remote_binary_bytea_array(vbatch, vlens, group_size[n], &size);
		param_binary(params, BYTEAARRAYOID, array, size);
		param_int64(params, INT8OID, ttl_ms);
		call_init(&calls[ncalls], &placements->nodes[n],
				  "SELECT memshard.peer_mset($1, $2, $3, $4)", params);
		node_of_call[ncalls++] = n;
	}
	remote_run(calls, ncalls);

	for (i = 0; i < ncalls; i++)
	{
		if (calls[i].error != NULL &&
			(holds_primary[node_of_call[i]] ||
			 !remote_error_is_unreachable(calls[i].error)))
			remote_throw(&calls[i]);
	}
	for (i = 0; i < ncalls; i++)
	{
		if (calls[i].error != NULL)
			warn_replica_missed(map, &calls[i]);
	}
	return nkeys;
}

/* flush on every node of the map at once; items removed, copies counted */
int64
router_cluster_flush(MapInfo *map)
{
	const MapPlacements *placements = map_placements(map);
	RemoteCall *calls = palloc0(sizeof(RemoteCall) * placements->nnodes);
	int			ncalls = 0;
	int64		removed = 0;
	int			n;

	for (n = 0; n < placements->nnodes; n++)
	{
		const PlacementNode *node = &placements->nodes[n];
		CallParams *params;

		if (node->is_local)
		{
			removed += router_local_flush(&map);
			continue;
		}
		params = palloc0(sizeof(CallParams));
		param_text(params, TEXTOID, map->name);
		call_init(&calls[ncalls++], node,
				  "SELECT memshard.peer_flush($1)", params);
	}
	remote_run_or_throw(calls, ncalls);
	for (n = 0; n < ncalls; n++)
		removed += result_int64(&calls[n]);
	return removed;
}

/* --- one operation, on this node or as a call to another --- */

static void
key_op_local(MapInfo **map, const KeyOp *op, KeyAnswer *answer)
{
	memset(answer, 0, sizeof(KeyAnswer));
	switch (op->kind)
	{
		case KEY_SET:
			answer->flag = router_local_set(map, op->key, op->keylen,
											op->value, op->vallen,
											op->ttl_ms, op->mode) == STORE_OK;
			break;
		case KEY_GET:
			answer->value = router_local_get(map, op->key, op->keylen,
											 op->prefix, &answer->vallen);
			break;
		case KEY_DELETE:
			answer->flag = router_local_delete(map, op->key, op->keylen);
			break;
		case KEY_INCR:
			answer->number = router_local_incr(map, op->key, op->keylen,
											   op->delta, op->ttl_ms);
			break;
		case KEY_TOUCH:
			answer->flag = router_local_touch(map, op->key, op->keylen,
											  op->ttl_ms);
			break;
	}
}

static void
key_op_call(MapInfo *map, const KeyOp *op, const PlacementNode *node,
			RemoteCall *call)
{
	CallParams *params = palloc0(sizeof(CallParams));
	const char *sql = NULL;

	param_text(params, TEXTOID, map->name);
	param_binary(params, TEXTOID, op->key, op->keylen);
	switch (op->kind)
	{
		case KEY_SET:
			param_binary(params, BYTEAOID, op->value, op->vallen);
			param_int64(params, INT8OID, op->ttl_ms);
			param_int64(params, INT4OID, (int64) op->mode);
			sql = "SELECT memshard.peer_set($1, $2, $3, $4, $5)";
			break;
		case KEY_GET:
			sql = "SELECT memshard.peer_get($1, $2)";
			break;
		case KEY_DELETE:
			sql = "SELECT memshard.peer_delete($1, $2)";
			break;
		case KEY_INCR:
			param_int64(params, INT8OID, op->delta);
			param_int64(params, INT8OID, op->ttl_ms);
			sql = "SELECT memshard.peer_incr($1, $2, $3, $4)";
			break;
		case KEY_TOUCH:
			param_int64(params, INT8OID, op->ttl_ms);
			sql = "SELECT memshard.peer_touch($1, $2, $3)";
			break;
	}
	call_init(call, node, sql, params);
}

static void
key_op_decode(const KeyOp *op, const RemoteCall *call, KeyAnswer *answer)
{
	const RemoteResult *result = call->result;

	memset(answer, 0, sizeof(KeyAnswer));
	if (result->ntuples != 1 || result->nfields != 1)
		elog(ERROR, "unexpected answer from a node: %d rows of %d columns",
			 result->ntuples, result->nfields);
	switch (op->kind)
	{
		case KEY_GET:
			if (result->values[0] != NULL)
			{
				answer->vallen = result->lengths[0];
				answer->value = value_copy(result->values[0],
										   result->lengths[0], op->prefix);
			}
			break;
		case KEY_INCR:
			answer->number = result_int64(call);
			break;
		default:
			answer->flag = result_bool(call);
			break;
	}
}

/* a replica missed a write because its node cannot be reached */
static void
warn_replica_missed(MapInfo *map, const RemoteCall *call)
{
	ereport(WARNING,
			(errcode(call->error->sqlstate),
			 errmsg("a replica of map \"%s\" missed a write", map->name),
			 errdetail_internal("%s", call->error->message)));
}

static void
call_init(RemoteCall *call, const PlacementNode *node, const char *sql,
		  CallParams *params)
{
	if (!OidIsValid(node->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", NameStr(node->server)),
				 errhint("Every node needs the same CREATE SERVER and CREATE USER MAPPING statements.")));
	call->serverid = node->serverid;
	call->sql = sql;
	call->nparams = params->count;
	call->paramtypes = params->types;
	call->paramvalues = params->values;
	call->paramlengths = params->lengths;
	call->paramformats = params->formats;
	call->binary_result = true;
	call->session = REMOTE_ANY;
}

static void
param_text(CallParams *params, Oid type, const char *value)
{
	int			i = params->count++;

	Assert(i < MAX_CALL_PARAMS);
	params->types[i] = type;
	params->values[i] = value;
	params->lengths[i] = 0;
	params->formats[i] = 0;
}

static void
param_int64(CallParams *params, Oid type, int64 value)
{
	param_text(params, type, psprintf(INT64_FORMAT, value));
}

/* a binary parameter: the type's send format (text's is its bytes) */
static void
param_binary(CallParams *params, Oid type, const char *data, int len)
{
	int			i = params->count++;

	Assert(i < MAX_CALL_PARAMS);
	params->types[i] = type;
	params->values[i] = data;
	params->lengths[i] = len;
	params->formats[i] = 1;
}

/* a value as router_get returns it: prefix bytes, then the value */
static char *
value_copy(const char *data, int len, Size prefix)
{
	char	   *buf = palloc(prefix + len);

	memcpy(buf + prefix, data, len);
	return buf;
}

static bool
result_bool(const RemoteCall *call)
{
	const char *value = call->result->values[0];

	return value != NULL && value[0] != 0;
}

static int64
result_int64(const RemoteCall *call)
{
	uint64		value;

	if (call->result->ntuples != 1 || call->result->values[0] == NULL ||
		call->result->lengths[0] != sizeof(uint64))
		elog(ERROR, "unexpected answer from a node");
	memcpy(&value, call->result->values[0], sizeof(uint64));
	return (int64) pg_ntoh64(value);
}

/* --- the other side: calls from other nodes, for shards we hold --- */

/* ERROR unless this node holds a copy of the key's shard */
static void
check_shard_held(MapInfo *map, const MapPlacements *placements,
				 const char *key, int keylen)
{
	int			shard = router_key_shard(map, key, keylen);
	const ClusterNode *self;
	int			i;

	for (i = 0; i < placements->replicas; i++)
	{
		if (placement_node(placements, shard, i)->is_local)
			return;
	}
	self = cluster_local_node();
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("node \"%s\" does not hold shard %d of map \"%s\"",
					self ? NameStr(self->server) : "?", shard, map->name),
			 errhint("The nodes' metadata differ: compare memshard.shards on each node.")));
}

/* the placements of a map a peer asks about; ERROR for a map of one node */
static const MapPlacements *
peer_placements(MapInfo *map)
{
	if (map->local_only)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("map \"%s\" is not placed on nodes here", map->name),
				 errhint("The nodes' metadata differ: compare memshard.maps on each node.")));
	return map_placements(map);
}

bool
router_peer_set(MapInfo *map, const char *key, int keylen,
				const char *value, int vallen, int64 ttl_ms, StoreSetMode mode)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_set(&map, key, keylen, value, vallen, ttl_ms,
							mode) == STORE_OK;
}

char *
router_peer_get(MapInfo *map, const char *key, int keylen, Size prefix,
				int *vallen)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_get(&map, key, keylen, prefix, vallen);
}

void
router_peer_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
				 Size prefix, char **values, int *vallens)
{
	const MapPlacements *placements = peer_placements(map);
	int			i;

	for (i = 0; i < nkeys; i++)
		check_shard_held(map, placements, keys[i], keylens[i]);
	for (i = 0; i < nkeys; i++)
		values[i] = router_local_get(&map, keys[i], keylens[i], prefix,
									 &vallens[i]);
}

int
router_peer_mset(MapInfo *map, int nkeys, char **keys, int *keylens,
				 char **values, int *vallens, int64 ttl_ms)
{
	const MapPlacements *placements = peer_placements(map);
	int			stored = 0;
	int			i;

	for (i = 0; i < nkeys; i++)
		check_shard_held(map, placements, keys[i], keylens[i]);
	for (i = 0; i < nkeys; i++)
	{
		if (router_local_set(&map, keys[i], keylens[i], values[i], vallens[i],
							 ttl_ms, STORE_SET) == STORE_OK)
			stored++;
	}
	return stored;
}

bool
router_peer_delete(MapInfo *map, const char *key, int keylen)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_delete(&map, key, keylen);
}

int64
router_peer_incr(MapInfo *map, const char *key, int keylen, int64 delta,
				 int64 ttl_ms)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_incr(&map, key, keylen, delta, ttl_ms);
}

bool
router_peer_touch(MapInfo *map, const char *key, int keylen, int64 ttl_ms)
{
	check_shard_held(map, peer_placements(map), key, keylen);
	return router_local_touch(&map, key, keylen, ttl_ms);
}

int64
router_peer_flush(MapInfo *map)
{
	(void) peer_placements(map);
	return router_local_flush(&map);
}
