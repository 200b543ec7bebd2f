/*-------------------------------------------------------------------------
 *
 * resp_util.c
 *		What every file of the front end below the command table shares:
 *		the command being run and the table itself (for COMMAND), the
 *		worker's figures (for INFO), argument and number parsing as Redis
 *		does it, the clock, and Redis's glob.
 *
 * This file calls nothing of src/resp but the replies (resp_reply.c): the
 * command table (resp_commands.c) and the worker (resp_worker.c) set what
 * the command files read here, so that the calls go one way, worker ->
 * parser -> command table -> commands -> data, replies and this file.
 * No locks; a worker is one process with one thread.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sys/time.h>

#include "resp/resp.h"

/* the worker's figures, kept by resp_worker.c */
RespFigures resp_figures;

static const char *current_command = NULL;
static const RespCommand *command_table = NULL;

/* resp_execute: the command about to run, and the table it came from */
void
resp_set_current_command(const char *name)
{
	current_command = name;
}

void
resp_set_command_table(const RespCommand *table)
{
	command_table = table;
}

/* the full name of the command running, for error texts */
const char *
resp_current_command(void)
{
	return current_command ? current_command : "";
}

/* the command table (NULL-name terminated), for COMMAND */
const RespCommand *
resp_command_table(void)
{
	Assert(command_table != NULL);
	return command_table;
}

int
resp_command_count(void)
{
	int			n = 0;

	while (command_table && command_table[n].name)
		n++;
	return n;
}

void
resp_reply_arity(RespClient *c, RespRequest *req)
{
	resp_reply_error(c, "wrong number of arguments for '%s' command",
					 resp_current_command());
}

/* argument i equals word, case-insensitively */
bool
resp_arg_is(RespRequest *req, int i, const char *word)
{
	return i < req->argc && req->argvlen[i] == strlen(word) &&
		pg_strcasecmp(req->argv[i], word) == 0;
}

/* Redis's string2ll: no spaces, no '+', no leading zeros */
bool
resp_parse_ll(const char *s, size_t len, int64 *value)
{
	size_t		i = 0;
	bool		neg = false;
	uint64		v;

	if (len == 0 || len >= 21)
		return false;
	if (len == 1 && s[0] == '0')
	{
		*value = 0;
		return true;
	}
	if (s[0] == '-')
	{
		neg = true;
		if (++i == len)
			return false;
	}
	if (s[i] < '1' || s[i] > '9')
		return false;
	v = s[i++] - '0';
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > PG_UINT64_MAX / 10)
			return false;
		v *= 10;
		if (v > PG_UINT64_MAX - (s[i] - '0'))
			return false;
		v += s[i] - '0';
	}
	if (neg)
	{
		if (v > (uint64) PG_INT64_MAX + 1)
			return false;
		*value = (int64) (0 - v);
	}
	else
	{
		if (v > (uint64) PG_INT64_MAX)
			return false;
		*value = (int64) v;
	}
	return true;
}

/* an integer argument, or Redis's error reply */
bool
resp_arg_ll(RespClient *c, RespRequest *req, int i, int64 *value)
{
	if (resp_parse_ll(req->argv[i], req->argvlen[i], value))
		return true;
	resp_reply_error(c, "value is not an integer or out of range");
	return false;
}

/* Redis's string2ld: strtold over the whole string, no NaN */
bool
resp_parse_ld(const char *s, size_t len, long double *value)
{
	char		buf[5 * 1024];
	char	   *end;
	long double v;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtold(buf, &end);
	if (isspace((unsigned char) buf[0]) || *end != '\0' ||
		(size_t) (end - buf) != len ||
		(errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL ||
							 fpclassify(v) == FP_ZERO)) ||
		errno == EINVAL || isnan(v))
		return false;
	*value = v;
	return true;
}

/* wall-clock milliseconds since the Unix epoch, as Redis's mstime() */
int64
resp_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * Redis's glob (stringmatchlen): * ? [abc] [^a-z] and \ escapes.  Matched
 * with one backtracking point per star, so time is bounded by
 * pattern x string length whatever the pattern.
 */
static bool
match_single(const char **pp, const char *pend, char ch)
{
	const char *p = *pp;
	bool		match = false;

	if (*p == '?')
	{
		*pp = p + 1;
		return true;
	}
	if (*p == '\\' && p + 1 < pend)
	{
		*pp = p + 2;
		return p[1] == ch;
	}
	if (*p != '[')
	{
		*pp = p + 1;
		return *p == ch;
	}
	{
		bool		not;

		p++;
		not = p < pend && *p == '^';
		if (not)
			p++;
		while (p < pend && *p != ']')
		{
			if (*p == '\\' && p + 1 < pend)
			{
				p++;
				if (*p == ch)
					match = true;
			}
			else if (p + 2 < pend && p[1] == '-')
			{
				unsigned char lo = Min((unsigned char) p[0], (unsigned char) p[2]);
				unsigned char hi = Max((unsigned char) p[0], (unsigned char) p[2]);

				if ((unsigned char) ch >= lo && (unsigned char) ch <= hi)
					match = true;
				p += 2;
			}
			else if (*p == ch)
				match = true;
			p++;
		}
		if (p < pend)
			p++;				/* the ']' */
		*pp = p;
		return not ? !match : match;
	}
}

bool
resp_glob_match(const char *pat, size_t patlen, const char *str, size_t len)
{
	const char *p = pat;
	const char *pend = pat + patlen;
	const char *s = str;
	const char *send = str + len;
	const char *star_p = NULL;
	const char *star_s = NULL;

	while (s < send)
	{
		const char *next = p;

		if (p < pend && *p == '*')
		{
			while (p < pend && *p == '*')
				p++;
			if (p == pend)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		if (p < pend && match_single(&next, pend, *s))
		{
			p = next;
			s++;
			continue;
		}
		if (star_p == NULL)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

/*
 * Redis's ld2string in LD_STR_HUMAN mode: %.17Lf without trailing zeros.
 * PostgreSQL's snprintf has no long double, so this, the last function of
 * the file, uses the C library's.
 */
#undef snprintf
int
resp_format_ld(char *buf, size_t len, long double value)
{
	int			l = snprintf(buf, len, "%.17Lf", value);

	if (l < 0 || (size_t) l + 1 > len)
		return 0;
	if (strchr(buf, '.') != NULL)
	{
		char	   *p = buf + l - 1;

		while (*p == '0')
		{
			p--;
			l--;
		}
		if (*p == '.')
			l--;
	}
	if (l == 2 && buf[0] == '-' && buf[1] == '0')
	{
		buf[0] = '0';
		l = 1;
	}
	buf[l] = '\0';
	return l;
}
