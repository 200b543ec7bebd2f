/*-------------------------------------------------------------------------
 *
 * router_rmw.c
 *		Read-modify-write on every map: a read that tells the expiry, and a
 *		compare-and-set write (router_get_expiry, router_write_if).
 *
 * The store offers both for its own items (store_get_expiry,
 * store_write_if: the compare and the write under one partition lock).
 * For a map over nodes the compare-and-set runs on the node holding the
 * key's primary copy (here, or there through memshard.peer_write_if), so
 * a caller's loop "read, compute, write if unchanged" is atomic against
 * every writer of that copy, from SQL or RESP, on any node.  Once the
 * primary took the write, the replicas get the new value (or the delete)
 * as router_set gives it: unconditionally, with the expiry as a ttl; a
 * replica that cannot be reached is skipped with a WARNING, as for set.
 * A primary that cannot be reached fails the call: there is nothing to
 * compare against.
 *
 * No lock is held here: the store takes and releases its own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/timestamp.h"

#include "remote/remote.h"
#include "router/router.h"
#include "router/router_internal.h"

static char *primary_get_expiry(MapInfo *map, const char *key, int keylen,
								int *vallen, TimestampTz *expires);
static bool cluster_write_if(MapInfo *map, const KeyOp *op);
static void write_replicas(MapInfo *map, const MapPlacements *placements,
						   int shard, const KeyOp *op);
static int64 ttl_until(TimestampTz expires);

/*
 * The value of key (palloc'd, NULL on a miss) and its absolute expiry (0:
 * none).  primary: read the copy router_write_if compares against.
 */
char *
router_get_expiry(MapInfo *map, const char *key, int keylen, bool primary,
				  int *vallen, TimestampTz *expires)
{
	if (map->local_only)
		return router_local_get_expiry(&map, key, keylen, vallen, expires);
	if (primary)
		return primary_get_expiry(map, key, keylen, vallen, expires);
	return router_cluster_get_expiry(map, key, keylen, vallen, expires);
}

/* write value (NULL: delete) if the key holds expect; false if it changed */
bool
router_write_if(MapInfo *map, const char *key, int keylen,
				const char *expect, int expectlen, TimestampTz expect_expires,
				const char *value, int vallen, TimestampTz expires)
{
	KeyOp		op = {KEY_WRITE_IF, key, keylen, value, vallen};

	if (map->local_only)
		return router_local_write_if(&map, key, keylen, expect, expectlen,
									 expect_expires, value, vallen, expires);
	op.expect = expect;
	op.expectlen = expectlen;
	op.expect_expires = expect_expires;
	op.expires = expires;
	return cluster_write_if(map, &op);
}

/* a read of the primary copy only, wherever it is */
static char *
primary_get_expiry(MapInfo *map, const char *key, int keylen, int *vallen,
				   TimestampTz *expires)
{
	const MapPlacements *placements = router_map_placements(map);
	int			shard = router_key_shard(map, key, keylen);
	const PlacementNode *primary = placement_node(placements, shard, 0);
	KeyOp		op = {KEY_GET_EXPIRY, key, keylen};
	KeyAnswer	answer;
	RemoteFanout *fanout;

	if (primary->is_local)
		return router_local_get_expiry(&map, key, keylen, vallen, expires);
	fanout = remote_fanout_create(1);
	peer_call_key_op(fanout, primary, map, &op);
	remote_fanout_run_or_throw(fanout);
	peer_answer_key_op(&op, &fanout->calls[0].call, &answer);
	*vallen = answer.vallen;
	*expires = answer.expires;
	return answer.value;
}

/* the compare-and-set on the primary copy, then the replicas follow */
static bool
cluster_write_if(MapInfo *map, const KeyOp *op)
{
	const MapPlacements *placements = router_map_placements(map);
	int			shard = router_key_shard(map, op->key, op->keylen);
	const PlacementNode *primary = placement_node(placements, shard, 0);
	KeyAnswer	answer;

	if (primary->is_local)
		answer.flag = router_local_write_if(&map, op->key, op->keylen,
											op->expect, op->expectlen,
											op->expect_expires, op->value,
											op->vallen, op->expires);
	else
	{
		RemoteFanout *fanout = remote_fanout_create(1);

		peer_call_key_op(fanout, primary, map, op);
		remote_fanout_run_or_throw(fanout);
		peer_answer_key_op(op, &fanout->calls[0].call, &answer);
	}
	if (answer.flag && placement_copies(placements, shard) > 1)
		write_replicas(map, placements, shard, op);
	return answer.flag;
}

/*
 * The primary took the write: the other copies get it as a set (or a
 * delete), all at once.  An expiry already past deletes.
 */
static void
write_replicas(MapInfo *map, const MapPlacements *placements, int shard,
			   const KeyOp *op)
{
	KeyOp		copy = {KEY_SET, op->key, op->keylen, op->value, op->vallen};
	RemoteFanout *fanout = remote_fanout_create(placements->replicas);
	int			i;

	copy.mode = STORE_SET;
	copy.ttl_ms = op->expires ? ttl_until(op->expires) : 0;
	if (op->value == NULL || copy.ttl_ms < 0)
		copy.kind = KEY_DELETE;
	for (i = 1; i < placement_copies(placements, shard); i++)
	{
		const PlacementNode *node = placement_node(placements, shard, i);

		if (!node->is_local)
		{
			peer_call_key_op(fanout, node, map, &copy);
			continue;
		}
		if (copy.kind == KEY_DELETE)
			(void) router_local_delete(&map, copy.key, copy.keylen);
		else
			(void) router_local_set(&map, copy.key, copy.keylen, copy.value,
									copy.vallen, copy.ttl_ms, STORE_SET);
	}
	remote_fanout_run(fanout);
	for (i = 0; i < fanout->ncalls; i++)
	{
		const RemoteCall *call = &fanout->calls[i].call;

		if (call->error == NULL)
			continue;
		if (!remote_error_is_unreachable(call->error))
			remote_throw(call);
		warn_replica_missed(map, call);
	}
}

/* ms from now until expires, rounded up (at least 1); -1 if past */
static int64
ttl_until(TimestampTz expires)
{
	TimestampTz now = GetCurrentTimestamp();

	if (expires <= now)
		return -1;
	return (expires - now + 999) / 1000;
}
