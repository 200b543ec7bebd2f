/*-------------------------------------------------------------------------
 *
 * resp.h
 *		The Redis protocol front end: what the files of src/resp share.
 *
 * Background workers (resp_worker.c) accept TCP clients on
 * pg_memshard.resp_port and speak RESP2/RESP3 to them: requests are parsed
 * (resp_parse.c), dispatched through one command table (resp_commands.c)
 * to the string, key and admin commands (resp_string.c, resp_keys.c,
 * resp_admin.c), which act on maps through the router, the
 * read-modify-write commands with its compare-and-set (resp_data.c), on
 * maps of this node and maps over nodes alike.  Replies are encoded byte for byte as
 * Redis 7 writes them (resp_reply.c).  Clients authenticate as PostgreSQL
 * roles (resp_auth.c).
 *
 * The calls go one way: the worker -> the parser -> the command table ->
 * the command files -> the data access (resp_data.c), the turn's
 * transaction (resp_xact.c), the replies and the shared helpers
 * (resp_util.c), which call nothing above them; what the helpers tell (the
 * command running, the command table, the worker's figures) is set in
 * them by the table and the worker.
 *
 * A worker is one process with one thread: nothing here is shared between
 * workers but the store itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef MEMSHARD_RESP_H
#define MEMSHARD_RESP_H

#include "datatype/timestamp.h"
#include "lib/ilist.h"
#include "router/router.h"

/* what we tell clients we are: the Redis version whose replies we copy */
#define RESP_REDIS_VERSION	"7.0.15"

/* Redis's PROTO_INLINE_MAX_SIZE: longest inline request or header line */
#define RESP_INLINE_MAX		(64 * 1024)
/* Redis's limits before AUTH: arguments and bulk length */
#define RESP_UNAUTH_MAX_ARGS	10
#define RESP_UNAUTH_MAX_BULK	16384

/* settings (resp_gucs.c) */
extern int	resp_port;
extern char *resp_listen_addresses;
extern int	resp_workers;
extern char *resp_database;
extern int	resp_max_clients;
extern int	resp_max_request_size;
extern int	resp_max_output_buffer;
extern bool resp_auth;
extern char *resp_map;
extern int	resp_databases;
extern char *resp_default_user;

extern void resp_define_gucs(void);
extern void resp_register_workers(void);
extern bool resp_addresses_loopback(const char *list, char **bad);

/* permissions: one bit per data function of the SQL API */
#define RESP_PERM_GET		0x01
#define RESP_PERM_SET		0x02
#define RESP_PERM_MGET		0x04
#define RESP_PERM_MSET		0x08
#define RESP_PERM_DELETE	0x10
#define RESP_PERM_INCR		0x20
#define RESP_PERM_TOUCH		0x40
#define RESP_PERM_FLUSH		0x80
#define RESP_NPERMS			8

/* one client connection */
typedef struct RespClient
{
	dlist_node	node;			/* in the worker's list of clients */
	int			sock;
	int			pos;			/* its event in the wait set, -1 none */
	uint64		id;				/* CLIENT ID: unique over the workers */
	char		addr[64];		/* peer, for INFO and the log */
	bool		loopback;		/* peer is a loopback address */
	TimestampTz connected;

	/* input: bytes received, inpos the start of the unparsed rest */
	char	   *in;
	size_t		inlen;
	size_t		incap;
	size_t		inpos;
	/* parser state of a request spanning reads (resp_parse.c) */
	long		multibulk;		/* arguments still expected, 0 none */
	long		bulklen;		/* length of the next argument, -1 unknown */
	int			argc;
	int			argcap;
	size_t	   *argoff;			/* offsets into 'in' */
	size_t	   *arglen;
	size_t		reqstart;		/* where the request being read began */

	/* output: bytes not yet sent are out[outpos .. outlen) */
	char	   *out;
	size_t		outlen;
	size_t		outcap;
	size_t		outpos;

	/* session */
	int			proto;			/* 2 or 3 */
	int			db;				/* SELECT */
	bool		authenticated;
	Oid			roleid;			/* whom commands run as */
	char	   *rolename;
	uint32		perms;			/* RESP_PERM_ bits, valid for perms_gen */
	uint64		perms_gen;
	char	   *name;			/* CLIENT SETNAME */
	char	   *lib_name;		/* CLIENT SETINFO */
	char	   *lib_ver;
	uint64		commands;

	/* what memshard.resp_clients shows (resp_clients.c) */
	int			slot;			/* its slot in shared memory, -1 none */
	uint64		published_commands;
	size_t		published_output;
	TimestampTz last_active;	/* last turn it ran a command */
	const char *last_command;	/* a name of the command table, or NULL */

	/* state in the event loop */
	bool		close_after_reply;	/* QUIT, protocol error */
	bool		closing;		/* drop now, send nothing more */
	bool		want_write;		/* the wait set watches it for writing */
	bool		ready;			/* input may hold a whole request */
} RespClient;

/* a parsed request: argv[i] is argvlen[i] bytes, NUL-terminated */
typedef struct RespRequest
{
	int			argc;
	char	  **argv;
	size_t	   *argvlen;
} RespRequest;

/* parser (resp_parse.c) */
typedef enum RespParseResult
{
	RESP_PARSE_DONE,			/* a request is in req */
	RESP_PARSE_EMPTY,			/* an empty request was consumed */
	RESP_PARSE_MORE,			/* need more input */
	RESP_PARSE_ERROR			/* reply written, client closes */
} RespParseResult;

extern RespParseResult resp_parse_request(RespClient *client,
										  RespRequest *req);
extern void resp_input_consumed(RespClient *client);

/* replies (resp_reply.c) */
extern void resp_reply_raw(RespClient *c, const char *data, size_t len);
extern void resp_reply_status(RespClient *c, const char *status);
extern void resp_reply_error(RespClient *c, const char *fmt,...) pg_attribute_printf(2, 3);
extern void resp_reply_ok(RespClient *c);
extern void resp_reply_int(RespClient *c, int64 value);
extern void resp_reply_bulk(RespClient *c, const char *data, size_t len);
extern void resp_reply_cstr(RespClient *c, const char *str);
extern void resp_reply_bulk_int(RespClient *c, int64 value);
extern void resp_reply_null(RespClient *c);
extern void resp_reply_null_array(RespClient *c);
extern void resp_reply_array(RespClient *c, int64 n);
extern void resp_reply_map(RespClient *c, int64 n);
extern void resp_reply_set(RespClient *c, int64 n);
extern void resp_reply_verbatim(RespClient *c, const char *data, size_t len);
extern size_t resp_output_pending(RespClient *c);

/* commands (resp_commands.c) */
typedef void (*RespCommandFn) (RespClient *c, RespRequest *req);

#define RESP_CMD_NOAUTH		0x01	/* runs before AUTH */
#define RESP_CMD_DATA		0x02	/* needs a transaction */
#define RESP_CMD_CONTAINER	0x04	/* has subcommands */
#define RESP_CMD_WRITE		0x08	/* for COMMAND's flags */
#define RESP_CMD_READONLY	0x10
#define RESP_CMD_FAST		0x20

typedef struct RespCommand
{
	const char *name;			/* lower case; "client|setname" for subs */
	int			arity;			/* Redis's: -n means at least n */
	int			flags;
	uint32		perms;			/* RESP_PERM_ bits it needs */
	int			firstkey;		/* for COMMAND: key positions */
	int			lastkey;
	int			keystep;
	RespCommandFn fn;
	const struct RespCommand *subcommands;	/* NULL-name terminated */
	const char *summary;		/* for COMMAND DOCS */
	const char *group;
} RespCommand;

extern void resp_execute(RespClient *c, RespRequest *req);

/*
 * What the files below the command table share (resp_util.c): the command
 * running and the table, set by resp_execute; the worker's figures, kept by
 * the worker; parsing helpers, the clock and Redis's glob.
 */
typedef struct RespFigures
{
	int			worker_number;	/* 0 .. resp_workers - 1 */
	int			clients;		/* connected now */
	uint64		commands;		/* run since start */
	uint64		connections;	/* accepted since start */
	uint64		rejected;		/* refused: max clients */
	TimestampTz started_at;
} RespFigures;

extern RespFigures resp_figures;
extern void resp_set_current_command(const char *name);
extern void resp_set_command_table(const RespCommand *table);
extern const char *resp_current_command(void);
extern const RespCommand *resp_command_table(void);
extern int	resp_command_count(void);
extern void resp_reply_arity(RespClient *c, RespRequest *req);
extern bool resp_arg_is(RespRequest *req, int i, const char *word);
extern bool resp_parse_ll(const char *s, size_t len, int64 *value);
extern bool resp_arg_ll(RespClient *c, RespRequest *req, int i, int64 *value);
extern bool resp_parse_ld(const char *s, size_t len, long double *value);
extern int	resp_format_ld(char *buf, size_t len, long double value);
extern int64 resp_now_ms(void);
extern bool resp_glob_match(const char *pat, size_t patlen,
							const char *str, size_t len);

/* data access (resp_data.c) */
typedef struct RespValue
{
	bool		found;
	char	   *data;			/* palloc'd, NUL-terminated */
	int			len;
	int64		expire_ms;		/* absolute Unix ms, 0 none, -1 unknown */
	TimestampTz expire_ts;		/* the store's expiry, 0 none */
} RespValue;

extern void resp_map_name(int db, char *buf, size_t size);
extern MapInfo *resp_map_for(RespClient *c);
extern void resp_forget_maps(void);
extern bool resp_check_item(RespClient *c, size_t keylen, size_t vallen);
extern void resp_read(MapInfo **map, const char *key, int keylen,
					  RespValue *val);
extern void resp_peek(MapInfo **map, const char *key, int keylen,
					  RespValue *val);
extern bool resp_write_if(MapInfo **map, const char *key, int keylen,
						  const RespValue *seen, const char *value,
						  int vallen, int64 expire_ms);
extern int64 resp_default_ttl(MapInfo *map);

/* string commands (resp_string.c) */
extern void resp_cmd_get(RespClient *c, RespRequest *req);
extern void resp_cmd_set(RespClient *c, RespRequest *req);
extern void resp_cmd_setnx(RespClient *c, RespRequest *req);
extern void resp_cmd_setex(RespClient *c, RespRequest *req);
extern void resp_cmd_psetex(RespClient *c, RespRequest *req);
extern void resp_cmd_getset(RespClient *c, RespRequest *req);
extern void resp_cmd_getdel(RespClient *c, RespRequest *req);
extern void resp_cmd_getex(RespClient *c, RespRequest *req);
extern void resp_cmd_mget(RespClient *c, RespRequest *req);
extern void resp_cmd_mset(RespClient *c, RespRequest *req);
extern void resp_cmd_msetnx(RespClient *c, RespRequest *req);
extern void resp_cmd_incr(RespClient *c, RespRequest *req);
extern void resp_cmd_incrby(RespClient *c, RespRequest *req);
extern void resp_cmd_decr(RespClient *c, RespRequest *req);
extern void resp_cmd_decrby(RespClient *c, RespRequest *req);
extern void resp_cmd_incrbyfloat(RespClient *c, RespRequest *req);
extern void resp_cmd_append(RespClient *c, RespRequest *req);
extern void resp_cmd_strlen(RespClient *c, RespRequest *req);
extern void resp_cmd_getrange(RespClient *c, RespRequest *req);
extern void resp_cmd_setrange(RespClient *c, RespRequest *req);

/* key commands (resp_keys.c) */
extern void resp_cmd_del(RespClient *c, RespRequest *req);
extern void resp_cmd_exists(RespClient *c, RespRequest *req);
extern void resp_cmd_expire(RespClient *c, RespRequest *req);
extern void resp_cmd_pexpire(RespClient *c, RespRequest *req);
extern void resp_cmd_expireat(RespClient *c, RespRequest *req);
extern void resp_cmd_pexpireat(RespClient *c, RespRequest *req);
extern void resp_cmd_ttl(RespClient *c, RespRequest *req);
extern void resp_cmd_pttl(RespClient *c, RespRequest *req);
extern void resp_cmd_expiretime(RespClient *c, RespRequest *req);
extern void resp_cmd_pexpiretime(RespClient *c, RespRequest *req);
extern void resp_cmd_persist(RespClient *c, RespRequest *req);
extern void resp_cmd_type(RespClient *c, RespRequest *req);
extern void resp_cmd_keys(RespClient *c, RespRequest *req);
extern void resp_cmd_scan(RespClient *c, RespRequest *req);
extern void resp_cmd_dbsize(RespClient *c, RespRequest *req);
extern void resp_cmd_flushdb(RespClient *c, RespRequest *req);
extern void resp_cmd_flushall(RespClient *c, RespRequest *req);

/* connection and server commands (resp_admin.c) */
extern void resp_cmd_ping(RespClient *c, RespRequest *req);
extern void resp_cmd_echo(RespClient *c, RespRequest *req);
extern void resp_cmd_quit(RespClient *c, RespRequest *req);
extern void resp_cmd_hello(RespClient *c, RespRequest *req);
extern void resp_cmd_auth(RespClient *c, RespRequest *req);
extern void resp_cmd_select(RespClient *c, RespRequest *req);
extern void resp_cmd_client_setname(RespClient *c, RespRequest *req);
extern void resp_cmd_client_getname(RespClient *c, RespRequest *req);
extern void resp_cmd_client_setinfo(RespClient *c, RespRequest *req);
extern void resp_cmd_client_id(RespClient *c, RespRequest *req);
extern void resp_cmd_info(RespClient *c, RespRequest *req);
extern void resp_cmd_config_get(RespClient *c, RespRequest *req);
extern void resp_cmd_time(RespClient *c, RespRequest *req);
extern void resp_cmd_function_flush(RespClient *c, RespRequest *req);
extern void resp_cmd_command(RespClient *c, RespRequest *req);
extern void resp_cmd_command_count(RespClient *c, RespRequest *req);
extern void resp_cmd_command_docs(RespClient *c, RespRequest *req);
extern void resp_cmd_command_info(RespClient *c, RespRequest *req);

/* authentication and permissions (resp_auth.c) */
extern bool resp_authenticate(RespClient *c, const char *user,
							  const char *password);
extern void resp_set_role(RespClient *c, Oid roleid, const char *name);
extern bool resp_allowed(RespClient *c, uint32 perms);
extern void resp_auth_init(void);

/* the clients as memshard.resp_clients shows them (resp_clients.c) */
typedef struct RespClientInfo
{
	bool		in_use;
	int			worker;
	uint64		id;
	char		addr[64];
	char		name[64];		/* CLIENT SETNAME, cut to 63 bytes */
	char		role[NAMEDATALEN];
	char		last_command[32];
	int			db;
	TimestampTz connected;
	TimestampTz last_active;
	int64		query_buffer;	/* bytes received, not yet run */
	int64		output_buffer;	/* reply bytes not yet sent */
} RespClientInfo;

extern Size resp_clients_shmem_size(void);
extern void resp_clients_shmem_startup(void);
extern void resp_client_publish(RespClient *c);
extern void resp_client_touch(RespClient *c);
extern void resp_client_unpublish(RespClient *c);
extern int	resp_clients_read(RespClientInfo **out);

/* the worker (resp_worker.c) */
extern void resp_worker_main(Datum arg);

/* the turn's transaction (resp_xact.c) */
extern void resp_ensure_xact(void);
extern void resp_commit_xact(void);
extern void resp_abort_xact(void);

#endif							/* MEMSHARD_RESP_H */
