/*-------------------------------------------------------------------------
 *
 * call.c
 *		One call to a node, step by step, never blocking: what fanout.c
 *		drives for each of the calls it runs at once.
 *
 * Each call goes through the same steps on its own connection: connect
 * (PQconnectStartParams + PQconnectPoll), set up the session once
 * (search_path, statement_timeout), prepare the statement once per
 * connection if the caller asks (PQsendPrepare), send it
 * (PQsendQueryParams or PQsendQueryPrepared, non-blocking), read the answer
 * (PQconsumeInput, PQisBusy, PQgetResult).  Each step does what it can
 * without waiting and leaves the call in a phase (CallState) that says
 * what it waits for; fanout.c waits and calls call_advance when the socket
 * is ready, call_timed_out when the deadline passed.
 *
 * A call that misses its deadline, or whose connection breaks, fails with
 * a class-08 error naming the node and its connection is closed; the node
 * is remembered as unreachable (health.c).  An ERROR raised by the node
 * comes back with the node's SQLSTATE and its message prefixed by the
 * node's name; the connection stays usable.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <poll.h>

#include "access/xact.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "remote/remote_internal.h"

/* how send_statement sends */
typedef enum SendKind
{
	SEND_SIMPLE,				/* PQsendQuery, no parameters */
	SEND_PARAMS,				/* PQsendQueryParams */
	SEND_PREPARE,				/* PQsendPrepare, named after the slot */
	SEND_PREPARED				/* PQsendQueryPrepared */
} SendKind;

static void call_connect(CallState *st);
static bool idle_connection_alive(PGconn *conn);
static void session_ready(CallState *st);
static void start_statement(CallState *st);
static void send_statement(CallState *st, SendKind kind, const char *sql);
static void advance_connect(CallState *st);
static void statement_done(CallState *st);
static void call_succeeded(CallState *st, PGresult *res);
static void call_failed_remotely(CallState *st, PGresult *res);
static void call_unreachable(CallState *st, int sqlstate, const char *message,
							 const char *detail);
static void call_failed(CallState *st, RemoteError *error, bool unreachable);
static RemoteResult *copy_result(PGresult *res);
static char *copy_field(PGresult *res, int field);
static void ignore_notice(void *arg, const char *message);

/*
 * First step of a call: find its connection, make one if needed, and send
 * what can be sent now.
 */
void
call_begin(CallState *st)
{
	RemoteCall *call = st->call;
	ConnEntry  *entry;

	/* a pinned session is looked up without the catalogs (end of xact) */
	if (call->session == REMOTE_PINNED)
	{
		entry = conn_pinned_entry(call->serverid);
		if (entry == NULL)
		{
			/* name the node, where the catalogs may be read */
			call->error = remote_error(ERRCODE_CONNECTION_FAILURE,
									   IsTransactionState()
									   ? psprintf("lost connection to node \"%s\" during a metadata change",
												  GetForeignServer(call->serverid)->servername)
									   : "lost connection to a node during a metadata change",
									   NULL, NULL);
			return;
		}
	}
	else
	{
		RemoteError *error = NULL;

		entry = conn_entry_for(call->serverid, &error);
		if (entry == NULL)
		{
			call->error = error;
			return;
		}
	}

	if (entry->in_use)
		elog(ERROR, "two calls to node \"%s\" in one batch",
			 NameStr(entry->servername));
	st->entry = entry;

	entry->in_use = true;
	if (entry->conn != NULL && !entry->pinned &&
		!idle_connection_alive(entry->conn))
		conn_drop(entry);		/* the node closed it: restarted, say */
	entry->in_use = true;

	if (entry->conn == NULL)
		call_connect(st);
	else
	{
		st->fresh = false;
		session_ready(st);
	}
}

static void
call_connect(CallState *st)
{
	RemoteError *error = conn_start(st->entry);

	st->fresh = true;
	st->phase = PHASE_CONNECTING;
	if (error != NULL)
	{
		call_failed(st, error, remote_error_is_unreachable(error));
		return;
	}
	/* libpq's documented first step: wait until the socket is writable */
	st->poll = PGRES_POLLING_WRITING;
	st->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   memshard_connect_timeout_ms);
}

/*
 * An idle connection has nothing to read.  If its socket is readable or
 * closed, the node has hung up (restart, shutdown, idle timeout) and sent
 * its reason: reconnect rather than fail the call.
 */
static bool
idle_connection_alive(PGconn *conn)
{
	struct pollfd pfd;

	if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0)
		return false;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* connected: send the session settings if needed, then the statement */
static void
session_ready(CallState *st)
{
	ConnEntry  *entry = st->entry;

	st->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   memshard_remote_timeout_ms);
	if (entry->timeout_sent != memshard_remote_timeout_ms ||
		entry->epoch_sent != remote_peer_epoch)
	{
		/*
		 * The remote statement_timeout ends work we no longer wait for.  It
		 * is a little longer than ours, so that a slow node is reported as
		 * such (08006) rather than by its own timeout; search_path guards
		 * our schema-qualified calls; peer_epoch is our metadata epoch, by
		 * which a node left behind knows it is (fencing).
		 */
		int64		remote_ms = (int64) memshard_remote_timeout_ms +
			Max(memshard_remote_timeout_ms / 10, 100);
		char	   *sql = psprintf("%sSET statement_timeout = %d; "
								   "SET pg_memshard.peer_epoch = " INT64_FORMAT,
								   entry->timeout_sent == -1
								   ? "SET search_path = pg_catalog, pg_temp; " : "",
								   (int) Min(remote_ms, INT_MAX),
								   Min(remote_peer_epoch, (int64) INT_MAX));

		st->phase = PHASE_SETUP;
		send_statement(st, SEND_SIMPLE, sql);
	}
	else
		start_statement(st);
}

/*
 * Send the call's statement: by name if it is prepared on this connection,
 * else prepare it first when the caller asked and there is room.
 */
static void
start_statement(CallState *st)
{
	ConnEntry  *entry = st->entry;
	RemoteCall *call = st->call;
	int			i;

	if (call->prepare)
	{
		for (i = 0; i < entry->nprepared; i++)
		{
			if (entry->prepared[i] == call->sql)
			{
				st->phase = PHASE_QUERY;
				send_statement(st, SEND_PREPARED, psprintf("memshard_%d", i));
				return;
			}
		}
		if (entry->nprepared < REMOTE_MAX_PREPARED)
		{
			st->phase = PHASE_PREPARE;
			send_statement(st, SEND_PREPARE,
						   psprintf("memshard_%d", entry->nprepared));
			return;
		}
	}
	st->phase = PHASE_QUERY;
	send_statement(st, SEND_PARAMS, call->sql);
}

/* sql is the statement's text, or its name for SEND_PREPARE(D) */
static void
send_statement(CallState *st, SendKind kind, const char *sql)
{
	RemoteCall *call = st->call;
	PGconn	   *conn = st->entry->conn;
	int			sent = 0;
	int			flushed;

	switch (kind)
	{
		case SEND_SIMPLE:
			sent = PQsendQuery(conn, sql);
			break;
		case SEND_PARAMS:
			sent = PQsendQueryParams(conn, sql, call->nparams,
									 call->paramtypes, call->paramvalues,
									 call->paramlengths, call->paramformats,
									 call->binary_result ? 1 : 0);
			break;
		case SEND_PREPARE:
			sent = PQsendPrepare(conn, sql, call->sql, call->nparams,
								 call->paramtypes);
			break;
		case SEND_PREPARED:
			sent = PQsendQueryPrepared(conn, sql, call->nparams,
									   call->paramvalues, call->paramlengths,
									   call->paramformats,
									   call->binary_result ? 1 : 0);
			break;
	}

	if (!sent && !st->fresh && st->call->session != REMOTE_PINNED)
	{
		/*
		 * A cached connection that broke while idle: one fresh try.  Not in
		 * a pinned session, whose remote transaction a new one would lose.
		 */
		conn_drop(st->entry);
		st->entry->in_use = true;
		call_connect(st);
		return;
	}
	if (!sent)
	{
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("lost connection to node \"%s\"",
								  NameStr(st->entry->servername)),
						 pchomp(PQerrorMessage(conn)));
		return;
	}

	flushed = PQflush(conn);
	if (flushed < 0)
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("lost connection to node \"%s\"",
								  NameStr(st->entry->servername)),
						 pchomp(PQerrorMessage(conn)));
	else
		st->flushing = (flushed == 1);
}

/* the call's deadline passed: it fails as unreachable */
void
call_timed_out(CallState *st)
{
	if (st->phase == PHASE_CONNECTING)
		call_unreachable(st, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						 psprintf("could not connect to node \"%s\"",
								  NameStr(st->entry->servername)),
						 psprintf("timeout expired after %d ms (pg_memshard.connect_timeout)",
								  memshard_connect_timeout_ms));
	else
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("node \"%s\" did not answer within %d ms",
								  NameStr(st->entry->servername),
								  memshard_remote_timeout_ms),
						 NULL);
}

/* what the call waits for on its socket (WL_SOCKET_*) */
uint32
call_wait_events(const CallState *st)
{
	if (st->phase == PHASE_CONNECTING)
		return (st->poll == PGRES_POLLING_READING)
			? WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;
	return WL_SOCKET_READABLE | (st->flushing ? WL_SOCKET_WRITEABLE : 0);
}

/* the call's socket is ready: do what can be done without blocking */
void
call_advance(CallState *st)
{
	PGconn	   *conn = st->entry->conn;

	if (st->phase == PHASE_DONE)
		return;
	if (st->phase == PHASE_CONNECTING)
	{
		advance_connect(st);
		return;
	}

	if (st->flushing)
	{
		int			flushed = PQflush(conn);

		if (flushed < 0)
		{
			call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
							 psprintf("lost connection to node \"%s\"",
									  NameStr(st->entry->servername)),
							 pchomp(PQerrorMessage(conn)));
			return;
		}
		st->flushing = (flushed == 1);
	}

	if (!PQconsumeInput(conn))
	{
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("lost connection to node \"%s\"",
								  NameStr(st->entry->servername)),
						 pchomp(PQerrorMessage(conn)));
		return;
	}

	while (!PQisBusy(conn))
	{
		PGresult   *res = PQgetResult(conn);

		if (res == NULL)
		{
			statement_done(st);
			return;
		}
		/* keep the last result, as PQexec does, but never lose an error */
		if (st->result != NULL &&
			PQresultStatus(st->result) == PGRES_FATAL_ERROR)
			PQclear(res);
		else
		{
			PQclear(st->result);
			st->result = res;
		}
	}
}

static void
advance_connect(CallState *st)
{
	ConnEntry  *entry = st->entry;
	RemoteError *error;

	st->poll = PQconnectPoll(entry->conn);
	if (st->poll == PGRES_POLLING_FAILED)
	{
		call_unreachable(st, ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
						 psprintf("could not connect to node \"%s\"",
								  NameStr(entry->servername)),
						 pchomp(PQerrorMessage(entry->conn)));
		return;
	}
	if (st->poll != PGRES_POLLING_OK)
		return;

	entry->connected = true;
	PQsetNoticeProcessor(entry->conn, ignore_notice, NULL);
	if (PQsetnonblocking(entry->conn, 1) != 0)
	{
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("lost connection to node \"%s\"",
								  NameStr(entry->servername)),
						 pchomp(PQerrorMessage(entry->conn)));
		return;
	}
	error = conn_check_password_used(entry);
	if (error != NULL)
	{
		call_failed(st, error, false);
		return;
	}
	session_ready(st);
}

/* every result of the statement is in: move on or finish */
static void
statement_done(CallState *st)
{
	PGresult   *res = st->result;
	ConnEntry  *entry = st->entry;

	st->result = NULL;

	/* a FATAL error (shutdown, terminated backend) closes the session */
	if (PQstatus(entry->conn) == CONNECTION_BAD || res == NULL)
	{
		char	   *detail = res ? copy_field(res, PG_DIAG_MESSAGE_PRIMARY)
			: pchomp(PQerrorMessage(entry->conn));

		PQclear(res);
		call_unreachable(st, ERRCODE_CONNECTION_FAILURE,
						 psprintf("lost connection to node \"%s\"",
								  NameStr(entry->servername)),
						 detail);
		return;
	}

	if (PQresultStatus(res) == PGRES_FATAL_ERROR)
	{
		call_failed_remotely(st, res);
		PQclear(res);
		return;
	}

	if (st->phase == PHASE_SETUP)
	{
		PQclear(res);
		entry->timeout_sent = memshard_remote_timeout_ms;
		entry->epoch_sent = remote_peer_epoch;
		start_statement(st);
		return;
	}
	if (st->phase == PHASE_PREPARE)
	{
		PQclear(res);
		entry->prepared[entry->nprepared] = st->call->sql;
		st->phase = PHASE_QUERY;
		send_statement(st, SEND_PREPARED,
					   psprintf("memshard_%d", entry->nprepared++));
		return;
	}

	call_succeeded(st, res);
	PQclear(res);
}

static void
call_succeeded(CallState *st, PGresult *res)
{
	st->call->result = copy_result(res);
	st->phase = PHASE_DONE;
	st->entry->in_use = false;
	if (st->call->session == REMOTE_PIN)
		st->entry->pinned = true;
	remote_health_record(st->entry->serverid, true, NULL);
}

/* the node raised an ERROR: pass it on with its SQLSTATE and our prefix */
static void
call_failed_remotely(CallState *st, PGresult *res)
{
	RemoteError *error = palloc0(sizeof(RemoteError));
	char	   *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char	   *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	error->sqlstate = sqlstate
		? MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2], sqlstate[3],
						sqlstate[4])
		: ERRCODE_CONNECTION_FAILURE;
	error->message = psprintf("%s: %s", NameStr(st->entry->servername),
							  primary ? primary
							  : pchomp(PQerrorMessage(st->entry->conn)));
	error->detail = copy_field(res, PG_DIAG_MESSAGE_DETAIL);
	error->hint = copy_field(res, PG_DIAG_MESSAGE_HINT);
	error->context = copy_field(res, PG_DIAG_CONTEXT);

	st->call->error = error;
	st->phase = PHASE_DONE;
	st->entry->in_use = false;
	remote_health_record(st->entry->serverid, true, NULL);
}

/* the node could not be reached or stopped answering: close, remember */
static void
call_unreachable(CallState *st, int sqlstate, const char *message,
				 const char *detail)
{
	call_failed(st, remote_error(sqlstate, message, detail, NULL), true);
}

/*
 * The call failed before the node could answer it: close the connection,
 * and remember the node as unreachable if it is.
 */
static void
call_failed(CallState *st, RemoteError *error, bool unreachable)
{
	st->call->error = error;
	PQclear(st->result);
	st->result = NULL;
	st->phase = PHASE_DONE;
	conn_drop(st->entry);
	if (unreachable)
		remote_health_record(st->call->serverid, false,
							 error->detail
							 ? psprintf("%s: %s", error->message, error->detail)
							 : error->message);
}

/* leaving early (ERROR, interrupt): an unfinished call's session is lost */
void
call_abandon(CallState *st)
{
	if (st->entry == NULL)
		return;
	PQclear(st->result);
	st->result = NULL;
	if (st->phase != PHASE_DONE)
	{
		conn_drop(st->entry);
		st->phase = PHASE_DONE;
	}
}

/* copy a PGresult into one palloc'd block the caller owns */
static RemoteResult *
copy_result(PGresult *res)
{
	RemoteResult *result = palloc0(sizeof(RemoteResult));
	int			ntuples = PQntuples(res);
	int			nfields = PQnfields(res);
	Size		total = 0;
	char	   *data;
	int			row;
	int			col;

	result->ntuples = ntuples;
	result->nfields = nfields;
	result->command_status = pstrdup(PQcmdStatus(res));
	if (ntuples == 0 || nfields == 0)
		return result;

	for (row = 0; row < ntuples; row++)
		for (col = 0; col < nfields; col++)
			total += PQgetlength(res, row, col) + 1;

	result->values = palloc(sizeof(char *) * ntuples * nfields);
	result->lengths = palloc(sizeof(int) * ntuples * nfields);
	data = palloc_extended(total, MCXT_ALLOC_HUGE);
	for (row = 0; row < ntuples; row++)
	{
		for (col = 0; col < nfields; col++)
		{
			int			i = row * nfields + col;
			int			len = PQgetlength(res, row, col);

			result->lengths[i] = len;
			if (PQgetisnull(res, row, col))
			{
				result->values[i] = NULL;
				continue;
			}
			memcpy(data, PQgetvalue(res, row, col), len);
			data[len] = '\0';
			result->values[i] = data;
			data += len + 1;
		}
	}
	return result;
}

static char *
copy_field(PGresult *res, int field)
{
	char	   *value = PQresultErrorField(res, field);

	return value ? pstrdup(value) : NULL;
}

/* remote NOTICEs and WARNINGs are not the user's business */
static void
ignore_notice(void *arg, const char *message)
{
}
