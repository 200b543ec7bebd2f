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
 * set or removed meanwhile may or may not be.  A node that cannot be
 * reached fails the call (its keys have no other walker).
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
static int64 cluster_count_items(MapInfo *map);
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
		return cluster_count_items(map);
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
 * cursor points into the same node, or at the start of the next one.
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

			peer_call_scan(fanout, where, map, shards, n, position, count);
			remote_fanout_run_or_throw(fanout);
			position = remote_answer_keys(&fanout->calls[0].call, keys);
		}
		if (position != 0)
			return ((uint64) node << NODE_SHIFT) | (position & POSITION_MASK);
		return node + 1 < placements->nnodes ?
			(uint64) (node + 1) << NODE_SHIFT : 0;
	}
	return 0;
}

/* every node's count of its primary shards' items, asked at once */
static int64
cluster_count_items(MapInfo *map)
{
	const MapPlacements *placements = router_map_placements(map);
	RemoteFanout *fanout = remote_fanout_create(placements->nnodes);
	int64		count = 0;
	int			node;
	int			i;

	for (node = 0; node < placements->nnodes; node++)
	{
		const PlacementNode *where = &placements->nodes[node];
		int			n;
		int		   *shards = primary_shards(placements, node, &n);

		if (n == 0)
			continue;
		if (where->is_local)
			count += router_local_count_items(&map,
											  shard_flags(placements, shards, n));
		else
			peer_call_count(fanout, where, map, shards, n);
	}
	remote_fanout_run_or_throw(fanout);
	for (i = 0; i < fanout->ncalls; i++)
		count += peer_answer_int64(&fanout->calls[i].call);
	return count;
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
