/* pg_memshard--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_memshard UPDATE TO '1.1'" to load this file. \quit

-- CREATE EXTENSION pg_memshard (version 1.1) runs pg_memshard--1.0.sql and
-- then this script, so a new installation and an updated one are the same.
-- One section per area, each opened by a "-- <area>: ..." header: append
-- yours at the end.  Qualify every name (memshard., pg_catalog.,
-- OPERATOR(pg_catalog.=)).


------------------------------------------------------------------------------
-- security: internal SQL immune to the caller's search_path; the peer
-- functions for the nodes only (issue 9)
------------------------------------------------------------------------------

-- The functions whose bodies are parsed when they run (a string body in
-- LANGUAGE sql or plpgsql) get a fixed search_path, so that a caller's
-- schema cannot shadow what they use.  The bodies written BEGIN ATOMIC (and
-- the views) were resolved when the extension was created and need none.
-- No function of the extension is SECURITY DEFINER.

-- metadata_snapshot runs as the owner of the cluster tables when a node
-- computes its digest: qualified operators and collations as well.  Same
-- text as in 1.0, so that digests agree.
CREATE OR REPLACE FUNCTION memshard.metadata_snapshot(for_removed_node boolean DEFAULT false)
RETURNS pg_catalog.jsonb
LANGUAGE sql STABLE
SET intervalstyle = 'postgres'
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
    'nodes', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'id', n.id, 'server', n.server,
                   'system_identifier', n.system_identifier,
                   'database', n.database) ORDER BY n.id)
        FROM memshard.node_catalog n
        WHERE NOT for_removed_node), '[]'::pg_catalog.jsonb),
    'maps', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'name', m.name, 'default_ttl', m.default_ttl,
                   'max_memory', m.max_memory, 'eviction', m.eviction,
                   'method', m.method, 'shard_count', m.shard_count,
                   'bounds', m.bounds, 'nodes', m.nodes,
                   'replicas', m.replicas) ORDER BY m.name COLLATE pg_catalog."C")
        FROM memshard.map_catalog m
        WHERE m.nodes IS NOT NULL AND NOT for_removed_node), '[]'::pg_catalog.jsonb),
    'placements', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                   m.name, p.shard, p.replica, p.node_id)
                   ORDER BY m.name COLLATE pg_catalog."C", p.shard, p.replica)
        FROM memshard.placement_catalog p
        JOIN memshard.map_catalog m ON m.id OPERATOR(pg_catalog.=) p.map_id
        WHERE NOT for_removed_node), '[]'::pg_catalog.jsonb))
$$;

-- skew's body (plpgsql) uses no operator, but is parsed when it runs
ALTER FUNCTION memshard.skew(text) SET search_path = pg_catalog, pg_temp;

-- The peer functions store and read one copy of one shard: a plain role
-- calling peer_set could make a replica differ from its primary.  They are
-- for the roles nodes log in as to reach each other (the roles named in
-- the user mappings), which are granted memshard_peer.  Roles belong to
-- the instance, not to a database: memshard_peer is made once, and DROP
-- EXTENSION leaves it.  peer_flush and peer_metadata_apply stay with the
-- admin functions (granted to the role an admin's mapping names).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                    WHERE rolname OPERATOR(pg_catalog.=) 'memshard_peer') THEN
        CREATE ROLE memshard_peer NOLOGIN;
        COMMENT ON ROLE memshard_peer IS
            'pg_memshard: may run the peer_* functions; grant it to the roles user mappings name';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION
    memshard.peer_identity(),
    memshard.peer_set(text, text, bytea, bigint, integer),
    memshard.peer_get(text, text),
    memshard.peer_mget(text, text[]),
    memshard.peer_mset(text, text[], bytea[], bigint),
    memshard.peer_delete(text, text),
    memshard.peer_incr(text, text, bigint, bigint),
    memshard.peer_touch(text, text, bigint)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    memshard.peer_identity(),
    memshard.peer_set(text, text, bytea, bigint, integer),
    memshard.peer_get(text, text),
    memshard.peer_mget(text, text[]),
    memshard.peer_mset(text, text[], bytea[], bigint),
    memshard.peer_delete(text, text),
    memshard.peer_incr(text, text, bigint, bigint),
    memshard.peer_touch(text, text, bigint)
  TO memshard_peer;

------------------------------------------------------------------------------
-- packaging: the library serves the SQL objects of 1.0 and 1.1 and refuses
-- any other version (src/api/ext_version.c); this section adds no object.
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- metadata recovery: changes left in doubt, finished from any node
-- (src/cluster/metadata_recover.c, recovery_worker.c)
------------------------------------------------------------------------------

-- Asked by a node holding a part of a metadata change this node made: how
-- did the change end?  'in progress', 'committed', 'aborted', or NULL when
-- the gid is not of a change made here.  Internal.
CREATE FUNCTION memshard.peer_metadata_outcome(gid text)
RETURNS text
AS 'MODULE_PATHNAME', 'memshard_peer_metadata_outcome'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION memshard.read_metadata_recovery(OUT resolved bigint,
                                                OUT last_pass timestamptz,
                                                OUT last_problem text)
RETURNS record
AS 'MODULE_PATHNAME', 'memshard_read_metadata_recovery'
LANGUAGE C VOLATILE;

-- Changes prepared on this node and not finished yet, and what recovery
-- (recover_metadata() and the worker) did since the instance started.
CREATE VIEW memshard.metadata_recovery AS
    SELECT (SELECT pg_catalog.count(*)
              FROM pg_catalog.pg_prepared_xacts p
             WHERE p.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
               AND pg_catalog.starts_with(p.gid, 'memshard_')) AS in_doubt,
           r.resolved, r.last_pass, r.last_problem
      FROM memshard.read_metadata_recovery() r;

-- The figures are for everyone (metrics() shows them); last_problem, which
-- may name a node or a role, only to superusers and pg_monitor, as
-- nodes.last_error.
REVOKE ALL ON FUNCTION memshard.peer_metadata_outcome(text) FROM PUBLIC;
-- the nodes ask each other through their mapped roles (security section)
GRANT EXECUTE ON FUNCTION memshard.peer_metadata_outcome(text) TO memshard_peer;
GRANT SELECT ON memshard.metadata_recovery TO PUBLIC;

-- The samples of the recovery's figures, as metric_samples() gives its own.
CREATE FUNCTION memshard.recovery_metric_samples(OUT family integer,
                                                 OUT metric text,
                                                 OUT type text,
                                                 OUT help text,
                                                 OUT labels text,
                                                 OUT sort text,
                                                 OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_metadata_' || f.metric, f.type, f.help, '', '', f.value
      FROM memshard.metadata_recovery r,
      LATERAL (VALUES
        (70, 'in_doubt', 'gauge', 'Metadata changes prepared on this node and not finished yet.', r.in_doubt::text),
        (71, 'resolved_total', 'counter', 'Metadata changes left in doubt that recovery finished since the start.', r.resolved::text)
      ) f(family, metric, type, help, value);
END;

------------------------------------------------------------------------------
-- warm restart: memshard.restart_stats, and its figures in metrics()
-- (src/persist, src/api/restart_api.c)
------------------------------------------------------------------------------

-- What the warm restart did at this start: one row.
CREATE FUNCTION memshard.read_restart_stats(
    OUT mode text,
    OUT state text,
    OUT detail text,
    OUT dump_written_at timestamptz,
    OUT dump_items bigint,
    OUT dump_bytes bigint,
    OUT dump_seconds double precision,
    OUT items_loaded bigint,
    OUT bytes_loaded bigint,
    OUT skipped_expired bigint,
    OUT skipped_dropped_map bigint,
    OUT skipped_not_held bigint,
    OUT skipped_no_room bigint,
    OUT skipped_newer bigint,
    OUT skipped_failed bigint,
    OUT load_started timestamptz,
    OUT load_seconds double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_restart_stats'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW memshard.restart_stats AS SELECT * FROM memshard.read_restart_stats();

GRANT SELECT ON memshard.restart_stats TO PUBLIC;

-- The samples of the restart's figures, as metric_samples() gives its own.
CREATE FUNCTION memshard.restart_metric_samples(OUT family integer,
                                                OUT metric text,
                                                OUT type text,
                                                OUT help text,
                                                OUT labels text,
                                                OUT sort text,
                                                OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_restart_' || f.metric, 'gauge', f.help,
           coalesce('{' || memshard.metric_label('reason', f.reason) || '}', ''),
           coalesce(f.reason, ''), f.value
      FROM memshard.restart_stats r,
      LATERAL (VALUES
        (60, 'loading', 'Whether the dump of the last clean shutdown is being loaded (1) or not (0).', NULL,
         CASE WHEN r.state = 'loading' THEN '1' ELSE '0' END),
        (61, 'items_loaded', 'Items the warm restart loaded at this start.', NULL, r.items_loaded::text),
        (62, 'bytes_loaded', 'Key and value bytes the warm restart loaded at this start.', NULL, r.bytes_loaded::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'expired', r.skipped_expired::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'dropped_map', r.skipped_dropped_map::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'not_held', r.skipped_not_held::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'no_room', r.skipped_no_room::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'newer', r.skipped_newer::text),
        (63, 'items_skipped', 'Items of the dump not loaded at this start, by reason.', 'failed', r.skipped_failed::text),
        (64, 'load_seconds', 'Time the load of the dump took (so far, while loading).', NULL, coalesce(r.load_seconds, 0)::text),
        (65, 'dump_items', 'Items in the dump loaded at this start.', NULL, coalesce(r.dump_items, 0)::text),
        (66, 'dump_seconds', 'Time writing the dump loaded at this start took, at the shutdown before it.', NULL, coalesce(r.dump_seconds, 0)::text)
      ) f(family, metric, help, reason, value);
END;


------------------------------------------------------------------------------
-- table cache: cache_table, get_row, get_rows, invalidation at commit
-- (src/tablecache, src/store/marks.c; issue 14)
------------------------------------------------------------------------------

-- One row per cached table.  Written only by cache_table and uncache_table
-- (and the drop event trigger), read by every backend (src/tablecache/
-- catalog.c) without granting it to anyone.  pg_dump keeps it: a restore
-- brings back the rows, the maps (map_catalog) and the tables' triggers.
CREATE TABLE memshard.table_catalog (
    relid       pg_catalog.regclass PRIMARY KEY,
    map         pg_catalog.text NOT NULL UNIQUE,
    key_columns pg_catalog.name[] NOT NULL,
    ttl         pg_catalog.interval CHECK (ttl OPERATOR(pg_catalog.>) '0'::pg_catalog.interval),
    max_memory  pg_catalog.int8 CHECK (max_memory OPERATOR(pg_catalog.>) 0),
    nodes       pg_catalog.name[],
    created     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('memshard.table_catalog', '');

CREATE FUNCTION memshard.cache_table(tbl pg_catalog.regclass,
                                     nodes pg_catalog.name[] DEFAULT NULL,
                                     ttl pg_catalog.interval DEFAULT NULL,
                                     max_memory pg_catalog.int8 DEFAULT NULL)
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'memshard_cache_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.uncache_table(tbl pg_catalog.regclass)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'memshard_uncache_table'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- admin functions, as create_map: superusers and whom they grant (who must
-- also own the table)
REVOKE ALL ON FUNCTION memshard.cache_table(pg_catalog.regclass, pg_catalog.name[],
                                            pg_catalog.interval, pg_catalog.int8) FROM PUBLIC;
REVOKE ALL ON FUNCTION memshard.uncache_table(pg_catalog.regclass) FROM PUBLIC;

-- Not STRICT: the first argument is a NULL of the table's row type.
-- PARALLEL RESTRICTED: a transaction's own writes are known to its leader.
CREATE FUNCTION memshard.get_row(tbl anyelement, key "any")
RETURNS anyelement
AS 'MODULE_PATHNAME', 'memshard_get_row'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;

CREATE FUNCTION memshard.get_rows(tbl anyelement, keys "any")
RETURNS SETOF anyelement
AS 'MODULE_PATHNAME', 'memshard_get_rows'
LANGUAGE C VOLATILE PARALLEL RESTRICTED ROWS 10;

-- The trigger cache_table installs (row and TRUNCATE); it can only be
-- called as a trigger.  EXECUTE stays with PUBLIC: CREATE TRIGGER, run by
-- cache_table as the table's owner, needs it.
CREATE FUNCTION memshard.tablecache_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'memshard_tablecache_trigger'
LANGUAGE C;

-- DROP TABLE (also by DROP SCHEMA ... CASCADE or DROP OWNED) of a cached
-- table uncaches it.  ENABLE ALWAYS: also under session_replication_role
-- = replica.
CREATE FUNCTION memshard.tablecache_dropped()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'memshard_tablecache_dropped'
LANGUAGE C;
REVOKE ALL ON FUNCTION memshard.tablecache_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER memshard_tablecache_dropped ON sql_drop
    EXECUTE FUNCTION memshard.tablecache_dropped();
ALTER EVENT TRIGGER memshard_tablecache_dropped ENABLE ALWAYS;

CREATE FUNCTION memshard.read_cached_tables(
    OUT "table" pg_catalog.regclass,
    OUT map pg_catalog.text,
    OUT key_columns pg_catalog.name[],
    OUT ttl pg_catalog.interval,
    OUT max_memory pg_catalog.int8,
    OUT items pg_catalog.int8,
    OUT memory_used pg_catalog.int8,
    OUT hits pg_catalog.int8,
    OUT misses pg_catalog.int8,
    OUT fills pg_catalog.int8,
    OUT fills_refused pg_catalog.int8,
    OUT invalidations pg_catalog.int8,
    OUT bypasses pg_catalog.int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_cached_tables'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE VIEW memshard.cached_tables AS
    SELECT * FROM memshard.read_cached_tables();
GRANT SELECT ON memshard.cached_tables TO PUBLIC;


-- The samples of the cached tables' figures, as metric_samples() gives its
-- own (families 80..87), and metrics() with them.
CREATE FUNCTION memshard.tablecache_metric_samples(OUT family integer,
                                                   OUT metric text,
                                                   OUT type text,
                                                   OUT help text,
                                                   OUT labels text,
                                                   OUT sort text,
                                                   OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_table_' || f.metric, f.type, f.help,
           '{' || memshard.metric_label('database', pg_catalog.current_database()) || ',' ||
           memshard.metric_label('table', q.name) || '}',
           q.name, f.value
      FROM memshard.cached_tables t,
      LATERAL (SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS name
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                WHERE c.oid OPERATOR(pg_catalog.=) t."table") q,
      LATERAL (VALUES
        (80, 'items', 'gauge', 'Rows of the cached table held on this node.', t.items::text),
        (81, 'memory_used_bytes', 'gauge', 'Bytes of chunks held by the cached table''s rows on this node.', t.memory_used::text),
        (82, 'hits_total', 'counter', 'get_row lookups served from the cache.', t.hits::text),
        (83, 'misses_total', 'counter', 'get_row lookups that did not find the row in the cache.', t.misses::text),
        (84, 'fills_total', 'counter', 'Rows read from the table and stored in the cache.', t.fills::text),
        (85, 'fills_refused_total', 'counter', 'Fills refused: a writer changed the key while its row was being read.', t.fills_refused::text),
        (86, 'invalidations_total', 'counter', 'Keys, or whole tables, invalidated by committing writers.', t.invalidations::text),
        (87, 'bypasses_total', 'counter', 'get_row lookups answered from the table without the cache.', t.bypasses::text)
      ) f(family, metric, type, help, value);
END;


-- The peer side of a table cached over nodes (src/tablecache/tc_remote.c):
-- the node holding a key's shard reads and stores the key's row item on
-- behalf of the table's node.  For memshard_peer, as the other peer_*.
CREATE FUNCTION memshard.peer_tc_get(map pg_catalog.text, key pg_catalog.bytea)
RETURNS pg_catalog.bytea
AS 'MODULE_PATHNAME', 'memshard_peer_tc_get'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.peer_tc_set(map pg_catalog.text, key pg_catalog.bytea,
                                     value pg_catalog.bytea, ttl_ms pg_catalog.int8)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'memshard_peer_tc_set'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION
    memshard.peer_tc_get(pg_catalog.text, pg_catalog.bytea),
    memshard.peer_tc_set(pg_catalog.text, pg_catalog.bytea, pg_catalog.bytea, pg_catalog.int8)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    memshard.peer_tc_get(pg_catalog.text, pg_catalog.bytea),
    memshard.peer_tc_set(pg_catalog.text, pg_catalog.bytea, pg_catalog.bytea, pg_catalog.int8)
  TO memshard_peer;

------------------------------------------------------------------------------
-- resp over nodes: the peer side of the Redis front end's commands on maps
-- over nodes (src/router/router_rmw.c, router_scan.c, router_peer_rmw.c;
-- issue 15).  For memshard_peer, as the other peer_*.
------------------------------------------------------------------------------

-- Expiry times travel as a timestamptz's value: microseconds since
-- 2000-01-01 00:00 UTC (NULL: none), exact whatever the sessions' settings.
--
-- A key's value and absolute expiry (NULL: none), from this node's copy;
-- both NULL on a miss.
CREATE FUNCTION memshard.peer_get_expiry(map pg_catalog.text, key pg_catalog.text,
                                         OUT value pg_catalog.bytea,
                                         OUT expires_us pg_catalog.int8)
AS 'MODULE_PATHNAME', 'memshard_peer_get_expiry'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Compare-and-set on the primary copy: store value (NULL: delete the key)
-- with expiry expires_us (NULL: none) only if the key holds expect with
-- expect_expires_us (expect NULL: the key is absent); false if it does not.
-- Not STRICT: NULL is meaningful in every argument but map and key.
CREATE FUNCTION memshard.peer_write_if(map pg_catalog.text, key pg_catalog.text,
                                       expect pg_catalog.bytea,
                                       expect_expires_us pg_catalog.int8,
                                       value pg_catalog.bytea,
                                       expires_us pg_catalog.int8)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'memshard_peer_write_if'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- This node's keys of the given shards from cursor on (0: the start), at
-- least count of them unless the end comes first: one row per key (cursor
-- NULL), then one row with key NULL and the cursor to go on from (0: the
-- end).
CREATE FUNCTION memshard.peer_scan(map pg_catalog.text, shards pg_catalog.int4[],
                                   cursor pg_catalog.int8, count pg_catalog.int4)
RETURNS TABLE (key pg_catalog.text, next_cursor pg_catalog.int8)
AS 'MODULE_PATHNAME', 'memshard_peer_scan'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE ROWS 1000;

-- This node's live items of the given shards.
CREATE FUNCTION memshard.peer_count(map pg_catalog.text, shards pg_catalog.int4[])
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_count'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION
    memshard.peer_get_expiry(pg_catalog.text, pg_catalog.text),
    memshard.peer_write_if(pg_catalog.text, pg_catalog.text, pg_catalog.bytea,
                           pg_catalog.int8, pg_catalog.bytea, pg_catalog.int8),
    memshard.peer_scan(pg_catalog.text, pg_catalog.int4[], pg_catalog.int8, pg_catalog.int4),
    memshard.peer_count(pg_catalog.text, pg_catalog.int4[])
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    memshard.peer_get_expiry(pg_catalog.text, pg_catalog.text),
    memshard.peer_write_if(pg_catalog.text, pg_catalog.text, pg_catalog.bytea,
                           pg_catalog.int8, pg_catalog.bytea, pg_catalog.int8),
    memshard.peer_scan(pg_catalog.text, pg_catalog.int4[], pg_catalog.int8, pg_catalog.int4),
    memshard.peer_count(pg_catalog.text, pg_catalog.int4[])
  TO memshard_peer;

-- The clients of this instance's RESP workers (src/resp/resp_clients.c),
-- as Redis's CLIENT LIST tells them: for pg_monitor and superusers, as a
-- client's address, name and role are not everyone's to see.
CREATE FUNCTION memshard.read_resp_clients(
    OUT worker pg_catalog.int4, OUT id pg_catalog.int8, OUT addr pg_catalog.text,
    OUT name pg_catalog.text, OUT role pg_catalog.text, OUT db pg_catalog.int4,
    OUT age pg_catalog.interval, OUT idle pg_catalog.interval,
    OUT last_command pg_catalog.text, OUT query_buffer pg_catalog.int8,
    OUT output_buffer pg_catalog.int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_resp_clients'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

CREATE VIEW memshard.resp_clients AS SELECT * FROM memshard.read_resp_clients();

REVOKE ALL ON FUNCTION memshard.read_resp_clients() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION memshard.read_resp_clients() TO pg_monitor;
REVOKE ALL ON memshard.resp_clients FROM PUBLIC;
GRANT SELECT ON memshard.resp_clients TO pg_monitor;
-- read path: memshard.read_path_stats, how often the optimistic reads of
-- the store tried again or fell back to the partition lock
-- (src/store/read_path.c; issue 12)
------------------------------------------------------------------------------

CREATE FUNCTION memshard.read_path_counters(OUT retries pg_catalog.int8,
                                            OUT fallbacks pg_catalog.int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_path_counters'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW memshard.read_path_stats AS SELECT * FROM memshard.read_path_counters();

GRANT SELECT ON memshard.read_path_stats TO PUBLIC;

-- its figures in metrics() (families 120, 121)
CREATE FUNCTION memshard.read_path_metric_samples(OUT family integer,
                                                  OUT metric text,
                                                  OUT type text,
                                                  OUT help text,
                                                  OUT labels text,
                                                  OUT sort text,
                                                  OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_read_path_' || f.metric, f.type, f.help, '', '', f.value
      FROM memshard.read_path_stats s,
      LATERAL (VALUES
        (120, 'retries_total', 'counter', 'Optimistic reads tried again because a writer changed their partition meanwhile, since the last stats_reset().', s.retries::text),
        (121, 'fallbacks_total', 'counter', 'Reads that took the partition lock after their optimistic tries, since the last stats_reset().', s.fallbacks::text)
      ) f(family, metric, type, help, value);
END;

------------------------------------------------------------------------------
-- failover: promote, the metadata epoch (fencing), the failover worker's
-- figures, pg_dump of the cluster catalogs (src/cluster/promote.c, epoch.c,
-- failover_worker.c, src/api/failover_api.c; issue 13)
------------------------------------------------------------------------------

-- A node's states: 'active'; 'draining' (drain_node moves its placements
-- off); 'failed' (promoted away while down: kept in the list, skipped by
-- metadata changes, holding nothing, until it rejoins or is removed).
ALTER TABLE memshard.node_catalog DROP CONSTRAINT IF EXISTS node_catalog_state_check;
ALTER TABLE memshard.node_catalog ADD CONSTRAINT node_catalog_state_check
    CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'draining', 'failed']::pg_catalog.text[]));

-- The metadata epoch: bumped by every metadata change, in the same
-- transaction, on every node that takes it.  No row is epoch 0 (a node
-- never changed since 1.0).  A node whose epoch is older than a caller's
-- refuses the caller's requests for shards (fencing).
CREATE TABLE memshard.metadata_epoch (
    one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
    epoch   pg_catalog.int8 NOT NULL CHECK (epoch OPERATOR(pg_catalog.>=) 0)
);
REVOKE ALL ON memshard.metadata_epoch FROM PUBLIC;
GRANT SELECT ON memshard.metadata_epoch TO PUBLIC;

-- pg_dump of a node keeps its cluster catalogs (map_catalog already is):
-- a restore brings back the nodes, the placements and the epoch.
SELECT pg_catalog.pg_extension_config_dump('memshard.node_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('memshard.placement_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('memshard.metadata_epoch', '');

-- The canonical metadata of 1.0, with what 1.1 adds written only when it
-- is not the 1.0 default (a node's state other than 'active', an epoch
-- above 0): an updated node that has not changed since has the digest of
-- 1.0, so nodes being updated one by one still agree.
CREATE OR REPLACE FUNCTION memshard.metadata_snapshot(for_removed_node boolean DEFAULT false)
RETURNS pg_catalog.jsonb
LANGUAGE sql STABLE
SET intervalstyle = 'postgres'
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
    'nodes', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'id', n.id, 'server', n.server,
                   'system_identifier', n.system_identifier,
                   'database', n.database)
                   OPERATOR(pg_catalog.||)
                   CASE WHEN n.state OPERATOR(pg_catalog.=) 'active' THEN '{}'::pg_catalog.jsonb
                        ELSE pg_catalog.jsonb_build_object('state', n.state) END
                   ORDER BY n.id)
        FROM memshard.node_catalog n
        WHERE NOT for_removed_node), '[]'::pg_catalog.jsonb),
    'maps', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'name', m.name, 'default_ttl', m.default_ttl,
                   'max_memory', m.max_memory, 'eviction', m.eviction,
                   'method', m.method, 'shard_count', m.shard_count,
                   'bounds', m.bounds, 'nodes', m.nodes,
                   'replicas', m.replicas) ORDER BY m.name COLLATE pg_catalog."C")
        FROM memshard.map_catalog m
        WHERE m.nodes IS NOT NULL AND NOT for_removed_node), '[]'::pg_catalog.jsonb),
    'placements', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                   m.name, p.shard, p.replica, p.node_id)
                   ORDER BY m.name COLLATE pg_catalog."C", p.shard, p.replica)
        FROM memshard.placement_catalog p
        JOIN memshard.map_catalog m ON m.id OPERATOR(pg_catalog.=) p.map_id
        WHERE NOT for_removed_node), '[]'::pg_catalog.jsonb))
  OPERATOR(pg_catalog.||)
  COALESCE((SELECT pg_catalog.jsonb_build_object('epoch', e.epoch)
              FROM memshard.metadata_epoch e
             WHERE e.epoch OPERATOR(pg_catalog.>) 0 AND NOT for_removed_node),
           '{}'::pg_catalog.jsonb)
$$;

-- A replica of every shard whose primary is on the (dead) node becomes the
-- primary; the node is marked 'failed' and loses its placements.  Needs a
-- majority of the cluster's nodes reachable.  The number of shards
-- promoted.
CREATE FUNCTION memshard.promote(server pg_catalog.name)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'memshard_promote'
LANGUAGE C VOLATILE STRICT;

-- Called by other nodes (internal): this node's metadata epoch, as the
-- failover worker and promote probe it.
CREATE FUNCTION memshard.peer_epoch()
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_epoch'
LANGUAGE C VOLATILE;

-- Called by the coordinator of a change that brings a failed node back
-- (internal): the node takes the cluster's metadata whatever it had, and
-- frees the items of the shards it held.
CREATE FUNCTION memshard.peer_metadata_rejoin(snapshot pg_catalog.jsonb,
                                              after_digest pg_catalog.text)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_peer_metadata_rejoin'
LANGUAGE C VOLATILE;

-- A node promoted away (failed) back in the cluster with empty placements;
-- the failover worker does it when the node answers again.
CREATE FUNCTION memshard.rejoin_node(server pg_catalog.name)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_rejoin_node'
LANGUAGE C VOLATILE STRICT;

REVOKE ALL ON FUNCTION memshard.promote(pg_catalog.name),
    memshard.rejoin_node(pg_catalog.name),
    memshard.peer_epoch(),
    memshard.peer_metadata_rejoin(pg_catalog.jsonb, pg_catalog.text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION memshard.peer_epoch() TO memshard_peer;

-- What failover did on this node since the instance started.
CREATE FUNCTION memshard.read_failover_stats(OUT epoch pg_catalog.int8,
                                             OUT nodes_failed pg_catalog.int8,
                                             OUT failovers pg_catalog.int8,
                                             OUT shards_promoted pg_catalog.int8,
                                             OUT last_failover pg_catalog.timestamptz,
                                             OUT fenced boolean)
RETURNS record
AS 'MODULE_PATHNAME', 'memshard_read_failover_stats'
LANGUAGE C VOLATILE;

CREATE VIEW memshard.failover_stats AS SELECT * FROM memshard.read_failover_stats();
GRANT SELECT ON memshard.failover_stats TO PUBLIC;

-- The samples of failover's figures, as metric_samples() gives its own
-- (families 110..114).
CREATE FUNCTION memshard.failover_metric_samples(OUT family integer,
                                                 OUT metric text,
                                                 OUT type text,
                                                 OUT help text,
                                                 OUT labels text,
                                                 OUT sort text,
                                                 OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_failover_' || f.metric, f.type, f.help, '', '', f.value
      FROM memshard.failover_stats s,
      LATERAL (VALUES
        (110, 'epoch', 'gauge', 'Metadata epoch of this node (bumped by every metadata change).', s.epoch::text),
        (111, 'nodes_failed', 'gauge', 'Nodes of the cluster in state failed (promoted away, not rejoined).', s.nodes_failed::text),
        (112, 'failovers_total', 'counter', 'Nodes promoted away by this node (promote() and the failover worker) since the start.', s.failovers::text),
        (113, 'shards_promoted_total', 'counter', 'Shards whose replica this node promoted to primary since the start.', s.shards_promoted::text),
        (114, 'last_failover_timestamp_seconds', 'gauge', 'When this node last promoted a node away (Unix time, 0: never).',
         coalesce(extract(epoch FROM s.last_failover), 0)::text),
        (115, 'fenced', 'gauge', 'Whether this node refuses its shards because its metadata is older than the cluster''s (1) or not (0).',
         CASE WHEN s.fenced THEN '1' ELSE '0' END)
      ) f(family, metric, type, help, value);
END;

------------------------------------------------------------------------------
-- elastic cluster: rebalance plans by memory, online shard moves,
-- rebalance, drain (src/rebalance, src/api/rebalance_api.c,
-- src/store/move_log.c; issue 13).  The node states' CHECK is the
-- failover section's ('draining': drain_node's node gets nothing from plans)
------------------------------------------------------------------------------

-- What a plan needs of a node, in one call: a row per placement it holds
-- under its own metadata (items and chunk bytes, from one walk of its
-- store) and its budget (pg_memshard.memory); a first row with NULL map
-- carries the budget alone.  Internal: for memshard_peer.
CREATE FUNCTION memshard.peer_shard_sizes(OUT map pg_catalog.text,
                                          OUT shard pg_catalog.int4,
                                          OUT items pg_catalog.int8,
                                          OUT bytes pg_catalog.int8,
                                          OUT budget pg_catalog.int8)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT NULL::pg_catalog.text, NULL::pg_catalog.int4, NULL::pg_catalog.int8,
           NULL::pg_catalog.int8,
           pg_catalog.pg_size_bytes(pg_catalog.current_setting('pg_memshard.memory'))
    UNION ALL
    SELECT s.map, s.shard, coalesce(l.items, 0), coalesce(l.bytes, 0), NULL
      FROM memshard.shards s
      JOIN memshard.nodes n ON n.server OPERATOR(pg_catalog.=) s.node AND n.is_local
      LEFT JOIN memshard.local_shard_stats() l
        ON l.map OPERATOR(pg_catalog.=) s.map AND l.shard OPERATOR(pg_catalog.=) s.shard
$$;

CREATE FUNCTION memshard.rebalance_plan(map pg_catalog.text DEFAULT NULL,
                                        strategy pg_catalog.text DEFAULT 'by_memory',
                                        threshold pg_catalog.float8 DEFAULT 0.1)
RETURNS TABLE(step pg_catalog.int4, map pg_catalog.text, shard pg_catalog.int4,
              source pg_catalog.name, target pg_catalog.name,
              bytes pg_catalog.int8, items pg_catalog.int8)
AS 'MODULE_PATHNAME', 'memshard_rebalance_plan'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.rebalance_preview(map pg_catalog.text DEFAULT NULL,
                                           strategy pg_catalog.text DEFAULT 'by_memory',
                                           threshold pg_catalog.float8 DEFAULT 0.1)
RETURNS TABLE(node pg_catalog.name, budget pg_catalog.int8,
              bytes_before pg_catalog.int8, bytes_after pg_catalog.int8,
              utilization_before pg_catalog.float8,
              utilization_after pg_catalog.float8)
AS 'MODULE_PATHNAME', 'memshard_rebalance_preview'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.move_shard(map pg_catalog.text, shard pg_catalog.int4,
                                    target pg_catalog.name,
                                    source pg_catalog.name DEFAULT NULL)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_move_shard'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.rebalance(map pg_catalog.text DEFAULT NULL,
                                   strategy pg_catalog.text DEFAULT 'by_memory',
                                   threshold pg_catalog.float8 DEFAULT 0.1)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_rebalance'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- the same in a background worker: returns the job at once
CREATE FUNCTION memshard.rebalance_start(map pg_catalog.text DEFAULT NULL,
                                         strategy pg_catalog.text DEFAULT 'by_memory',
                                         threshold pg_catalog.float8 DEFAULT 0.1)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_rebalance_start'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- wait for the job running on this node to end: its final state
CREATE FUNCTION memshard.rebalance_wait()
RETURNS pg_catalog.text
AS 'MODULE_PATHNAME', 'memshard_rebalance_wait'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- stop it, after undoing the move in progress: whether one was running
CREATE FUNCTION memshard.rebalance_stop()
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'memshard_rebalance_stop'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION memshard.drain_node(server pg_catalog.name)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_drain_node'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- every shard back to its replicas copies on distinct live nodes: a copy
-- on a node that is not 'active' is made again on another, from a live copy
CREATE FUNCTION memshard.repair(map pg_catalog.text DEFAULT NULL)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'memshard_repair'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- add_node(server) and, with rebalance => true, a rebalance once the node
-- is in (its addition commits first, through this node's own server, so
-- that the moves see it)
CREATE FUNCTION memshard.add_node(server pg_catalog.name, rebalance pg_catalog.bool)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'memshard_add_node_rebalance'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION memshard.read_rebalance_status(OUT job pg_catalog.int8,
                                               OUT state pg_catalog.text,
                                               OUT step pg_catalog.int4,
                                               OUT steps pg_catalog.int4,
                                               OUT map pg_catalog.text,
                                               OUT shard pg_catalog.int4,
                                               OUT source pg_catalog.name,
                                               OUT target pg_catalog.name,
                                               OUT items_copied pg_catalog.int8,
                                               OUT bytes_copied pg_catalog.int8,
                                               OUT started pg_catalog.timestamptz,
                                               OUT error pg_catalog.text,
                                               OUT moves_total pg_catalog.int8,
                                               OUT moves_failed pg_catalog.int8,
                                               OUT bytes_moved_total pg_catalog.int8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_rebalance_status'
LANGUAGE C VOLATILE PARALLEL SAFE;

-- the rebalance or move run from this node (the last one, or the one in
-- progress)
CREATE VIEW memshard.rebalance_status AS
    SELECT job, state, step, steps, map, shard, source, target,
           items_copied, bytes_copied, started, error
      FROM memshard.read_rebalance_status();
GRANT SELECT ON memshard.rebalance_status TO PUBLIC;

-- the source's and target's sides of a move, called by the mover
CREATE FUNCTION memshard.peer_move_begin(map pg_catalog.text, shard pg_catalog.int4)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_move_begin'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- the source sends the shard's items (whole) or the keys logged since the
-- last round to the target (its peer_move_put)
CREATE FUNCTION memshard.peer_move_push(map pg_catalog.text, shard pg_catalog.int4,
                                        token pg_catalog.int8, whole pg_catalog.bool,
                                        target pg_catalog.name)
RETURNS TABLE(keys pg_catalog.int8, items pg_catalog.int8, bytes pg_catalog.int8,
              overflow pg_catalog.bool)
AS 'MODULE_PATHNAME', 'memshard_peer_move_push'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- frozen: writes wait for the switch; false: they go on (logged)
CREATE FUNCTION memshard.peer_move_freeze(token pg_catalog.int8, frozen pg_catalog.bool)
RETURNS pg_catalog.bool
AS 'MODULE_PATHNAME', 'memshard_peer_move_freeze'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION memshard.peer_move_end(map pg_catalog.text, shard pg_catalog.int4,
                                       token pg_catalog.int8, switched pg_catalog.bool)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_move_end'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION memshard.peer_move_clear(map pg_catalog.text, shard pg_catalog.int4)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_move_clear'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION memshard.peer_move_put(map pg_catalog.text, keys pg_catalog.text[],
                                       "values" pg_catalog.bytea[], ttls pg_catalog.int8[])
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'memshard_peer_move_put'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- the switch, run by the mover on its own node through its own server so
-- that the metadata change commits (on every node) before the move goes on
CREATE FUNCTION memshard.peer_move_switch(map pg_catalog.text, shard pg_catalog.int4,
                                          replica pg_catalog.int4,
                                          source_id pg_catalog.int4,
                                          target_id pg_catalog.int4)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_peer_move_switch'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- drain_node's mark: the node 'draining' (plans and repair give it
-- nothing), run by the drainer on its own node through its own server so
-- that it commits on every node before the first move
CREATE FUNCTION memshard.peer_node_draining(server pg_catalog.name)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_peer_node_draining'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- admin functions: superusers and whom they grant
REVOKE ALL ON FUNCTION
    memshard.peer_node_draining(pg_catalog.name),
    memshard.rebalance_plan(pg_catalog.text, pg_catalog.text, pg_catalog.float8),
    memshard.rebalance_preview(pg_catalog.text, pg_catalog.text, pg_catalog.float8),
    memshard.move_shard(pg_catalog.text, pg_catalog.int4, pg_catalog.name, pg_catalog.name),
    memshard.rebalance(pg_catalog.text, pg_catalog.text, pg_catalog.float8),
    memshard.rebalance_start(pg_catalog.text, pg_catalog.text, pg_catalog.float8),
    memshard.rebalance_wait(),
    memshard.rebalance_stop(),
    memshard.drain_node(pg_catalog.name),
    memshard.repair(pg_catalog.text),
    memshard.add_node(pg_catalog.name, pg_catalog.bool),
    memshard.peer_move_switch(pg_catalog.text, pg_catalog.int4, pg_catalog.int4,
                              pg_catalog.int4, pg_catalog.int4)
  FROM PUBLIC;
-- the peer functions: for the roles nodes log in as, as the others
REVOKE ALL ON FUNCTION
    memshard.peer_shard_sizes(),
    memshard.peer_move_begin(pg_catalog.text, pg_catalog.int4),
    memshard.peer_move_push(pg_catalog.text, pg_catalog.int4, pg_catalog.int8, pg_catalog.bool, pg_catalog.name),
    memshard.peer_move_freeze(pg_catalog.int8, pg_catalog.bool),
    memshard.peer_move_end(pg_catalog.text, pg_catalog.int4, pg_catalog.int8, pg_catalog.bool),
    memshard.peer_move_clear(pg_catalog.text, pg_catalog.int4),
    memshard.peer_move_put(pg_catalog.text, pg_catalog.text[], pg_catalog.bytea[], pg_catalog.int8[])
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    memshard.peer_shard_sizes(),
    memshard.peer_move_begin(pg_catalog.text, pg_catalog.int4),
    memshard.peer_move_push(pg_catalog.text, pg_catalog.int4, pg_catalog.int8, pg_catalog.bool, pg_catalog.name),
    memshard.peer_move_freeze(pg_catalog.int8, pg_catalog.bool),
    memshard.peer_move_end(pg_catalog.text, pg_catalog.int4, pg_catalog.int8, pg_catalog.bool),
    memshard.peer_move_clear(pg_catalog.text, pg_catalog.int4),
    memshard.peer_move_put(pg_catalog.text, pg_catalog.text[], pg_catalog.bytea[], pg_catalog.int8[])
  TO memshard_peer;
-- peer_shard_sizes reads this node's figures
GRANT EXECUTE ON FUNCTION memshard.local_shard_stats(pg_catalog.text) TO memshard_peer;

-- The samples of the rebalance's figures (families 90..98), as
-- metric_samples() gives its own: the job run from this node, the moves
-- and bytes moved since the start (shared memory), and this node's
-- utilization (the figure plans balance).
CREATE FUNCTION memshard.rebalance_metric_samples(OUT family integer,
                                                  OUT metric text,
                                                  OUT type text,
                                                  OUT help text,
                                                  OUT labels text,
                                                  OUT sort text,
                                                  OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_rebalance_' || f.metric, f.type, f.help, '', '', f.value
      FROM memshard.read_rebalance_status() r, memshard.stats s,
      LATERAL (VALUES
        (90, 'running', 'gauge', 'Whether a rebalance, drain or shard move run from this node is in progress (1) or not (0).',
         CASE WHEN r.state = 'running' THEN '1' ELSE '0' END),
        (91, 'step', 'gauge', 'Move of the current (or last) job run from this node.', r.step::text),
        (92, 'steps', 'gauge', 'Moves of the current (or last) job run from this node.', r.steps::text),
        (93, 'items_copied', 'gauge', 'Items copied by the move in progress (or the last one).', r.items_copied::text),
        (94, 'bytes_copied', 'gauge', 'Key and value bytes copied by the move in progress (or the last one).', r.bytes_copied::text),
        (95, 'moves_total', 'counter', 'Shard moves run from this node that finished, since the start.', r.moves_total::text),
        (96, 'moves_failed_total', 'counter', 'Shard moves run from this node that failed and were undone, since the start.', r.moves_failed::text),
        (97, 'bytes_moved_total', 'counter', 'Key and value bytes of the shard moves run from this node, since the start.', r.bytes_moved_total::text),
        (98, 'utilization_ratio', 'gauge', 'Bytes of chunks held on this node over its pg_memshard.memory, the figure rebalance plans balance.',
         (s.memory_used::float8 / greatest(s.memory_budget, 1))::text)
      ) f(family, metric, type, help, value);
END;

------------------------------------------------------------------------------
-- metrics(): the samples of 1.0 and of every area above (each area has its
-- own samples function; a new one is one more UNION ALL here)
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION memshard.metrics()
RETURNS pg_catalog.text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT coalesce(string_agg(block, '' ORDER BY family), '')
      FROM (SELECT s.family,
                   '# HELP ' || s.metric || ' ' || s.help || E'\n' ||
                   '# TYPE ' || s.metric || ' ' || s.type || E'\n' ||
                   string_agg(s.metric || s.labels || ' ' || s.value || E'\n', ''
                              ORDER BY s.sort COLLATE "C", s.labels COLLATE "C") AS block
              FROM (SELECT * FROM memshard.metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.recovery_metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.restart_metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.tablecache_metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.failover_metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.rebalance_metric_samples()
                    UNION ALL
                    SELECT * FROM memshard.read_path_metric_samples()) s
             GROUP BY s.family, s.metric, s.type, s.help) families;
END;
