/*-------------------------------------------------------------------------
 *
 * resp_gucs.c
 *		Settings of the Redis protocol front end and the registration of its
 *		background workers.
 *
 * pg_memshard.c calls resp_define_gucs() and resp_register_workers() from
 * _PG_init when the library is preloaded.  The port, the addresses, the
 * number of workers and the database are fixed at server start; the limits,
 * the authentication switch and the map names are reloadable (the workers
 * read them again on SIGHUP).
 *
 * pg_memshard.resp_auth = off is only accepted when every listen address is
 * a loopback address: the check hook refuses it otherwise, at start and at
 * reload alike.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "postmaster/bgworker.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "resp/resp.h"

int			resp_port = 0;
char	   *resp_listen_addresses = NULL;
int			resp_workers = 1;
char	   *resp_database = NULL;
int			resp_max_clients = 1000;
int			resp_max_request_size = 32 * 1024 * 1024;
int			resp_max_output_buffer = 64 * 1024 * 1024;
bool		resp_auth = true;
char	   *resp_map = NULL;
int			resp_databases = 16;
char	   *resp_default_user = NULL;

static bool check_resp_auth(bool *newval, void **extra, GucSource source);
static bool check_resp_map(char **newval, void **extra, GucSource source);

/* is this resolved address a loopback one? */
static bool
sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) sa;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;

		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

/*
 * True when every address of a listen_addresses-style list resolves to
 * loopback addresses only; otherwise *bad names the first one that does not
 * ("*" never does).
 */
bool
resp_addresses_loopback(const char *list, char **bad)
{
	char	   *copy = pstrdup(list ? list : "");
	List	   *names;
	ListCell   *lc;

	*bad = NULL;
	if (!SplitGUCList(copy, ',', &names))
	{
		*bad = pstrdup(list);
		return false;
	}
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		struct addrinfo hints;
		struct addrinfo *res = NULL;
		struct addrinfo *ai;
		bool		ok;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		ok = strcmp(name, "*") != 0 &&
			getaddrinfo(name, NULL, &hints, &res) == 0;
		for (ai = res; ok && ai != NULL; ai = ai->ai_next)
			ok = sockaddr_is_loopback(ai->ai_addr);
		if (res)
			freeaddrinfo(res);
		if (!ok)
		{
			*bad = pstrdup(name);
			return false;
		}
	}
	return true;
}

static bool
check_resp_auth(bool *newval, void **extra, GucSource source)
{
	char	   *bad;

	if (*newval)
		return true;
	if (!resp_addresses_loopback(resp_listen_addresses, &bad))
	{
		GUC_check_errdetail("pg_memshard.resp_listen_addresses contains \"%s\", which is not a loopback address.",
							bad);
		GUC_check_errhint("pg_memshard.resp_auth may only be off when every listen address is a loopback address.");
		return false;
	}
	return true;
}

static bool
check_resp_map(char **newval, void **extra, GucSource source)
{
	/* room for "_<db>" after the name, within a map name */
	if (*newval == NULL || (*newval)[0] == '\0' ||
		strlen(*newval) > MAP_NAME_MAX_LEN - 8)
	{
		GUC_check_errdetail("The map name must have 1 to %d bytes.",
							MAP_NAME_MAX_LEN - 8);
		return false;
	}
	return true;
}

void
resp_define_gucs(void)
{
	DefineCustomIntVariable("pg_memshard.resp_port",
							"TCP port of the Redis protocol front end (0: off).",
							NULL, &resp_port, 0, 0, 65535,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pg_memshard.resp_listen_addresses",
							   "Addresses the Redis protocol front end listens on (as listen_addresses).",
							   NULL, &resp_listen_addresses, "localhost",
							   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.resp_workers",
							"Event-loop workers sharing the Redis protocol port.",
							NULL, &resp_workers, 1, 1, 64,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pg_memshard.resp_database",
							   "Database whose maps the Redis protocol front end serves.",
							   NULL, &resp_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.resp_max_clients",
							"Most clients each Redis protocol worker serves at once.",
							NULL, &resp_max_clients, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.resp_max_request_size",
							"Largest Redis request (proto-max-bulk-len): one argument, and all arguments of one request.",
							NULL, &resp_max_request_size, 32 * 1024 * 1024,
							1024, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.resp_max_output_buffer",
							"Largest reply backlog of a Redis client; a client over it is dropped.",
							NULL, &resp_max_output_buffer, 64 * 1024 * 1024,
							64 * 1024, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomBoolVariable("pg_memshard.resp_auth",
							 "Whether Redis clients must AUTH as a PostgreSQL role (off only on loopback addresses).",
							 NULL, &resp_auth, true,
							 PGC_SIGHUP, 0, check_resp_auth, NULL, NULL);
	DefineCustomStringVariable("pg_memshard.resp_default_user",
							   "Role for AUTH with a password only, and for clients when pg_memshard.resp_auth is off.",
							   NULL, &resp_default_user, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("pg_memshard.resp_map",
							   "Map of Redis database 0; database n uses the map <name>_<n>.",
							   NULL, &resp_map, "redis",
							   PGC_SIGHUP, 0, check_resp_map, NULL, NULL);
	DefineCustomIntVariable("pg_memshard.resp_databases",
							"Number of Redis databases (SELECT 0 .. n-1).",
							NULL, &resp_databases, 16, 1, 10000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/* one background worker per pg_memshard.resp_workers, when a port is set */
void
resp_register_workers(void)
{
	int			i;

	if (resp_port == 0)
		return;
	for (i = 0; i < resp_workers; i++)
	{
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_memshard");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "resp_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "pg_memshard resp worker %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "pg_memshard resp worker");
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}
