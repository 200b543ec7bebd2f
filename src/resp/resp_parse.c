/*-------------------------------------------------------------------------
 *
 * resp_parse.c
 *		Splitting a client's input into requests: RESP multibulk and inline.
 *
 * The rules and the error texts are those of Redis's networking.c
 * (processMultibulkBuffer, processInlineBuffer): a request starting with
 * '*' is an array of bulk strings, anything else is an inline command split
 * like sdssplitargs does.  Limits:
 *
 *	 - a header line or an inline request: 64kB (PROTO_INLINE_MAX_SIZE);
 *	 - one argument: pg_memshard.resp_max_request_size (proto-max-bulk-len),
 *	   and all arguments of one request together the same (past it the
 *	   client is closed, as Redis does past client-query-buffer-limit);
 *	 - before AUTH, 10 arguments and 16kB per argument, as Redis.
 *
 * A multibulk request may arrive in many reads: the parser keeps where it is
 * (arguments seen, the length of the next one) in the client, with argument
 * offsets into the input buffer, so nothing is parsed twice.  Arguments of
 * a multibulk request stay in the input buffer (NUL-terminated in place, over
 * the '\r' that follows them); inline arguments are copied into the
 * caller's memory context.  A protocol error writes Redis's error reply and
 * marks the client to be closed once it is sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "resp/resp.h"

static RespParseResult protocol_error(RespClient *c, const char *msg);
static RespParseResult parse_multibulk(RespClient *c, RespRequest *req);
static RespParseResult parse_inline(RespClient *c, RespRequest *req);
static bool split_args(const char *line, size_t len, RespRequest *req);

static inline bool
auth_required(RespClient *c)
{
	return resp_auth && !c->authenticated;
}

static RespParseResult
protocol_error(RespClient *c, const char *msg)
{
	resp_reply_error(c, "Protocol error: %s", msg);
	c->close_after_reply = true;
	c->multibulk = 0;
	return RESP_PARSE_ERROR;
}

/* position of the first '\r' in in[from .. inlen), or -1 */
static ssize_t
find_cr(RespClient *c, size_t from)
{
	char	   *p = memchr(c->in + from, '\r', c->inlen - from);

	return p ? p - c->in : -1;
}

/* a whole "*n" or "$n" line at inpos: *cr is its '\r' */
static RespParseResult
header_line(RespClient *c, const char *toobig, ssize_t *cr)
{
	*cr = find_cr(c, c->inpos);
	if (*cr < 0)
	{
		if (c->inlen - c->inpos > RESP_INLINE_MAX)
			return protocol_error(c, toobig);
		return RESP_PARSE_MORE;
	}
	if ((size_t) *cr + 1 >= c->inlen)
		return RESP_PARSE_MORE;
	return RESP_PARSE_DONE;
}

/*
 * The next request of the client, if its input holds one whole.  After
 * RESP_PARSE_DONE, req's arguments point into the client's input buffer or
 * into the current memory context, valid until the next call.
 */
RespParseResult
resp_parse_request(RespClient *c, RespRequest *req)
{
	if (c->close_after_reply || c->closing)
		return RESP_PARSE_MORE;
	if (c->multibulk == 0)
	{
		if (c->inpos >= c->inlen)
			return RESP_PARSE_MORE;
		if (c->in[c->inpos] != '*')
			return parse_inline(c, req);
	}
	return parse_multibulk(c, req);
}

/* the "*<n>" line of a new request */
static RespParseResult
parse_count(RespClient *c)
{
	ssize_t		cr;
	int64		n;
	RespParseResult rc = header_line(c, "too big mbulk count string", &cr);

	if (rc != RESP_PARSE_DONE)
		return rc;
	if (!resp_parse_ll(c->in + c->inpos + 1, cr - c->inpos - 1, &n) ||
		n > INT_MAX)
		return protocol_error(c, "invalid multibulk length");
	if (n > RESP_UNAUTH_MAX_ARGS && auth_required(c))
		return protocol_error(c, "unauthenticated multibulk length");
	c->reqstart = c->inpos;
	c->inpos = cr + 2;
	if (n <= 0)
		return RESP_PARSE_EMPTY;
	c->multibulk = n;
	c->bulklen = -1;
	c->argc = 0;
	return RESP_PARSE_DONE;
}

/* the "$<len>" line of the next argument */
static RespParseResult
parse_bulk_length(RespClient *c)
{
	ssize_t		cr;
	int64		len;
	RespParseResult rc = header_line(c, "too big bulk count string", &cr);

	if (rc != RESP_PARSE_DONE)
		return rc;
	if (c->in[c->inpos] != '$')
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "expected '$', got '%c'", c->in[c->inpos]);
		return protocol_error(c, msg);
	}
	if (!resp_parse_ll(c->in + c->inpos + 1, cr - c->inpos - 1, &len) ||
		len < 0 || len > resp_max_request_size)
		return protocol_error(c, "invalid bulk length");
	if (len > RESP_UNAUTH_MAX_BULK && auth_required(c))
		return protocol_error(c, "unauthenticated bulk length");
	c->inpos = cr + 2;
	/* the whole request is bounded too: close, as Redis's query buffer limit */
	if ((cr + 2 - c->reqstart) + (size_t) len > (size_t) resp_max_request_size + RESP_INLINE_MAX)
	{
		ereport(LOG,
				(errmsg("pg_memshard resp: closing client %s: request larger than pg_memshard.resp_max_request_size",
						c->addr)));
		c->closing = true;
		c->multibulk = 0;
		return RESP_PARSE_ERROR;
	}
	c->bulklen = len;
	return RESP_PARSE_DONE;
}

static RespParseResult
parse_multibulk(RespClient *c, RespRequest *req)
{
	RespParseResult rc;
	int			i;

	if (c->multibulk == 0 && (rc = parse_count(c)) != RESP_PARSE_DONE)
		return rc;
	while (c->multibulk > 0)
	{
		if (c->bulklen < 0 && (rc = parse_bulk_length(c)) != RESP_PARSE_DONE)
			return rc;
		if (c->inlen - c->inpos < (size_t) c->bulklen + 2)
			return RESP_PARSE_MORE;
		if (c->argc >= c->argcap)
		{
			int			cap = Max(c->argcap * 2, 16);

			/* never more than announced (at most INT_MAX, checked) */
			cap = Min((int64) cap, (int64) c->argc + c->multibulk);
			c->argoff = c->argoff ?
				repalloc_huge(c->argoff, sizeof(size_t) * cap) :
				MemoryContextAllocHuge(TopMemoryContext, sizeof(size_t) * cap);
			c->arglen = c->arglen ?
				repalloc_huge(c->arglen, sizeof(size_t) * cap) :
				MemoryContextAllocHuge(TopMemoryContext, sizeof(size_t) * cap);
			c->argcap = cap;
		}
		c->argoff[c->argc] = c->inpos;
		c->arglen[c->argc] = c->bulklen;
		c->argc++;
		c->in[c->inpos + c->bulklen] = '\0';	/* over its '\r' */
		c->inpos += c->bulklen + 2;
		c->bulklen = -1;
		c->multibulk--;
	}

	req->argc = c->argc;
	req->argv = palloc(sizeof(char *) * c->argc);
	req->argvlen = palloc(sizeof(size_t) * c->argc);
	for (i = 0; i < c->argc; i++)
	{
		req->argv[i] = c->in + c->argoff[i];
		req->argvlen[i] = c->arglen[i];
	}
	c->argc = 0;
	return RESP_PARSE_DONE;
}

static RespParseResult
parse_inline(RespClient *c, RespRequest *req)
{
	char	   *nl = memchr(c->in + c->inpos, '\n', c->inlen - c->inpos);
	size_t		len;

	if (nl == NULL)
	{
		if (c->inlen - c->inpos > RESP_INLINE_MAX)
			return protocol_error(c, "too big inline request");
		return RESP_PARSE_MORE;
	}
	len = nl - (c->in + c->inpos);
	if (len > 0 && nl[-1] == '\r')
		len--;
	if (!split_args(c->in + c->inpos, len, req))
		return protocol_error(c, "unbalanced quotes in request");
	c->inpos = (nl - c->in) + 1;
	return req->argc == 0 ? RESP_PARSE_EMPTY : RESP_PARSE_DONE;
}

static int
hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t' ||
		ch == '\v' || ch == '\f';
}

/*
 * One argument of an inline request, from *pp, as sdssplitargs reads it:
 * "double quotes" with \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes'
 * with \', and a closing quote must be followed by a space or the end.
 */
static bool
split_one(const char **pp, const char *end, StringInfo arg)
{
	const char *p = *pp;
	bool		inq = false;	/* in "" */
	bool		insq = false;	/* in '' */

	for (;;)
	{
		if (inq)
		{
			if (p >= end)
				return false;
			if (*p == '\\' && p + 3 < end && p[1] == 'x' &&
				hex_digit(p[2]) >= 0 && hex_digit(p[3]) >= 0)
			{
				appendStringInfoChar(arg, (char) (hex_digit(p[2]) * 16 + hex_digit(p[3])));
				p += 3;
			}
			else if (*p == '\\' && p + 1 < end)
			{
				char		ch;

				p++;
				switch (*p)
				{
					case 'n': ch = '\n'; break;
					case 'r': ch = '\r'; break;
					case 't': ch = '\t'; break;
					case 'b': ch = '\b'; break;
					case 'a': ch = '\a'; break;
					default: ch = *p; break;
				}
				appendStringInfoChar(arg, ch);
			}
			else if (*p == '"')
			{
				if (p + 1 < end && !is_space(p[1]))
					return false;
				p++;
				break;
			}
			else
				appendStringInfoChar(arg, *p);
		}
		else if (insq)
		{
			if (p >= end)
				return false;
			if (*p == '\\' && p + 1 < end && p[1] == '\'')
			{
				p++;
				appendStringInfoChar(arg, '\'');
			}
			else if (*p == '\'')
			{
				if (p + 1 < end && !is_space(p[1]))
					return false;
				p++;
				break;
			}
			else
				appendStringInfoChar(arg, *p);
		}
		else
		{
			if (p >= end || is_space(*p))
				break;
			if (*p == '"')
				inq = true;
			else if (*p == '\'')
				insq = true;
			else
				appendStringInfoChar(arg, *p);
		}
		p++;
	}
	*pp = p;
	return true;
}

static bool
split_args(const char *line, size_t len, RespRequest *req)
{
	const char *p = line;
	const char *end = line + len;
	int			cap = 8;

	req->argc = 0;
	req->argv = palloc(sizeof(char *) * cap);
	req->argvlen = palloc(sizeof(size_t) * cap);
	for (;;)
	{
		StringInfoData arg;

		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			return true;
		initStringInfo(&arg);
		if (!split_one(&p, end, &arg))
			return false;
		if (req->argc >= cap)
		{
			cap *= 2;
			req->argv = repalloc(req->argv, sizeof(char *) * cap);
			req->argvlen = repalloc(req->argvlen, sizeof(size_t) * cap);
		}
		req->argv[req->argc] = arg.data;
		req->argvlen[req->argc] = arg.len;
		req->argc++;
	}
}

/*
 * Drop input already parsed, keeping a request being read (its arguments'
 * offsets move with it).  Called before reading more.
 */
void
resp_input_consumed(RespClient *c)
{
	size_t		keep = c->multibulk > 0 ? c->reqstart : c->inpos;
	int			i;

	if (keep == 0)
		return;
	memmove(c->in, c->in + keep, c->inlen - keep);
	c->inlen -= keep;
	c->inpos -= keep;
	if (c->multibulk > 0)
	{
		for (i = 0; i < c->argc; i++)
			c->argoff[i] -= keep;
		c->reqstart = 0;
	}
}
