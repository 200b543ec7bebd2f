/*-------------------------------------------------------------------------
 *
 * router_cluster.c
 *		The routing of maps over nodes: each key to the nodes that hold its
 *		shard, this one through the local store, the others through libpq.
 *
 * A key's shard and its placements (copy 0 the primary, then the
 * replicas) come from router_shards.c.  The other nodes run the
 * memshard.peer_* functions (calls built by peer_calls.c), which refuse a
 * key whose shard they do not hold under their own metadata, then use
 * their local store (router_peer.c).
 *
 * Writes (set, add, replace, delete, incr, touch, mset) go to every copy
 * at once; the primary's answer is the answer.  If the primary fails the
 * call fails (a replica may have taken the write).  A replica that cannot
 * be reached is skipped with a WARNING; any other error of a replica fails
 * the call.  Reads (get, mget) ask the primary and fall back to the next
 * copy when a node cannot be reached; for pg_memshard.connect_timeout
 * after a node failed to answer, reads ask another copy first, so that a
 * node that does not answer costs one timeout, not one per read.  mget,
 * mset and flush send one call per node, to all nodes at once.
 *
 * A copy whose node answers that the shard moved (55M01, a shard move
 * switched it, src/rebalance) is written again where the metadata, read
 * again, places it now, each copy once; a read asks again the same way.
 *
 * Every fan-out keeps each call with the node it went to (RemoteFanout):
 * a node's answer is found by its node, never by position.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "remote/remote.h"
#include "router/router.h"
#include "router/router_internal.h"
#include "store/move_log.h"

static void key_op_local(MapInfo **map, const KeyOp *op, KeyAnswer *answer);
static void write_all_copies(MapInfo *map, const KeyOp *op, KeyAnswer *answer);
static bool write_pending_copies(MapInfo *map, int shard, const KeyOp *op,
								 KeyAnswer *answer, bool *pending, bool last);
static bool error_is_moved(const RemoteError *error);
static void read_first_copy(MapInfo *map, const KeyOp *op, KeyAnswer *answer);
static int	first_copy_to_read(const MapPlacements *placements, int shard,
							   const bool *down);
static bool *nodes_recently_down(const MapPlacements *placements);
static int	node_index(const MapPlacements *placements, const void *node);

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

/* get with the expiry: the primary, or a replica as router_cluster_get */
char *
router_cluster_get_expiry(MapInfo *map, const char *key, int keylen,
						  int *vallen, TimestampTz *expires)
{
	KeyOp		op = {KEY_GET_EXPIRY, key, keylen};
	KeyAnswer	answer;

	read_first_copy(map, &op, &answer);
	*vallen = answer.vallen;
	*expires = answer.expires;
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
 * parallel.  A copy whose node answers that the shard moved (a shard move
 * switched it, ERRCODE_MEMSHARD_SHARD_MOVED) is written again where our
 * metadata, read again, places that copy now: each copy gets the write
 * once, so that an incr counts once.  The local copy of a shard frozen for
 * its switch waits the same way.  That goes on for pg_memshard.remote_timeout.
 */
static void
write_all_copies(MapInfo *map, const KeyOp *op, KeyAnswer *answer)
{
	int			shard = router_key_shard(map, op->key, op->keylen);
	const MapPlacements *placements = router_map_placements(map);
	bool	   *pending = palloc(sizeof(bool) * placements->replicas);
	int			replicas = placements->replicas;
	TimestampTz deadline =
		TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
									memshard_remote_timeout_ms);
	int			i;

	for (i = 0; i < replicas; i++)
		pending[i] = true;
	while (write_pending_copies(map, shard, op, answer, pending,
								GetCurrentTimestamp() >= deadline))
	{
		CHECK_FOR_INTERRUPTS();
		pg_usleep(2000L);
		AcceptInvalidationMessages();
	}
}

/*
 * One round of write_all_copies over the copies still pending; true when a
 * copy is left for another round (its shard moved).  last: raise the moved
 * error instead.
 */
static bool
write_pending_copies(MapInfo *map, int shard, const KeyOp *op,
					 KeyAnswer *answer, bool *pending, bool last)
{
	const MapPlacements *placements = router_map_placements(map);
	RemoteFanout *fanout = remote_fanout_create(placements->replicas);
	int		   *copy_of = palloc(sizeof(int) * placements->replicas);
	bool		again = false;
	int			i;

	for (i = 0; i < placement_copies(placements, shard); i++)
	{
		const PlacementNode *node = placement_node(placements, shard, i);

		if (!pending[i])
			continue;
		if (node->is_local)
		{
			KeyAnswer	local;
			MoveLogState moving = move_log_state(MyDatabaseId, map->id, shard);

			if (!last && moving != MOVE_LOG_FREE && moving != MOVE_LOG_COPYING)
			{
				again = true;	/* frozen or switched here: wait */
				continue;
			}
			key_op_local(&map, op, &local);
			pending[i] = false;
			if (i == 0)
				*answer = local;
			continue;
		}
		copy_of[fanout->ncalls] = i;
		peer_call_key_op(fanout, node, map, op);
	}
	remote_fanout_run(fanout);

	/* the primary's failure first, then other failures, then warnings */
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteError *error = fanout->calls[i].call.error;

		if (error == NULL || (!last && error_is_moved(error)))
			continue;
		if (copy_of[i] == 0)
			remote_throw(&fanout->calls[i].call);
	}
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteError *error = fanout->calls[i].call.error;

		if (error == NULL || (!last && error_is_moved(error)))
			continue;
		if (!remote_error_is_unreachable(error))
			remote_throw(&fanout->calls[i].call);
	}
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteCall *call = &fanout->calls[i].call;

		if (call->error != NULL && error_is_moved(call->error))
		{
			again = true;		/* pending[copy_of[i]] stays */
			continue;
		}
		pending[copy_of[i]] = false;
		if (call->error != NULL)
			warn_replica_missed(map, call);
		else if (copy_of[i] == 0)
			peer_answer_key_op(op, call, answer);
	}
	return again;
}

static bool
error_is_moved(const RemoteError *error)
{
	return error->sqlstate == ERRCODE_MEMSHARD_SHARD_MOVED;
}

/*
 * The copy of a shard a read asks first: the primary, unless its node
 * failed to answer very recently and another copy's node did not.
 */
static int
first_copy_to_read(const MapPlacements *placements, int shard,
				   const bool *down)
{
	int			i;

	for (i = 0; i < placement_copies(placements, shard); i++)
	{
		if (!down[placements->placement[shard * placements->replicas + i]])
			return i;
	}
	return 0;
}

/* for each node of the map: did it fail to answer very recently? */
static bool *
nodes_recently_down(const MapPlacements *placements)
{
	bool	   *down = palloc0(sizeof(bool) * placements->nnodes);
	int			n;

	if (placements->replicas == 1)
		return down;			/* no other copy to read anyway */
	for (n = 0; n < placements->nnodes; n++)
	{
		const PlacementNode *node = &placements->nodes[n];

		down[n] = !node->is_local && remote_recently_unreachable(node->serverid);
	}
	return down;
}

/* a read from the primary, or the next copy while nodes are unreachable */
static void
read_first_copy(MapInfo *map, const KeyOp *op, KeyAnswer *answer)
{
	const MapPlacements *placements = router_map_placements(map);
	int			shard = router_key_shard(map, op->key, op->keylen);
	int			first = first_copy_to_read(placements, shard,
										   nodes_recently_down(placements));
	int			copies = placement_copies(placements, shard);
	RemoteCall *first_failure = NULL;
	int			moved_retries = 0;
	int			tries;

	for (tries = 0; tries < copies; tries++)
	{
		const PlacementNode *node =
			placement_node(placements, shard, (first + tries) % copies);
		RemoteFanout *fanout;
		RemoteCall *call;

		if (node->is_local)
		{
			key_op_local(&map, op, answer);
			return;
		}
		fanout = remote_fanout_create(1);
		peer_call_key_op(fanout, node, map, op);
		remote_fanout_run(fanout);
		call = &fanout->calls[0].call;
		if (call->error == NULL)
		{
			peer_answer_key_op(op, call, answer);
			return;
		}
		if (error_is_moved(call->error) && moved_retries++ < 1000)
		{
			/* the shard switched: ask where our metadata says it is now */
			pg_usleep(2000L);
			AcceptInvalidationMessages();
			placements = router_map_placements(map);
			tries = -1;
			continue;
		}
		if (!remote_error_is_unreachable(call->error))
			remote_throw(call);
		if (first_failure == NULL)
			first_failure = call;
	}
	remote_throw(first_failure);
}

/* the index in placements->nodes of a node of a fan-out */
static int
node_index(const MapPlacements *placements, const void *node)
{
	return (const PlacementNode *) node - placements->nodes;
}

/*
 * The keys keys[idx[0..count-1]] of the local node, in one batch of the
 * local store (router_local_mget).
 */
static void
local_mget(MapInfo **map, const int *idx, int count, char **keys,
		   int *keylens, Size prefix, char **values, int *vallens, bool *texts)
{
	char	  **gkeys = palloc(sizeof(char *) * count);
	int		   *glens = palloc(sizeof(int) * count);
	char	  **gvalues = palloc(sizeof(char *) * count);
	int		   *gvallens = palloc(sizeof(int) * count);
	bool	   *gtexts = texts ? palloc(sizeof(bool) * count) : NULL;
	int			k;

	for (k = 0; k < count; k++)
	{
		gkeys[k] = keys[idx[k]];
		glens[k] = keylens[idx[k]];
	}
	router_local_mget(map, count, gkeys, glens, prefix, gvalues, gvallens,
					  gtexts);
	for (k = 0; k < count; k++)
	{
		values[idx[k]] = gvalues[k];
		vallens[idx[k]] = gvallens[k];
		if (texts)
			texts[idx[k]] = gtexts[k];
	}
	if (gtexts)
		pfree(gtexts);
	pfree(gkeys);
	pfree(glens);
	pfree(gvalues);
	pfree(gvallens);
}

/*
 * mget: keys grouped by node, one call per node, all nodes at once.  The
 * keys of a node that cannot be reached go to their next copy, in another
 * round.
 */
void
router_cluster_mget(MapInfo *map, int nkeys, char **keys, int *keylens,
					Size prefix, char **values, int *vallens, bool *texts)
{
	const MapPlacements *placements = router_map_placements(map);
	int			nnodes = placements->nnodes;
	bool	   *down = nodes_recently_down(placements);
	int		   *shard = palloc(sizeof(int) * Max(nkeys, 1));
	int		   *copy = palloc(sizeof(int) * Max(nkeys, 1));
	int		   *tries = palloc0(sizeof(int) * Max(nkeys, 1));
	bool	   *pending = palloc(sizeof(bool) * Max(nkeys, 1));
	int		  **group = palloc(sizeof(int *) * nnodes);
	int		   *group_size = palloc(sizeof(int) * nnodes);
	int			npending = nkeys;
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		shard[i] = router_key_shard(map, keys[i], keylens[i]);
		copy[i] = first_copy_to_read(placements, shard[i], down);
		pending[i] = true;
	}
	for (i = 0; i < nnodes; i++)
		group[i] = palloc(sizeof(int) * Max(nkeys, 1));

	while (npending > 0)
	{
		RemoteFanout *fanout = remote_fanout_create(nnodes);
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
			int			k;

			if (group_size[n] == 0)
				continue;
			if (node->is_local)
			{
				local_mget(&map, group[n], group_size[n], keys, keylens,
						   prefix, values, vallens, texts);
				for (k = 0; k < group_size[n]; k++)
					pending[group[n][k]] = false;
				npending -= group_size[n];
				continue;
			}
			peer_call_mget(fanout, node, map, keys, keylens, group[n],
						   group_size[n]);
		}
		remote_fanout_run(fanout);

		for (i = 0; i < fanout->ncalls; i++)
		{
			RemoteCall *call = &fanout->calls[i].call;
			int			k;

			n = node_index(placements, fanout->calls[i].node);
			if (call->error != NULL)
			{
				/* unreachable: the next copy, if there is one */
				if (!remote_error_is_unreachable(call->error))
					remote_throw(call);
				for (k = 0; k < group_size[n]; k++)
				{
					int			key = group[n][k];

					if (++tries[key] >= placement_copies(placements, shard[key]))
						remote_throw(call);
					copy[key] = (copy[key] + 1) % placement_copies(placements, shard[key]);
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

				values[key] = peer_answer_value(call, k, prefix, &vallens[key]);
				if (texts)
					texts[key] = false; /* checked: another node's bytes */
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
	const MapPlacements *placements = router_map_placements(map);
	int			nnodes = placements->nnodes;
	int		  **group = palloc(sizeof(int *) * nnodes);
	int		   *group_size = palloc0(sizeof(int) * nnodes);
	bool	   *holds_primary = palloc0(sizeof(bool) * nnodes);
	RemoteFanout *fanout = remote_fanout_create(nnodes);
	int		   *deferred = palloc(sizeof(int) * Max(nkeys * placements->replicas, 1));
	int			ndeferred = 0;
	int			i;
	int			n;

	for (n = 0; n < nnodes; n++)
		group[n] = palloc(sizeof(int) * Max(nkeys, 1));
	for (i = 0; i < nkeys; i++)
	{
		int			shard = router_key_shard(map, keys[i], keylens[i]);
		int			c;

		for (c = 0; c < placement_copies(placements, shard); c++)
		{
			n = placements->placement[shard * placements->replicas + c];
			group[n][group_size[n]++] = i;
			holds_primary[n] |= (c == 0);
		}
	}

	/*
	 * The local group first: its errors come before anything is sent.  A
	 * key whose shard is being switched away from here is set on its own
	 * afterwards (write_all_copies waits and follows the shard).
	 */
	for (n = 0; n < nnodes; n++)
	{
		int			k;

		if (!placements->nodes[n].is_local)
			continue;
		for (k = 0; k < group_size[n]; k++)
		{
			MoveLogState moving;

			i = group[n][k];
			moving = move_log_state(MyDatabaseId, map->id,
									router_key_shard(map, keys[i], keylens[i]));
			if (moving != MOVE_LOG_FREE && moving != MOVE_LOG_COPYING)
			{
				deferred[ndeferred++] = i;
				continue;
			}
			(void) router_local_set(&map, keys[i], keylens[i], values[i],
									vallens[i], ttl_ms, STORE_SET);
		}
	}

	for (n = 0; n < nnodes; n++)
	{
		if (group_size[n] == 0 || placements->nodes[n].is_local)
			continue;
		peer_call_mset(fanout, &placements->nodes[n], map, keys, keylens,
					   values, vallens, group[n], group_size[n], ttl_ms);
	}
	remote_fanout_run(fanout);

	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteCall *call = &fanout->calls[i].call;

		if (call->error != NULL && !error_is_moved(call->error) &&
			(holds_primary[node_index(placements, fanout->calls[i].node)] ||
			 !remote_error_is_unreachable(call->error)))
			remote_throw(call);
	}
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteCall *call = &fanout->calls[i].call;
		int			k;

		if (call->error == NULL)
			continue;
		if (!error_is_moved(call->error))
		{
			warn_replica_missed(map, call);
			continue;
		}

		/*
		 * That node's shards moved (some keys may be stored there already):
		 * each of its keys again on its own, where it is now.  A set stored
		 * twice is the same set.
		 */
		n = node_index(placements, fanout->calls[i].node);
		for (k = 0; k < group_size[n]; k++)
			deferred[ndeferred++] = group[n][k];
	}
	for (i = 0; i < ndeferred; i++)
	{
		int			k = deferred[i];

		(void) router_cluster_set(map, keys[k], keylens[k], values[k],
								  vallens[k], ttl_ms, STORE_SET);
	}
	return nkeys;
}

/* flush on every node of the map at once; items removed, copies counted */
int64
router_cluster_flush(MapInfo *map)
{
	const MapPlacements *placements = router_map_placements(map);
	RemoteFanout *fanout = remote_fanout_create(placements->nnodes);
	int64		removed = 0;
	int			n;

	for (n = 0; n < placements->nnodes; n++)
	{
		const PlacementNode *node = &placements->nodes[n];

		if (node->is_local)
		{
			removed += router_local_flush(&map);
			continue;
		}
		peer_call_flush(fanout, node, map);
	}
	remote_fanout_run_or_throw(fanout);
	for (n = 0; n < fanout->ncalls; n++)
		removed += peer_answer_int64(&fanout->calls[n].call);
	return removed;
}

/* one operation on this node's copy */
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
		case KEY_GET_EXPIRY:
			answer->value = router_local_get_expiry(map, op->key, op->keylen,
													&answer->vallen,
													&answer->expires);
			break;
		case KEY_WRITE_IF:
			answer->flag = router_local_write_if(map, op->key, op->keylen,
												 op->expect, op->expectlen,
												 op->expect_expires,
												 op->value, op->vallen,
												 op->expires);
			break;
	}
}

/* a replica missed a write because its node cannot be reached */
void
warn_replica_missed(MapInfo *map, const RemoteCall *call)
{
	ereport(WARNING,
			(errcode(call->error->sqlstate),
			 errmsg("a replica of map \"%s\" missed a write", map->name),
			 errdetail_internal("%s", call->error->message)));
}
