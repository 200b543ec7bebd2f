/*-------------------------------------------------------------------------
 *
 * connection.c
 *		The per-backend cache of connections to nodes.
 *
 * One connection per user mapping, made on first use and kept for the
 * life of the backend, as postgres_fdw's connection.c does.  A connection is
 * dropped when its server or user mapping changes (syscache callbacks on
 * FOREIGN SERVER and USER MAPPING), when it breaks, and when a call on it
 * was abandoned (timeout, query cancel, error): PQcancel blocks on
 * PostgreSQL 15, so rather than cancel we close the socket and let the
 * remote statement_timeout end whatever the node was still doing.
 *
 * This file only makes and forgets connections; the waiting is in
 * fanout.c, which drives connections through PQconnectPoll.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_user_mapping.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "remote/remote_int.h"

static HTAB *conn_cache = NULL;

static void conn_cache_init(void);
static void check_conn_params(const char **keywords, const char **values);
static void conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue);
static void conn_xact_callback(XactEvent event, void *arg);

static void
conn_cache_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(ConnEntry);
	conn_cache = hash_create("pg_memshard connections", 8, &ctl,
							 HASH_ELEM | HASH_BLOBS);

	RegisterXactCallback(conn_xact_callback, NULL);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, conn_inval_callback,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, conn_inval_callback,
								  (Datum) 0);
}

/*
 * The cache entry for the current user's mapping to a server.  Raises an
 * ERROR when there is no user mapping.  The entry may hold no connection.
 */
ConnEntry *
conn_entry_for(Oid serverid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *user = GetUserMapping(GetUserId(), serverid);
	ConnEntry  *entry;
	bool		found;

	if (conn_cache == NULL)
		conn_cache_init();

	entry = hash_search(conn_cache, &user->umid, HASH_ENTER, &found);
	if (!found)
	{
		entry->conn = NULL;
		entry->connected = false;
		entry->in_use = false;
		entry->pinned = false;
		entry->invalidated = false;
		entry->timeout_sent = -1;
	}

	/* options changed since we connected: reconnect now that it is idle */
	if (entry->conn != NULL && entry->invalidated &&
		!entry->in_use && !entry->pinned)
		conn_drop(entry);

	entry->serverid = serverid;
	entry->userid = user->userid;
	namestrcpy(&entry->servername, server->servername);
	entry->server_hashvalue =
		GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid));
	entry->mapping_hashvalue =
		GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(user->umid));
	return entry;
}

/*
 * Start connecting (PQconnectStartParams); fanout.c finishes the work with
 * PQconnectPoll.  Returns NULL when under way, or the reason it could not
 * even start (the node is then unreachable, not misconfigured).  Raises an
 * ERROR when a non-superuser's mapping has no password.
 */
char *
conn_start(ConnEntry *entry)
{
	ForeignServer *server = GetForeignServer(entry->serverid);
	UserMapping *user = GetUserMapping(entry->userid, entry->serverid);
	const char **keywords;
	const char **values;
	PGconn	   *conn;

	Assert(entry->conn == NULL);

	remote_connection_params(server, user, &keywords, &values);
	check_conn_params(keywords, values);

	/* a PGconn is a long-lived file descriptor: obey fd.c's limit */
	if (!AcquireExternalFD())
		return pstrdup("There are too many open files on the local server.");

	conn = PQconnectStartParams(keywords, values, false);
	if (conn == NULL)
	{
		ReleaseExternalFD();
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		char	   *reason = pchomp(PQerrorMessage(conn));

		PQfinish(conn);
		ReleaseExternalFD();
		return reason;
	}

	entry->conn = conn;
	entry->connected = false;
	entry->invalidated = false;
	entry->timeout_sent = -1;
	pfree(keywords);
	pfree(values);
	return NULL;
}

/*
 * As postgres_fdw: a non-superuser must give a password, so that nobody
 * borrows the server's own identity (.pgpass, trust, peer).
 */
static void
check_conn_params(const char **keywords, const char **values)
{
	int			i;

	if (superuser())
		return;

	for (i = 0; keywords[i] != NULL; i++)
	{
		if (strcmp(keywords[i], "password") == 0 && values[i][0] != '\0')
			return;
	}

	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required"),
			 errdetail("Non-superusers must provide a password in the user mapping.")));
}

/* after the connection is made: did the server really ask for it? */
void
conn_check_password_used(ConnEntry *entry)
{
	if (superuser() || PQconnectionUsedPassword(entry->conn))
		return;

	ereport(ERROR,
			(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
			 errmsg("password is required"),
			 errdetail("Non-superuser cannot connect if the server does not request a password."),
			 errhint("Target server's authentication method must be changed.")));
}

void
conn_drop(ConnEntry *entry)
{
	if (entry->conn != NULL)
	{
		PQfinish(entry->conn);
		ReleaseExternalFD();
	}
	entry->conn = NULL;
	entry->connected = false;
	entry->in_use = false;
	entry->pinned = false;
	entry->invalidated = false;
	entry->timeout_sent = -1;
}

void
remote_unpin(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;

	if (conn_cache == NULL)
		return;
	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->serverid != serverid || !entry->pinned)
			continue;
		entry->pinned = false;
		if (entry->invalidated && !entry->in_use)
			conn_drop(entry);
	}
}

bool
remote_is_pinned(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;
	bool		pinned = false;

	if (conn_cache == NULL)
		return false;
	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->serverid == serverid && entry->pinned &&
			entry->conn != NULL)
			pinned = true;
	}
	return pinned;
}

/* close every idle connection; returns how many were closed */
int
remote_disconnect_all(void)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;
	int			closed = 0;

	if (conn_cache == NULL)
		return 0;
	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->conn == NULL || entry->in_use || entry->pinned)
			continue;
		conn_drop(entry);
		closed++;
	}
	return closed;
}

/*
 * A server or user mapping changed (or a cache reset, hashvalue 0): close
 * the connections made with the old options, or mark them to be closed
 * once they are idle.
 */
static void
conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;

	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->conn == NULL)
			continue;
		if (hashvalue != 0 &&
			!(cacheid == FOREIGNSERVEROID &&
			  entry->server_hashvalue == hashvalue) &&
			!(cacheid == USERMAPPINGOID &&
			  entry->mapping_hashvalue == hashvalue))
			continue;

		if (entry->in_use || entry->pinned)
			entry->invalidated = true;
		else
			conn_drop(entry);
	}
}

/*
 * Safety net at transaction end: fanout.c drops the connections of calls it
 * abandons, but a connection still marked in use after an abort is in an
 * unknown state and must go.  Invalidated idle connections go too.
 */
static void
conn_xact_callback(XactEvent event, void *arg)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;
	bool		aborting = (event == XACT_EVENT_ABORT ||
							event == XACT_EVENT_PARALLEL_ABORT);

	if (!aborting && event != XACT_EVENT_COMMIT &&
		event != XACT_EVENT_PARALLEL_COMMIT)
		return;

	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->conn == NULL)
			continue;
		if ((aborting && entry->in_use) ||
			(entry->invalidated && !entry->pinned && !entry->in_use))
			conn_drop(entry);
	}
}
