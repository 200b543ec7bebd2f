/*-------------------------------------------------------------------------
 *
 * resp_commands.c
 *		The command table and the execution of one request.
 *
 * resp_execute() follows Redis's processCommand(): look the command up
 * (case-insensitively; container commands such as CLIENT by their second
 * word), check its arity, then authentication (-NOAUTH), then the role's
 * permissions (-NOPERM), and run it.  Error texts are Redis's.
 *
 * Commands that touch maps run inside the worker's transaction (one per
 * batch of requests, resp_worker.c) as the client's role, under PG_TRY: an
 * ERROR becomes an "-ERR" reply (Redis's wording where Redis has one: a
 * value that is not an integer, an overflow, no memory), the part of the
 * reply written before it is taken back, and the transaction is aborted,
 * so one client's error never ends the worker or touches another client.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "utils/elog.h"

#include "resp/resp.h"

#define R_READ		(RESP_CMD_DATA | RESP_CMD_READONLY)
#define R_WRITE		(RESP_CMD_DATA | RESP_CMD_WRITE)

static const RespCommand client_subcommands[] = {
	{"client|setname", 3, 0, 0, 0, 0, 0, resp_cmd_client_setname, NULL, "Sets the connection name.", "connection"},
	{"client|getname", 2, 0, 0, 0, 0, 0, resp_cmd_client_getname, NULL, "Returns the name of the connection.", "connection"},
	{"client|setinfo", 4, 0, 0, 0, 0, 0, resp_cmd_client_setinfo, NULL, "Sets information specific to the client or connection.", "connection"},
	{"client|id", 2, 0, 0, 0, 0, 0, resp_cmd_client_id, NULL, "Returns the unique client ID of the connection.", "connection"},
	{NULL}
};

static const RespCommand config_subcommands[] = {
	{"config|get", -3, 0, 0, 0, 0, 0, resp_cmd_config_get, NULL, "Returns the effective values of configuration parameters.", "server"},
	{NULL}
};

static const RespCommand command_subcommands[] = {
	{"command|count", 2, 0, 0, 0, 0, 0, resp_cmd_command_count, NULL, "Returns a count of commands.", "server"},
	{"command|docs", -2, 0, 0, 0, 0, 0, resp_cmd_command_docs, NULL, "Returns documentary information about one, multiple or all commands.", "server"},
	{"command|info", -2, 0, 0, 0, 0, 0, resp_cmd_command_info, NULL, "Returns information about one, multiple or all commands.", "server"},
	{NULL}
};

static const RespCommand function_subcommands[] = {
	{"function|flush", -2, RESP_CMD_WRITE, 0, 0, 0, 0, resp_cmd_function_flush, NULL, "Deletes all library and functions.", "scripting"},
	{NULL}
};

static const RespCommand commands[] = {
	/* strings */
	{"get", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_get, NULL, "Returns the string value of a key.", "string"},
	{"set", -3, R_WRITE, RESP_PERM_SET, 1, 1, 1, resp_cmd_set, NULL, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "string"},
	{"setnx", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_SET, 1, 1, 1, resp_cmd_setnx, NULL, "Set the string value of a key only when the key doesn't exist.", "string"},
	{"setex", 4, R_WRITE, RESP_PERM_SET, 1, 1, 1, resp_cmd_setex, NULL, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "string"},
	{"psetex", 4, R_WRITE, RESP_PERM_SET, 1, 1, 1, resp_cmd_psetex, NULL, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "string"},
	{"getset", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_GET | RESP_PERM_SET, 1, 1, 1, resp_cmd_getset, NULL, "Returns the previous string value of a key after setting it to a new value.", "string"},
	{"getdel", 2, R_WRITE | RESP_CMD_FAST, RESP_PERM_GET | RESP_PERM_DELETE, 1, 1, 1, resp_cmd_getdel, NULL, "Returns the string value of a key after deleting the key.", "string"},
	{"getex", -2, R_WRITE | RESP_CMD_FAST, RESP_PERM_GET | RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_getex, NULL, "Returns the string value of a key after setting its expiration time.", "string"},
	{"mget", -2, R_READ | RESP_CMD_FAST, RESP_PERM_MGET, 1, -1, 1, resp_cmd_mget, NULL, "Atomically returns the string values of one or more keys.", "string"},
	{"mset", -3, R_WRITE, RESP_PERM_MSET, 1, -1, 2, resp_cmd_mset, NULL, "Atomically creates or modifies the string values of one or more keys.", "string"},
	{"msetnx", -3, R_WRITE, RESP_PERM_MSET, 1, -1, 2, resp_cmd_msetnx, NULL, "Atomically modifies the string values of one or more keys only when all keys don't exist.", "string"},
	{"incr", 2, R_WRITE | RESP_CMD_FAST, RESP_PERM_INCR, 1, 1, 1, resp_cmd_incr, NULL, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "string"},
	{"incrby", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_INCR, 1, 1, 1, resp_cmd_incrby, NULL, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "string"},
	{"decr", 2, R_WRITE | RESP_CMD_FAST, RESP_PERM_INCR, 1, 1, 1, resp_cmd_decr, NULL, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", "string"},
	{"decrby", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_INCR, 1, 1, 1, resp_cmd_decrby, NULL, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", "string"},
	{"incrbyfloat", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_GET | RESP_PERM_SET, 1, 1, 1, resp_cmd_incrbyfloat, NULL, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "string"},
	{"append", 3, R_WRITE | RESP_CMD_FAST, RESP_PERM_GET | RESP_PERM_SET, 1, 1, 1, resp_cmd_append, NULL, "Appends a string to the value of a key. Creates the key if it doesn't exist.", "string"},
	{"strlen", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_strlen, NULL, "Returns the length of a string value.", "string"},
	{"getrange", 4, R_READ, RESP_PERM_GET, 1, 1, 1, resp_cmd_getrange, NULL, "Returns a substring of the string stored at a key.", "string"},
	{"setrange", 4, R_WRITE, RESP_PERM_GET | RESP_PERM_SET, 1, 1, 1, resp_cmd_setrange, NULL, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "string"},
	/* keys */
	{"del", -2, R_WRITE, RESP_PERM_DELETE, 1, -1, 1, resp_cmd_del, NULL, "Deletes one or more keys.", "generic"},
	{"unlink", -2, R_WRITE | RESP_CMD_FAST, RESP_PERM_DELETE, 1, -1, 1, resp_cmd_del, NULL, "Asynchronously deletes one or more keys.", "generic"},
	{"exists", -2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, -1, 1, resp_cmd_exists, NULL, "Determines whether one or more keys exist.", "generic"},
	{"expire", -3, R_WRITE | RESP_CMD_FAST, RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_expire, NULL, "Sets the expiration time of a key in seconds.", "generic"},
	{"pexpire", -3, R_WRITE | RESP_CMD_FAST, RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_pexpire, NULL, "Sets the expiration time of a key in milliseconds.", "generic"},
	{"expireat", -3, R_WRITE | RESP_CMD_FAST, RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_expireat, NULL, "Sets the expiration time of a key to a Unix timestamp.", "generic"},
	{"pexpireat", -3, R_WRITE | RESP_CMD_FAST, RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_pexpireat, NULL, "Sets the expiration time of a key to a Unix milliseconds timestamp.", "generic"},
	{"ttl", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_ttl, NULL, "Returns the expiration time in seconds of a key.", "generic"},
	{"pttl", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_pttl, NULL, "Returns the expiration time in milliseconds of a key.", "generic"},
	{"expiretime", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_expiretime, NULL, "Returns the expiration time of a key as a Unix timestamp.", "generic"},
	{"pexpiretime", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_pexpiretime, NULL, "Returns the expiration time of a key as a Unix milliseconds timestamp.", "generic"},
	{"persist", 2, R_WRITE | RESP_CMD_FAST, RESP_PERM_TOUCH, 1, 1, 1, resp_cmd_persist, NULL, "Removes the expiration time of a key.", "generic"},
	{"type", 2, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 1, 1, 1, resp_cmd_type, NULL, "Determines the type of value stored at a key.", "generic"},
	{"keys", 2, R_READ, RESP_PERM_GET, 0, 0, 0, resp_cmd_keys, NULL, "Returns all key names that match a pattern.", "generic"},
	{"scan", -2, R_READ, RESP_PERM_GET, 0, 0, 0, resp_cmd_scan, NULL, "Iterates over the key names in the database.", "generic"},
	{"dbsize", 1, R_READ | RESP_CMD_FAST, RESP_PERM_GET, 0, 0, 0, resp_cmd_dbsize, NULL, "Returns the number of keys in the database.", "server"},
	{"flushdb", -1, R_WRITE, RESP_PERM_FLUSH, 0, 0, 0, resp_cmd_flushdb, NULL, "Remove all keys from the current database.", "server"},
	{"flushall", -1, R_WRITE, RESP_PERM_FLUSH, 0, 0, 0, resp_cmd_flushall, NULL, "Removes all keys from all databases.", "server"},
	/* connection and server */
	{"ping", -1, RESP_CMD_NOAUTH | RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_ping, NULL, "Returns the server's liveliness response.", "connection"},
	{"echo", 2, RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_echo, NULL, "Returns the given string.", "connection"},
	{"quit", -1, RESP_CMD_NOAUTH | RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_quit, NULL, "Closes the connection.", "connection"},
	{"hello", -1, RESP_CMD_NOAUTH | RESP_CMD_DATA | RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_hello, NULL, "Handshakes with the Redis server.", "connection"},
	{"auth", -2, RESP_CMD_NOAUTH | RESP_CMD_DATA | RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_auth, NULL, "Authenticates the connection.", "connection"},
	{"select", 2, RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_select, NULL, "Changes the selected database.", "connection"},
	{"client", -2, RESP_CMD_CONTAINER, 0, 0, 0, 0, NULL, client_subcommands, "A container for client connection commands.", "connection"},
	{"info", -1, RESP_CMD_DATA, 0, 0, 0, 0, resp_cmd_info, NULL, "Returns information and statistics about the server.", "server"},
	{"config", -2, RESP_CMD_CONTAINER, 0, 0, 0, 0, NULL, config_subcommands, "A container for server configuration commands.", "server"},
	{"command", -1, 0, 0, 0, 0, 0, resp_cmd_command, command_subcommands, "Returns detailed information about all commands.", "server"},
	{"time", 1, RESP_CMD_FAST, 0, 0, 0, 0, resp_cmd_time, NULL, "Returns the server time.", "server"},
	{"function", -2, RESP_CMD_CONTAINER, 0, 0, 0, 0, NULL, function_subcommands, "A container for function commands.", "scripting"},
	{NULL}
};


static const RespCommand *
find_command(const RespCommand *table, const char *name, size_t len,
			 size_t skip)
{
	const RespCommand *cmd;

	for (cmd = table; cmd->name != NULL; cmd++)
	{
		if (strlen(cmd->name) == len + skip &&
			pg_strncasecmp(cmd->name + skip, name, len) == 0)
			return cmd;
	}
	return NULL;
}

/* Redis's unknown-command text, the first arguments quoted, 128 bytes each */
static void
reply_unknown_command(RespClient *c, RespRequest *req)
{
	StringInfoData args;
	int			i;

	initStringInfo(&args);
	for (i = 1; i < req->argc && args.len < 128; i++)
		appendStringInfo(&args, "'%.*s' ", 128 - args.len, req->argv[i]);
	resp_reply_error(c, "unknown command '%.128s', with args beginning with: %s",
					 req->argv[0], args.data);
}

static bool
arity_ok(const RespCommand *cmd, int argc)
{
	return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* the Redis text for an ERROR raised while running a command */
static void
reply_pg_error(RespClient *c, ErrorData *edata)
{
	switch (edata->sqlerrcode)
	{
		case ERRCODE_INVALID_TEXT_REPRESENTATION:
			resp_reply_error(c, "value is not an integer or out of range");
			break;
		case ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE:
			resp_reply_error(c, "increment or decrement would overflow");
			break;
		case ERRCODE_OUT_OF_MEMORY:
			resp_reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
			break;
		default:
			resp_reply_error(c, "%s", edata->message);
			break;
	}
}

/* run a command that reads catalogs or maps: in the transaction, guarded */
static void
run_guarded(RespClient *c, const RespCommand *cmd, RespRequest *req)
{
	MemoryContext cxt = CurrentMemoryContext;
	size_t		pending = resp_output_pending(c);
	Oid			save_userid;
	int			save_sec;

	resp_ensure_xact();
	GetUserIdAndSecContext(&save_userid, &save_sec);
	PG_TRY();
	{
		SetUserIdAndSecContext(c->roleid, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		if (cmd->perms != 0 && !resp_allowed(c, cmd->perms))
			resp_reply_error(c, "-NOPERM this user has no permissions to run the '%s' command",
							 cmd->name);
		else
			cmd->fn(c, req);
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		resp_abort_xact();
		if (edata->sqlerrcode == ERRCODE_UNDEFINED_OBJECT)
			resp_forget_maps();
		/* take back what the command had begun to answer */
		c->outlen = c->outpos + pending;
		reply_pg_error(c, edata);
		if (edata->elevel >= ERROR)
			ereport(DEBUG1,
					(errmsg("pg_memshard resp: command \"%s\" failed: %s",
							cmd->name, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

void
resp_execute(RespClient *c, RespRequest *req)
{
	const RespCommand *cmd;

	resp_set_command_table(commands);
	resp_set_current_command(NULL);
	cmd = find_command(commands, req->argv[0], req->argvlen[0], 0);
	if (cmd == NULL)
	{
		reply_unknown_command(c, req);
		return;
	}
	resp_set_current_command(cmd->name);
	if ((cmd->flags & RESP_CMD_CONTAINER) ||
		(cmd->subcommands != NULL && req->argc >= 2))
	{
		const RespCommand *sub;
		char		upper[32];
		int			i;

		if (!arity_ok(cmd, req->argc))
		{
			resp_reply_arity(c, req);
			return;
		}
		sub = find_command(cmd->subcommands, req->argv[1], req->argvlen[1],
						   strlen(cmd->name) + 1);
		if (sub == NULL)
		{
			for (i = 0; cmd->name[i] && i < (int) sizeof(upper) - 1; i++)
				upper[i] = pg_toupper((unsigned char) cmd->name[i]);
			upper[i] = '\0';
			resp_reply_error(c, "unknown subcommand '%.128s'. Try %s HELP.",
							 req->argv[1], upper);
			return;
		}
		cmd = sub;
		resp_set_current_command(cmd->name);
	}
	if (!arity_ok(cmd, req->argc))
	{
		resp_reply_arity(c, req);
		return;
	}
	if (resp_auth && !c->authenticated && !(cmd->flags & RESP_CMD_NOAUTH))
	{
		resp_reply_raw(c, "-NOAUTH Authentication required.\r\n", 34);
		return;
	}
	c->commands++;
	if (cmd->flags & RESP_CMD_DATA)
		run_guarded(c, cmd, req);
	else
		cmd->fn(c, req);
}
