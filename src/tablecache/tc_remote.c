/*-------------------------------------------------------------------------
 *
 * tc_remote.c
 *		Rows of a cached table held by other nodes: where a key's row lives,
 *		the calls to read and store it there, and the peer functions that
 *		answer them.
 *
 * cache_table(tbl, nodes => ...) makes the table's map a map over nodes
 * (one copy of each shard): a key's row is stored on the node holding its
 * shard, this one or another.  Everything that decides whether a row may
 * be served stays on the table's node: the marks, the leases, the table's
 * generation and the keys' versions (store/marks.c).  An item read from
 * another node is served only if the generation and the version it
 * carries are the current ones here, so a writer's commit never needs to
 * reach the other nodes: its marks move the versions, and whatever copies
 * another node holds (reachable or not, its delete lost or not) are fenced
 * from then on.  They are replaced by the next fill of the key, or evicted.
 *
 * A node that cannot be reached costs one timeout (pg_memshard.
 * connect_timeout or remote_timeout), after which, for connect_timeout,
 * its keys are read from the table without asking it (the remote room
 * remembers it as unreachable); get_row never fails because of a node.
 *
 * The peer side (memshard.peer_tc_get, peer_tc_set, for memshard_peer)
 * uses the map's store slot of its own (database, -map id) on that node,
 * as the table's node does, so the data functions do not reach the rows
 * there either; each refuses a key whose shard the node does not hold
 * under its own metadata, and everything while the node is fenced (its
 * epoch older than the caller's or than one seen elsewhere, epoch.c), as
 * the other peer_* functions do: the caller then reads the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "api/api.h"
#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "pg_memshard.h"
#include "remote/remote.h"
#include "router/router.h"
#include "tablecache/tablecache_internal.h"

PG_FUNCTION_INFO_V1(memshard_peer_tc_get);
PG_FUNCTION_INFO_V1(memshard_peer_tc_set);

static MapInfo *table_map(TcTable *table);
static bool call_node(Oid serverid, const char *sql, int nparams,
					  const Oid *types, const char *const *values,
					  const int *lengths, const int *formats,
					  RemoteResult **result);
static MapInfo *peer_map(FunctionCallInfo fcinfo, const char **key, int *keylen);
static int	peer_slot(MapInfo *map, bool attach);

/* the map of a table cached over nodes */
static MapInfo *
table_map(TcTable *table)
{
	return router_lookup_map(table->mapname, strlen(table->mapname));
}

/*
 * Whether the key's row lives on this node; if not, *serverid is the node
 * holding it.
 */
bool
tc_key_place(TcTable *table, const char *key, int keylen, Oid *serverid)
{
	MapInfo    *map = table_map(table);
	const MapPlacements *placements = cluster_map_placements(map->id);
	const PlacementNode *node;

	if (placements == NULL)
		return true;
	node = placement_node(placements, router_key_shard(map, key, keylen), 0);
	*serverid = node->serverid;
	return node->is_local || !OidIsValid(node->serverid);
}

/*
 * One call to a node; false when it failed.  A node that cannot be reached
 * fails quietly (memshard.nodes shows it); another error is a WARNING: the
 * table is read instead.
 */
static bool
call_node(Oid serverid, const char *sql, int nparams, const Oid *types,
		  const char *const *values, const int *lengths, const int *formats,
		  RemoteResult **result)
{
	RemoteCall	call;

	if (remote_recently_unreachable(serverid))
		return false;
	memset(&call, 0, sizeof(call));
	call.serverid = serverid;
	call.sql = sql;
	call.nparams = nparams;
	call.paramtypes = types;
	call.paramvalues = values;
	call.paramlengths = lengths;
	call.paramformats = formats;
	call.binary_result = true;
	call.prepare = true;
	call.session = REMOTE_ANY;
	remote_run(&call, 1);
	if (call.error != NULL)
	{
		if (!remote_error_is_unreachable(call.error))
			ereport(WARNING,
					(errcode(call.error->sqlstate),
					 errmsg("the table cache read the table instead: %s",
							call.error->message)));
		return false;
	}
	if (call.result->ntuples != 1 || call.result->nfields != 1)
		return false;
	*result = call.result;
	return true;
}

/* the item of a key from the node holding it; NULL on a miss or a failure */
char *
tc_remote_get(TcTable *table, Oid serverid, const char *key, int keylen,
			  int *vallen)
{
	Oid			types[2] = {TEXTOID, BYTEAOID};
	const char *values[2] = {table->mapname, key};
	int			lengths[2] = {0, keylen};
	int			formats[2] = {0, 1};
	RemoteResult *result;
	char	   *value;

	if (!call_node(serverid, "SELECT memshard.peer_tc_get($1, $2)", 2,
				   types, values, lengths, formats, &result) ||
		result->values[0] == NULL)
		return NULL;
	*vallen = result->lengths[0];
	value = palloc(*vallen);
	memcpy(value, result->values[0], *vallen);
	return value;
}

/* store an item on the node holding its key; false if it was not stored */
bool
tc_remote_set(TcTable *table, Oid serverid, const char *key, int keylen,
			  const char *value, int vallen, int64 ttl_ms)
{
	Oid			types[4] = {TEXTOID, BYTEAOID, BYTEAOID, INT8OID};
	const char *values[4] = {table->mapname, key, value,
	psprintf(INT64_FORMAT, ttl_ms)};
	int			lengths[4] = {0, keylen, vallen, 0};
	int			formats[4] = {0, 1, 1, 0};
	RemoteResult *result;

	return call_node(serverid, "SELECT memshard.peer_tc_set($1, $2, $3, $4)", 4,
					 types, values, lengths, formats, &result) &&
		result->values[0] != NULL && result->values[0][0] != 0;
}

/* ---- the peer side ---- */

/*
 * The map and key of a peer call, after checking that this node holds the
 * key's shard under its own metadata.
 */
static MapInfo *
peer_map(FunctionCallInfo fcinfo, const char **key, int *keylen)
{
	text	   *name;
	bytea	   *keyarg;
	MapInfo    *map;
	const MapPlacements *placements;
	int			shard;

	ext_version_check();
	store_require_ready();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("map and key must not be NULL")));
	name = PG_GETARG_TEXT_PP(0);
	keyarg = PG_GETARG_BYTEA_PP(1);
	map = router_lookup_map(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	*key = VARDATA_ANY(keyarg);
	*keylen = VARSIZE_ANY_EXHDR(keyarg);
	if (!map->local_only)
	{
		/* fenced (left behind by a failover): no row served nor stored */
		cluster_peer_epoch_check();
		cluster_fence_check();
	}
	placements = map->local_only ? NULL : cluster_map_placements(map->id);
	shard = placements ? router_key_shard(map, *key, *keylen) : -1;
	if (placements == NULL || !placement_node(placements, shard, 0)->is_local)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node does not hold shard %d of map \"%s\"",
						shard, map->name),
				 errhint("The nodes' metadata differ: compare memshard.shards on each node.")));
	return map;
}

/* the map's slot of its own on this node (-1: none, and not attached) */
static int
peer_slot(MapInfo *map, bool attach)
{
	static int32 last_mapid = 0;
	static int	last_slot = -1;

	if (last_mapid == map->id && store_map_owned(last_slot, MyDatabaseId, -map->id))
		return last_slot;
	last_mapid = map->id;
	last_slot = attach ? store_map_attach(MyDatabaseId, -map->id, &map->opts) :
		store_map_find(MyDatabaseId, -map->id);
	return last_slot;
}

/* peer_tc_get(map text, key bytea) RETURNS bytea: the item, or NULL */
Datum
memshard_peer_tc_get(PG_FUNCTION_ARGS)
{
	const char *key;
	int			keylen;
	MapInfo    *map = peer_map(fcinfo, &key, &keylen);
	int			slot = peer_slot(map, false);
	char	   *value;
	int			vallen;

	if (slot < 0 || keylen > MEMSHARD_MAX_KEY_SIZE)
		PG_RETURN_NULL();
	value = store_get(slot, key, keylen, VARHDRSZ, &vallen);
	if (value == NULL)
		PG_RETURN_NULL();
	SET_VARSIZE(value, VARHDRSZ + vallen);
	PG_RETURN_BYTEA_P((bytea *) value);
}

/*
 * peer_tc_set(map text, key bytea, value bytea, ttl_ms bigint) RETURNS
 * boolean: stored (false: too large, no slot, no room)
 */
Datum
memshard_peer_tc_set(PG_FUNCTION_ARGS)
{
	const char *key;
	int			keylen;
	MapInfo    *map = peer_map(fcinfo, &key, &keylen);
	bytea	   *value;
	int			slot;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("value and ttl must not be NULL")));
	value = PG_GETARG_BYTEA_PP(2);
	if (keylen > MEMSHARD_MAX_KEY_SIZE ||
		keylen + VARSIZE_ANY_EXHDR(value) > store_max_item_size() ||
		(slot = peer_slot(map, true)) < 0)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(store_set(slot, key, keylen, VARDATA_ANY(value),
							 VARSIZE_ANY_EXHDR(value), PG_GETARG_INT64(3),
							 STORE_SET) == STORE_OK);
}
