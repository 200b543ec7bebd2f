/*-------------------------------------------------------------------------
 *
 * remote_int.h
 *		Declarations shared by the files of the remote room only.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_REMOTE_INT_H
#define MEMSHARD_REMOTE_INT_H

#include "foreign/foreign.h"
#include "libpq-fe.h"

#include "remote/remote.h"

/*
 * One cached connection, keyed by user mapping OID (as postgres_fdw: a
 * PUBLIC mapping shared by several roles gives one connection).
 */
typedef struct ConnEntry
{
	Oid			umid;			/* hash key: user mapping OID */
	PGconn	   *conn;			/* NULL when not connected */
	bool		connected;		/* false while connecting */
	bool		in_use;			/* a call is in flight: state unknown if we
								 * leave early */
	bool		pinned;			/* a remote transaction lives in this
								 * session */
	bool		invalidated;	/* server or mapping changed: reconnect when
								 * idle */
	int			timeout_sent;	/* statement_timeout set remotely, -1 none */
	Oid			serverid;
	Oid			userid;			/* local role whose mapping this is */
	NameData	servername;		/* for messages, even after DROP SERVER */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
} ConnEntry;

/* connection.c */
extern ConnEntry *conn_entry_for(Oid serverid);
extern char *conn_start(ConnEntry *entry);
extern void conn_check_password_used(ConnEntry *entry);
extern void conn_drop(ConnEntry *entry);

/* remote_options.c */
extern void remote_connection_params(ForeignServer *server, UserMapping *user,
									 const char ***keywords,
									 const char ***values);

/* health.c */
extern void remote_health_record(Oid serverid, bool reached,
								 const char *error);

#endif							/* MEMSHARD_REMOTE_INT_H */
