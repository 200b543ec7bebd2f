/*-------------------------------------------------------------------------
 *
 * resp_clients_api.c
 *		memshard.read_resp_clients(), behind the view memshard.resp_clients:
 *		the clients of this instance's RESP workers.
 *
 * For pg_monitor and superusers (the view and the function are revoked
 * from PUBLIC): a client's address, name and role are not everyone's to
 * see.  The rows are a copy of the workers' slots in shared memory
 * (src/resp/resp_clients.c), each one consistent, taken without a lock.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "resp/resp.h"

PG_FUNCTION_INFO_V1(memshard_read_resp_clients);

#define NCOLS 11

static Datum text_or_null(const char *s, bool *isnull);

Datum
memshard_read_resp_clients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RespClientInfo *clients;
	TimestampTz now = GetCurrentTimestamp();
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = resp_clients_read(&clients);
	for (i = 0; i < n; i++)
	{
		RespClientInfo *c = &clients[i];
		Datum		values[NCOLS];
		bool		nulls[NCOLS] = {0};

		values[0] = Int32GetDatum(c->worker);
		values[1] = Int64GetDatum((int64) c->id);
		values[2] = CStringGetTextDatum(c->addr);
		values[3] = text_or_null(c->name, &nulls[3]);
		values[4] = text_or_null(c->role, &nulls[4]);
		values[5] = Int32GetDatum(c->db);
		values[6] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(now),
										TimestampTzGetDatum(c->connected));
		values[7] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(now),
										TimestampTzGetDatum(c->last_active));
		values[8] = text_or_null(c->last_command, &nulls[8]);
		values[9] = Int64GetDatum(c->query_buffer);
		values[10] = Int64GetDatum(c->output_buffer);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* an empty string is NULL */
static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = (s[0] == '\0');
	return *isnull ? (Datum) 0 : CStringGetTextDatum(s);
}
