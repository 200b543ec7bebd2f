/*-------------------------------------------------------------------------
 *
 * data_api.c
 *		SQL entry points of the data functions: set, add, replace, get,
 *		get_bytea, mget, mset, delete, incr, touch, flush.
 *
 * The functions are not STRICT, so that a NULL map, key or value is an
 * ERROR (22004) rather than a silent NULL.  Every argument is checked here,
 * all of them before the first call into the router, so that bad input
 * leaves the cache exactly as it was.  A NULL ttl means the map's default
 * ttl (none if the map has no default).
 *
 * text and bytea values share one representation (a varlena of bytes), so
 * the text and bytea variants of set/add/replace share one C function.
 * get returns the stored bytes as text after checking that they are valid
 * in the database encoding (a value set as bytea may not be), unless the
 * local store says the value was set as text (STORE_AS_TEXT: set, add and
 * replace of a text value mark it so; items belong to one database, whose
 * encoding never changes); mget asks the same of each value.  Values from
 * other nodes are checked.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/api_internal.h"
#include "pg_memshard.h"
#include "router/router.h"

PG_FUNCTION_INFO_V1(memshard_set);
PG_FUNCTION_INFO_V1(memshard_add);
PG_FUNCTION_INFO_V1(memshard_replace);
PG_FUNCTION_INFO_V1(memshard_get);
PG_FUNCTION_INFO_V1(memshard_get_bytea);
PG_FUNCTION_INFO_V1(memshard_mget);
PG_FUNCTION_INFO_V1(memshard_mset);
PG_FUNCTION_INFO_V1(memshard_delete);
PG_FUNCTION_INFO_V1(memshard_incr);
PG_FUNCTION_INFO_V1(memshard_touch);
PG_FUNCTION_INFO_V1(memshard_flush);

/* the positions of the arguments every data function starts with */
#define ARG_MAP		0
#define ARG_KEY		1

static int64 ttl_arg(FunctionCallInfo fcinfo, int argno, MapInfo *map);
static void check_value_encoding(FunctionCallInfo fcinfo, const char *value,
								 int vallen, const char *key, int keylen);
static Datum store_item(FunctionCallInfo fcinfo, StoreSetMode mode);
static Datum fetch_value(FunctionCallInfo fcinfo, bool as_text);

/* a ttl argument in milliseconds: NULL is the map's default */
static int64
ttl_arg(FunctionCallInfo fcinfo, int argno, MapInfo *map)
{
	if (PG_ARGISNULL(argno))
		return map->default_ttl_ms;
	return ttl_interval_to_ms(PG_GETARG_INTERVAL_P(argno));
}

/*
 * ERROR 22021 unless the value is valid text in the database encoding.
 * Called after routing, which may have reloaded the map cache: the map is
 * named by the call's own argument (the name it was found by), never by a
 * MapInfo, and only when there is an error to report.
 */
static void
check_value_encoding(FunctionCallInfo fcinfo, const char *value, int vallen,
					 const char *key, int keylen)
{
	if (!pg_verifymbstr(value, vallen, true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("value of key \"%s\" in map \"%s\" is not valid in encoding \"%s\"",
						pnstrdup(key, keylen),
						text_to_cstring(PG_GETARG_TEXT_PP(ARG_MAP)),
						GetDatabaseEncodingName()),
				 errhint("Read binary values with memshard.get_bytea().")));
}

/* set, add and replace, with a text or a bytea value */
static Datum
store_item(FunctionCallInfo fcinfo, StoreSetMode mode)
{
	char	   *key;
	int			keylen;
	struct varlena *value;
	MapInfo    *map;
	int64		ttl_ms;

	store_require_ready();
	api_key_arg(fcinfo, ARG_KEY, &key, &keylen);
	api_require_arg(fcinfo, 2, "value");
	value = PG_GETARG_VARLENA_PP(2);
	api_check_item_size(keylen, VARSIZE_ANY_EXHDR(value));
	map = api_map_arg(fcinfo, ARG_MAP);
	ttl_ms = ttl_arg(fcinfo, 3, map);
	/* a text argument is valid in the database encoding already */
	if (get_fn_expr_argtype(fcinfo->flinfo, 2) == TEXTOID)
		mode |= STORE_AS_TEXT;

	PG_RETURN_BOOL(router_set(map, key, keylen, VARDATA_ANY(value),
							  VARSIZE_ANY_EXHDR(value), ttl_ms, mode));
}

Datum
memshard_set(PG_FUNCTION_ARGS)
{
	return store_item(fcinfo, STORE_SET);
}

Datum
memshard_add(PG_FUNCTION_ARGS)
{
	return store_item(fcinfo, STORE_ADD);
}

Datum
memshard_replace(PG_FUNCTION_ARGS)
{
	return store_item(fcinfo, STORE_REPLACE);
}

/*
 * get and get_bytea.  The store copies the value into a buffer with room
 * for the varlena header in front, so the result needs no second copy.
 */
static Datum
fetch_value(FunctionCallInfo fcinfo, bool as_text)
{
	char	   *key;
	int			keylen;
	MapInfo    *map;
	char	   *buf;
	int			vallen;

	store_require_ready();
	api_key_arg(fcinfo, ARG_KEY, &key, &keylen);
	map = api_map_arg(fcinfo, ARG_MAP);
	(void) store_take_last_get_text();
	buf = router_get(map, key, keylen, VARHDRSZ, &vallen);
	/* 'map' may be freed from here on */
	if (buf == NULL)
		PG_RETURN_NULL();
	if (as_text && !store_take_last_get_text())
		check_value_encoding(fcinfo, buf + VARHDRSZ, vallen, key, keylen);
	SET_VARSIZE(buf, VARHDRSZ + vallen);
	PG_RETURN_POINTER(buf);
}

Datum
memshard_get(PG_FUNCTION_ARGS)
{
	return fetch_value(fcinfo, true);
}

Datum
memshard_get_bytea(PG_FUNCTION_ARGS)
{
	return fetch_value(fcinfo, false);
}

/* mget(map, keys): one row (key, value) per requested key, in order */
Datum
memshard_mget(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	VarlenaArrayArg keys;
	MapInfo    *map;
	char	  **values;
	int		   *vallens;
	bool	   *texts;
	int			i;

	store_require_ready();
	api_key_array_arg(fcinfo, 1, &keys);
	map = api_map_arg(fcinfo, ARG_MAP);

	InitMaterializedSRF(fcinfo, 0);
	values = palloc(sizeof(char *) * Max(keys.count, 1));
	vallens = palloc(sizeof(int) * Max(keys.count, 1));
	texts = palloc(sizeof(bool) * Max(keys.count, 1));
	router_mget(map, keys.count, keys.data, keys.lens, VARHDRSZ,
				values, vallens, texts);
	/* 'map' may be freed from here on */

	for (i = 0; i < keys.count; i++)
	{
		Datum		row[2];
		bool		nulls[2] = {false, values[i] == NULL};

		row[0] = keys.elems[i];
		row[1] = (Datum) 0;
		if (values[i] != NULL)
		{
			if (!texts[i])
				check_value_encoding(fcinfo, values[i] + VARHDRSZ, vallens[i],
									 keys.data[i], keys.lens[i]);
			SET_VARSIZE(values[i], VARHDRSZ + vallens[i]);
			row[1] = PointerGetDatum(values[i]);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}

/* mset(map, keys, values, ttl): the number of items stored */
Datum
memshard_mset(PG_FUNCTION_ARGS)
{
	VarlenaArrayArg keys;
	VarlenaArrayArg values;
	MapInfo    *map;
	int64		ttl_ms;

	store_require_ready();
	api_key_value_arrays(fcinfo, 1, 2, TEXTOID, &keys, &values);
	map = api_map_arg(fcinfo, ARG_MAP);
	ttl_ms = ttl_arg(fcinfo, 3, map);

	PG_RETURN_INT32(router_mset(map, keys.count, keys.data, keys.lens,
								values.data, values.lens, ttl_ms));
}

Datum
memshard_delete(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	MapInfo    *map;

	store_require_ready();
	api_key_arg(fcinfo, ARG_KEY, &key, &keylen);
	map = api_map_arg(fcinfo, ARG_MAP);
	PG_RETURN_BOOL(router_delete(map, key, keylen));
}

/* incr(map, key, delta, ttl): the new value of the counter */
Datum
memshard_incr(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	MapInfo    *map;
	int64		ttl_ms;

	store_require_ready();
	api_key_arg(fcinfo, ARG_KEY, &key, &keylen);
	api_require_arg(fcinfo, 2, "delta");
	map = api_map_arg(fcinfo, ARG_MAP);
	ttl_ms = ttl_arg(fcinfo, 3, map);
	PG_RETURN_INT64(router_incr(map, key, keylen, PG_GETARG_INT64(2), ttl_ms));
}

/* touch(map, key, ttl): a new expiry for an existing item */
Datum
memshard_touch(PG_FUNCTION_ARGS)
{
	char	   *key;
	int			keylen;
	MapInfo    *map;
	int64		ttl_ms;

	store_require_ready();
	api_key_arg(fcinfo, ARG_KEY, &key, &keylen);
	map = api_map_arg(fcinfo, ARG_MAP);
	ttl_ms = ttl_arg(fcinfo, 2, map);
	PG_RETURN_BOOL(router_touch(map, key, keylen, ttl_ms));
}

/* flush(map): removes every item of the map, returns how many */
Datum
memshard_flush(PG_FUNCTION_ARGS)
{
	store_require_ready();
	PG_RETURN_INT64(router_flush(api_map_arg(fcinfo, ARG_MAP)));
}
