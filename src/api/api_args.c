/*-------------------------------------------------------------------------
 *
 * api_args.c
 *		Argument checks shared by the SQL entry points of src/api.
 *
 * Our functions are not STRICT: a NULL where a value is needed is an
 * ERROR, not a silent NULL result.  Sizes are checked before anything is
 * done, so that bad input leaves the cache as it was.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "api/api.h"
#include "api/api_internal.h"
#include "pg_memshard.h"
#include "store/store.h"

/* ERROR 22004 if argument argno is NULL; 'what' names it in the message */
void
api_require_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
}

/* a one-dimensional text[] or bytea[] argument without NULLs */
void
api_array_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype,
			  const char *what, VarlenaArrayArg *arg)
{
	ArrayType  *array;
	bool	   *nulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	api_require_arg(fcinfo, argno, what);
	array = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  &arg->elems, &nulls, &arg->count);
	arg->data = palloc(sizeof(char *) * Max(arg->count, 1));
	arg->lens = palloc(sizeof(int) * Max(arg->count, 1));
	for (i = 0; i < arg->count; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain nulls", what),
					 errdetail("Element %d is null.", i + 1)));
		arg->data[i] = VARDATA_ANY(arg->elems[i]);
		arg->lens[i] = VARSIZE_ANY_EXHDR(arg->elems[i]);
	}
}

void
api_check_key_size(int keylen)
{
	if (keylen > MEMSHARD_MAX_KEY_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key is too long"),
				 errdetail("The key is %d bytes; the limit is %d bytes.",
						   keylen, MEMSHARD_MAX_KEY_SIZE)));
}

void
api_check_item_size(int keylen, int vallen)
{
	int64		size = (int64) keylen + vallen;

	if (size > store_max_item_size())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("item is too large"),
				 errdetail("Key and value are " INT64_FORMAT " bytes; pg_memshard.max_item_size is %d bytes.",
						   size, store_max_item_size())));
}

/*
 * A call site's map, kept in fn_extra: a data function called for many rows
 * of one statement resolves its map once.  Valid while the map cache's
 * generation is the one it was found under (any invalidation, rebuild or
 * reload of the cache moves it on) and the argument names the same map.
 */
typedef struct MapCallSite
{
	uint64		generation;
	MapInfo    *map;
	int			namelen;
	char		name[NAMEDATALEN];
} MapCallSite;

/*
 * the map named by a text argument (ERROR 42704 if unknown); every caller
 * uses the SQL objects, so their version is checked first (cached)
 */
MapInfo *
api_map_arg(FunctionCallInfo fcinfo, int argno)
{
	MapCallSite *site = fcinfo->flinfo->fn_extra;
	text	   *name;
	const char *bytes;
	int			len;
	MapInfo    *map;

	ext_version_check();
	api_require_arg(fcinfo, argno, "map name");
	name = PG_GETARG_TEXT_PP(argno);
	bytes = VARDATA_ANY(name);
	len = VARSIZE_ANY_EXHDR(name);
	if (site != NULL && site->generation == router_map_cache_generation() &&
		site->namelen == len && memcmp(site->name, bytes, len) == 0)
		return site->map;

	map = router_lookup_map(bytes, len);
	if (site == NULL)
	{
		site = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(MapCallSite));
		fcinfo->flinfo->fn_extra = site;
	}
	/* the lookup may have rebuilt the cache: take the generation after it */
	site->generation = router_map_cache_generation();
	site->map = map;
	site->namelen = len;		/* a known map's name fits NAMEDATALEN */
	memcpy(site->name, bytes, len);
	return map;
}

/* a key: its bytes, not NUL-terminated, at most MEMSHARD_MAX_KEY_SIZE */
void
api_key_arg(FunctionCallInfo fcinfo, int argno, char **key, int *keylen)
{
	text	   *keytext;

	api_require_arg(fcinfo, argno, "key");
	keytext = PG_GETARG_TEXT_PP(argno);
	*key = VARDATA_ANY(keytext);
	*keylen = VARSIZE_ANY_EXHDR(keytext);
	api_check_key_size(*keylen);
}

/* a text[] of keys, each checked */
void
api_key_array_arg(FunctionCallInfo fcinfo, int argno, VarlenaArrayArg *keys)
{
	int			i;

	api_array_arg(fcinfo, argno, TEXTOID, "keys", keys);
	for (i = 0; i < keys->count; i++)
		api_check_key_size(keys->lens[i]);
}

/* keys and their values (text[] or bytea[]), as many of each, checked */
void
api_key_value_arrays(FunctionCallInfo fcinfo, int keys_argno,
					 int values_argno, Oid value_type,
					 VarlenaArrayArg *keys, VarlenaArrayArg *values)
{
	int			i;

	api_key_array_arg(fcinfo, keys_argno, keys);
	api_array_arg(fcinfo, values_argno, value_type, "values", values);
	if (keys->count != values->count)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys and values must have the same number of elements"),
				 errdetail("There are %d keys and %d values.",
						   keys->count, values->count)));
	for (i = 0; i < keys->count; i++)
		api_check_item_size(keys->lens[i], values->lens[i]);
}
