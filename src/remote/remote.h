/*-------------------------------------------------------------------------
 *
 * remote.h
 *		Calls to other nodes over libpq: what the remote room offers.
 *
 * A node is a foreign server of FOREIGN DATA WRAPPER memshard.  A caller
 * describes one SQL call per node (RemoteCall, or a RemoteFanout that keeps
 * each call with the caller's node) and remote_run() (remote_fanout_run())
 * sends them all at once and collects every answer, each bounded by
 * pg_memshard.connect_timeout and pg_memshard.remote_timeout, every wait
 * interruptible.  A node that fails does not make the others fail: each
 * call comes back with its result or its error, already naming the node,
 * for the caller to raise or to handle (fall back to a replica, show it in
 * a row).  Connections are cached per backend and user mapping.
 *
 * No libpq type leaves this room: results are copied into palloc'd memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_REMOTE_H
#define MEMSHARD_REMOTE_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* a node's answer: ntuples x nfields values, NULL for SQL NULL */
typedef struct RemoteResult
{
	int			ntuples;
	int			nfields;
	char	  **values;			/* row-major; text values are
								 * NUL-terminated */
	int		   *lengths;
	char	   *command_status; /* "SELECT 1", "PREPARE TRANSACTION", ... */
} RemoteResult;

/* why a call failed; the message already names the node */
typedef struct RemoteError
{
	int			sqlstate;
	char	   *message;
	char	   *detail;
	char	   *hint;
	char	   *context;
} RemoteError;

/* how a call uses the cached connection */
typedef enum RemoteSession
{
	REMOTE_ANY,					/* any connection, made if needed */
	REMOTE_PIN,					/* as REMOTE_ANY, then keep this session
								 * (a remote transaction is starting) */
	REMOTE_PINNED				/* only the session pinned before: fail
								 * rather than reconnect */
} RemoteSession;

typedef struct RemoteCall
{
	/* set by the caller */
	Oid			serverid;
	const char *sql;			/* one statement when there are parameters */
	int			nparams;
	const Oid  *paramtypes;		/* may be NULL */
	const char *const *paramvalues;
	const int  *paramlengths;	/* for binary parameters */
	const int  *paramformats;	/* NULL: all text */
	bool		binary_result;
	bool		prepare;		/* sql is a constant: prepare it once per
								 * connection and run it by name */
	RemoteSession session;

	/* set by remote_run: exactly one of them */
	RemoteResult *result;
	RemoteError *error;
} RemoteCall;

/* run every call in parallel; node failures come back in the calls */
extern void remote_run(RemoteCall *calls, int ncalls);

/*
 * Calls to several nodes at once, each entry with the caller's node it
 * goes to (a ClusterNode, a PlacementNode, ...): the answer of a node is
 * read from its own entry, never matched back by position.  An entry
 * without a statement (remote_fanout_skip) is not sent: it keeps the place
 * of a node the caller answers for itself.
 */
typedef struct RemoteNodeCall
{
	const void *node;			/* the caller's, handed back untouched */
	RemoteCall	call;			/* call.sql NULL: not sent */
} RemoteNodeCall;

typedef struct RemoteFanout
{
	int			ncalls;
	int			maxcalls;
	RemoteNodeCall *calls;		/* in the order they were added */
} RemoteFanout;

extern RemoteFanout *remote_fanout_create(int maxcalls);
extern RemoteCall *remote_fanout_add(RemoteFanout *fanout, const void *node,
									 Oid serverid, const char *sql);
extern void remote_fanout_skip(RemoteFanout *fanout, const void *node);
extern void remote_fanout_run(RemoteFanout *fanout);
extern void remote_fanout_run_or_throw(RemoteFanout *fanout);

/* raise the error of a failed call */
extern void remote_throw(const RemoteCall *call) pg_attribute_noreturn();


/* true for errors that mean "node unreachable" (SQLSTATE class 08) */
extern bool remote_error_is_unreachable(const RemoteError *error);

/* release a session pinned by REMOTE_PIN */
extern void remote_unpin(Oid serverid);

/* true when a live session is pinned for this server */
extern bool remote_is_pinned(Oid serverid);

/*
 * The metadata epoch of this backend, which every session to a node is
 * told (pg_memshard.peer_epoch there) before its next call: fencing.
 */
extern void remote_set_peer_epoch(int64 epoch);

/* close every cached connection not in use (memshard.disconnect) */
extern int	remote_disconnect_all(void);

/* this session's open connections (memshard.connections) */
typedef struct RemoteConnectionInfo
{
	NameData	server;
	bool		valid;			/* false: options changed, to be remade */
} RemoteConnectionInfo;

extern List *remote_connections(void);

/* the FDW validator's work (remote_options.c) */
extern void remote_validate_options(List *options, Oid catalog);

/*
 * Health of nodes as seen by every backend of this instance: the last
 * failure to reach a node (cleared by the next success).
 */
typedef struct RemoteHealth
{
	bool		unreachable;	/* last attempt failed to reach it */
	TimestampTz error_time;		/* 0 when no error is remembered */
	Oid			userid;			/* the role whose attempt failed: the error
								 * may name its remote user */
	char		error[256];
} RemoteHealth;

extern Size remote_shmem_size(void);
extern void remote_health_get(Oid serverid, RemoteHealth *health);
extern bool remote_recently_unreachable(Oid serverid);

/* a bytea or text[] parameter in binary format (array_send layout) */
extern char *remote_binary_text_array(const char *const *elems,
									  const int *lengths, int nelems,
									  int *size);
extern char *remote_binary_bytea_array(const char *const *elems,
									   const int *lengths, int nelems,
									   int *size);

#endif							/* MEMSHARD_REMOTE_H */
