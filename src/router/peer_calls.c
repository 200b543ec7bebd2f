/*-------------------------------------------------------------------------
 *
 * peer_calls.c
 *		The calls a coordinator sends to the memshard.peer_* functions of
 *		other nodes, and the decoding of their answers.
 *
 * Parameters travel as text except values and key batches, which are
 * binary (bytea, text[], bytea[]); answers come back binary.  The SQL texts
 * are constants, so every connection prepares each of them once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "lib/stringinfo.h"
#include "port/pg_bswap.h"

#include "router/router.h"
#include "router/router_internal.h"

/* parameters of one remote call */
#define MAX_CALL_PARAMS 6
typedef struct CallParams
{
	int			count;
	Oid			types[MAX_CALL_PARAMS];
	const char *values[MAX_CALL_PARAMS];
	int			lengths[MAX_CALL_PARAMS];
	int			formats[MAX_CALL_PARAMS];
} CallParams;

static void call_add(RemoteFanout *fanout, const PlacementNode *node,
					 const char *sql, CallParams *params);
static CallParams *params_for_map(MapInfo *map);
static void param_text(CallParams *params, Oid type, const char *value);
static void param_int64(CallParams *params, Oid type, int64 value);
static void param_binary(CallParams *params, Oid type, const char *data,
						 int len);
static bool answer_bool(const RemoteCall *call);
static void param_optional(CallParams *params, Oid type, const char *data,
						   int len);
static void param_timestamp(CallParams *params, TimestampTz t);
static TimestampTz answer_timestamp(const RemoteCall *call, int field);

/* peer_set, peer_get, peer_delete, peer_incr or peer_touch of one key */
void
peer_call_key_op(RemoteFanout *fanout, const PlacementNode *node,
				 MapInfo *map, const KeyOp *op)
{
	CallParams *params = params_for_map(map);
	const char *sql = NULL;

	param_binary(params, TEXTOID, op->key, op->keylen);
	switch (op->kind)
	{
		case KEY_SET:
			param_binary(params, BYTEAOID, op->value, op->vallen);
			param_int64(params, INT8OID, op->ttl_ms);
			/* text of this database is bytes to another node */
			param_int64(params, INT4OID, (int64) STORE_MODE(op->mode));
			sql = "SELECT memshard.peer_set($1, $2, $3, $4, $5)";
			break;
		case KEY_GET:
			sql = "SELECT memshard.peer_get($1, $2)";
			break;
		case KEY_DELETE:
			sql = "SELECT memshard.peer_delete($1, $2)";
			break;
		case KEY_INCR:
			param_int64(params, INT8OID, op->delta);
			param_int64(params, INT8OID, op->ttl_ms);
			sql = "SELECT memshard.peer_incr($1, $2, $3, $4)";
			break;
		case KEY_TOUCH:
			param_int64(params, INT8OID, op->ttl_ms);
			sql = "SELECT memshard.peer_touch($1, $2, $3)";
			break;
		case KEY_GET_EXPIRY:
			sql = "SELECT * FROM memshard.peer_get_expiry($1, $2)";
			break;
		case KEY_WRITE_IF:
			/* NULL: expect the key absent, delete it, no expiry */
			param_optional(params, BYTEAOID, op->expect, op->expectlen);
			param_timestamp(params, op->expect_expires);
			param_optional(params, BYTEAOID, op->value,
						   op->value ? op->vallen : -1);
			param_timestamp(params, op->expires);
			sql = "SELECT memshard.peer_write_if($1, $2, $3, $4, $5, $6)";
			break;
	}
	call_add(fanout, node, sql, params);
}

/* peer_mget of the keys keys[which[0..n-1]]: one row per key, in order */
void
peer_call_mget(RemoteFanout *fanout, const PlacementNode *node, MapInfo *map,
			   char **keys, int *keylens, const int *which, int n)
{
	const char **batch = palloc(sizeof(char *) * n);
	int		   *batchlens = palloc(sizeof(int) * n);
	CallParams *params;
	char	   *array;
	int			size;
	int			k;

	for (k = 0; k < n; k++)
	{
		batch[k] = keys[which[k]];
		batchlens[k] = keylens[which[k]];
	}
	array = remote_binary_text_array(batch, batchlens, n, &size);
	params = params_for_map(map);
	param_binary(params, TEXTARRAYOID, array, size);
	call_add(fanout, node, "SELECT * FROM memshard.peer_mget($1, $2)", params);
}

/* peer_mset of the keys keys[which[0..n-1]] and their values */
void
peer_call_mset(RemoteFanout *fanout, const PlacementNode *node, MapInfo *map,
			   char **keys, int *keylens, char **values, int *vallens,
			   const int *which, int n, int64 ttl_ms)
{
	const char **kbatch = palloc(sizeof(char *) * n);
	const char **vbatch = palloc(sizeof(char *) * n);
	int		   *klens = palloc(sizeof(int) * n);
	int		   *vlens = palloc(sizeof(int) * n);
	CallParams *params;
	char	   *array;
	int			size;
	int			k;

	for (k = 0; k < n; k++)
	{
		int			i = which[k];

		kbatch[k] = keys[i];
		klens[k] = keylens[i];
		vbatch[k] = values[i];
		vlens[k] = vallens[i];
	}
	params = params_for_map(map);
	array = remote_binary_text_array(kbatch, klens, n, &size);
	param_binary(params, TEXTARRAYOID, array, size);
	array = remote_binary_bytea_array(vbatch, vlens, n, &size);
	param_binary(params, BYTEAARRAYOID, array, size);
	param_int64(params, INT8OID, ttl_ms);
	call_add(fanout, node, "SELECT memshard.peer_mset($1, $2, $3, $4)", params);
}

void
peer_call_flush(RemoteFanout *fanout, const PlacementNode *node, MapInfo *map)
{
	call_add(fanout, node, "SELECT memshard.peer_flush($1)",
			 params_for_map(map));
}

/*
 * peer_scan of the shards shards[0..nshards-1] from cursor on: one row per
 * key, then a last row (key NULL) with the cursor to go on from
 */
void
peer_call_scan(RemoteFanout *fanout, const PlacementNode *node, MapInfo *map,
			   const int *shards, int nshards, uint64 cursor, int count)
{
	CallParams *params = params_for_map(map);

	param_text(params, INT4ARRAYOID, peer_int_array_text(shards, nshards));
	param_int64(params, INT8OID, (int64) cursor);
	param_int64(params, INT4OID, count);
	call_add(fanout, node, "SELECT * FROM memshard.peer_scan($1, $2, $3, $4)",
			 params);
}

/* peer_count of the shards shards[0..nshards-1]: one bigint */
void
peer_call_count(RemoteFanout *fanout, const PlacementNode *node, MapInfo *map,
				const int *shards, int nshards)
{
	CallParams *params = params_for_map(map);

	param_text(params, INT4ARRAYOID, peer_int_array_text(shards, nshards));
	call_add(fanout, node, "SELECT memshard.peer_count($1, $2)", params);
}

/* the answer of a key_op call (one row, one column; get_expiry two) */
void
peer_answer_key_op(const KeyOp *op, const RemoteCall *call, KeyAnswer *answer)
{
	const RemoteResult *result = call->result;

	memset(answer, 0, sizeof(KeyAnswer));
	if (result->ntuples != 1 ||
		result->nfields != (op->kind == KEY_GET_EXPIRY ? 2 : 1))
		elog(ERROR, "unexpected answer from a node: %d rows of %d columns",
			 result->ntuples, result->nfields);
	switch (op->kind)
	{
		case KEY_GET_EXPIRY:
			answer->value = peer_answer_value(call, 0, 0, &answer->vallen);
			answer->expires = answer_timestamp(call, 1);
			break;
		case KEY_GET:
			answer->value = peer_answer_value(call, 0, op->prefix,
											  &answer->vallen);
			break;
		case KEY_INCR:
			answer->number = peer_answer_int64(call);
			break;
		default:
			answer->flag = answer_bool(call);
			break;
	}
}

/*
 * The value in the first column of a row, as router_get returns it (prefix
 * bytes, then the value), or NULL with *vallen 0 for SQL NULL (a miss).
 */
char *
peer_answer_value(const RemoteCall *call, int row, Size prefix, int *vallen)
{
	const RemoteResult *result = call->result;
	const char *data = result->values[row * result->nfields];
	char	   *buf;

	*vallen = 0;
	if (data == NULL)
		return NULL;
	*vallen = result->lengths[row * result->nfields];
	buf = palloc(prefix + *vallen);
	memcpy(buf + prefix, data, *vallen);
	return buf;
}

/* a bigint answer (one row), in binary */
int64
peer_answer_int64(const RemoteCall *call)
{
	uint64		value;

	if (call->result->ntuples != 1 || call->result->values[0] == NULL ||
		call->result->lengths[0] != sizeof(uint64))
		elog(ERROR, "unexpected answer from a node");
	memcpy(&value, call->result->values[0], sizeof(uint64));
	return (int64) pg_ntoh64(value);
}

static bool
answer_bool(const RemoteCall *call)
{
	const char *value = call->result->values[0];

	return value != NULL && value[0] != 0;
}

/* the call, binary and prepared, of a node whose server must exist here */
static void
call_add(RemoteFanout *fanout, const PlacementNode *node, const char *sql,
		 CallParams *params)
{
	RemoteCall *call;

	if (!OidIsValid(node->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", NameStr(node->server)),
				 errhint("Every node needs the same CREATE SERVER and CREATE USER MAPPING statements.")));
	call = remote_fanout_add(fanout, node, node->serverid, sql);
	call->nparams = params->count;
	call->paramtypes = params->types;
	call->paramvalues = params->values;
	call->paramlengths = params->lengths;
	call->paramformats = params->formats;
	call->binary_result = true;
	call->prepare = true;		/* our SQL texts are constants */
}

/* every peer_* function takes the map's name first */
static CallParams *
params_for_map(MapInfo *map)
{
	CallParams *params = palloc0(sizeof(CallParams));

	param_text(params, TEXTOID, map->name);
	return params;
}

static void
param_text(CallParams *params, Oid type, const char *value)
{
	int			i = params->count++;

	Assert(i < MAX_CALL_PARAMS);
	params->types[i] = type;
	params->values[i] = value;
	params->lengths[i] = 0;
	params->formats[i] = 0;
}

static void
param_int64(CallParams *params, Oid type, int64 value)
{
	param_text(params, type, psprintf(INT64_FORMAT, value));
}

/* a binary parameter: the type's send format (text's is its bytes) */
static void
param_binary(CallParams *params, Oid type, const char *data, int len)
{
	int			i = params->count++;

	Assert(i < MAX_CALL_PARAMS);
	params->types[i] = type;
	params->values[i] = data;
	params->lengths[i] = len;
	params->formats[i] = 1;
}

/* a binary parameter that is SQL NULL when len < 0 */
static void
param_optional(CallParams *params, Oid type, const char *data, int len)
{
	if (len < 0)
	{
		param_text(params, type, NULL);
		return;
	}
	param_binary(params, type, data ? data : "", len);
}

/* a time as a bigint, a timestamptz's value (microseconds); 0: NULL */
static void
param_timestamp(CallParams *params, TimestampTz t)
{
	if (t == 0)
	{
		param_text(params, INT8OID, NULL);
		return;
	}
	param_int64(params, INT8OID, (int64) t);
}

/* a time column of the first row (bigint, binary); NULL is 0 (none) */
static TimestampTz
answer_timestamp(const RemoteCall *call, int field)
{
	const RemoteResult *result = call->result;
	uint64		value;

	if (result->values[field] == NULL)
		return 0;
	if (result->lengths[field] != sizeof(uint64))
		elog(ERROR, "unexpected answer from a node");
	memcpy(&value, result->values[field], sizeof(uint64));
	return (TimestampTz) pg_ntoh64(value);
}

/* an int4[] in text form, "{1,2,3}" */
char *
peer_int_array_text(const int *values, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, i ? ",%d" : "%d", values[i]);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}
