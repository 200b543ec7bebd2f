/*-------------------------------------------------------------------------
 *
 * cluster_api.c
 *		SQL entry points of the cluster: the FDW validator, add_node,
 *		remove_node, the nodes view, and the functions other nodes call
 *		(peer_*).
 *
 * Argument checks and type conversion only; the work is in src/cluster and
 * src/remote.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "remote/remote.h"

PG_FUNCTION_INFO_V1(memshard_fdw_validator);
PG_FUNCTION_INFO_V1(memshard_add_node);
PG_FUNCTION_INFO_V1(memshard_remove_node);
PG_FUNCTION_INFO_V1(memshard_nodes);
PG_FUNCTION_INFO_V1(memshard_peer_identity);
PG_FUNCTION_INFO_V1(memshard_peer_metadata_apply);
PG_FUNCTION_INFO_V1(memshard_recover_metadata);
PG_FUNCTION_INFO_V1(memshard_disconnect);

static char *server_option(Oid serverid, const char *name);
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
 * come from the server's options, dbname is what the node reported.
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
		values[7] = health.error_time ? CStringGetTextDatum(health.error) : (Datum) 0;
		nulls[7] = (health.error_time == 0);
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
	PG_RETURN_INT32(cluster_recover());
}

/* close this session's idle connections to nodes */
Datum
memshard_disconnect(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(remote_disconnect_all());
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
