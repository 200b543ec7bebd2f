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

-- metrics(): the samples of 1.0, of the metadata recovery and of the warm
-- restart
CREATE OR REPLACE FUNCTION memshard.metrics()
RETURNS text
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
                    SELECT * FROM memshard.restart_metric_samples()) s
             GROUP BY s.family, s.metric, s.type, s.help) families;
END;
