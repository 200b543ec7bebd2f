/*-------------------------------------------------------------------------
 *
 * shard_move.c
 *		memshard.move_shard: one placement to another node, online, and
 *		rebalance/drain_node, which run a plan's moves one by one.
 *
 * The protocol (README "Moving shards"); this node is the mover, and
 * reaches every node, itself included, through its foreign server:
 *  1. the target drops what an earlier attempt left of the shard;
 *  2. the source registers the move: from then on it logs the key of every
 *     write it applies to the shard (every write of a shard reaches each of
 *     its copies, so the source sees all of them);
 *  3. the source sends every item of the shard to the target (value and
 *     remaining TTL: peer_move_push), then, in rounds, the current state of the
 *     keys logged meanwhile (a value, or "gone": a delete made during the
 *     copy is repeated on the target, so the key never comes back; an incr
 *     arrives as its result, counted once, because the source applied it);
 *  4. the source freezes the shard (writes to it wait; those in flight are
 *     logged first), the last logged keys are copied: source and target
 *     now hold the same;
 *  5. the switch: a metadata change (two-phase commit, as create_map),
 *     made by a session of this node to itself so that it commits before
 *     we go on, places the copy on the target on every node;
 *  6. the source frees its copy; the writes that waited are refused with
 *     ERRCODE_MEMSHARD_SHARD_MOVED, and their node sends them again where
 *     its metadata, read again, now places the shard.
 * A failure before the switch undoes the move (the source writes on, the
 * target's copy is dropped; a copy left by a mover that died is dropped by
 * the next attempt); a failure during it is judged by this node's own
 * metadata afterwards: switched or not, exactly one placement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/inval.h"

#include "cluster/cluster.h"
#include "cluster/placement.h"
#include "rebalance/rebalance.h"
#include "remote/remote.h"
#include "router/router.h"

#define LOG_ROUNDS		8
#define LOG_QUIET		64		/* keys in a round small enough to freeze */
#define COPY_ATTEMPTS	3

int			memshard_test_hold_move = 0;

/* the two ends of a move */
typedef struct MoveEnds
{
	const char *map;
	int32		shard;
	int32		replica;
	int32		source_id;
	Oid			source_server;
	char		source[NAMEDATALEN];
	int32		target_id;
	Oid			target_server;
	char		target[NAMEDATALEN];
	Oid			self_server;
	int32		placed_id;		/* the node the placement row names now */
	bool		keep_source;	/* repair: the source keeps its copy */
	uint64		token;
	int64		items;
	int64		bytes;
} MoveEnds;

static void move_resolve(MoveEnds *m, const char *map, int32 shard,
						 const char *target, const char *source);
static int	copy_round(MoveEnds *m, bool all, bool *overflow);
static void copy_shard(MoveEnds *m);
static void undo_move(MoveEnds *m);
static bool placed_on_target(MoveEnds *m);
static void test_hold_move(void);
static int64 run_move(MoveEnds *m);
static void catch_up_kept_source(MoveEnds *m, const char *token);

/* one statement on a node, its answer or ERROR */
RemoteResult *
rebalance_call_node(Oid server, const char *sql, int nparams, const char *const *values,
		  bool binary)
{
	RemoteFanout *fanout = remote_fanout_create(1);
	RemoteCall *call = remote_fanout_add(fanout, NULL, server, sql);

	call->nparams = nparams;
	call->paramvalues = values;
	call->binary_result = binary;
	remote_fanout_run_or_throw(fanout);
	return call->result;
}

int64
rebalance_int8_of(const RemoteResult *res, int row, int field, bool binary)
{
	const char *v = res->values[row * res->nfields + field];

	if (v == NULL)
		return 0;
	if (binary)
		return (int64) pg_ntoh64(*(const uint64 *) v);
	return strtoi64(v, NULL, 10);
}

/* source, target, replica of the move, checked against this node's metadata */
static void
move_resolve(MoveEnds *m, const char *map, int32 shard, const char *target,
			 const char *source)
{
	MapInfo    *info = router_lookup_map(map, strlen(map));
	const MapPlacements *placements;
	const ClusterNode *tnode = cluster_node_by_server(target);
	const ClusterNode *self = cluster_local_node();
	int			i;

	memset(m, 0, sizeof(MoveEnds));
	m->map = map;
	m->shard = shard;
	m->replica = -1;
	if (info->local_only)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map \"%s\" is not placed on nodes", map),
				 errhint("Only the shards of a map over nodes can move.")));
	if (shard < 0 || shard >= info->shard_count)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map \"%s\" has no shard %d", map, shard),
				 errhint("Its shards are 0 to %d.", info->shard_count - 1)));
	if (tnode == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("node \"%s\" is not in the cluster", target)));
	if (strcmp(tnode->state, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("node \"%s\" is %s: it takes no shards", target,
						tnode->state)));
	if (self == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this node is not in its cluster's node list")));
	m->target_id = tnode->id;
	m->target_server = tnode->serverid;
	strlcpy(m->target, target, NAMEDATALEN);
	m->self_server = self->serverid;

	placements = cluster_map_placements(info->id);
	for (i = 0; i < placement_copies(placements, shard); i++)
	{
		const PlacementNode *node = placement_node(placements, shard, i);

		if (node->id == m->target_id)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("node \"%s\" holds a copy of shard %d of map \"%s\" already",
							target, shard, map),
					 errhint("A shard's copies live on distinct nodes.")));
		if (m->replica < 0 &&
			(source == NULL ? i == 0 : strcmp(NameStr(node->server), source) == 0))
		{
			m->replica = i;
			m->source_id = m->placed_id = node->id;
			m->source_server = node->serverid;
			strlcpy(m->source, NameStr(node->server), NAMEDATALEN);
		}
	}
	if (m->replica < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("node \"%s\" holds no copy of shard %d of map \"%s\"",
						source, shard, map)));
}

/*
 * One round: the source sends every item of the shard, or the keys logged
 * since the last round, straight to the target; returns the keys sent.
 */
static int
copy_round(MoveEnds *m, bool all, bool *overflow)
{
	char		shard[16];
	char		token[24];
	const char *params[5];
	RemoteResult *res;

	snprintf(shard, sizeof(shard), "%d", m->shard);
	snprintf(token, sizeof(token), UINT64_FORMAT, m->token);
	params[0] = m->map;
	params[1] = shard;
	params[2] = token;
	params[3] = all ? "true" : "false";
	params[4] = m->target;
	res = rebalance_call_node(m->source_server,
							  "SELECT keys, items, bytes, overflow FROM memshard.peer_move_push($1, $2::pg_catalog.int4, $3::pg_catalog.int8, $4::pg_catalog.bool, $5::pg_catalog.name)",
							  5, params, false);
	m->items += rebalance_int8_of(res, 0, 1, false);
	m->bytes += rebalance_int8_of(res, 0, 2, false);
	*overflow = strcmp(res->values[3], "t") == 0;
	rebalance_progress_copied(m->items, m->bytes);
	return (int) rebalance_int8_of(res, 0, 0, false);
}

/* steps 3 and 4: everything, the logged keys in rounds, frozen, the rest */
static void
copy_shard(MoveEnds *m)
{
	char		token[24];
	const char *params[1];
	int			attempt;
	bool		overflow = false;

	snprintf(token, sizeof(token), UINT64_FORMAT, m->token);
	params[0] = token;
	for (attempt = 0; attempt < COPY_ATTEMPTS; attempt++)
	{
		int			round;

		(void) copy_round(m, true, &overflow);
		test_hold_move();
		for (round = 0; round < LOG_ROUNDS; round++)
		{
			int			n;

			rebalance_check_stop();
			n = copy_round(m, false, &overflow);

			if (overflow || n < LOG_QUIET)
				break;
		}
		if (!overflow)
		{
			rebalance_check_stop();
			rebalance_call_node(m->source_server,
					  "SELECT memshard.peer_move_freeze($1::pg_catalog.int8, true)",
					  1, params, false);
			(void) copy_round(m, false, &overflow);
			if (!overflow)
				return;
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the log of writes to shard %d of map \"%s\" overflowed while it was frozen",
							m->shard, m->map)));
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("shard %d of map \"%s\" is written faster than it can be copied",
					m->shard, m->map),
			 errhint("Move it when it is written less.")));
}

/* after a failure: does this node's metadata place the copy on the target? */
static bool
placed_on_target(MoveEnds *m)
{
	MapInfo    *info;
	const MapPlacements *placements;

	AcceptInvalidationMessages();
	info = router_lookup_map(m->map, strlen(m->map));
	placements = cluster_map_placements(info->id);
	return placements != NULL &&
		m->replica < placement_copies(placements, m->shard) &&
		placement_node(placements, m->shard, m->replica)->id == m->target_id;
}

/* best effort, after a failure before the switch */
static void
undo_move(MoveEnds *m)
{
	char		shard[16];
	char		token[24];
	const char *params[4];

	snprintf(shard, sizeof(shard), "%d", m->shard);
	snprintf(token, sizeof(token), UINT64_FORMAT, m->token);
	params[0] = m->map;
	params[1] = shard;
	params[2] = token;
	params[3] = "false";
	PG_TRY();
	{
		if (m->token != 0)
			rebalance_call_node(m->source_server,
					  "SELECT memshard.peer_move_end($1, $2::pg_catalog.int4, $3::pg_catalog.int8, $4::pg_catalog.bool)",
					  4, params, false);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
	PG_TRY();
	{
		rebalance_call_node(m->target_server,
				  "SELECT memshard.peer_move_clear($1, $2::pg_catalog.int4)",
				  2, params, false);
	}
	PG_CATCH();
	{
		FlushErrorState();
	}
	PG_END_TRY();
}

int64
rebalance_move_shard(const char *map, int32 shard, const char *target,
					 const char *source)
{
	MoveEnds	m;

	move_resolve(&m, map, shard, target, source);
	return run_move(&m);
}

/*
 * repair: copy `replica` of a shard, placed on a node that is not active,
 * from the copy on source (which keeps it) to target
 */
int64
rebalance_copy_placement(const char *map, int32 shard, int32 replica,
						 const char *source, const char *target)
{
	MapInfo    *info = router_lookup_map(map, strlen(map));
	const MapPlacements *placements = cluster_map_placements(info->id);
	const ClusterNode *snode = cluster_node_by_server(source);
	const ClusterNode *tnode = cluster_node_by_server(target);
	const ClusterNode *self = cluster_local_node();
	MoveEnds	m;

	if (placements == NULL || snode == NULL || tnode == NULL || self == NULL)
		elog(ERROR, "cannot repair shard %d of map \"%s\"", shard, map);
	memset(&m, 0, sizeof(m));
	m.map = map;
	m.shard = shard;
	m.replica = replica;
	/* a copy the failover dropped (promote.c) has no row: 0, made anew */
	m.placed_id = replica < placement_copies(placements, shard) ?
		placement_node(placements, shard, replica)->id : 0;
	m.source_id = snode->id;
	m.source_server = snode->serverid;
	strlcpy(m.source, source, NAMEDATALEN);
	m.target_id = tnode->id;
	m.target_server = tnode->serverid;
	strlcpy(m.target, target, NAMEDATALEN);
	m.self_server = self->serverid;
	m.keep_source = true;
	return run_move(&m);
}

/*
 * A source that keeps its copy (repair): writes that waited for the switch
 * and went on here only (their nodes placed the shard as before) are
 * logged once the shard is thawed, and copied under one more freeze; then
 * the source goes on as a copy like any other.
 */
static void
catch_up_kept_source(MoveEnds *m, const char *token)
{
	const char *params[1] = {token};
	bool		overflow;

	rebalance_call_node(m->source_server,
						"SELECT memshard.peer_move_freeze($1::pg_catalog.int8, false)",
						1, params, false);
	pg_usleep(20000L);
	rebalance_call_node(m->source_server,
						"SELECT memshard.peer_move_freeze($1::pg_catalog.int8, true)",
						1, params, false);
	(void) copy_round(m, false, &overflow);
}

/* steps 1 to 6 of a move (or a repair's copy) */
static int64
run_move(MoveEnds *m)
{
	char		shardtext[16];
	char		replica[16];
	char		placed_id[16];
	char		target_id[16];
	char		token[24];
	const char *params[5];
	MemoryContext cxt = CurrentMemoryContext;
	bool		switching = false;
	RemoteResult *res;

	rebalance_progress_step(-1, m->map, m->shard, m->source, m->target);
	snprintf(shardtext, sizeof(shardtext), "%d", m->shard);
	snprintf(replica, sizeof(replica), "%d", m->replica);
	snprintf(placed_id, sizeof(placed_id), "%d", m->placed_id);
	snprintf(target_id, sizeof(target_id), "%d", m->target_id);
	params[0] = m->map;
	params[1] = shardtext;

	rebalance_call_node(m->target_server,
						"SELECT memshard.peer_move_clear($1, $2::pg_catalog.int4)",
						2, params, false);
	res = rebalance_call_node(m->source_server,
							  "SELECT memshard.peer_move_begin($1, $2::pg_catalog.int4)",
							  2, params, false);
	m->token = (uint64) rebalance_int8_of(res, 0, 0, false);
	snprintf(token, sizeof(token), UINT64_FORMAT, m->token);

	PG_TRY();
	{
		copy_shard(m);
		switching = true;
		params[2] = replica;
		params[3] = placed_id;
		params[4] = target_id;
		rebalance_call_node(m->self_server,
							"SELECT memshard.peer_move_switch($1, $2::pg_catalog.int4, $3::pg_catalog.int4, $4::pg_catalog.int4, $5::pg_catalog.int4)",
							5, params, false);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (!switching || !placed_on_target(m))
		{
			undo_move(m);
			rebalance_progress_move_done(false, 0);
			ReThrowError(edata);
		}
		/* the switch committed though its session failed: go on */
		ereport(WARNING,
				(errmsg("the switch of shard %d of map \"%s\" reported an error but committed",
						m->shard, m->map),
				 errdetail_internal("%s", edata->message)));
	}
	PG_END_TRY();

	/* step 6: the source's copy goes (or, kept, catches up) */
	if (m->keep_source)
		catch_up_kept_source(m, token);
	params[2] = token;
	params[3] = m->keep_source ? "false" : "true";
	rebalance_call_node(m->source_server,
						"SELECT memshard.peer_move_end($1, $2::pg_catalog.int4, $3::pg_catalog.int8, $4::pg_catalog.bool)",
						4, params, false);
	rebalance_progress_move_done(true, m->bytes);
	return m->items;
}

/* step 5 on the mover's own session: the placement changes everywhere */
void
move_switch_placement(const char *map, int32 shard, int32 replica,
					  int32 source_id, int32 target_id)
{
	MapInfo    *info = router_lookup_map(map, strlen(map));
	Oid			argtypes[5] = {INT4OID, INT4OID, INT4OID, INT4OID, INT4OID};
	Datum		args[5];

	cluster_change_begin();
	args[0] = Int32GetDatum(info->id);
	args[1] = Int32GetDatum(shard);
	args[2] = Int32GetDatum(replica);
	args[3] = Int32GetDatum(source_id);
	args[4] = Int32GetDatum(target_id);
	if (source_id == 0)
	{
		/* repair of a copy with no row (dropped by promote): a new row */
		cluster_sql("INSERT INTO memshard.placement_catalog "
					"(map_id, shard, replica, node_id) "
					"SELECT $1, $2, $3, $5 WHERE $4 OPERATOR(pg_catalog.=) 0",
					5, argtypes, args, SPI_OK_INSERT);
	}
	else if (cluster_sql("UPDATE memshard.placement_catalog SET node_id = $5 "
						 "WHERE map_id OPERATOR(pg_catalog.=) $1 "
						 "AND shard OPERATOR(pg_catalog.=) $2 "
						 "AND replica OPERATOR(pg_catalog.=) $3 "
						 "AND node_id OPERATOR(pg_catalog.=) $4",
						 5, argtypes, args, SPI_OK_UPDATE) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("copy %d of shard %d of map \"%s\" is no longer on node %d",
						replica, shard, map, source_id),
				 errhint("The placements changed while the shard was copied; run the move again.")));
	cluster_placements_changed();
	cluster_change_end();
}

/*
 * pg_memshard.test_hold_move (tests): after the first full copy, wait
 * for the advisory lock of that key, so a test can kill a node mid-move.
 */
static void
test_hold_move(void)
{
	LOCKTAG		tag;

	if (memshard_test_hold_move == 0)
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0,
						 (uint32) memshard_test_hold_move, 1);
	(void) LockAcquire(&tag, ShareLock, false, false);
	LockRelease(&tag, ShareLock, false);
}
