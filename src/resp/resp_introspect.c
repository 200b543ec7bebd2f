/*-------------------------------------------------------------------------
 *
 * resp_introspect.c
 *		INFO and COMMAND: what the server and its commands are.
 *
 * INFO writes Redis's sections (server, clients, memory, stats, keyspace)
 * in Redis's layout ("# Section", "field:value" lines, a blank line between
 * sections) with the fields clients and tools read (redis_version,
 * arch_bits, cluster_enabled:0, loading:0, used_memory, maxmemory,
 * keyspace_hits...) filled from the store, plus our own pg_memshard_*
 * figures.  used_memory is what the cache holds: the chunks of its items
 * plus the hash index and its fixed metadata; maxmemory is
 * pg_memshard.memory.  Client figures are this worker's.
 *
 * COMMAND, COMMAND COUNT, COMMAND INFO and COMMAND DOCS describe the command
 * table in Redis 7's formats, enough for redis-cli's hints and for client
 * libraries that look commands up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/utsname.h>
#include <unistd.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/timestamp.h"

#include "pg_memshard.h"
#include "resp/resp.h"

static void
info_line(StringInfo buf, const char *name, const char *fmt,...) pg_attribute_printf(3, 4);

static void
info_line(StringInfo buf, const char *name, const char *fmt,...)
{
	va_list		args;

	appendStringInfo(buf, "%s:", name);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(buf, needed);
	}
	appendStringInfoString(buf, "\r\n");
}

/* bytes as Redis's bytesToHuman writes them */
static char *
human(int64 n)
{
	double		d = n;

	if (n < 1024)
		return psprintf(INT64_FORMAT "B", n);
	if (n < 1024 * 1024)
		return psprintf("%.2fK", d / 1024);
	if (n < (int64) 1024 * 1024 * 1024)
		return psprintf("%.2fM", d / (1024 * 1024));
	return psprintf("%.2fG", d / (1024.0 * 1024 * 1024));
}

static void
info_server(StringInfo buf)
{
	struct utsname name;
	int64		uptime = (GetCurrentTimestamp() - resp_figures.started_at) / USECS_PER_SEC;

	uname(&name);
	appendStringInfoString(buf, "# Server\r\n");
	info_line(buf, "redis_version", "%s", RESP_REDIS_VERSION);
	info_line(buf, "redis_mode", "standalone");
	info_line(buf, "os", "%s %s %s", name.sysname, name.release, name.machine);
	info_line(buf, "arch_bits", "%d", (int) (sizeof(void *) * 8));
	info_line(buf, "process_id", "%d", MyProcPid);
	info_line(buf, "tcp_port", "%d", resp_port);
	info_line(buf, "uptime_in_seconds", INT64_FORMAT, uptime);
	info_line(buf, "uptime_in_days", INT64_FORMAT, uptime / 86400);
	info_line(buf, "pg_memshard_version", "1.1");
	info_line(buf, "pg_memshard_worker", "%d", resp_figures.worker_number);
	info_line(buf, "pg_memshard_workers", "%d", resp_workers);
	info_line(buf, "postgresql_version", "%s", PG_VERSION);
}

static void
info_clients(StringInfo buf)
{
	appendStringInfoString(buf, "# Clients\r\n");
	info_line(buf, "connected_clients", "%d", resp_figures.clients);
	info_line(buf, "maxclients", "%d", resp_max_clients);
	info_line(buf, "blocked_clients", "0");
}

static void
info_memory(StringInfo buf, StoreGlobalStats *stats)
{
	int64		used = stats->counters.bytes_used + stats->index_bytes +
		stats->metadata_bytes;

	appendStringInfoString(buf, "# Memory\r\n");
	info_line(buf, "used_memory", INT64_FORMAT, used);
	info_line(buf, "used_memory_human", "%s", human(used));
	info_line(buf, "used_memory_dataset", INT64_FORMAT, stats->counters.bytes_used);
	info_line(buf, "maxmemory", INT64_FORMAT, stats->memory_budget);
	info_line(buf, "maxmemory_human", "%s", human(stats->memory_budget));
	info_line(buf, "maxmemory_policy", "allkeys-lru");
	info_line(buf, "pg_memshard_payload_bytes", INT64_FORMAT, stats->counters.payload_bytes);
	info_line(buf, "pg_memshard_index_bytes", INT64_FORMAT, stats->index_bytes);
	info_line(buf, "pg_memshard_pages_free", INT64_FORMAT, stats->pages_free);
}

static void
info_stats(StringInfo buf, StoreGlobalStats *stats)
{
	appendStringInfoString(buf, "# Stats\r\n");
	info_line(buf, "total_connections_received", UINT64_FORMAT, resp_figures.connections);
	info_line(buf, "total_commands_processed", UINT64_FORMAT, resp_figures.commands);
	info_line(buf, "rejected_connections", UINT64_FORMAT, resp_figures.rejected);
	info_line(buf, "expired_keys", INT64_FORMAT, stats->counters.expirations);
	info_line(buf, "evicted_keys", INT64_FORMAT, stats->counters.evictions);
	info_line(buf, "keyspace_hits", INT64_FORMAT, stats->counters.hits);
	info_line(buf, "keyspace_misses", INT64_FORMAT, stats->counters.misses);
	info_line(buf, "loading", "0");
	info_line(buf, "cluster_enabled", "0");
}

/*
 * db<n>:keys=... for each database whose map exists: a map of this node
 * from its counters, a map over nodes from one count over its nodes (as
 * DBSIZE, each key once).  Shards no node answered for are left out of
 * keys= and said in pg_memshard_shards_unanswered=N on that line (and in
 * a LOG line): INFO never fails for a node that is down.
 */
static void
info_keyspace(StringInfo buf)
{
	int			db;

	appendStringInfoString(buf, "# Keyspace\r\n");
	for (db = 0; db < resp_databases; db++)
	{
		char		name[NAMEDATALEN];
		MapInfo		info;
		MapInfo    *map;
		int64		keys;
		int			missed = 0;

		resp_map_name(db, name, sizeof(name));
		if (!map_catalog_lookup(name, &info, CurrentMemoryContext))
			continue;
		map = router_lookup_map(name, strlen(name));
		if (info.local_only)
		{
			StoreCounters counters;

			router_map_counters(map, &counters);
			keys = counters.items;
		}
		else
			keys = router_count_items_partial(map, &missed);
		if (keys == 0 && missed == 0)
			continue;
		appendStringInfo(buf, "db%d:keys=" INT64_FORMAT ",expires=0,avg_ttl=0",
						 db, keys);
		if (missed > 0)
		{
			appendStringInfo(buf, ",pg_memshard_shards_unanswered=%d", missed);
			ereport(LOG,
					(errmsg("INFO keyspace: %d shards of map \"%s\" left out of its keys count, no node holding them answered",
							missed, name)));
		}
		appendStringInfoString(buf, "\r\n");
	}
}

static bool
want(RespRequest *req, const char *section, bool dflt)
{
	int			i;

	if (req->argc == 1)
		return dflt;
	for (i = 1; i < req->argc; i++)
		if (pg_strcasecmp(req->argv[i], section) == 0 ||
			pg_strcasecmp(req->argv[i], "all") == 0 ||
			pg_strcasecmp(req->argv[i], "everything") == 0 ||
			(dflt && pg_strcasecmp(req->argv[i], "default") == 0))
			return true;
	return false;
}

/* a section wanted by INFO's arguments starts, after a blank line if not first */
static bool
section(RespRequest *req, StringInfo buf, const char *name, int *count)
{
	if (!want(req, name, true))
		return false;
	if ((*count)++ > 0)
		appendStringInfoString(buf, "\r\n");
	return true;
}

void
resp_cmd_info(RespClient *c, RespRequest *req)
{
	StringInfoData buf;
	StoreGlobalStats stats;
	int			count = 0;

	initStringInfo(&buf);
	store_global_stats(&stats);
	if (section(req, &buf, "server", &count))
		info_server(&buf);
	if (section(req, &buf, "clients", &count))
		info_clients(&buf);
	if (section(req, &buf, "memory", &count))
		info_memory(&buf, &stats);
	if (section(req, &buf, "stats", &count))
		info_stats(&buf, &stats);
	if (section(req, &buf, "keyspace", &count))
		info_keyspace(&buf);
	resp_reply_verbatim(c, buf.data, buf.len);
}

/* one command's flags, as COMMAND lists them */
static void
reply_flags(RespClient *c, const RespCommand *cmd)
{
	const char *flags[4];
	int			n = 0;
	int			i;

	if (cmd->flags & RESP_CMD_WRITE)
		flags[n++] = "write";
	if (cmd->flags & RESP_CMD_READONLY)
		flags[n++] = "readonly";
	if (cmd->flags & RESP_CMD_FAST)
		flags[n++] = "fast";
	if (cmd->flags & RESP_CMD_NOAUTH)
		flags[n++] = "no_auth";
	resp_reply_set(c, n);
	for (i = 0; i < n; i++)
		resp_reply_status(c, flags[i]);
}

static int
count_table(const RespCommand *table)
{
	int			n = 0;

	while (table && table[n].name)
		n++;
	return n;
}

/* COMMAND's entry: name arity flags first last step acl tips keyspecs subs */
static void
reply_command_info(RespClient *c, const RespCommand *cmd)
{
	int			nsubs = count_table(cmd->subcommands);
	int			i;

	resp_reply_array(c, 10);
	resp_reply_cstr(c, cmd->name);
	resp_reply_int(c, cmd->arity);
	reply_flags(c, cmd);
	resp_reply_int(c, cmd->firstkey);
	resp_reply_int(c, cmd->lastkey);
	resp_reply_int(c, cmd->keystep);
	resp_reply_set(c, 1);
	resp_reply_status(c, (cmd->flags & RESP_CMD_WRITE) ? "@write" :
					  (cmd->flags & RESP_CMD_READONLY) ? "@read" : "@connection");
	resp_reply_set(c, 0);
	resp_reply_array(c, 0);
	resp_reply_array(c, nsubs);
	for (i = 0; i < nsubs; i++)
		reply_command_info(c, &cmd->subcommands[i]);
}

void
resp_cmd_command(RespClient *c, RespRequest *req)
{
	const RespCommand *table = resp_command_table();
	int			n = resp_command_count();
	int			i;

	resp_reply_array(c, n);
	for (i = 0; i < n; i++)
		reply_command_info(c, &table[i]);
}

void
resp_cmd_command_count(RespClient *c, RespRequest *req)
{
	resp_reply_int(c, resp_command_count());
}

static const RespCommand *
command_named(const char *name)
{
	const RespCommand *cmd;

	for (cmd = resp_command_table(); cmd->name; cmd++)
		if (pg_strcasecmp(cmd->name, name) == 0)
			return cmd;
	return NULL;
}

void
resp_cmd_command_info(RespClient *c, RespRequest *req)
{
	const RespCommand *table = resp_command_table();
	int			i;

	if (req->argc == 2)
	{
		resp_cmd_command(c, req);
		return;
	}
	resp_reply_array(c, req->argc - 2);
	for (i = 2; i < req->argc; i++)
	{
		const RespCommand *cmd = command_named(req->argv[i]);

		if (cmd)
			reply_command_info(c, cmd);
		else
			resp_reply_null_array(c);
	}
	(void) table;
}

/* one command's docs: summary, since, group, and its subcommands' */
static void
reply_docs(RespClient *c, const RespCommand *cmd)
{
	int			nsubs = count_table(cmd->subcommands);
	int			i;

	resp_reply_map(c, nsubs > 0 ? 4 : 3);
	resp_reply_cstr(c, "summary");
	resp_reply_cstr(c, cmd->summary ? cmd->summary : "");
	resp_reply_cstr(c, "since");
	resp_reply_cstr(c, "1.0.0");
	resp_reply_cstr(c, "group");
	resp_reply_cstr(c, cmd->group ? cmd->group : "generic");
	if (nsubs > 0)
	{
		resp_reply_cstr(c, "subcommands");
		resp_reply_map(c, nsubs);
		for (i = 0; i < nsubs; i++)
		{
			resp_reply_cstr(c, cmd->subcommands[i].name);
			reply_docs(c, &cmd->subcommands[i]);
		}
	}
}

void
resp_cmd_command_docs(RespClient *c, RespRequest *req)
{
	const RespCommand *cmd;
	int			n = 0;
	int			i;

	if (req->argc == 2)
	{
		resp_reply_map(c, resp_command_count());
		for (cmd = resp_command_table(); cmd->name; cmd++)
		{
			resp_reply_cstr(c, cmd->name);
			reply_docs(c, cmd);
		}
		return;
	}
	for (i = 2; i < req->argc; i++)
		if (command_named(req->argv[i]))
			n++;
	resp_reply_map(c, n);
	for (i = 2; i < req->argc; i++)
	{
		if ((cmd = command_named(req->argv[i])) == NULL)
			continue;
		resp_reply_cstr(c, cmd->name);
		reply_docs(c, cmd);
	}
}
