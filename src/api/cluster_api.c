/*-------------------------------------------------------------------------
 *
 * cluster_api.c
 *		SQL entry points of the cluster: the FDW validator, add_node,
 *		remove_node, the nodes view, shard_for, node_for, cluster_stats, and
 *		the functions other nodes call (peer_*).
 *
 * Argument checks and type conversion only; the work is in src/cluster and
 * src/remote.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_authid_d.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "api/api_args.h"
#include "cluster/cluster.h"
#include "executor/spi.h"
#include "remote/remote.h"
#include "router/router.h"
#include "store/store.h"

PG_FUNCTION_INFO_V1(memshard_fdw_validator);
PG_FUNCTION_INFO_V1(memshard_add_node);
PG_FUNCTION_INFO_V1(memshard_remove_node);
PG_FUNCTION_INFO_V1(memshard_nodes);
PG_FUNCTION_INFO_V1(memshard_peer_identity);
PG_FUNCTION_INFO_V1(memshard_peer_metadata_apply);
PG_FUNCTION_INFO_V1(memshard_recover_metadata);
PG_FUNCTION_INFO_V1(memshard_disconnect);
PG_FUNCTION_INFO_V1(memshard_connections);
PG_FUNCTION_INFO_V1(memshard_shard_for);
PG_FUNCTION_INFO_V1(memshard_node_for);
PG_FUNCTION_INFO_V1(memshard_cluster_stats);
PG_FUNCTION_INFO_V1(memshard_peer_set);
PG_FUNCTION_INFO_V1(memshard_peer_get);
PG_FUNCTION_INFO_V1(memshard_peer_mget);
PG_FUNCTION_INFO_V1(memshard_peer_mset);
PG_FUNCTION_INFO_V1(memshard_peer_delete);
PG_FUNCTION_INFO_V1(memshard_peer_incr);
PG_FUNCTION_INFO_V1(memshard_peer_touch);
PG_FUNCTION_INFO_V1(memshard_peer_flush);

/* the columns of memshard.stats that cluster_stats gathers, in order */
#define CLUSTER_STATS_QUERY \
	"SELECT memory_budget, memory_used, items, hits, misses, sets, deletes, " \
	"evictions, expirations FROM memshard.stats"
#define CLUSTER_STATS_NUMBERS 9

static char *server_option(Oid serverid, const char *name);
static int64 ttl_ms_arg(FunctionCallInfo fcinfo, int argno);
static void local_stats(char **numbers);
static void put_stats_row(ReturnSetInfo *rsinfo, const char *node,
						  bool is_local, char **numbers, const char *error);
static const char *required_name(FunctionCallInfo fcinfo, int arg,
								 const char *what);

/* validator of FOREIGN DATA WRAPPER memshard (servers and user mappings) */
Datum
memshard_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);

	remote_validate_options(options, catalog);
	PG_RETURN_VOID();
}

Datum
memshard_add_node(PG_FUNCTION_ARGS)
{
	const char *server = required_name(fcinfo, 0, "server");

	PG_RETURN_INT32(cluster_add_node(server));
}

Datum
memshard_remove_node(PG_FUNCTION_ARGS)
{
	const char *server = required_name(fcinfo, 0, "server");

	cluster_remove_node(server);
	PG_RETURN_VOID();
}

/*
 * memshard.nodes: id, server, host, port, dbname, is_local, state,
 * last_error, last_error_at.  Credentials are never shown: host and port
 * come from the server's options, dbname is what the node reported.  The
 * state is every role's; the error, which may name another role's remote
 * user, only its own role's, a superuser's and pg_monitor's.
 */
Datum
memshard_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);

	foreach(lc, cluster_nodes())
	{
		ClusterNode *node = lfirst(lc);
		Datum		values[9];
		bool		nulls[9] = {0};
		RemoteHealth health = {0};
		char	   *host = NULL;
		char	   *port = NULL;

		if (OidIsValid(node->serverid))
		{
			host = server_option(node->serverid, "host");
			if (host == NULL)
				host = server_option(node->serverid, "hostaddr");
			port = server_option(node->serverid, "port");
			remote_health_get(node->serverid, &health);
		}

		values[0] = Int32GetDatum(node->id);
		values[1] = NameGetDatum(&node->server);
		values[2] = host ? CStringGetTextDatum(host) : (Datum) 0;
		nulls[2] = (host == NULL);
		/* one port; a list (several hosts) is not shown */
		nulls[3] = (port == NULL || strspn(port, "0123456789") != strlen(port) ||
					strlen(port) == 0 || strlen(port) > 5);
		values[3] = nulls[3] ? (Datum) 0 : Int32GetDatum(atoi(port));
		values[4] = NameGetDatum(&node->database);
		values[5] = BoolGetDatum(node->is_local);
		if (!OidIsValid(node->serverid))
			values[6] = CStringGetTextDatum("no server");
		else if (health.unreachable)
			values[6] = CStringGetTextDatum("unreachable");
		else
			values[6] = CStringGetTextDatum(node->state);
		nulls[7] = (health.error_time == 0 ||
					(health.userid != GetUserId() &&
					 !has_privs_of_role(GetUserId(), ROLE_PG_MONITOR)));
		values[7] = nulls[7] ? (Datum) 0 : CStringGetTextDatum(health.error);
		values[8] = TimestampTzGetDatum(health.error_time);
		nulls[8] = (health.error_time == 0);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* who this node is: what add_node records on every node */
Datum
memshard_peer_identity(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {0};
	NameData	database;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	namestrcpy(&database, get_database_name(MyDatabaseId));
	values[0] = Int64GetDatum(cluster_system_identifier());
	values[1] = NameGetDatum(&database);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/* metadata sent by the coordinator of a change (metadata_sync.c) */
Datum
memshard_peer_metadata_apply(PG_FUNCTION_ARGS)
{
	char	   *before = PG_ARGISNULL(0) ? NULL
		: text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *snapshot;
	char	   *after;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metadata and digest must not be null")));
	snapshot = DatumGetCString(DirectFunctionCall1(jsonb_out,
												   PG_GETARG_DATUM(1)));
	after = text_to_cstring(PG_GETARG_TEXT_PP(2));

	cluster_apply_snapshot(before, snapshot, after);
	PG_RETURN_VOID();
}

Datum
memshard_recover_metadata(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(cluster_recover(false));
}

/* close this session's idle connections to nodes */
Datum
memshard_disconnect(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(remote_disconnect_all());
}

/* connections(): this session's open connections to nodes */
Datum
memshard_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, remote_connections())
	{
		RemoteConnectionInfo *info = lfirst(lc);
		Datum		values[2];
		bool		nulls[2] = {0};

		values[0] = NameGetDatum(&info->server);
		values[1] = BoolGetDatum(info->valid);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* a server option's value, or NULL */
static char *
server_option(Oid serverid, const char *name)
{
	ForeignServer *server = GetForeignServer(serverid);
	ListCell   *lc;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

static const char *
required_name(FunctionCallInfo fcinfo, int arg, const char *what)
{
	if (PG_ARGISNULL(arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return NameStr(*PG_GETARG_NAME(arg));
}

/* a ttl in milliseconds as the coordinator computed it; 0 is none */
static int64
ttl_ms_arg(FunctionCallInfo fcinfo, int argno)
{
	int64		ttl_ms;

	api_require_arg(fcinfo, argno, "ttl");
	ttl_ms = PG_GETARG_INT64(argno);
	if (ttl_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must not be negative")));
	return ttl_ms;
}

/* shard_for(map, key): hash_partition(key, shard_count) or range_partition */
Datum
memshard_shard_for(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;

	api_key_arg(fcinfo, 1, &key, &keylen);
	PG_RETURN_INT32(router_key_shard(api_map_arg(fcinfo, 0), key, keylen));
}

/*
 * node_for(map, key): the node holding the key's primary copy; for a map of
 * this node only, this node's server if it is in a cluster, else NULL.
 */
Datum
memshard_node_for(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	MapInfo    *map;
	const char *node;
	Name		result;

	api_key_arg(fcinfo, 1, &key, &keylen);
	map = api_map_arg(fcinfo, 0);
	node = router_key_node(map, key, keylen);
	if (node == NULL)
	{
		const ClusterNode *self = cluster_local_node();

		if (self == NULL)
			PG_RETURN_NULL();
		node = NameStr(self->server);
	}
	result = palloc0(sizeof(NameData));
	namestrcpy(result, node);
	PG_RETURN_NAME(result);
}

/*
 * cluster_stats: memshard.stats of every node, asked of all at once; a node
 * that cannot answer gives a row with its error.  Without a cluster, one row
 * for this node.
 */
Datum
memshard_cluster_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *nodes = cluster_nodes();
	RemoteCall *calls = palloc0(sizeof(RemoteCall) * Max(list_length(nodes), 1));
	char	   *numbers[CLUSTER_STATS_NUMBERS];
	int			ncalls = 0;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);

	if (nodes == NIL)
	{
		local_stats(numbers);
		put_stats_row(rsinfo, NULL, true, numbers, NULL);
		return (Datum) 0;
	}

	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (node->is_local || !OidIsValid(node->serverid))
			continue;
		calls[ncalls].serverid = node->serverid;
		calls[ncalls].sql = CLUSTER_STATS_QUERY;
		calls[ncalls].session = REMOTE_ANY;
		ncalls++;
	}
	remote_run(calls, ncalls);

	ncalls = 0;
	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);
		RemoteCall *call;
		int			i;

		if (node->is_local)
		{
			local_stats(numbers);
			put_stats_row(rsinfo, NameStr(node->server), true, numbers, NULL);
			continue;
		}
		if (!OidIsValid(node->serverid))
		{
			put_stats_row(rsinfo, NameStr(node->server), false, NULL,
						  psprintf("server \"%s\" does not exist",
								   NameStr(node->server)));
			continue;
		}
		call = &calls[ncalls++];
		if (call->error != NULL)
		{
			put_stats_row(rsinfo, NameStr(node->server), false, NULL,
						  call->error->message);
			continue;
		}
		if (call->result->ntuples != 1 ||
			call->result->nfields != CLUSTER_STATS_NUMBERS)
		{
			put_stats_row(rsinfo, NameStr(node->server), false, NULL,
						  "unexpected answer");
			continue;
		}
		for (i = 0; i < CLUSTER_STATS_NUMBERS; i++)
			numbers[i] = call->result->values[i];
		put_stats_row(rsinfo, NameStr(node->server), false, numbers, NULL);
	}
	return (Datum) 0;
}

/*
 * this node's figures, by the same query the others answer: with the
 * caller's rights, but not under the caller's search_path
 */
static void
local_stats(char **numbers)
{
	MemoryContext caller = CurrentMemoryContext;
	ClusterSqlState state;
	int			i;

	cluster_sql_begin_as_caller(&state);
	if (cluster_sql_exec(CLUSTER_STATS_QUERY, 0, NULL, NULL,
						 SPI_OK_SELECT) != 1)
		elog(ERROR, "could not read memshard.stats");
	for (i = 0; i < CLUSTER_STATS_NUMBERS; i++)
	{
		char	   *value = SPI_getvalue(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, i + 1);

		numbers[i] = value ? MemoryContextStrdup(caller, value) : NULL;
	}
	cluster_sql_end(&state);
}

/* node, is_local, the numbers (NULL when error), error */
static void
put_stats_row(ReturnSetInfo *rsinfo, const char *node, bool is_local,
			  char **numbers, const char *error)
{
	Datum		values[CLUSTER_STATS_NUMBERS + 3];
	bool		nulls[CLUSTER_STATS_NUMBERS + 3] = {0};
	NameData	name;
	int			i;

	if (node != NULL)
	{
		namestrcpy(&name, node);
		values[0] = NameGetDatum(&name);
	}
	nulls[0] = (node == NULL);
	values[1] = BoolGetDatum(is_local);
	for (i = 0; i < CLUSTER_STATS_NUMBERS; i++)
	{
		nulls[i + 2] = (numbers == NULL || numbers[i] == NULL);
		if (!nulls[i + 2])
			values[i + 2] = DirectFunctionCall1(int8in,
												CStringGetDatum(numbers[i]));
	}
	nulls[CLUSTER_STATS_NUMBERS + 2] = (error == NULL);
	if (error != NULL)
		values[CLUSTER_STATS_NUMBERS + 2] = CStringGetTextDatum(error);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The peer_* functions: another node routes a call for a shard it believes
 * we hold.  The router refuses keys of shards we do not hold.  ttl_ms is the
 * coordinator's (the map's default already applied); mode 0, 1, 2 is set,
 * add, replace.
 */
Datum
memshard_peer_set(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	bytea	   *value;
	int32		mode;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	api_require_arg(fcinfo, 2, "value");
	value = PG_GETARG_BYTEA_PP(2);
	api_check_item_size(keylen, VARSIZE_ANY_EXHDR(value));
	api_require_arg(fcinfo, 4, "mode");
	mode = PG_GETARG_INT32(4);
	if (mode != STORE_SET && mode != STORE_ADD && mode != STORE_REPLACE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid set mode %d", mode)));
	PG_RETURN_BOOL(router_peer_set(api_map_arg(fcinfo, 0), key, keylen,
								   VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value),
								   ttl_ms_arg(fcinfo, 3), (StoreSetMode) mode));
}

Datum
memshard_peer_get(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	char	   *buf;
	int			vallen;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	buf = router_peer_get(api_map_arg(fcinfo, 0), key, keylen, VARHDRSZ, &vallen);
	if (buf == NULL)
		PG_RETURN_NULL();
	SET_VARSIZE(buf, VARHDRSZ + vallen);
	PG_RETURN_BYTEA_P((bytea *) buf);
}

/* peer_mget(map, keys) RETURNS SETOF bytea: one row per key, in order */
Datum
memshard_peer_mget(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VarlenaArrayArg keys;
	char	  **values;
	int		   *vallens;
	int			i;

	store_require_ready();
	api_key_array_arg(fcinfo, 1, &keys);
	values = palloc(sizeof(char *) * Max(keys.count, 1));
	vallens = palloc(sizeof(int) * Max(keys.count, 1));
	router_peer_mget(api_map_arg(fcinfo, 0), keys.count, keys.data, keys.lens,
					 VARHDRSZ, values, vallens);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (i = 0; i < keys.count; i++)
	{
		Datum		value = (Datum) 0;
		bool		isnull = (values[i] == NULL);

		if (!isnull)
		{
			SET_VARSIZE(values[i], VARHDRSZ + vallens[i]);
			value = PointerGetDatum(values[i]);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

Datum
memshard_peer_mset(PG_FUNCTION_ARGS)
{
	VarlenaArrayArg keys;
	VarlenaArrayArg values;

	store_require_ready();
	api_key_value_arrays(fcinfo, 1, 2, BYTEAOID, &keys, &values);
	PG_RETURN_INT32(router_peer_mset(api_map_arg(fcinfo, 0), keys.count,
									 keys.data, keys.lens, values.data,
									 values.lens, ttl_ms_arg(fcinfo, 3)));
}

Datum
memshard_peer_delete(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	PG_RETURN_BOOL(router_peer_delete(api_map_arg(fcinfo, 0), key, keylen));
}

Datum
memshard_peer_incr(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	api_require_arg(fcinfo, 2, "delta");
	PG_RETURN_INT64(router_peer_incr(api_map_arg(fcinfo, 0), key, keylen,
									 PG_GETARG_INT64(2), ttl_ms_arg(fcinfo, 3)));
}

Datum
memshard_peer_touch(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	PG_RETURN_BOOL(router_peer_touch(api_map_arg(fcinfo, 0), key, keylen,
									 ttl_ms_arg(fcinfo, 2)));
}

Datum
memshard_peer_flush(PG_FUNCTION_ARGS)
{
	store_require_ready();
	PG_RETURN_INT64(router_peer_flush(api_map_arg(fcinfo, 0)));
}
