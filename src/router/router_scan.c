/*-------------------------------------------------------------------------
 *
 * router_scan.c
 *		The keys of a map, a batch at a time, and the number of its items:
 *		router_scan_keys and router_count_items (the Redis front end's
 *		KEYS, SCAN and DBSIZE).
 *
 * The store's batched scan (store/key_scan.h) walks a map's items one
 * partition lock at a time, never held while we work.  A map of this node
 * is walked whole.  A map over nodes is walked node after node (in the
 * order of its placements' nodes), each node giving the keys of the shards
 * whose primary copy it holds, so that each key is seen once whatever the
 * number of replicas; the other nodes run memshard.peer_scan and
 * memshard.peer_count for their part.
 *
 * A cursor is the store scan's position (partition, bucket, items of that
 * bucket already returned: bits 0..57) and, for a map over nodes, the
 * index of the node being walked (bits 58..63); 0 is the start and the
 * end.  A key present for the whole walk is returned at least once; keys
 * set or removed meanwhile may or may not be.
 *
 * A node that cannot be reached (an error of class 08, bounded by
 * pg_memshard.remote_timeout) has its primary shards answered by their
 * other copies, as a get reads a replica: for each shard the next copy
 * whose node answers, every such node asked once per round for all the
 * shards it stands in for.  A scan then returns those shards' keys whole
 * in that one batch (COUNT is a hint) and goes on with the next node; keys
 * of that node already returned by earlier batches may come again.  When
 * no copy of a shard answers, the call fails naming the last node tried;
 * router_count_items_partial instead counts what answered and says how
 * many shards it missed (INFO never fails).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"

#include "remote/remote.h"
#include "router/router.h"
#include "router/router_internal.h"
#include "store/key_scan.h"

#define NODE_SHIFT		58
#define NODE_LIMIT		(1 << (64 - NODE_SHIFT))
#define POSITION_MASK	((UINT64CONST(1) << NODE_SHIFT) - 1)

static uint64 cluster_scan_keys(MapInfo *map, uint64 cursor, int count,
								List **keys);
static int64 cluster_count_items(MapInfo *map, int *missed);
static bool walk_copies(MapInfo *map, const MapPlacements *placements,
						const int *shards, int n, bool *down, List **keys,
						int64 *count, const RemoteNodeCall **failed);
static void throw_unanswered(MapInfo *map, const RemoteNodeCall *failed);
static int *primary_shards(const MapPlacements *placements, int node,
						   int *n);
static bool *shard_flags(const MapPlacements *placements, const int *shards,
						 int n);
static uint64 remote_answer_keys(const RemoteCall *call, List **keys);

uint64
router_scan_keys(MapInfo *map, uint64 cursor, int count, List **keys)
{
	if (!map->local_only)
		return cluster_scan_keys(map, cursor, count, keys);
	if (cursor & ~POSITION_MASK)
		return 0;				/* not one of ours: nothing more */
	return router_local_scan_keys(&map, NULL, cursor, count, keys);
}

int64
router_count_items(MapInfo *map)
{
	if (!map->local_only)
		return cluster_count_items(map, NULL);
	return router_local_count_items(&map, NULL);
}

/* as router_count_items, but *missed shards no copy of which answered */
int64
router_count_items_partial(MapInfo *map, int *missed)
{
	*missed = 0;
	if (!map->local_only)
		return cluster_count_items(map, missed);
	return router_local_count_items(&map, NULL);
}

/* the scan's position as a cursor, and back */
static uint64
scan_cursor(KeyScan *scan)
{
	if (scan->partition >= store_partition_count())
		return 0;
	return ((uint64) scan->partition << 48) | ((uint64) scan->bucket << 16) |
		(uint64) Min(scan->skip, 0xFFFF);
}

static void
scan_position(KeyScan *scan, uint64 cursor)
{
	scan->partition = (int) ((cursor & POSITION_MASK) >> 48);
	scan->bucket = (uint32) ((cursor >> 16) & 0xFFFFFFFF);
	scan->skip = (int) (cursor & 0xFFFF);
}

/*
 * This node's keys of the map (of the shards flagged in shards, or all)
 * from cursor on, whole batches until count keys are found; the cursor to
 * go on from (0: the end).
 */
uint64
router_local_scan_keys(MapInfo **map, const bool *shards, uint64 cursor,
					   int count, List **keys)
{
	KeyScan	scan;
	int			found = 0;

	key_scan_begin(&scan, MyDatabaseId, (*map)->id);
	scan_position(&scan, cursor);
	while (found < count && key_scan_next(&scan))
	{
		int			i;

		for (i = 0; i < scan.nitems; i++)
		{
			KeyScanItem *item = &scan.items[i];

			if (shards &&
				!shards[router_key_shard(*map, item->key, item->keylen)])
				continue;
			*keys = lappend(*keys, cstring_to_text_with_len(item->key,
															item->keylen));
			found++;
		}
	}
	cursor = scan_cursor(&scan);
	key_scan_end(&scan);
	return cursor;
}

/* this node's live items of the map (of the shards flagged, or all) */
int64
router_local_count_items(MapInfo **map, const bool *shards)
{
	KeyScan	scan;
	int64		count = 0;

	key_scan_begin(&scan, MyDatabaseId, (*map)->id);
	while (key_scan_next(&scan))
	{
		int			i;

		if (shards == NULL)
		{
			count += scan.nitems;
			continue;
		}
		for (i = 0; i < scan.nitems; i++)
			if (shards[router_key_shard(*map, scan.items[i].key,
										scan.items[i].keylen)])
				count++;
	}
	key_scan_end(&scan);
	return count;
}

/*
 * One node's part of the walk from cursor: a batch of its keys.  The next
 * cursor points into the same node, or at the start of the next one.  A
 * node that cannot be reached: its shards whole from their other copies.
 */
static uint64
cluster_scan_keys(MapInfo *map, uint64 cursor, int count, List **keys)
{
	const MapPlacements *placements = router_map_placements(map);
	int			node = (int) (cursor >> NODE_SHIFT);
	uint64		position = cursor & POSITION_MASK;

	if (placements->nnodes > NODE_LIMIT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("map \"%s\" is placed on more than %d nodes, too many for a key scan",
						map->name, NODE_LIMIT)));
	for (; node < placements->nnodes; node++, position = 0)
	{
		const PlacementNode *where = &placements->nodes[node];
		int			n;
		int		   *shards = primary_shards(placements, node, &n);

		if (n == 0)
			continue;
		if (where->is_local)
			position = router_local_scan_keys(&map,
											  shard_flags(placements, shards, n),
											  position, count, keys);
		else
		{
			RemoteFanout *fanout = remote_fanout_create(1);
			const RemoteCall *call = &fanout->calls[0].call;

			peer_call_scan(fanout, where, map, shards, n, position, count);
			remote_fanout_run(fanout);
			if (call->error && !remote_error_is_unreachable(call->error))
				remote_throw(call);
			if (call->error == NULL)
				position = remote_answer_keys(call, keys);
			else
			{
				bool	   *down = palloc0(sizeof(bool) * placements->nnodes);
				const RemoteNodeCall *failed = &fanout->calls[0];

				down[node] = true;
				if (!walk_copies(map, placements, shards, n, down, keys, NULL,
								 &failed))
					throw_unanswered(map, failed);
				position = 0;
			}
		}
		if (position != 0)
			return ((uint64) node << NODE_SHIFT) | (position & POSITION_MASK);
		return node + 1 < placements->nnodes ?
			(uint64) (node + 1) << NODE_SHIFT : 0;
	}
	return 0;
}

/*
 * Every node's count of its primary shards' items, asked at once; the
 * shards of a node that does not answer from their other copies.  missed
 * NULL: fail if a shard has no copy that answers.
 */
static int64
cluster_count_items(MapInfo *map, int *missed)
{
	const MapPlacements *placements = router_map_placements(map);
	bool	   *down = palloc0(sizeof(bool) * placements->nnodes);
	int		   *shards = palloc(sizeof(int) * Max(placements->nshards, 1));
	int64		count = 0;
	const RemoteNodeCall *failed = NULL;
	int			s;

	for (s = 0; s < placements->nshards; s++)
		shards[s] = s;
	if (walk_copies(map, placements, shards, placements->nshards, down, NULL,
					&count, &failed))
		return count;
	if (missed == NULL)
		throw_unanswered(map, failed);
	/* what walk_copies left unanswered: shards whose every copy is down */
	for (s = 0; s < placements->nshards; s++)
	{
		bool		answered = false;
		int			c;

		for (c = 0; c < placements->copies[s]; c++)
			answered |= !down[placements->placement[s * placements->replicas + c]];
		if (!answered)
			(*missed)++;
	}
	return count;
}

/*
 * The keys (keys != NULL: all of them) or the count (*count) of the
 * shards[0..n-1], each from its first copy whose node is not down, every
 * node asked once per round for all the shards it answers for; a node
 * that cannot be reached is marked down and its shards go to their next
 * copy.  false when some shard has no copy left (*failed: the last call
 * that failed, if any).  Other errors are raised.
 */
static bool
walk_copies(MapInfo *map, const MapPlacements *placements, const int *shards,
			int n, bool *down, List **keys, int64 *count,
			const RemoteNodeCall **failed)
{
	int		   *pending = palloc(sizeof(int) * Max(n, 1));
	int		   *mine = palloc(sizeof(int) * Max(n, 1));
	int			npending = n;
	int			i;

	memcpy(pending, shards, sizeof(int) * n);
	while (npending > 0)
	{
		RemoteFanout *fanout = remote_fanout_create(placements->nnodes);
		int		   *target = palloc(sizeof(int) * npending);
		int			left = 0;
		int			node;

		/* each pending shard's first copy not down; none left: give up */
		for (i = 0; i < npending; i++)
		{
			int			s = pending[i];
			int			c;

			target[i] = -1;
			for (c = 0; c < placements->copies[s] && target[i] < 0; c++)
				if (!down[placements->placement[s * placements->replicas + c]])
					target[i] = placements->placement[s * placements->replicas + c];
			if (target[i] < 0)
				return false;
		}
		for (node = 0; node < placements->nnodes; node++)
		{
			const PlacementNode *where = &placements->nodes[node];
			int			m = 0;

			for (i = 0; i < npending; i++)
				if (target[i] == node)
					mine[m++] = pending[i];
			if (m == 0)
				continue;
			if (!where->is_local && keys)
				peer_call_scan(fanout, where, map, mine, m, 0, PG_INT32_MAX);
			else if (!where->is_local)
				peer_call_count(fanout, where, map, mine, m);
			else if (keys)
				(void) router_local_scan_keys(&map,
											  shard_flags(placements, mine, m),
											  0, PG_INT32_MAX, keys);
			else
				*count += router_local_count_items(&map,
												   shard_flags(placements, mine, m));
		}
		remote_fanout_run(fanout);
		for (i = 0; i < fanout->ncalls; i++)
		{
			const RemoteCall *call = &fanout->calls[i].call;
			const PlacementNode *where = fanout->calls[i].node;

			if (call->error == NULL && keys)
				(void) remote_answer_keys(call, keys);
			else if (call->error == NULL)
				*count += peer_answer_int64(call);
			else if (!remote_error_is_unreachable(call->error))
				remote_throw(call);
			else
			{
				down[where - placements->nodes] = true;
				*failed = &fanout->calls[i];
			}
		}
		/* the shards of the nodes that did not answer go round again */
		for (i = 0; i < npending; i++)
			if (down[target[i]])
				pending[left++] = pending[i];
		npending = left;
	}
	return true;
}

/* no copy of some shard answered: the last node tried's error, named */
static void
throw_unanswered(MapInfo *map, const RemoteNodeCall *failed)
{
	const RemoteError *error = failed ? failed->call.error : NULL;
	const PlacementNode *node = failed ? failed->node : NULL;

	ereport(ERROR,
			(errcode(error ? error->sqlstate : ERRCODE_CONNECTION_FAILURE),
			 errmsg("node \"%s\" cannot be reached and no other copy of its shards of map \"%s\" answered",
					node ? NameStr(node->server) : "?", map->name),
			 error ? errdetail_internal("%s", error->message) : 0,
			 errhint("Each node is waited for at most pg_memshard.remote_timeout; see memshard.nodes.")));
}

/* the shards whose primary copy is on the node of index node */
static int *
primary_shards(const MapPlacements *placements, int node, int *n)
{
	int		   *shards = palloc(sizeof(int) * Max(placements->nshards, 1));
	int			s;

	*n = 0;
	for (s = 0; s < placements->nshards; s++)
		if (placements->placement[s * placements->replicas] == node)
			shards[(*n)++] = s;
	return shards;
}

/* a flag per shard of the map, set for shards[0..n-1] */
static bool *
shard_flags(const MapPlacements *placements, const int *shards, int n)
{
	bool	   *flags = palloc0(sizeof(bool) * Max(placements->nshards, 1));
	int			i;

	for (i = 0; i < n; i++)
		flags[shards[i]] = true;
	return flags;
}

/* peer_scan's rows: keys, then the cursor (key NULL) */
static uint64
remote_answer_keys(const RemoteCall *call, List **keys)
{
	const RemoteResult *result = call->result;
	int			last = result->ntuples - 1;
	int			row;

	if (result->nfields != 2 || last < 0 ||
		result->values[last * 2] != NULL || result->values[last * 2 + 1] == NULL)
		elog(ERROR, "unexpected answer from a node to peer_scan");
	for (row = 0; row < last; row++)
		*keys = lappend(*keys,
						cstring_to_text_with_len(result->values[row * 2],
												 result->lengths[row * 2]));
	{
		uint64		value;

		if (result->lengths[last * 2 + 1] != sizeof(uint64))
			elog(ERROR, "unexpected answer from a node to peer_scan");
		memcpy(&value, result->values[last * 2 + 1], sizeof(uint64));
		return pg_ntoh64(value);
	}
}
