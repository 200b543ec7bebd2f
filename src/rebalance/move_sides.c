/*-------------------------------------------------------------------------
 *
 * move_sides.c
 *		The source's and the target's parts of a shard move, run by the
 *		memshard.peer_move_* functions the mover (shard_move.c) calls.
 *
 * Source: move_source_begin registers the shard in the move log
 * (src/store/move_log.c: from then on every write to it here is logged),
 * move_source_push sends the shard's items straight to the target (all of
 * them, or the current state of the keys logged since the last round: a
 * value, or "gone" for a key that is not there any more), move_source_freeze makes writes wait for the switch, and
 * move_source_end either frees the shard's copy here (switched: writes that
 * waited are refused as moved) or lets writes go on (undone).
 *
 * Target: move_target_clear removes what an earlier, failed attempt left of
 * the shard; move_target_put stores the items the mover brings (or removes
 * the keys that are gone) into this node's store, for a shard this node
 * does not hold yet: no reader is sent here before the switch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "cluster/placement.h"
#include "rebalance/rebalance.h"
#include "remote/remote.h"
#include "router/router.h"
#include "store/move_log.h"
#include "store/key_scan.h"
#include "store/store.h"

static MapInfo *moving_map(const char *name, int32 shard);
static bool holds_shard(MapInfo *map, int32 shard);
static void read_key(MapInfo *map, const char *key, int keylen, List **items);
static List *shard_keys(MapInfo *map, int32 shard);
static int64 delete_shard(MapInfo *map, int32 shard);
static int	compare_keys(const void *a, const void *b);
static void push_batch(const char *name, Oid target, MoveItem **items, int n);

#define PUSH_BATCH_ITEMS	1000
#define PUSH_BATCH_BYTES	(4 * 1024 * 1024)

/* the map over nodes named, checked, with the shard in range */
static MapInfo *
moving_map(const char *name, int32 shard)
{
	MapInfo    *map = router_lookup_map(name, strlen(name));

	if (map->local_only)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map \"%s\" is not placed on nodes", name)));
	if (shard < 0 || shard >= map->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map \"%s\" has no shard %d", name, shard),
				 errhint("Its shards are 0 to %d.", map->shard_count - 1)));
	return map;
}

/* does this node hold a copy of the shard under its own metadata? */
static bool
holds_shard(MapInfo *map, int32 shard)
{
	const MapPlacements *placements = cluster_map_placements(map->id);
	int			i;

	if (placements == NULL)
		return false;
	for (i = 0; i < placement_copies(placements, shard); i++)
		if (placement_node(placements, shard, i)->is_local)
			return true;
	return false;
}

uint64
move_source_begin(const char *name, int32 shard)
{
	MapInfo    *map = moving_map(name, shard);
	uint64		token;

	if (!holds_shard(map, shard))
		ereport(ERROR,
				(errcode(ERRCODE_MEMSHARD_SHARD_MOVED),
				 errmsg("this node does not hold shard %d of map \"%s\"",
						shard, name)));
	token = move_log_register(MyDatabaseId, map->id, shard);
	if (token == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many shards are moving away from this node"),
				 errhint("Wait for the moves in progress to finish.")));
	return token;
}

void
move_source_freeze(uint64 token, bool frozen)
{
	if (!move_log_set_state(token, frozen ? MOVE_LOG_FROZEN : MOVE_LOG_COPYING))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the move is no longer registered on this node"),
				 errhint("Another move of the same shard took it over; run memshard.move_shard again.")));
}

/* a key's current state into *items (value NULL: not there) */
static void
read_key(MapInfo *map, const char *key, int keylen, List **items)
{
	MoveItem   *item = palloc0(sizeof(MoveItem));
	TimestampTz expires = 0;

	item->key = pnstrdup(key, keylen);
	item->keylen = keylen;
	item->value = store_get_expiry(router_map_slot(map), key, keylen, 0,
								   &item->vallen, &expires);
	if (item->value != NULL && expires != 0)
	{
		int64		left = (expires - GetCurrentTimestamp()) / 1000;

		if (left <= 0)
		{
			pfree(item->value);
			item->value = NULL; /* expired: gone on the target too */
		}
		else
			item->ttl_ms = left;
	}
	*items = lappend(*items, item);
}

static int
compare_keys(const void *a, const void *b)
{
	const MoveItem *x = *(MoveItem *const *) a;
	const MoveItem *y = *(MoveItem *const *) b;
	int			c = memcmp(x->key, y->key, Min(x->keylen, y->keylen));

	return c != 0 ? c : (x->keylen > y->keylen) - (x->keylen < y->keylen);
}

/*
 * The items of the shard (all) or the keys logged since the last read,
 * each once.  *overflow: the log missed keys, the mover starts again.
 */
List *
move_source_read(const char *name, int32 shard, uint64 token, bool all,
				 bool *overflow)
{
	MapInfo    *map = moving_map(name, shard);
	List	   *items = NIL;

	*overflow = false;
	if (all)
	{
		ListCell   *lc;

		foreach(lc, shard_keys(map, shard))
		{
			MoveItem   *k = lfirst(lc);

			read_key(map, k->key, k->keylen, &items);
		}
	}
	else
	{
		Size		len = 0,
					off = 0;
		char	   *log = move_log_drain(token, &len, overflow);
		List	   *keys = NIL;
		MoveItem  **sorted;
		int			n,
					i;

		if (log == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the move is no longer registered on this node")));
		while (off < len)
		{
			MoveItem   *k = palloc0(sizeof(MoveItem));
			uint16		keylen;

			memcpy(&keylen, log + off, sizeof(uint16));
			k->key = log + off + sizeof(uint16);
			k->keylen = keylen;
			off += sizeof(uint16) + keylen;
			keys = lappend(keys, k);
		}
		n = list_length(keys);
		sorted = palloc(sizeof(MoveItem *) * Max(n, 1));
		for (i = 0; i < n; i++)
			sorted[i] = list_nth(keys, i);
		qsort(sorted, n, sizeof(MoveItem *), compare_keys);
		for (i = 0; i < n; i++)
			if (i == 0 || compare_keys(&sorted[i - 1], &sorted[i]) != 0)
				read_key(map, sorted[i]->key, sorted[i]->keylen, &items);
	}
	return items;
}

/*
 * The keys this node's store holds of one shard of a map (MoveItems with
 * no value), from a scan of the map's keys: each key's shard is the
 * router's answer.
 */
static List *
shard_keys(MapInfo *map, int32 shard)
{
	KeyScan	scan;
	List	   *keys = NIL;

	key_scan_begin(&scan, MyDatabaseId, map->id);
	while (key_scan_next(&scan))
	{
		int			i;

		for (i = 0; i < scan.nitems; i++)
			if (router_key_shard(map, scan.items[i].key,
								 scan.items[i].keylen) == shard)
			{
				MoveItem   *k = palloc0(sizeof(MoveItem));

				k->key = pnstrdup(scan.items[i].key, scan.items[i].keylen);
				k->keylen = scan.items[i].keylen;
				keys = lappend(keys, k);
			}
	}
	key_scan_end(&scan);
	return keys;
}

/* remove this node's items of one shard of a map */
static int64
delete_shard(MapInfo *map, int32 shard)
{
	List	   *keys = shard_keys(map, shard);
	ListCell   *lc;
	int64		removed = 0;

	foreach(lc, keys)
	{
		MoveItem   *k = lfirst(lc);

		if (store_delete(router_map_slot(map), k->key, k->keylen) == STORE_OK)
			removed++;
	}
	return removed;
}

int64
move_source_end(const char *name, int32 shard, uint64 token, bool switched)
{
	MapInfo    *map = moving_map(name, shard);
	int64		freed = 0;

	if (switched)
	{
		/* writes that wait, or come late, are refused as moved */
		if (move_log_set_state(token, MOVE_LOG_DONE))
			freed = delete_shard(map, shard);
	}
	move_log_release(token);
	return freed;
}

int64
move_target_clear(const char *name, int32 shard)
{
	MapInfo    *map = moving_map(name, shard);

	if (holds_shard(map, shard))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node holds shard %d of map \"%s\" already",
						shard, name),
				 errhint("A shard's copies live on distinct nodes: choose another target.")));
	move_log_forget(MyDatabaseId, map->id, shard);
	return delete_shard(map, shard);
}

int64
move_target_put(const char *name, int n, char **keys, int *keylens,
				char **values, int *vallens, int64 *ttls)
{
	MapInfo    *map = router_lookup_map(name, strlen(name));
	int64		stored = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		StoreResult result;

		if (values[i] == NULL)
		{
			(void) store_delete(router_map_slot(map), keys[i], keylens[i]);
			continue;
		}
		result = store_set(router_map_slot(map), keys[i], keylens[i],
						   values[i], vallens[i], ttls[i], STORE_SET);
		if (result == STORE_NO_MEMORY || result == STORE_OVER_QUOTA)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("no room on the target for the items of map \"%s\"",
							name),
					 errhint("Choose a target with more free memory.")));
		if (result == STORE_OK)
			stored++;
	}
	return stored;
}

/* items[from, to) onto the target, in one peer_move_put */
static void
push_batch(const char *name, Oid target, MoveItem **items, int n)
{
	const char **keys = palloc(sizeof(char *) * Max(n, 1));
	int		   *keylens = palloc(sizeof(int) * Max(n, 1));
	const char **values = palloc(sizeof(char *) * Max(n, 1));
	int		   *vallens = palloc(sizeof(int) * Max(n, 1));
	StringInfoData ttls;
	const char *params[4];
	int			lengths[4] = {0, 0, 0, 0};
	int			formats[4] = {0, 1, 1, 0};
	RemoteFanout *fanout = remote_fanout_create(1);
	RemoteCall *call;
	int			i;

	initStringInfo(&ttls);
	appendStringInfoChar(&ttls, '{');
	for (i = 0; i < n; i++)
	{
		keys[i] = items[i]->key;
		keylens[i] = items[i]->keylen;
		values[i] = items[i]->value;
		vallens[i] = items[i]->vallen;
		appendStringInfo(&ttls, "%s" INT64_FORMAT, i ? "," : "",
						 items[i]->ttl_ms);
	}
	appendStringInfoChar(&ttls, '}');
	params[0] = name;
	params[1] = remote_binary_text_array(keys, keylens, n, &lengths[1]);
	params[2] = remote_binary_bytea_array(values, vallens, n, &lengths[2]);
	params[3] = ttls.data;
	call = remote_fanout_add(fanout, NULL, target,
							 "SELECT memshard.peer_move_put($1, $2::pg_catalog.text[], $3::pg_catalog.bytea[], $4::pg_catalog.int8[])");
	call->nparams = 4;
	call->paramvalues = params;
	call->paramlengths = lengths;
	call->paramformats = formats;
	remote_fanout_run_or_throw(fanout);
}

/*
 * The source sends what move_source_read gives straight to the target
 * (through this node's server for it, as the caller's mapping says), in
 * batches of PUSH_BATCH_ITEMS items or PUSH_BATCH_BYTES bytes.
 */
void
move_source_push(const char *name, int32 shard, uint64 token, bool all,
				 const char *target, MovePushed *pushed)
{
	const ClusterNode *node = cluster_node_by_server(target);
	List	   *items;
	MoveItem  **batch;
	ListCell   *lc;
	int			n = 0;
	Size		size = 0;

	if (node == NULL || !OidIsValid(node->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster here", target)));
	memset(pushed, 0, sizeof(MovePushed));
	items = move_source_read(name, shard, token, all, &pushed->overflow);
	batch = palloc(sizeof(MoveItem *) * PUSH_BATCH_ITEMS);
	foreach(lc, items)
	{
		MoveItem   *item = lfirst(lc);

		batch[n++] = item;
		size += item->keylen + item->vallen;
		pushed->keys++;
		if (item->value != NULL)
		{
			pushed->items++;
			pushed->bytes += item->keylen + item->vallen;
		}
		if (n == PUSH_BATCH_ITEMS || size >= PUSH_BATCH_BYTES)
		{
			push_batch(name, node->serverid, batch, n);
			n = 0;
			size = 0;
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (n > 0)
		push_batch(name, node->serverid, batch, n);
}
