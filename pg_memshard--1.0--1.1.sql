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
