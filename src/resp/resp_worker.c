/*-------------------------------------------------------------------------
 *
 * resp_worker.c
 *		The Redis protocol background worker: sockets and the event loop.
 *
 * Each of pg_memshard.resp_workers workers opens its own listening sockets
 * on pg_memshard.resp_port with SO_REUSEPORT (the kernel spreads new
 * connections over the workers) and serves its clients alone, one thread,
 * with one WaitEventSet holding the latch, postmaster death, the listening
 * sockets (watched as readable: PostgreSQL 15 has no WL_SOCKET_ACCEPT) and
 * every client socket.
 *
 * One turn of the loop: wait; accept new clients, read what arrived; run
 * every whole request received (pipelining: up to a bound per client and
 * turn, for fairness) inside one transaction for the whole turn, so the
 * router can read catalogs cheaply; commit; send the replies; free what
 * the turn allocated (one memory context, reset).  An ERROR in a command is
 * caught in resp_commands.c and aborts the transaction, not the worker.
 *
 * A WaitEventSet cannot drop an event in PostgreSQL 15.  A closed client's
 * event leaves the kernel's set with its socket (epoll and kqueue forget a
 * closed descriptor); its slot stays used until the set is rebuilt with the
 * live clients only, which happens when the slots run out (amortised O(1)).
 *
 * Bounds: resp_max_clients per worker (more are told "max number of
 * clients reached" and closed), the request size (resp_parse.c), the reply
 * backlog (resp_max_output_buffer: a client that stops reading is dropped).
 * Stopping: SIGTERM ends the worker at the next turn through
 * CHECK_FOR_INTERRUPTS (die), SIGHUP re-reads the reloadable settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <arpa/inet.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "resp/resp.h"

PGDLLEXPORT void resp_worker_main(Datum arg);

#define MAX_LISTENERS		16
#define READ_CHUNK			(64 * 1024)
#define REQUESTS_PER_TURN	1024	/* per client, then others get a turn */
#define OUTPUT_PER_TURN		(1024 * 1024)
#define EVENTS_PER_WAIT		256
#define INPUT_AHEAD			(1024 * 1024)	/* unparsed input read ahead */

static dlist_head clients = DLIST_STATIC_INIT(clients);
static List *closed_clients = NIL;	/* freed at the end of the turn */
static uint64 client_serial = 0;
static Oid	open_roleid = InvalidOid;	/* role of clients when auth is off */
static char open_rolename[NAMEDATALEN];

static int	listeners[MAX_LISTENERS];
static int	nlisteners = 0;

static WaitEventSet *wset = NULL;
static int	wset_capacity = 0;
static int	wset_used = 0;

static MemoryContext turn_cxt = NULL;

static void open_listeners(void);
static void rebuild_wait_set(void);
static void accept_clients(int lsock);
static void read_client(RespClient *c);
static void process_client(RespClient *c);
static void flush_client(RespClient *c);
static void close_client(RespClient *c);
static void resolve_open_role(void);

/* one listening socket for one resolved address; -1 on failure (logged) */
static int
listen_on(struct addrinfo *ai)
{
	int			one = 1;
	int			fd;
	char		host[NI_MAXHOST] = "?";

	getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0,
				NI_NUMERICHOST);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail;
	if (ai->ai_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 511) < 0)
		goto fail;
	ereport(LOG,
			(errmsg("pg_memshard resp worker %d listening on %s port %d",
					resp_figures.worker_number, host, resp_port)));
	return fd;

fail:
	ereport(LOG,
			(errcode_for_socket_access(),
			 errmsg("pg_memshard resp: could not listen on %s port %d: %m",
					host, resp_port)));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
open_listeners(void)
{
	char	   *copy = pstrdup(resp_listen_addresses);
	List	   *names;
	ListCell   *lc;
	char		port[16];

	snprintf(port, sizeof(port), "%d", resp_port);
	if (!SplitGUCList(copy, ',', &names))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in parameter \"pg_memshard.resp_listen_addresses\"")));
	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		struct addrinfo hints;
		struct addrinfo *res = NULL;
		struct addrinfo *ai;
		int			rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE;
		rc = getaddrinfo(strcmp(name, "*") == 0 ? NULL : name, port, &hints, &res);
		if (rc != 0)
		{
			ereport(LOG,
					(errmsg("pg_memshard resp: could not resolve \"%s\": %s",
							name, gai_strerror(rc))));
			continue;
		}
		for (ai = res; ai != NULL && nlisteners < MAX_LISTENERS; ai = ai->ai_next)
		{
			int			fd = listen_on(ai);

			if (fd >= 0)
			{
				ReserveExternalFD();
				listeners[nlisteners++] = fd;
			}
		}
		freeaddrinfo(res);
	}
	if (nlisteners == 0)
		ereport(FATAL,
				(errmsg("pg_memshard resp: no socket to listen on for pg_memshard.resp_listen_addresses \"%s\"",
						resp_listen_addresses)));
}

/* a new set with room for resp_max_clients: the live clients only */
static void
rebuild_wait_set(void)
{
	dlist_iter	iter;
	int			i;

	if (wset)
		FreeWaitEventSet(wset);
	wset_capacity = 2 + nlisteners + Max(resp_max_clients, resp_figures.clients) + 16;
	wset = CreateWaitEventSet(TopMemoryContext, wset_capacity);
	AddWaitEventToSet(wset, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wset, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (i = 0; i < nlisteners; i++)
		AddWaitEventToSet(wset, WL_SOCKET_READABLE, listeners[i], NULL,
						  &listeners[i]);
	wset_used = 2 + nlisteners;
	dlist_foreach(iter, &clients)
	{
		RespClient *c = dlist_container(RespClient, node, iter.cur);

		c->pos = AddWaitEventToSet(wset, WL_SOCKET_READABLE |
								   (c->want_write ? WL_SOCKET_WRITEABLE : 0),
								   c->sock, NULL, c);
		wset_used++;
	}
}

static bool
is_listener(void *p)
{
	return p != NULL && (int *) p >= listeners && (int *) p < listeners + MAX_LISTENERS;
}

static void
refuse_client(int fd, const char *msg)
{
	ssize_t		rc pg_attribute_unused();

	rc = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	resp_figures.rejected++;
}

static RespClient *
new_client(int fd, struct sockaddr_storage *addr, socklen_t len)
{
	RespClient *c = MemoryContextAllocZero(TopMemoryContext, sizeof(RespClient));
	char		host[NI_MAXHOST] = "?";
	char		port[NI_MAXSERV] = "?";
	int			one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	getnameinfo((struct sockaddr *) addr, len, host, sizeof(host), port,
				sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(c->addr, sizeof(c->addr), "%s:%s", host, port);
	c->loopback = (addr->ss_family == AF_INET &&
				   (ntohl(((struct sockaddr_in *) addr)->sin_addr.s_addr) >> 24) == 127) ||
		(addr->ss_family == AF_INET6 &&
		 IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *) addr)->sin6_addr));
	c->sock = fd;
	c->id = (++client_serial << 6) | (uint64) resp_figures.worker_number;
	c->proto = 2;
	c->bulklen = -1;
	c->connected = GetCurrentTimestamp();
	c->slot = -1;
	c->incap = READ_CHUNK;
	c->in = MemoryContextAlloc(TopMemoryContext, c->incap);
	if (!resp_auth && OidIsValid(open_roleid))
	{
		c->authenticated = true;
		c->roleid = open_roleid;
		c->rolename = MemoryContextStrdup(TopMemoryContext, open_rolename);
	}
	return c;
}

static void
accept_clients(int lsock)
{
	int			i;

	for (i = 0; i < 64; i++)
	{
		struct sockaddr_storage addr;
		socklen_t	len = sizeof(addr);
		int			fd = accept4(lsock, (struct sockaddr *) &addr, &len,
								 SOCK_NONBLOCK | SOCK_CLOEXEC);
		RespClient *c;

		if (fd < 0)
		{
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			ereport(LOG,
					(errcode_for_socket_access(),
					 errmsg("pg_memshard resp: could not accept a connection: %m")));
			/* out of descriptors: the socket stays readable, do not spin */
			if (errno == EMFILE || errno == ENFILE)
				pg_usleep(10000L);
			return;
		}
		if (resp_figures.clients >= resp_max_clients)
		{
			refuse_client(fd, "-ERR max number of clients reached\r\n");
			continue;
		}
		if (wset_used >= wset_capacity)
			rebuild_wait_set();
		c = new_client(fd, &addr, len);
		c->pos = AddWaitEventToSet(wset, WL_SOCKET_READABLE, fd, NULL, c);
		wset_used++;
		dlist_push_tail(&clients, &c->node);
		resp_figures.clients++;
		resp_figures.connections++;
		resp_client_publish(c);
	}
}

/* room in the input buffer for what the parser waits for */
static void
make_room(RespClient *c)
{
	size_t		need = READ_CHUNK;

	resp_input_consumed(c);
	if (c->multibulk > 0 && c->bulklen >= 0)
		need = Max(need, (size_t) c->bulklen + 2 - Min((size_t) c->bulklen + 2, c->inlen - c->inpos));
	if (c->incap - c->inlen >= need)
		return;
	while (c->incap - c->inlen < need)
		c->incap *= 2;
	c->in = repalloc_huge(c->in, c->incap);
}

static void
read_client(RespClient *c)
{
	ssize_t		n;

	if (c->closing || c->close_after_reply)
		return;
	/* a pipeline not yet run: run it before reading more (bounds input) */
	if (c->ready && c->inlen - c->inpos >= INPUT_AHEAD)
		return;
	make_room(c);
	n = recv(c->sock, c->in + c->inlen, c->incap - c->inlen - 1, 0);
	if (n > 0)
	{
		c->inlen += n;
		c->ready = true;
	}
	else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		c->closing = true;
}

/* run the whole requests in the client's input, within this turn's bounds */
static void
process_client(RespClient *c)
{
	int			done = 0;

	c->ready = false;
	c->last_active = GetCurrentTimestamp();
	while (!c->closing && !c->close_after_reply)
	{
		RespRequest req;
		RespParseResult rc;

		if (done >= REQUESTS_PER_TURN || resp_output_pending(c) > OUTPUT_PER_TURN)
		{
			c->ready = true;	/* more next turn */
			break;
		}
		rc = resp_parse_request(c, &req);
		if (rc == RESP_PARSE_MORE || rc == RESP_PARSE_ERROR)
			break;
		if (rc == RESP_PARSE_EMPTY)
			continue;
		resp_execute(c, &req);
		c->last_command = resp_current_command()[0] ? resp_current_command() : NULL;
		resp_figures.commands++;
		done++;
		if (resp_output_pending(c) > (size_t) resp_max_output_buffer)
		{
			ereport(LOG,
					(errmsg("pg_memshard resp: closing client %s: its replies passed pg_memshard.resp_max_output_buffer",
							c->addr)));
			c->closing = true;
		}
	}
}

static void
watch_write(RespClient *c, bool on)
{
	if (c->want_write == on)
		return;
	c->want_write = on;
	ModifyWaitEvent(wset, c->pos, WL_SOCKET_READABLE |
					(on ? WL_SOCKET_WRITEABLE : 0), NULL);
}

static void
flush_client(RespClient *c)
{
	while (!c->closing && resp_output_pending(c) > 0)
	{
		ssize_t		n = send(c->sock, c->out + c->outpos,
							 resp_output_pending(c), MSG_NOSIGNAL);

		if (n > 0)
		{
			c->outpos += n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		c->closing = true;
	}
	if (resp_output_pending(c) == 0)
	{
		c->outpos = c->outlen = 0;
		if (c->close_after_reply)
			c->closing = true;
	}
	if (!c->closing)
		watch_write(c, resp_output_pending(c) > 0);
}

static void
close_client(RespClient *c)
{
	dlist_delete(&c->node);
	resp_client_unpublish(c);
	resp_figures.clients--;
	close(c->sock);
	c->sock = -1;
	closed_clients = lappend(closed_clients, c);
}

static void
free_closed_clients(void)
{
	ListCell   *lc;

	foreach(lc, closed_clients)
	{
		RespClient *c = lfirst(lc);

		if (c->in)
			pfree(c->in);
		if (c->out)
			pfree(c->out);
		if (c->argoff)
			pfree(c->argoff);
		if (c->arglen)
			pfree(c->arglen);
		if (c->name)
			pfree(c->name);
		if (c->lib_name)
			pfree(c->lib_name);
		if (c->lib_ver)
			pfree(c->lib_ver);
		if (c->rolename)
			pfree(c->rolename);
		pfree(c);
	}
	list_free(closed_clients);
	closed_clients = NIL;
}

/*
 * The role clients run as while pg_memshard.resp_auth is off:
 * pg_memshard.resp_default_user, or the worker's own (bootstrap) role.
 */
static void
resolve_open_role(void)
{
	open_rolename[0] = '\0';
	resp_ensure_xact();
	if (resp_default_user[0] != '\0')
	{
		open_roleid = get_role_oid(resp_default_user, true);
		if (!OidIsValid(open_roleid))
			ereport(WARNING,
					(errmsg("pg_memshard.resp_default_user \"%s\" does not exist",
							resp_default_user)));
	}
	else
		open_roleid = GetAuthenticatedUserId();
	if (OidIsValid(open_roleid))
		strlcpy(open_rolename, GetUserNameFromId(open_roleid, false),
				sizeof(open_rolename));
	resp_commit_xact();
}

static void
reload_settings(void)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	resolve_open_role();
	if (wset_capacity < 2 + nlisteners + resp_max_clients)
		rebuild_wait_set();
	resp_forget_maps();
}

/* one turn's work on the clients that have something to do */
static void
serve_turn(WaitEvent *events, int nevents, bool *more)
{
	dlist_mutable_iter iter;
	int			i;

	for (i = 0; i < nevents; i++)
	{
		WaitEvent  *ev = &events[i];

		if (ev->events & WL_LATCH_SET)
			continue;			/* reset in resp_worker_main */
		else if (is_listener(ev->user_data))
			accept_clients(*(int *) ev->user_data);
		else if (ev->user_data != NULL)
		{
			RespClient *c = ev->user_data;

			if (c->sock < 0)
				continue;		/* closed earlier in this turn */
			if (ev->events & WL_SOCKET_READABLE)
				read_client(c);
			if (ev->events & WL_SOCKET_WRITEABLE)
				flush_client(c);
		}
	}

	*more = false;
	dlist_foreach_modify(iter, &clients)
	{
		RespClient *c = dlist_container(RespClient, node, iter.cur);

		if (c->ready)
			process_client(c);
	}
	resp_commit_xact();
	dlist_foreach_modify(iter, &clients)
	{
		RespClient *c = dlist_container(RespClient, node, iter.cur);

		if (resp_output_pending(c) > 0 || c->close_after_reply)
			flush_client(c);
		if (c->closing)
			close_client(c);
		else
		{
			resp_client_touch(c);
			if (c->ready)
				*more = true;
		}
	}
}

/*
 * Client sockets are not counted in fd.c's budget (ReserveExternalFD): fd.c
 * keeps max_files_per_process for its own files and copes with EMFILE, and
 * clients get the rest of the process's limit, raised to the hard limit as
 * Redis does.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
	{
		rl.rlim_cur = rl.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void
resp_worker_main(Datum arg)
{
	WaitEvent  *events;
	bool		more = false;

	resp_figures.worker_number = DatumGetInt32(arg);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(resp_database, NULL, 0);
	pgstat_report_appname("pg_memshard resp");

	raise_fd_limit();
	resp_auth_init();
	resolve_open_role();
	open_listeners();
	rebuild_wait_set();
	resp_figures.started_at = GetCurrentTimestamp();
	events = MemoryContextAlloc(TopMemoryContext, sizeof(WaitEvent) * EVENTS_PER_WAIT);
	turn_cxt = AllocSetContextCreate(TopMemoryContext, "pg_memshard resp turn",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			n;

		MemoryContextSwitchTo(turn_cxt);
		n = WaitEventSetWait(wset, more ? 0 : -1, events, EVENTS_PER_WAIT,
							 PG_WAIT_EXTENSION);

		/*
		 * Reset before looking at what the signal handlers flagged, never
		 * after: a SIGTERM that arrives while a reload or a turn runs sets
		 * the latch again and the next wait returns at once.  Resetting it
		 * later in the turn lost that wake-up and the worker slept through
		 * a fast shutdown.
		 */
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
			reload_settings();
		serve_turn(events, n, &more);
		MemoryContextSwitchTo(TopMemoryContext);
		free_closed_clients();
		MemoryContextReset(turn_cxt);
	}
}
