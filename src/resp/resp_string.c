/*-------------------------------------------------------------------------
 *
 * resp_string.c
 *		The string commands: GET, SET and its variants, MGET, MSET, INCR and
 *		its variants, APPEND, STRLEN, GETRANGE, SETRANGE.
 *
 * Argument rules and replies follow Redis's t_string.c, in the same order
 * of checks (so the same input gets the same error).  Plain reads and
 * writes go through the router and work on every map; the commands that
 * read before they write use resp_read/resp_write_if (resp_data.c), a
 * compare-and-set loop, on maps of this node and maps over nodes alike,
 * atomic against every other writer.  A write that names no expiry gets the map's default TTL,
 * as from SQL (none for the maps the front end creates).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "resp/resp.h"

/* SET/GETEX options, as t_string.c's OBJ_ flags */
#define OPT_NX		0x01
#define OPT_XX		0x02
#define OPT_EX		0x04
#define OPT_PX		0x08
#define OPT_KEEPTTL 0x10
#define OPT_GET		0x20
#define OPT_EXAT	0x40
#define OPT_PXAT	0x80
#define OPT_PERSIST 0x100
#define OPT_ANY_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

#define KEY(i)		req->argv[i], (int) req->argvlen[i]

/* the absolute expiry of a write that names none: the map's default TTL */
static int64
default_expire(MapInfo *map)
{
	int64		ttl = resp_default_ttl(map);

	return ttl > 0 ? resp_now_ms() + ttl : 0;
}

static bool
word_is(const char *arg, const char *word)
{
	return pg_strcasecmp(arg, word) == 0;
}

/*
 * parseExtendedStringArgumentsOrReply: options from argument 'first' on;
 * *expire_arg is the index of the expiry's argument (0: none).
 */
static bool
parse_options(RespClient *c, RespRequest *req, int first, bool is_set,
			  int *flags, int *expire_arg)
{
	int			j;

	*flags = 0;
	*expire_arg = 0;
	for (j = first; j < req->argc; j++)
	{
		const char *opt = req->argv[j];
		bool		next = j < req->argc - 1;
		int			f = *flags;

		if (is_set && word_is(opt, "nx") && !(f & OPT_XX))
			*flags |= OPT_NX;
		else if (is_set && word_is(opt, "xx") && !(f & OPT_NX))
			*flags |= OPT_XX;
		else if (is_set && word_is(opt, "get"))
			*flags |= OPT_GET;
		else if (is_set && word_is(opt, "keepttl") && !(f & (OPT_PERSIST | OPT_ANY_EXPIRE)))
			*flags |= OPT_KEEPTTL;
		else if (!is_set && word_is(opt, "persist") && !(f & (OPT_ANY_EXPIRE | OPT_KEEPTTL)))
			*flags |= OPT_PERSIST;
		else if (next && !(f & (OPT_KEEPTTL | OPT_PERSIST)) &&
				 ((word_is(opt, "ex") && !(f & (OPT_EXAT | OPT_PX | OPT_PXAT))) ||
				  (word_is(opt, "px") && !(f & (OPT_EX | OPT_EXAT | OPT_PXAT))) ||
				  (word_is(opt, "exat") && !(f & (OPT_EX | OPT_PX | OPT_PXAT))) ||
				  (word_is(opt, "pxat") && !(f & (OPT_EX | OPT_EXAT | OPT_PX)))))
		{
			*flags |= word_is(opt, "ex") ? OPT_EX : word_is(opt, "px") ? OPT_PX :
				word_is(opt, "exat") ? OPT_EXAT : OPT_PXAT;
			*expire_arg = ++j;
		}
		else
		{
			resp_reply_error(c, "syntax error");
			return false;
		}
	}
	return true;
}

/*
 * getExpireMillisecondsOrReply: the absolute expiry in Unix ms of an EX, PX,
 * EXAT or PXAT argument.
 */
static bool
expire_arg_ms(RespClient *c, RespRequest *req, int arg, int flags,
			  int64 *when)
{
	bool		seconds = (flags & (OPT_EX | OPT_EXAT)) != 0;

	if (!resp_arg_ll(c, req, arg, when))
		return false;
	if (*when <= 0 || (seconds && *when > PG_INT64_MAX / 1000))
	{
		resp_reply_error(c, "invalid expire time in '%s' command",
						 resp_current_command());
		return false;
	}
	if (seconds)
		*when *= 1000;
	if (flags & (OPT_EX | OPT_PX))
	{
		int64		now = resp_now_ms();

		if (*when > PG_INT64_MAX - now)
		{
			resp_reply_error(c, "invalid expire time in '%s' command",
							 resp_current_command());
			return false;
		}
		*when += now;
	}
	return true;
}

/* SET's work once its arguments are checked */
static void
set_generic(RespClient *c, RespRequest *req, int valarg, int flags,
			int64 when, bool setnx)
{
	MapInfo    *map = resp_map_for(c);
	const char *value = req->argv[valarg];
	int			vallen = req->argvlen[valarg];
	RespValue	seen;

	if (!resp_check_item(c, req->argvlen[1], vallen))
		return;
	/* plain sets through the router; absolute times exact (below) */
	if (!(flags & (OPT_GET | OPT_KEEPTTL | OPT_EXAT | OPT_PXAT)) &&
		(when == 0 || when > resp_now_ms()))
	{
		int64		ttl = when ? when - resp_now_ms() : resp_default_ttl(map);
		StoreSetMode mode = (flags & OPT_NX) ? STORE_ADD :
			(flags & OPT_XX) ? STORE_REPLACE : STORE_SET;
		bool		stored = router_set(map, KEY(1), value, vallen,
										Max(ttl, when ? 1 : 0), mode);

		if (setnx)
			resp_reply_int(c, stored ? 1 : 0);
		else if (stored)
			resp_reply_ok(c);
		else
			resp_reply_null(c);
		return;
	}

	/*
	 * GET, KEEPTTL, EXAT/PXAT or an expiry already past: read, then write if
	 * unchanged
	 */
	for (;;)
	{
		resp_read(&map, KEY(1), &seen);
		if (((flags & OPT_NX) && seen.found) || ((flags & OPT_XX) && !seen.found))
		{
			if (!(flags & OPT_GET))
				resp_reply_null(c);
			else if (seen.found)
				resp_reply_bulk(c, seen.data, seen.len);
			else
				resp_reply_null(c);
			return;
		}
		if (when != 0 && when <= resp_now_ms())
		{
			/* set and expired at once: as good as deleted */
			if (!resp_write_if(&map, KEY(1), &seen, NULL, 0, 0))
				continue;
		}
		else if (!resp_write_if(&map, KEY(1), &seen, value, vallen,
								(flags & OPT_KEEPTTL) ? -2 :
								when ? when : default_expire(map)))
			continue;
		break;
	}
	if (!(flags & OPT_GET))
		resp_reply_ok(c);
	else if (seen.found)
		resp_reply_bulk(c, seen.data, seen.len);
	else
		resp_reply_null(c);
}

void
resp_cmd_set(RespClient *c, RespRequest *req)
{
	int			flags;
	int			expire_arg;
	int64		when = 0;

	if (!parse_options(c, req, 3, true, &flags, &expire_arg))
		return;
	if (expire_arg && !expire_arg_ms(c, req, expire_arg, flags, &when))
		return;
	set_generic(c, req, 2, flags, when, false);
}

void
resp_cmd_setnx(RespClient *c, RespRequest *req)
{
	set_generic(c, req, 2, OPT_NX, 0, true);
}

void
resp_cmd_setex(RespClient *c, RespRequest *req)
{
	int64		when;

	if (expire_arg_ms(c, req, 2, OPT_EX, &when))
		set_generic(c, req, 3, OPT_EX, when, false);
}

void
resp_cmd_psetex(RespClient *c, RespRequest *req)
{
	int64		when;

	if (expire_arg_ms(c, req, 2, OPT_PX, &when))
		set_generic(c, req, 3, OPT_PX, when, false);
}

void
resp_cmd_get(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int			len;
	char	   *value = router_get(map, KEY(1), 0, &len);

	if (value)
		resp_reply_bulk(c, value, len);
	else
		resp_reply_null(c);
}

void
resp_cmd_getset(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;

	if (!resp_check_item(c, req->argvlen[1], req->argvlen[2]))
		return;
	do
		resp_read(&map, KEY(1), &seen);
	while (!resp_write_if(&map, KEY(1), &seen, KEY(2), default_expire(map)));
	if (seen.found)
		resp_reply_bulk(c, seen.data, seen.len);
	else
		resp_reply_null(c);
}

void
resp_cmd_getdel(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;

	do
	{
		resp_read(&map, KEY(1), &seen);
		if (!seen.found)
		{
			resp_reply_null(c);
			return;
		}
	} while (!resp_write_if(&map, KEY(1), &seen, NULL, 0, 0));
	resp_reply_bulk(c, seen.data, seen.len);
}

void
resp_cmd_getex(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;
	int			flags;
	int			expire_arg;
	int64		when = 0;

	if (!parse_options(c, req, 2, false, &flags, &expire_arg))
		return;
	resp_read(&map, KEY(1), &seen);
	if (!seen.found)
	{
		resp_reply_null(c);
		return;
	}
	/* Redis checks the expiry only once it found the key */
	if (expire_arg && !expire_arg_ms(c, req, expire_arg, flags, &when))
		return;
	while (expire_arg || ((flags & OPT_PERSIST) && seen.expire_ms))
	{
		bool		done;

		if (when && when <= resp_now_ms())
			done = resp_write_if(&map, KEY(1), &seen, NULL, 0, 0);
		else
			done = resp_write_if(&map, KEY(1), &seen, seen.data, seen.len, when);
		if (done)
			break;
		resp_read(&map, KEY(1), &seen);
		if (!seen.found)
		{
			resp_reply_null(c);
			return;
		}
	}
	resp_reply_bulk(c, seen.data, seen.len);
}

void
resp_cmd_mget(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int			n = req->argc - 1;
	char	  **values = palloc(sizeof(char *) * n);
	int		   *vallens = palloc(sizeof(int) * n);
	int		   *keylens = palloc(sizeof(int) * n);
	int			i;

	for (i = 0; i < n; i++)
		keylens[i] = req->argvlen[i + 1];
	router_mget(map, n, req->argv + 1, keylens, 0, values, vallens, NULL);
	resp_reply_array(c, n);
	for (i = 0; i < n; i++)
	{
		if (values[i])
			resp_reply_bulk(c, values[i], vallens[i]);
		else
			resp_reply_null(c);
	}
}

/* keys and values of MSET/MSETNX, checked; false after an error reply */
static bool
mset_args(RespClient *c, RespRequest *req, char ***keys, int **keylens,
		  char ***values, int **vallens)
{
	int			n = (req->argc - 1) / 2;
	int			i;

	if (req->argc % 2 == 0)
	{
		resp_reply_arity(c, req);
		return false;
	}
	*keys = palloc(sizeof(char *) * n);
	*values = palloc(sizeof(char *) * n);
	*keylens = palloc(sizeof(int) * n);
	*vallens = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
	{
		(*keys)[i] = req->argv[1 + 2 * i];
		(*keylens)[i] = req->argvlen[1 + 2 * i];
		(*values)[i] = req->argv[2 + 2 * i];
		(*vallens)[i] = req->argvlen[2 + 2 * i];
		if (!resp_check_item(c, (*keylens)[i], (*vallens)[i]))
			return false;
	}
	return true;
}

void
resp_cmd_mset(RespClient *c, RespRequest *req)
{
	char	  **keys;
	char	  **values;
	int		   *keylens;
	int		   *vallens;
	MapInfo    *map;

	if (!mset_args(c, req, &keys, &keylens, &values, &vallens))
		return;
	map = resp_map_for(c);
	router_mset(map, (req->argc - 1) / 2, keys, keylens, values, vallens,
				resp_default_ttl(map));
	resp_reply_ok(c);
}

static bool named_later(char **keys, const int *keylens, int n, int i);
static void msetnx_undo(MapInfo **map, char **keys, const int *keylens,
						char **values, const int *vallens, int n, int upto);

/*
 * MSETNX: 0 if any key exists, else set them all (the last of a key named
 * twice wins, as in Redis).  All or none: each key is created by a
 * compare-and-set "if absent" on its primary copy; once one exists, the
 * keys created so far are deleted again (each only if it still holds our
 * value), and the reply is 0.  Not isolated: a reader may see some of the
 * keys for that moment, and a writer that changes one of them meanwhile
 * keeps its value.  The same on a map over nodes, keys of any nodes (each
 * compare-and-set on its key's primary): no CROSSSLOT, as we have no hash
 * tags a client could use to bring its keys together.  A node that fails
 * midway fails the command (ERROR) and the keys created before stay.
 */
void
resp_cmd_msetnx(RespClient *c, RespRequest *req)
{
	char	  **keys;
	char	  **values;
	int		   *keylens;
	int		   *vallens;
	int			n = (req->argc - 1) / 2;
	int			i;
	MapInfo    *map;

	if (!mset_args(c, req, &keys, &keylens, &values, &vallens))
		return;
	map = resp_map_for(c);
	for (i = 0; i < n; i++)
	{
		RespValue	absent = {false};

		if (named_later(keys, keylens, n, i))
			continue;
		if (!resp_write_if(&map, keys[i], keylens[i], &absent, values[i],
						   vallens[i], default_expire(map)))
		{
			msetnx_undo(&map, keys, keylens, values, vallens, n, i);
			resp_reply_int(c, 0);
			return;
		}
	}
	resp_reply_int(c, 1);
}

/* true when keys[i] is named again after i (that later value wins) */
static bool
named_later(char **keys, const int *keylens, int n, int i)
{
	int			j;

	for (j = i + 1; j < n; j++)
		if (keylens[j] == keylens[i] && memcmp(keys[j], keys[i], keylens[i]) == 0)
			return true;
	return false;
}

/* MSETNX lost: delete the keys before upto it created, if still ours */
static void
msetnx_undo(MapInfo **map, char **keys, const int *keylens, char **values,
			const int *vallens, int n, int upto)
{
	int			i;

	for (i = 0; i < upto; i++)
	{
		RespValue	seen;

		if (named_later(keys, keylens, n, i))
			continue;
		resp_read(map, keys[i], keylens[i], &seen);
		if (seen.found && seen.len == vallens[i] &&
			memcmp(seen.data, values[i], vallens[i]) == 0)
			(void) resp_write_if(map, keys[i], keylens[i], &seen, NULL, 0, 0);
	}
}

/* INCRBY's work: Redis's integer rules, keeping the key's expiry */
static void
incr_generic(RespClient *c, RespRequest *req, int64 delta)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;
	int64		value;
	char		buf[32];

	for (;;)
	{
		int64		old = 0;

		resp_read(&map, KEY(1), &seen);
		if (seen.found && !resp_parse_ll(seen.data, seen.len, &old))
		{
			resp_reply_error(c, "value is not an integer or out of range");
			return;
		}
		if ((delta < 0 && old < 0 && delta < PG_INT64_MIN - old) ||
			(delta > 0 && old > 0 && delta > PG_INT64_MAX - old))
		{
			resp_reply_error(c, "increment or decrement would overflow");
			return;
		}
		value = old + delta;
		snprintf(buf, sizeof(buf), INT64_FORMAT, value);
		if (resp_write_if(&map, KEY(1), &seen, buf, strlen(buf),
						  seen.found ? -2 : default_expire(map)))
			break;
	}
	resp_reply_int(c, value);
}

void
resp_cmd_incr(RespClient *c, RespRequest *req)
{
	incr_generic(c, req, 1);
}

void
resp_cmd_decr(RespClient *c, RespRequest *req)
{
	incr_generic(c, req, -1);
}

void
resp_cmd_incrby(RespClient *c, RespRequest *req)
{
	int64		delta;

	if (resp_arg_ll(c, req, 2, &delta))
		incr_generic(c, req, delta);
}

void
resp_cmd_decrby(RespClient *c, RespRequest *req)
{
	int64		delta;

	if (!resp_arg_ll(c, req, 2, &delta))
		return;
	if (delta == PG_INT64_MIN)
	{
		resp_reply_error(c, "decrement would overflow");
		return;
	}
	incr_generic(c, req, -delta);
}

void
resp_cmd_incrbyfloat(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;
	char		buf[5 * 1024];
	int			len;

	for (;;)
	{
		long double value = 0;
		long double incr;

		resp_read(&map, KEY(1), &seen);
		if ((seen.found && !resp_parse_ld(seen.data, seen.len, &value)) ||
			!resp_parse_ld(req->argv[2], req->argvlen[2], &incr))
		{
			resp_reply_error(c, "value is not a valid float");
			return;
		}
		value += incr;
		if (isnan(value) || isinf(value))
		{
			resp_reply_error(c, "increment would produce NaN or Infinity");
			return;
		}
		len = resp_format_ld(buf, sizeof(buf), value);
		if (resp_write_if(&map, KEY(1), &seen, buf, len,
						  seen.found ? -2 : default_expire(map)))
			break;
	}
	resp_reply_bulk(c, buf, len);
}

/* checkStringLength: a result longer than proto-max-bulk-len is refused */
static bool
check_string_length(RespClient *c, int64 size, int64 append)
{
	uint64		total = (uint64) size + (uint64) append;

	if (total > (uint64) resp_max_request_size || (int64) total < size ||
		(int64) total < append)
	{
		resp_reply_error(c, "string exceeds maximum allowed size (proto-max-bulk-len)");
		return false;
	}
	return true;
}

void
resp_cmd_append(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	RespValue	seen;
	char	   *value;
	size_t		len;

	for (;;)
	{
		resp_read(&map, KEY(1), &seen);
		if (seen.found && !check_string_length(c, seen.len, req->argvlen[2]))
			return;
		len = (seen.found ? seen.len : 0) + req->argvlen[2];
		if (!resp_check_item(c, req->argvlen[1], len))
			return;
		value = palloc(len + 1);
		if (seen.found)
			memcpy(value, seen.data, seen.len);
		memcpy(value + len - req->argvlen[2], req->argv[2], req->argvlen[2]);
		if (resp_write_if(&map, KEY(1), &seen, value, len,
						  seen.found ? -2 : default_expire(map)))
			break;
		pfree(value);
	}
	resp_reply_int(c, len);
}

void
resp_cmd_strlen(RespClient *c, RespRequest *req)
{
	MapInfo    *map = resp_map_for(c);
	int			len;
	char	   *value = router_get(map, KEY(1), 0, &len);

	resp_reply_int(c, value ? len : 0);
}

void
resp_cmd_getrange(RespClient *c, RespRequest *req)
{
	MapInfo    *map;
	int64		start;
	int64		end;
	int			len;
	char	   *value;

	if (!resp_arg_ll(c, req, 2, &start) || !resp_arg_ll(c, req, 3, &end))
		return;
	map = resp_map_for(c);
	value = router_get(map, KEY(1), 0, &len);
	if (value == NULL || (start < 0 && end < 0 && start > end))
	{
		resp_reply_raw(c, "$0\r\n\r\n", 6);
		return;
	}
	if (start < 0)
		start = len + start;
	if (end < 0)
		end = len + end;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if ((uint64) end >= (uint64) len)
		end = len - 1;
	if (start > end || len == 0)
		resp_reply_raw(c, "$0\r\n\r\n", 6);
	else
		resp_reply_bulk(c, value + start, end - start + 1);
}

void
resp_cmd_setrange(RespClient *c, RespRequest *req)
{
	MapInfo    *map;
	RespValue	seen;
	int64		offset;
	size_t		addlen = req->argvlen[3];
	size_t		len;
	char	   *value;

	if (!resp_arg_ll(c, req, 2, &offset))
		return;
	if (offset < 0)
	{
		resp_reply_error(c, "offset is out of range");
		return;
	}
	map = resp_map_for(c);
	for (;;)
	{
		resp_read(&map, KEY(1), &seen);
		if (addlen == 0)
		{
			resp_reply_int(c, seen.found ? seen.len : 0);
			return;
		}
		if (!check_string_length(c, offset, addlen))
			return;
		len = Max((size_t) (seen.found ? seen.len : 0), offset + addlen);
		if (!resp_check_item(c, req->argvlen[1], len))
			return;
		value = palloc0(len + 1);
		if (seen.found)
			memcpy(value, seen.data, seen.len);
		memcpy(value + offset, req->argv[3], addlen);
		if (resp_write_if(&map, KEY(1), &seen, value, len,
						  seen.found ? -2 : default_expire(map)))
			break;
		pfree(value);
	}
	resp_reply_int(c, len);
}
