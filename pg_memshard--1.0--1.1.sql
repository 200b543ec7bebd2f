/* pg_memshard--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_memshard UPDATE TO '1.1'" to load this file. \quit

-- Sections, one per feature; each starts with a "-- <area>: ..." line.

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

-- metrics(): the samples of 1.0 and those of the warm restart
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
                    SELECT * FROM memshard.restart_metric_samples()) s
             GROUP BY s.family, s.metric, s.type, s.help) families;
END;
