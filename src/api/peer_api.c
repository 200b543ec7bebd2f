/*-------------------------------------------------------------------------
 *
 * peer_api.c
 *		SQL entry points that other nodes call (memshard.peer_*): who this
 *		node is, the metadata a coordinator sends, and the data calls for
 *		the shards this node holds.
 *
 * They are granted to memshard_peer (README, "Permissions"), not to
 * PUBLIC.  Argument checks and type conversion only; the work is in
 * src/router (router_peer.c) and src/cluster.  The outcome of a metadata
 * change (peer_metadata_outcome) is with the rest of the recovery, in
 * recovery_api.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "api/api.h"
#include "api/api_internal.h"
#include "cluster/cluster.h"
#include "router/router.h"
#include "store/store.h"

PG_FUNCTION_INFO_V1(memshard_peer_identity);
PG_FUNCTION_INFO_V1(memshard_peer_metadata_apply);
PG_FUNCTION_INFO_V1(memshard_peer_set);
PG_FUNCTION_INFO_V1(memshard_peer_get);
PG_FUNCTION_INFO_V1(memshard_peer_mget);
PG_FUNCTION_INFO_V1(memshard_peer_mset);
PG_FUNCTION_INFO_V1(memshard_peer_delete);
PG_FUNCTION_INFO_V1(memshard_peer_incr);
PG_FUNCTION_INFO_V1(memshard_peer_touch);
PG_FUNCTION_INFO_V1(memshard_peer_flush);

static int64 ttl_ms_arg(FunctionCallInfo fcinfo, int argno);

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

	ext_version_check();
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
