/*-------------------------------------------------------------------------
 *
 * resp_admin.c
 *		Connection and server commands: PING, ECHO, QUIT, HELLO, AUTH,
 *		SELECT, CLIENT, INFO, CONFIG GET, TIME, FUNCTION FLUSH.
 *
 * Replies follow Redis 7 (server.c, networking.c, acl.c, db.c).  We answer
 * as Redis 7.0 would (HELLO says server "redis", version 7.0.15) so that
 * clients that check the version behave as with Redis; INFO adds our own
 * figures under pg_memshard_ names.  COMMAND is in resp_introspect.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "resp/resp.h"

void
resp_cmd_ping(RespClient *c, RespRequest *req)
{
	if (req->argc > 2)
		resp_reply_arity(c, req);
	else if (req->argc == 1)
		resp_reply_raw(c, "+PONG\r\n", 7);
	else
		resp_reply_bulk(c, req->argv[1], req->argvlen[1]);
}

void
resp_cmd_echo(RespClient *c, RespRequest *req)
{
	resp_reply_bulk(c, req->argv[1], req->argvlen[1]);
}

void
resp_cmd_quit(RespClient *c, RespRequest *req)
{
	resp_reply_ok(c);
	c->close_after_reply = true;
}

static const char wrongpass[] =
"-WRONGPASS invalid username-password pair or user is disabled.";

void
resp_cmd_auth(RespClient *c, RespRequest *req)
{
	const char *user;
	const char *password;

	if (req->argc > 3)
	{
		resp_reply_error(c, "syntax error");
		return;
	}
	if (req->argc == 2)
	{
		if (resp_default_user[0] == '\0')
		{
			resp_reply_error(c, "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
			return;
		}
		user = "default";
		password = req->argv[1];
	}
	else
	{
		user = req->argv[1];
		password = req->argv[2];
	}
	if (resp_authenticate(c, user, password))
		resp_reply_ok(c);
	else
		resp_reply_error(c, "%s", wrongpass);
}

/* Redis's clientSetNameOrReply: printable, no spaces */
static bool
valid_name(RespClient *c, const char *name, size_t len, const char *what)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (name[i] < '!' || name[i] > '~')
		{
			if (what)
				resp_reply_error(c, "%s cannot contain spaces, newlines or special characters.", what);
			else
				resp_reply_error(c, "Client names cannot contain spaces, newlines or special characters.");
			return false;
		}
	}
	return true;
}

static void
set_string(char **field, const char *value, size_t len)
{
	if (*field)
		pfree(*field);
	*field = len > 0 ? MemoryContextStrdup(TopMemoryContext, value) : NULL;
}

void
resp_cmd_hello(RespClient *c, RespRequest *req)
{
	int64		ver = 0;
	int			j;

	if (req->argc >= 2)
	{
		if (!resp_parse_ll(req->argv[1], req->argvlen[1], &ver))
		{
			resp_reply_error(c, "Protocol version is not an integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3)
		{
			resp_reply_error(c, "-NOPROTO unsupported protocol version");
			return;
		}
	}
	for (j = 2; j < req->argc; j++)
	{
		int			more = req->argc - 1 - j;

		if (pg_strcasecmp(req->argv[j], "AUTH") == 0 && more >= 2)
		{
			if (!resp_authenticate(c, req->argv[j + 1], req->argv[j + 2]))
			{
				resp_reply_error(c, "%s", wrongpass);
				return;
			}
			j += 2;
		}
		else if (pg_strcasecmp(req->argv[j], "SETNAME") == 0 && more >= 1)
		{
			if (!valid_name(c, req->argv[j + 1], req->argvlen[j + 1], NULL))
				return;
			set_string(&c->name, req->argv[j + 1], req->argvlen[j + 1]);
			j++;
		}
		else
		{
			resp_reply_error(c, "Syntax error in HELLO option '%s'", req->argv[j]);
			return;
		}
	}
	if (resp_auth && !c->authenticated)
	{
		resp_reply_error(c, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
		return;
	}
	if (ver)
		c->proto = ver;
	resp_reply_map(c, 7);
	resp_reply_cstr(c, "server");
	resp_reply_cstr(c, "redis");
	resp_reply_cstr(c, "version");
	resp_reply_cstr(c, RESP_REDIS_VERSION);
	resp_reply_cstr(c, "proto");
	resp_reply_int(c, c->proto);
	resp_reply_cstr(c, "id");
	resp_reply_int(c, c->id);
	resp_reply_cstr(c, "mode");
	resp_reply_cstr(c, "standalone");
	resp_reply_cstr(c, "role");
	resp_reply_cstr(c, "master");
	resp_reply_cstr(c, "modules");
	resp_reply_array(c, 0);
}

void
resp_cmd_select(RespClient *c, RespRequest *req)
{
	int64		db;

	if (!resp_parse_ll(req->argv[1], req->argvlen[1], &db) ||
		db < PG_INT32_MIN || db > PG_INT32_MAX)
	{
		resp_reply_error(c, "value is not an integer or out of range");
		return;
	}
	if (db < 0 || db >= resp_databases)
	{
		resp_reply_error(c, "DB index is out of range");
		return;
	}
	c->db = (int) db;
	resp_reply_ok(c);
}

void
resp_cmd_client_setname(RespClient *c, RespRequest *req)
{
	if (!valid_name(c, req->argv[2], req->argvlen[2], NULL))
		return;
	set_string(&c->name, req->argv[2], req->argvlen[2]);
	resp_reply_ok(c);
}

void
resp_cmd_client_getname(RespClient *c, RespRequest *req)
{
	if (c->name)
		resp_reply_cstr(c, c->name);
	else
		resp_reply_null(c);
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2) */
void
resp_cmd_client_setinfo(RespClient *c, RespRequest *req)
{
	char	  **field;

	if (pg_strcasecmp(req->argv[2], "lib-name") == 0)
		field = &c->lib_name;
	else if (pg_strcasecmp(req->argv[2], "lib-ver") == 0)
		field = &c->lib_ver;
	else
	{
		resp_reply_error(c, "Unrecognized option '%s'", req->argv[2]);
		return;
	}
	if (!valid_name(c, req->argv[3], req->argvlen[3], req->argv[2]))
		return;
	set_string(field, req->argv[3], req->argvlen[3]);
	resp_reply_ok(c);
}

void
resp_cmd_client_id(RespClient *c, RespRequest *req)
{
	resp_reply_int(c, c->id);
}

void
resp_cmd_time(RespClient *c, RespRequest *req)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	resp_reply_array(c, 2);
	resp_reply_bulk_int(c, tv.tv_sec);
	resp_reply_bulk_int(c, tv.tv_usec);
}

void
resp_cmd_function_flush(RespClient *c, RespRequest *req)
{
	if (req->argc > 3)
		resp_reply_error(c, "unknown subcommand or wrong number of arguments for '%.128s'. Try FUNCTION HELP.",
						 req->argv[1]);
	else if (req->argc == 3 && pg_strcasecmp(req->argv[2], "sync") != 0 &&
			 pg_strcasecmp(req->argv[2], "async") != 0)
		resp_reply_error(c, "FUNCTION FLUSH only supports SYNC|ASYNC option");
	else
		resp_reply_ok(c);
}

/* CONFIG GET: the parameters clients and redis-benchmark ask for */
void
resp_cmd_config_get(RespClient *c, RespRequest *req)
{
	char		maxmem[32];
	char		port[16];
	char		maxclients[16];
	char		bulk[16];
	char		databases[16];
	const char *params[][2] = {
		{"save", ""},
		{"appendonly", "no"},
		{"maxmemory", maxmem},
		{"maxmemory-policy", "allkeys-lru"},
		{"databases", databases},
		{"port", port},
		{"bind", resp_listen_addresses},
		{"maxclients", maxclients},
		{"proto-max-bulk-len", bulk},
		{"timeout", "0"},
		{"cluster-enabled", "no"},
	};
	int			nparams = lengthof(params);
	bool		matched[lengthof(params)] = {0};
	int			count = 0;
	int			i;
	int			j;

	snprintf(maxmem, sizeof(maxmem), INT64_FORMAT, (int64) memshard_memory_kb * 1024);
	snprintf(port, sizeof(port), "%d", resp_port);
	snprintf(maxclients, sizeof(maxclients), "%d", resp_max_clients);
	snprintf(bulk, sizeof(bulk), "%d", resp_max_request_size);
	snprintf(databases, sizeof(databases), "%d", resp_databases);
	for (j = 2; j < req->argc; j++)
	{
		/* parameter names match without case, as in Redis */
		char	   *pat = pnstrdup(req->argv[j], req->argvlen[j]);

		for (i = 0; pat[i]; i++)
			pat[i] = pg_tolower((unsigned char) pat[i]);
		for (i = 0; i < nparams; i++)
			if (!matched[i] &&
				resp_glob_match(pat, req->argvlen[j],
								params[i][0], strlen(params[i][0])))
			{
				matched[i] = true;
				count++;
			}
	}
	resp_reply_map(c, count);
	for (i = 0; i < nparams; i++)
		if (matched[i])
		{
			resp_reply_cstr(c, params[i][0]);
			resp_reply_cstr(c, params[i][1]);
		}
}
