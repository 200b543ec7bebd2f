/*-------------------------------------------------------------------------
 *
 * resp_keys.c
 *		Key commands: DEL, UNLINK, EXISTS, EXPIRE and its variants, TTL and
 *		its variants, PERSIST, TYPE, KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL.
 *
 * Replies and checks follow Redis's expire.c and db.c.  Every value is a
 * string, so TYPE answers "string" or "none".  Expiry times are the store's:
 * kept to 100 ms and rounded up, and read back 100 ms lower
 * (resp_data.c), so PTTL and PEXPIRETIME may read up to 100 ms less than
 * was set, never more (TTL and EXPIRETIME round to seconds as Redis does and
 * read what was set).
 *
 * KEYS and SCAN walk the map's keys with the router's scan
 * (router_scan_keys: the store's batched scan, one partition lock held at a
 * time and never while we reply; node after node for a map over nodes).  A
 * SCAN cursor is the router's (node, partition, bucket, items of that
 * bucket already returned), so SCAN returns every key present for the
 * whole iteration at least once, as Redis promises; COUNT is a hint, as in
 * Redis (a batch may hold more).  DBSIZE is the router's item count.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>

#include "miscadmin.h"

#include "resp/resp.h"

#define KEY(i)		req->argv[i], (int) req->argvlen[i]

#define EXPIRE_NX	0x01
#define EXPIRE_XX	0x02
#define EXPIRE_GT	0x04
#define EXPIRE_LT	0x08

/* keys asked of the router at a time by KEYS (and at most by SCAN) */
#define KEYS_BATCH	4096

void
resp_cmd_del(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int64		deleted = 0;
	int			i;

	for (i = 1; i < req->argc; i++)
		if (router_delete(map, KEY(i)))
			deleted++;
	resp_reply_int(c, deleted);
}

void
resp_cmd_exists(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int			n = req->argc - 1;
	char	  **values = palloc(sizeof(char *) * n);
	int		   *vallens = palloc(sizeof(int) * n);
	int		   *keylens = palloc(sizeof(int) * n);
	int64		count = 0;
	int			i;

	for (i = 0; i < n; i++)
		keylens[i] = req->argvlen[i + 1];
	router_mget(map, n, req->argv + 1, keylens, 0, values, vallens, NULL);
	for (i = 0; i < n; i++)
		if (values[i])
			count++;
	resp_reply_int(c, count);
}

/* parseExtendedExpireArgumentsOrReply */
static bool
expire_flags(RespClient *c, RespRequest *req, int *flags)
{
	int			j;

	*flags = 0;
	for (j = 3; j < req->argc; j++)
	{
		if (pg_strcasecmp(req->argv[j], "nx") == 0)
			*flags |= EXPIRE_NX;
		else if (pg_strcasecmp(req->argv[j], "xx") == 0)
			*flags |= EXPIRE_XX;
		else if (pg_strcasecmp(req->argv[j], "gt") == 0)
			*flags |= EXPIRE_GT;
		else if (pg_strcasecmp(req->argv[j], "lt") == 0)
			*flags |= EXPIRE_LT;
		else
		{
			resp_reply_error(c, "Unsupported option %s", req->argv[j]);
			return false;
		}
	}
	if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)))
	{
		resp_reply_error(c, "NX and XX, GT or LT options at the same time are not compatible");
		return false;
	}
	if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT))
	{
		resp_reply_error(c, "GT and LT options at the same time are not compatible");
		return false;
	}
	return true;
}

/* whether NX/XX/GT/LT let 'when' replace the current expiry (0: none) */
static bool
expire_allowed(int flags, int64 current, int64 when)
{
	if ((flags & EXPIRE_NX) && current != 0)
		return false;
	if ((flags & EXPIRE_XX) && current == 0)
		return false;
	if ((flags & EXPIRE_GT) && (current == 0 || when <= current))
		return false;
	if ((flags & EXPIRE_LT) && current != 0 && when >= current)
		return false;
	return true;
}

/* expireGenericCommand: basetime 0 for the *AT forms */
static void
expire_generic(RespClient *c, RespRequest *req, int64 basetime, bool seconds)
{
	MapInfo    *map;
	RespValue	seen;
	int64		when;
	int			flags;

	if (!expire_flags(c, req, &flags) || !resp_arg_ll(c, req, 2, &when))
		return;
	if (seconds)
	{
		if (when > PG_INT64_MAX / 1000 || when < PG_INT64_MIN / 1000)
		{
			resp_reply_error(c, "invalid expire time in '%s' command",
							 resp_current_command());
			return;
		}
		when *= 1000;
	}
	if (when > PG_INT64_MAX - basetime)
	{
		resp_reply_error(c, "invalid expire time in '%s' command",
						 resp_current_command());
		return;
	}
	when += basetime;
	map = resp_map_for(c);
	for (;;)
	{
		bool		done;

		resp_read(&map, KEY(1), &seen);
		if (!seen.found || !expire_allowed(flags, seen.expire_ms, when))
		{
			resp_reply_int(c, 0);
			return;
		}
		if (when <= resp_now_ms())
			done = resp_write_if(&map, KEY(1), &seen, NULL, 0, 0);
		else
			done = resp_write_if(&map, KEY(1), &seen, seen.data, seen.len, when);
		if (done)
			break;
	}
	resp_reply_int(c, 1);
}

void
resp_cmd_expire(RespClient *c, RespRequest *req)
{
	expire_generic(c, req, resp_now_ms(), true);
}

void
resp_cmd_pexpire(RespClient *c, RespRequest *req)
{
	expire_generic(c, req, resp_now_ms(), false);
}

void
resp_cmd_expireat(RespClient *c, RespRequest *req)
{
	expire_generic(c, req, 0, true);
}

void
resp_cmd_pexpireat(RespClient *c, RespRequest *req)
{
	expire_generic(c, req, 0, false);
}

/* ttlGenericCommand */
static void
ttl_generic(RespClient *c, RespRequest *req, bool output_ms, bool absolute)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;
	int64		ttl;

	resp_peek(&map, KEY(1), &seen);
	if (!seen.found)
	{
		resp_reply_int(c, -2);
		return;
	}
	if (seen.expire_ms == 0)
	{
		resp_reply_int(c, -1);
		return;
	}
	ttl = absolute ? seen.expire_ms : seen.expire_ms - resp_now_ms();
	if (ttl < 0)
		ttl = 0;
	resp_reply_int(c, output_ms ? ttl : (ttl + 500) / 1000);
}

void
resp_cmd_ttl(RespClient *c, RespRequest *req)
{
	ttl_generic(c, req, false, false);
}

void
resp_cmd_pttl(RespClient *c, RespRequest *req)
{
	ttl_generic(c, req, true, false);
}

void
resp_cmd_expiretime(RespClient *c, RespRequest *req)
{
	ttl_generic(c, req, false, true);
}

void
resp_cmd_pexpiretime(RespClient *c, RespRequest *req)
{
	ttl_generic(c, req, true, true);
}

void
resp_cmd_persist(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;

	do
	{
		resp_read(&map, KEY(1), &seen);
		if (!seen.found || seen.expire_ms == 0)
		{
			resp_reply_int(c, 0);
			return;
		}
	} while (!resp_write_if(&map, KEY(1), &seen, seen.data, seen.len, 0));
	resp_reply_int(c, 1);
}

void
resp_cmd_type(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int			len;

	if (router_get(map, KEY(1), 0, &len) != NULL)
		resp_reply_status(c, "string");
	else
		resp_reply_status(c, "none");
}

/* keys (text values) matching pat (NULL: all), kept in *out */
static int
keep_matching(List *keys, const char *pat, size_t patlen, List **out)
{
	int			added = 0;
	ListCell   *lc;

	foreach(lc, keys)
	{
		text	   *key = lfirst(lc);

		if (pat && !resp_glob_match(pat, patlen, VARDATA_ANY(key),
									VARSIZE_ANY_EXHDR(key)))
			continue;
		*out = lappend(*out, key);
		added++;
	}
	return added;
}

static void
reply_keys(RespClient *c, List *keys)
{
	ListCell   *lc;

	resp_reply_array(c, list_length(keys));
	foreach(lc, keys)
		resp_reply_bulk(c, VARDATA_ANY(lfirst(lc)),
						VARSIZE_ANY_EXHDR(lfirst(lc)));
}

/* is pat "*", which matches everything? */
static bool
match_all(const char *pat, size_t len)
{
	return len == 1 && pat[0] == '*';
}

/* every key of the map, every node's for a map over nodes */
void
resp_cmd_keys(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	List	   *keys = NIL;
	uint64		cursor = 0;
	bool		all = match_all(req->argv[1], req->argvlen[1]);

	do
	{
		List	   *batch = NIL;

		cursor = router_scan_keys(map, cursor, KEYS_BATCH, &batch);
		keep_matching(batch, all ? NULL : req->argv[1], req->argvlen[1], &keys);
	} while (cursor != 0);
	reply_keys(c, keys);
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
void
resp_cmd_scan(RespClient *c, RespRequest *req)
{
	MapInfo    *map;
	List	   *keys = NIL;
	uint64		cursor;
	char	   *end;
	int64		count = 10;
	const char *pat = NULL;
	size_t		patlen = 0;
	bool		no_type = false;
	int			found = 0;
	int			i;
	char		buf[32];

	errno = 0;
	cursor = strtoull(req->argv[1], &end, 10);
	if (isspace((unsigned char) req->argv[1][0]) || *end != '\0' ||
		errno == ERANGE || req->argv[1][0] == '-')
	{
		resp_reply_error(c, "invalid cursor");
		return;
	}
	for (i = 2; i < req->argc; i += 2)
	{
		bool		more = i + 1 < req->argc;

		if (more && pg_strcasecmp(req->argv[i], "count") == 0)
		{
			if (!resp_arg_ll(c, req, i + 1, &count))
				return;
			if (count < 1)
			{
				resp_reply_error(c, "syntax error");
				return;
			}
		}
		else if (more && pg_strcasecmp(req->argv[i], "match") == 0)
		{
			pat = req->argv[i + 1];
			patlen = req->argvlen[i + 1];
			if (match_all(pat, patlen))
				pat = NULL;
		}
		else if (more && pg_strcasecmp(req->argv[i], "type") == 0)
			no_type = pg_strcasecmp(req->argv[i + 1], "string") != 0;
		else
		{
			resp_reply_error(c, "syntax error");
			return;
		}
	}
	map = resp_map_for(c);
	do
	{
		List	   *batch = NIL;

		cursor = router_scan_keys(map, cursor, (int) Min(count, KEYS_BATCH),
								  &batch);
		found += keep_matching(batch, pat, patlen, &keys);
	} while (found < count && cursor != 0);
	if (no_type)
		keys = NIL;				/* every key is a string */

	resp_reply_array(c, 2);
	snprintf(buf, sizeof(buf), UINT64_FORMAT, cursor);
	resp_reply_cstr(c, buf);
	reply_keys(c, keys);
}

/*
 * DBSIZE counts the live keys with a walk of the map (O(n)), on every node
 * at once for a map over nodes: the store's item counter also holds
 * expired items not yet reclaimed, which Redis's active expiry would have
 * removed.
 */
void
resp_cmd_dbsize(RespClient *c, RespRequest *req)
{
	resp_reply_int(c, router_count_items(resp_map_for(c)));
}

/* FLUSHDB and FLUSHALL take an optional ASYNC or SYNC */
static bool
flush_args(RespClient *c, RespRequest *req)
{
	if (req->argc == 1 ||
		(req->argc == 2 && (pg_strcasecmp(req->argv[1], "sync") == 0 ||
							pg_strcasecmp(req->argv[1], "async") == 0)))
		return true;
	resp_reply_error(c, "syntax error");
	return false;
}

void
resp_cmd_flushdb(RespClient *c, RespRequest *req)
{
	if (!flush_args(c, req))
		return;
	router_flush(resp_map_for(c));
	resp_reply_ok(c);
}

/* every database's map that exists (none is created for this) */
void
resp_cmd_flushall(RespClient *c, RespRequest *req)
{
	int			db;

	if (!flush_args(c, req))
		return;
	for (db = 0; db < resp_databases; db++)
	{
		char		name[NAMEDATALEN];
		MapInfo		info;

		resp_map_name(db, name, sizeof(name));
		if (!map_catalog_lookup(name, &info, CurrentMemoryContext))
			continue;
		router_flush(router_lookup_map(name, strlen(name)));
	}
	resp_reply_ok(c);
}
