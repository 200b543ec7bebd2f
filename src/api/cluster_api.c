/*-------------------------------------------------------------------------
 *
 * cluster_api.c
 *		SQL entry points of the cluster's administration: the FDW
 *		validator, add_node, remove_node, recover_metadata, the nodes view,
 *		connections, disconnect, shard_for, node_for, cluster_stats.
 *
 * The functions other nodes call (peer_*) are in peer_api.c.
 *
 * Argument checks and type conversion only; the work is in src/cluster and
 * src/remote.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_authid_d.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api_internal.h"
#include "cluster/cluster.h"
#include "remote/remote.h"
#include "router/router.h"

PG_FUNCTION_INFO_V1(memshard_fdw_validator);
PG_FUNCTION_INFO_V1(memshard_add_node);
PG_FUNCTION_INFO_V1(memshard_remove_node);
PG_FUNCTION_INFO_V1(memshard_nodes);
PG_FUNCTION_INFO_V1(memshard_recover_metadata);
PG_FUNCTION_INFO_V1(memshard_disconnect);
PG_FUNCTION_INFO_V1(memshard_connections);
PG_FUNCTION_INFO_V1(memshard_shard_for);
PG_FUNCTION_INFO_V1(memshard_node_for);
PG_FUNCTION_INFO_V1(memshard_cluster_stats);

/* the columns of memshard.stats that cluster_stats gathers, in order */
#define CLUSTER_STATS_QUERY \
	"SELECT memory_budget, memory_used, items, hits, misses, sets, deletes, " \
	"evictions, expirations FROM memshard.stats"
#define CLUSTER_STATS_NUMBERS 9

static char *server_option(Oid serverid, const char *name);
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
		else if (health.unreachable && !cluster_node_is_failed(node))
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
	RemoteFanout *fanout = remote_fanout_create(list_length(nodes));
	char	   *numbers[CLUSTER_STATS_NUMBERS];
	ListCell   *lc;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	if (nodes == NIL)
	{
		local_stats(numbers);
		put_stats_row(rsinfo, NULL, true, numbers, NULL);
		return (Datum) 0;
	}

	/* one entry per node, in order; this node and a missing server answer here */
	foreach(lc, nodes)
	{
		ClusterNode *node = lfirst(lc);

		if (node->is_local || !OidIsValid(node->serverid))
			remote_fanout_skip(fanout, node);
		else
			(void) remote_fanout_add(fanout, node, node->serverid,
									 CLUSTER_STATS_QUERY);
	}
	remote_fanout_run(fanout);

	for (i = 0; i < fanout->ncalls; i++)
	{
		const ClusterNode *node = fanout->calls[i].node;
		const RemoteCall *call = &fanout->calls[i].call;
		int			j;

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
		for (j = 0; j < CLUSTER_STATS_NUMBERS; j++)
			numbers[j] = call->result->values[j];
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
