/*-------------------------------------------------------------------------
 *
 * resp_reply.c
 *		Encoding replies into a client's output buffer, as Redis 7 does.
 *
 * Every reply is appended to the client's output buffer, sent by the event
 * loop when the socket is writable.  The encodings follow Redis's
 * networking.c byte for byte: RESP2 and RESP3 differ in nulls ("$-1" and
 * "*-1" against "_"), maps ("*2n" against "%n"), sets ("*n" against "~n")
 * and verbatim strings ("$" against "=").  Errors get "-ERR " unless their
 * text starts with an error code of its own ("-NOAUTH ..."), and newlines in
 * them become spaces, so user input can never break the protocol.
 *
 * The buffer lives in TopMemoryContext and grows by doubling; the worker
 * drops a client whose unsent output passes pg_memshard.resp_max_output_buffer
 * (checked after each command: one reply may pass it before the check).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/memutils.h"

#include "resp/resp.h"

static void
reserve(RespClient *c, size_t extra)
{
	size_t		need;

	/* slide unsent bytes to the front before growing */
	if (c->outpos > 0 && c->outpos == c->outlen)
		c->outpos = c->outlen = 0;
	need = c->outlen + extra;
	if (need <= c->outcap)
		return;
	if (c->outpos > 0 && need - c->outpos <= c->outcap)
	{
		memmove(c->out, c->out + c->outpos, c->outlen - c->outpos);
		c->outlen -= c->outpos;
		c->outpos = 0;
		return;
	}
	{
		size_t		cap = Max(c->outcap, 4096);

		while (cap < need)
			cap *= 2;
		if (c->out == NULL)
			c->out = MemoryContextAllocHuge(TopMemoryContext, cap);
		else
			c->out = repalloc_huge(c->out, cap);
		c->outcap = cap;
	}
}

void
resp_reply_raw(RespClient *c, const char *data, size_t len)
{
	if (c->closing)
		return;
	reserve(c, len);
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
}

size_t
resp_output_pending(RespClient *c)
{
	return c->outlen - c->outpos;
}

/* "<prefix><number>\r\n" */
static void
reply_header(RespClient *c, char prefix, int64 n)
{
	char		buf[32];
	int			len;

	len = snprintf(buf, sizeof(buf), "%c" INT64_FORMAT "\r\n", prefix, n);
	resp_reply_raw(c, buf, len);
}

void
resp_reply_status(RespClient *c, const char *status)
{
	resp_reply_raw(c, "+", 1);
	resp_reply_raw(c, status, strlen(status));
	resp_reply_raw(c, "\r\n", 2);
}

void
resp_reply_ok(RespClient *c)
{
	resp_reply_raw(c, "+OK\r\n", 5);
}

/*
 * An error: "-ERR <text>", or the text as it is when it starts with '-'
 * (its own error code).  CR and LF inside become spaces, trailing ones go.
 */
void
resp_reply_error(RespClient *c, const char *fmt,...)
{
	StringInfoData buf;
	va_list		args;
	int			i;

	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	while (buf.len > 0 && (buf.data[buf.len - 1] == '\r' ||
						   buf.data[buf.len - 1] == '\n'))
		buf.data[--buf.len] = '\0';
	for (i = 0; i < buf.len; i++)
		if (buf.data[i] == '\r' || buf.data[i] == '\n')
			buf.data[i] = ' ';
	if (buf.len == 0 || buf.data[0] != '-')
		resp_reply_raw(c, "-ERR ", 5);
	resp_reply_raw(c, buf.data, buf.len);
	resp_reply_raw(c, "\r\n", 2);
	pfree(buf.data);
}

void
resp_reply_int(RespClient *c, int64 value)
{
	if (value == 0)
		resp_reply_raw(c, ":0\r\n", 4);
	else if (value == 1)
		resp_reply_raw(c, ":1\r\n", 4);
	else
		reply_header(c, ':', value);
}

void
resp_reply_bulk(RespClient *c, const char *data, size_t len)
{
	reply_header(c, '$', (int64) len);
	resp_reply_raw(c, data, len);
	resp_reply_raw(c, "\r\n", 2);
}

void
resp_reply_cstr(RespClient *c, const char *str)
{
	resp_reply_bulk(c, str, strlen(str));
}

void
resp_reply_bulk_int(RespClient *c, int64 value)
{
	char		buf[32];
	int			len = snprintf(buf, sizeof(buf), INT64_FORMAT, value);

	resp_reply_bulk(c, buf, len);
}

void
resp_reply_null(RespClient *c)
{
	if (c->proto >= 3)
		resp_reply_raw(c, "_\r\n", 3);
	else
		resp_reply_raw(c, "$-1\r\n", 5);
}

void
resp_reply_null_array(RespClient *c)
{
	if (c->proto >= 3)
		resp_reply_raw(c, "_\r\n", 3);
	else
		resp_reply_raw(c, "*-1\r\n", 5);
}

void
resp_reply_array(RespClient *c, int64 n)
{
	reply_header(c, '*', n);
}

/* a map of n pairs: RESP2 writes it as an array of 2n elements */
void
resp_reply_map(RespClient *c, int64 n)
{
	if (c->proto >= 3)
		reply_header(c, '%', n);
	else
		reply_header(c, '*', 2 * n);
}

void
resp_reply_set(RespClient *c, int64 n)
{
	reply_header(c, c->proto >= 3 ? '~' : '*', n);
}

/* INFO's text: a verbatim string "txt:" in RESP3, a bulk string in RESP2 */
void
resp_reply_verbatim(RespClient *c, const char *data, size_t len)
{
	if (c->proto < 3)
	{
		resp_reply_bulk(c, data, len);
		return;
	}
	reply_header(c, '=', (int64) len + 4);
	resp_reply_raw(c, "txt:", 4);
	resp_reply_raw(c, data, len);
	resp_reply_raw(c, "\r\n", 2);
}
