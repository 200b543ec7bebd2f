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
 * This file only makes and forgets connections; call.c drives them
 * through PQconnectPoll, and fanout.c does the waiting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/htup_details.h"
#include "catalog/pg_user_mapping.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "remote/remote_internal.h"

static HTAB *conn_cache = NULL;

/* what sessions to nodes are told of our metadata epoch (fencing) */
int64		remote_peer_epoch = 0;

static void conn_cache_init(void);
static bool user_mapping_exists(Oid userid, Oid serverid);
static bool has_password(const char **keywords, const char **values);
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
 * The cache entry for the current user's mapping to a server (which may
 * hold no connection), or NULL with *error set when there is no user
 * mapping.
 */
ConnEntry *
conn_entry_for(Oid serverid, RemoteError **error)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *user;
	ConnEntry  *entry;
	bool		found;

	if (!user_mapping_exists(GetUserId(), serverid))
	{
		*error = remote_error(ERRCODE_UNDEFINED_OBJECT,
							  psprintf("user mapping not found for \"%s\"",
									   server->servername),
							  NULL, "Create a user mapping for this role (or PUBLIC) on the node's server.");
		return NULL;
	}
	user = GetUserMapping(GetUserId(), serverid);

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
		entry->epoch_sent = -1;
		entry->nprepared = 0;
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
 * The upper rooms' metadata epoch: each session is told it before its
 * next call (call.c, with the other session settings).
 */
void
remote_set_peer_epoch(int64 epoch)
{
	remote_peer_epoch = epoch;
}

/* a user mapping of the role, or a PUBLIC one, as GetUserMapping looks */
static bool
user_mapping_exists(Oid userid, Oid serverid)
{
	HeapTuple	tuple;

	tuple = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tuple))
		tuple = SearchSysCache2(USERMAPPINGUSERSERVER,
								ObjectIdGetDatum(InvalidOid),
								ObjectIdGetDatum(serverid));
	if (!HeapTupleIsValid(tuple))
		return false;
	ReleaseSysCache(tuple);
	return true;
}

/*
 * The pinned entry of a server, or NULL.  No catalog access: this serves
 * the end of a transaction (commit and abort callbacks), where the session
 * must already exist.
 */
ConnEntry *
conn_pinned_entry(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;
	ConnEntry  *found = NULL;

	if (conn_cache == NULL)
		return NULL;
	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (entry->serverid == serverid && entry->pinned &&
			entry->conn != NULL)
			found = entry;
	}
	return found;
}

/*
 * Start connecting (PQconnectStartParams); call.c finishes the work with
 * PQconnectPoll.  Returns NULL when under way, else why not: a
 * non-superuser's mapping without a password (2F003), or a node that
 * cannot be reached (08001).
 */
RemoteError *
conn_start(ConnEntry *entry)
{
	ForeignServer *server = GetForeignServer(entry->serverid);
	UserMapping *user = GetUserMapping(entry->userid, entry->serverid);
	const char **keywords;
	const char **values;
	PGconn	   *conn;

	Assert(entry->conn == NULL);

	remote_connection_params(server, user, &keywords, &values);
	if (!superuser() && !has_password(keywords, values))
		return remote_error(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
							"password is required",
							"Non-superusers must provide a password in the user mapping.",
							NULL);

	/* a PGconn is a long-lived file descriptor: obey fd.c's limit */
	if (!AcquireExternalFD())
		return remote_error(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							psprintf("could not connect to node \"%s\"",
									 server->servername),
							"There are too many open files on the local server.",
							"Raise the server's max_files_per_process and/or \"ulimit -n\" limits.");

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
		return remote_error(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
							psprintf("could not connect to node \"%s\"",
									 server->servername),
							reason, NULL);
	}

	entry->conn = conn;
	entry->connected = false;
	entry->invalidated = false;
	entry->timeout_sent = -1;
	entry->epoch_sent = -1;
	entry->nprepared = 0;
	pfree(keywords);
	pfree(values);
	return NULL;
}

/*
 * As postgres_fdw's check_conn_params: a non-superuser must give a
 * password, so that nobody borrows the server's own identity (.pgpass,
 * trust, peer).
 */
static bool
has_password(const char **keywords, const char **values)
{
	int			i;

	for (i = 0; keywords[i] != NULL; i++)
	{
		if (strcmp(keywords[i], "password") == 0 && values[i][0] != '\0')
			return true;
	}
	return false;
}

/* connected: did the server really ask for the password?  NULL if so */
RemoteError *
conn_check_password_used(ConnEntry *entry)
{
	if (superuser() || PQconnectionUsedPassword(entry->conn))
		return NULL;
	return remote_error(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
						"password is required",
						"Non-superuser cannot connect if the server does not request a password.",
						"Target server's authentication method must be changed.");
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
	entry->epoch_sent = -1;
	entry->nprepared = 0;
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
	return conn_pinned_entry(serverid) != NULL;
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

/* the open connections, as a list of palloc'd RemoteConnectionInfo */
List *
remote_connections(void)
{
	HASH_SEQ_STATUS scan;
	ConnEntry  *entry;
	List	   *result = NIL;

	if (conn_cache == NULL)
		return NIL;
	hash_seq_init(&scan, conn_cache);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		RemoteConnectionInfo *info;

		if (entry->conn == NULL)
			continue;
		info = palloc(sizeof(RemoteConnectionInfo));
		info->server = entry->servername;
		info->valid = !entry->invalidated;
		result = lappend(result, info);
	}
	return result;
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
