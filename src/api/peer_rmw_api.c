/*-------------------------------------------------------------------------
 *
 * peer_rmw_api.c
 *		SQL entry points other nodes call for the Redis front end's commands
 *		on maps over nodes: memshard.peer_get_expiry, peer_write_if,
 *		peer_scan and peer_count.
 *
 * Granted to memshard_peer, not to PUBLIC, as the other peer_* (README,
 * "Permissions").  Argument checks and type conversion only; the work is
 * in src/router (router_peer_rmw.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "api/api_internal.h"
#include "router/router.h"
#include "store/store.h"

PG_FUNCTION_INFO_V1(memshard_peer_get_expiry);
PG_FUNCTION_INFO_V1(memshard_peer_write_if);
PG_FUNCTION_INFO_V1(memshard_peer_scan);
PG_FUNCTION_INFO_V1(memshard_peer_count);

static int *shards_arg(FunctionCallInfo fcinfo, int argno, int *n);
static void optional_bytea_arg(FunctionCallInfo fcinfo, int argno,
							   const char **data, int *len);

/*
 * peer_get_expiry(map, key, OUT value bytea, OUT expires_us bigint): times
 * are a timestamptz's value (microseconds since 2000), NULL for none
 */
Datum
memshard_peer_get_expiry(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2] = {0};
	bool		nulls[2] = {true, true};
	char	   *key;
	int			keylen;
	char	   *value;
	int			vallen;
	TimestampTz expires;

	store_require_ready();
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	api_key_arg(fcinfo, 1, &key, &keylen);
	value = router_peer_get_expiry(api_map_arg(fcinfo, 0), key, keylen,
								   &vallen, &expires);
	if (value != NULL)
	{
		/* a bytea: the same varlena layout as text */
		values[0] = PointerGetDatum(cstring_to_text_with_len(value, vallen));
		nulls[0] = false;
		if (expires != 0)
		{
			values[1] = Int64GetDatum((int64) expires);
			nulls[1] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc),
													  values, nulls)));
}

/*
 * peer_write_if(map, key, expect, expect_expires, value, expires): NULL
 * expect is "absent", NULL value "delete", NULL times "no expiry"
 */
Datum
memshard_peer_write_if(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	const char *expect;
	int			expectlen;
	const char *value;
	int			vallen;

	store_require_ready();
	api_key_arg(fcinfo, 1, &key, &keylen);
	optional_bytea_arg(fcinfo, 2, &expect, &expectlen);
	optional_bytea_arg(fcinfo, 4, &value, &vallen);
	if (value != NULL)
		api_check_item_size(keylen, vallen);
	PG_RETURN_BOOL(router_peer_write_if(api_map_arg(fcinfo, 0), key, keylen,
										expect, expectlen,
										PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3),
										value, Max(vallen, 0),
										PG_ARGISNULL(5) ? 0 : PG_GETARG_INT64(5)));
}

/* peer_scan(map, shards, cursor, count): keys, then a row with the cursor */
Datum
memshard_peer_scan(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			nshards;
	int		   *shards;
	int32		count = PG_GETARG_INT32(3);
	List	   *keys = NIL;
	uint64		cursor;
	ListCell   *lc;
	Datum		values[2];
	bool		nulls[2];

	store_require_ready();
	shards = shards_arg(fcinfo, 1, &nshards);
	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must be at least 1")));
	cursor = router_peer_scan_keys(api_map_arg(fcinfo, 0), shards, nshards,
								   (uint64) PG_GETARG_INT64(2), count, &keys);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	nulls[0] = false;
	nulls[1] = true;
	foreach(lc, keys)
	{
		values[0] = PointerGetDatum(lfirst(lc));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	nulls[0] = true;
	nulls[1] = false;
	values[1] = Int64GetDatum((int64) cursor);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

Datum
memshard_peer_count(PG_FUNCTION_ARGS)
{
	int			nshards;
	int		   *shards;

	store_require_ready();
	shards = shards_arg(fcinfo, 1, &nshards);
	PG_RETURN_INT64(router_peer_count_items(api_map_arg(fcinfo, 0), shards,
											nshards));
}

/* an int4[] of shard numbers, one-dimensional, without NULLs */
static int *
shards_arg(FunctionCallInfo fcinfo, int argno, int *n)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;
	int		   *shards;
	int			i;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("shards must be a one-dimensional array")));
	deconstruct_array(array, INT4OID, sizeof(int32), true, TYPALIGN_INT,
					  &elems, &nulls, n);
	shards = palloc(sizeof(int) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("shards must not contain nulls")));
		shards[i] = DatumGetInt32(elems[i]);
	}
	return shards;
}

/* a bytea argument that may be NULL (then *data NULL, *len -1) */
static void
optional_bytea_arg(FunctionCallInfo fcinfo, int argno, const char **data,
				   int *len)
{
	bytea	   *value;

	if (PG_ARGISNULL(argno))
	{
		*data = NULL;
		*len = -1;
		return;
	}
	value = PG_GETARG_BYTEA_PP(argno);
	*data = VARDATA_ANY(value);
	*len = VARSIZE_ANY_EXHDR(value);
}
