/*-------------------------------------------------------------------------
 *
 * remote_internal.h
 *		Declarations shared by the files of the remote room only: the
 *		connection cache (connection.c), one call's steps (call.c), the
 *		loop that runs many calls at once (fanout.c), errors
 *		(remote_error.c), options (remote_options.c), health (health.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_REMOTE_INTERNAL_H
#define MEMSHARD_REMOTE_INTERNAL_H

#include "datatype/timestamp.h"
#include "foreign/foreign.h"
#include "libpq-fe.h"

#include "remote/remote.h"

/* statements prepared once per connection (RemoteCall.prepare) */
#define REMOTE_MAX_PREPARED 16

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
	int64		epoch_sent;		/* pg_memshard.peer_epoch set remotely, -1
								 * none */
	int			nprepared;		/* statements prepared on it, named
								 * memshard_<index> */
	const char *prepared[REMOTE_MAX_PREPARED];	/* their SQL (constants) */
	Oid			serverid;
	Oid			userid;			/* local role whose mapping this is */
	NameData	servername;		/* for messages, even after DROP SERVER */
	uint32		server_hashvalue;
	uint32		mapping_hashvalue;
} ConnEntry;

/* the metadata epoch peer sessions are told (connection.c) */
extern int64 remote_peer_epoch;

/* connection.c */
extern ConnEntry *conn_entry_for(Oid serverid, RemoteError **error);
extern ConnEntry *conn_pinned_entry(Oid serverid);
extern RemoteError *conn_start(ConnEntry *entry);
extern RemoteError *conn_check_password_used(ConnEntry *entry);
extern void conn_drop(ConnEntry *entry);

/* remote_error.c */
extern RemoteError *remote_error(int sqlstate, const char *message,
								 const char *detail, const char *hint);

/*
 * One call on its way (call.c), as fanout.c drives it: the phase says what
 * the call waits for, the deadline until when.
 */
typedef enum CallPhase
{
	PHASE_CONNECTING,			/* PQconnectPoll until CONNECTION_OK */
	PHASE_SETUP,				/* session settings sent, awaiting result */
	PHASE_PREPARE,				/* the call's statement being prepared */
	PHASE_QUERY,				/* the call's statement sent, awaiting result */
	PHASE_DONE
} CallPhase;

typedef struct CallState
{
	RemoteCall *call;
	ConnEntry  *entry;
	CallPhase	phase;
	PostgresPollingStatusType poll; /* while connecting: what libpq awaits */
	bool		fresh;			/* connection made by this call */
	bool		flushing;		/* output not fully sent yet */
	TimestampTz deadline;
	PGresult   *result;			/* last result of the statement so far */
} CallState;

extern void call_begin(CallState *st);
extern void call_advance(CallState *st);
extern void call_timed_out(CallState *st);
extern uint32 call_wait_events(const CallState *st);
extern void call_abandon(CallState *st);

/* remote_options.c */
extern void remote_connection_params(ForeignServer *server, UserMapping *user,
									 const char ***keywords,
									 const char ***values);

/* health.c */
extern void remote_health_record(Oid serverid, bool reached,
								 const char *error);

#endif							/* MEMSHARD_REMOTE_INTERNAL_H */
