/*-------------------------------------------------------------------------
 *
 * resp_data.c
 *		Which map a Redis database is, and reading and writing its items.
 *
 * Redis database 0 is the map named by pg_memshard.resp_map, database n the
 * map <resp_map>_<n>.  A map that does not exist yet is created (a map of
 * this node only, default options) the first time a client uses it, by the
 * worker's own role, in a transaction of its own; an administrator may
 * create it beforehand with other options (over nodes, a quota, a default
 * TTL), and the front end then uses it as it is.  A key set over RESP is the
 * key memshard.get(map, key) reads, and the other way round.
 *
 * Plain reads and writes go through the router, so maps over nodes work
 * as from SQL.  Commands that read and then write (APPEND, GETSET, SETRANGE,
 * INCR, EXPIRE with conditions, PERSIST...) read the item with its expiry
 * and write it back with the router's compare-and-set (router_get_expiry,
 * router_write_if), on every map: for a map over nodes the compare and the
 * write are one step on the node of the key's primary copy.  They retry
 * when another writer got in between, so each is atomic against every
 * other writer of the key, SQL ones and other nodes' included.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cluster/cluster.h"
#include "pg_memshard.h"
#include "resp/resp.h"

/* databases whose map we know to exist (reset when a lookup fails) */
static bool *known_maps = NULL;
static int	known_count = 0;

/* the map of Redis database db */
void
resp_map_name(int db, char *buf, size_t size)
{
	if (db == 0)
		snprintf(buf, size, "%s", resp_map);
	else
		snprintf(buf, size, "%s_%d", resp_map, db);
}

/*
 * Create the map in a transaction of its own, as the worker's role: by
 * calling memshard.create_map, whose privilege the role needs, and which
 * in a cluster makes the map on every node.  The statement runs as every
 * internal statement does, under search_path = pg_catalog, pg_temp
 * (cluster_sql_begin_as_caller).
 */
static void
create_map(const char *name)
{
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	ClusterSqlState state;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	resp_commit_xact();
	resp_ensure_xact();
	SetUserIdAndSecContext(GetAuthenticatedUserId(), save_sec);
	args[0] = CStringGetTextDatum(name);
	PushActiveSnapshot(GetTransactionSnapshot());
	cluster_sql_begin_as_caller(&state);
	/* another worker may create it at the same moment: then it exists */
	(void) cluster_sql_exec("SELECT memshard.create_map($1) "
							"WHERE NOT EXISTS (SELECT 1 FROM memshard.map_catalog "
							"WHERE name OPERATOR(pg_catalog.=) $1)",
							1, argtypes, args, SPI_OK_SELECT);
	cluster_sql_end(&state);
	PopActiveSnapshot();
	resp_commit_xact();
	ereport(LOG,
			(errmsg("pg_memshard resp: map \"%s\" is ready", name)));
	resp_ensure_xact();
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * The map of the client's database.  A missing map is created; a map
 * dropped later is created again on the next command that fails to find it.
 */
MapInfo *
resp_map_for(RespClient *c)
{
	char		name[NAMEDATALEN];
	MapInfo		info;

	if (known_count != resp_databases)
	{
		known_maps = known_maps ? repalloc(known_maps, resp_databases) :
			MemoryContextAlloc(TopMemoryContext, resp_databases);
		memset(known_maps, 0, resp_databases);
		known_count = resp_databases;
	}
	resp_map_name(c->db, name, sizeof(name));
	if (c->db < known_count && !known_maps[c->db])
	{
		if (!map_catalog_lookup(name, &info, CurrentMemoryContext))
			create_map(name);
		known_maps[c->db] = true;
	}
	return router_lookup_map(name, strlen(name));
}

/* after an ERROR: check the maps again (one may have been dropped) */
void
resp_forget_maps(void)
{
	if (known_maps)
		memset(known_maps, 0, known_count);
}

/* key and value within the cache's limits, or an error reply */
bool
resp_check_item(RespClient *c, size_t keylen, size_t vallen)
{
	if (keylen > MEMSHARD_MAX_KEY_SIZE)
	{
		resp_reply_error(c, "key is too long (%zu bytes; the limit is %d bytes)",
						 keylen, MEMSHARD_MAX_KEY_SIZE);
		return false;
	}
	if (keylen + vallen > (size_t) store_max_item_size())
	{
		resp_reply_error(c, "string exceeds maximum allowed size (pg_memshard.max_item_size)");
		return false;
	}
	return true;
}

/* the map's default TTL in ms (0: none), for writes that name none */
int64
resp_default_ttl(MapInfo *map)
{
	return map->default_ttl_ms;
}

static int64
time_to_unix_ms(TimestampTz t)
{
	return t / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
		SECS_PER_DAY * 1000;
}

static TimestampTz
unix_ms_to_time(int64 ms)
{
	return (ms - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
			SECS_PER_DAY * 1000) * 1000;
}

/*
 * Call the router with *map; a map reloaded on the way (it was dropped and
 * made again) leaves *map invalid, so it is looked up again by its name.
 */
#define WITH_FRESH_MAP(map, call) \
	do { \
		char		name_[NAMEDATALEN]; \
		uint64		gen_ = router_map_cache_generation(); \
		\
		memcpy(name_, (*(map))->name, NAMEDATALEN); \
		call; \
		if (gen_ != router_map_cache_generation()) \
			*(map) = router_lookup_map(name_, strlen(name_)); \
	} while (0)

/* the store's expiry as Redis's absolute ms, as a client reads it */
static void
set_expire_ms(RespValue *val)
{
	/*
	 * The store keeps expiries to 100 ms, rounded up: a set time x is kept as
	 * T with x in (T - 100, T].  We tell T - 100 ms, in whole milliseconds
	 * rounded down, which is below x: so PTTL never reads more than was set,
	 * even when it comes within the millisecond of the SET (T - 99 could be
	 * up to 1 ms above x), and times on the grid, as EXPIREAT's, read
	 * exactly when rounded to seconds.
	 */
	val->found = val->data != NULL;
	val->expire_ms = val->expire_ts ?
		Max(time_to_unix_ms(val->expire_ts - 100 * INT64CONST(1000)), 1) : 0;
}

/* a key's value and expiry: the primary's copy, or any that answers */
static void
read_item(MapInfo **map, const char *key, int keylen, bool primary,
		  RespValue *val)
{
	memset(val, 0, sizeof(RespValue));
	WITH_FRESH_MAP(map,
				   val->data = router_get_expiry(*map, key, keylen, primary,
												 &val->len, &val->expire_ts));
	set_expire_ms(val);
}

/*
 * A key's value and expiry, from the copy resp_write_if compares against
 * (for a map over nodes, the primary's: no fall back to a replica).
 */
void
resp_read(MapInfo **map, const char *key, int keylen, RespValue *val)
{
	read_item(map, key, keylen, true, val);
}

/* the same for a read only (TTL): a replica answers if the primary cannot */
void
resp_peek(MapInfo **map, const char *key, int keylen, RespValue *val)
{
	read_item(map, key, keylen, false, val);
}

/*
 * Write value (NULL: delete) with absolute expiry expire_ms (0: none) if the
 * key still holds what resp_read saw; false if it changed (read again).
 * expire_ms -2 keeps the expiry seen.  The router does the compare and the
 * write in one step where the key's primary copy is (router_rmw.c).
 */
bool
resp_write_if(MapInfo **map, const char *key, int keylen,
			  const RespValue *seen, const char *value, int vallen,
			  int64 expire_ms)
{
	TimestampTz expires;
	bool		done;

	if (expire_ms == -2)
		expires = seen->expire_ts;
	else
		expires = expire_ms > 0 ? unix_ms_to_time(expire_ms) : 0;
	WITH_FRESH_MAP(map,
				   done = router_write_if(*map, key, keylen,
										  seen->found ? seen->data : NULL,
										  seen->found ? seen->len : -1,
										  seen->expire_ts, value, vallen,
										  expires));
	return done;
}
