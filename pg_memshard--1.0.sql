/* pg_memshard--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_memshard" to load this file. \quit

-- Every object lives in schema memshard (the control file's schema).  CREATE
-- EXTENSION creates that schema when it is missing; the library removes it
-- again, if empty, after DROP EXTENSION (src/api/ddl_hook.c).

-- Sections, one per room of src/: keep additions inside their section.

------------------------------------------------------------------------------
-- general
------------------------------------------------------------------------------

CREATE FUNCTION version()
RETURNS text
AS 'MODULE_PATHNAME', 'memshard_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;



------------------------------------------------------------------------------
-- partitioning (src/partition, src/api/partition_api.c)
------------------------------------------------------------------------------

-- The remainder of the native hash partition that a table hash-partitioned
-- on value's type with 'modulus' partitions routes value to; a ROW(a, b, ...)
-- value is a multi-column key, as PARTITION BY HASH (a, b, ...).  NULL
-- values go to remainder 0 as in native routing, so not STRICT.  "any" lets
-- an untyped literal through (read as text).
CREATE FUNCTION hash_partition(value "any", modulus integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_hash_partition'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- The number of bounds <= value (0 .. n) for split points b1 < ... < bn of
-- value's type: the index of the native range partition [bi, bi+1) holding
-- value.  Takes "any" so that bounds of another type are ERROR 22023.
CREATE FUNCTION range_partition(value "any", bounds "any")
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_range_partition'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;


------------------------------------------------------------------------------
-- maps and data (src/router, src/api/map_api.c, src/api/data_api.c)
------------------------------------------------------------------------------

-- The data functions are for every role (README, "Permissions"): they need
-- the schema.  Admin functions are revoked from PUBLIC below.
GRANT USAGE ON SCHEMA memshard TO PUBLIC;

-- One row per map of this database.  Written only by create_map/drop_map
-- (which validate every value; the checks here guard restores), read by
-- every backend into its map cache (src/router/map_catalog.c).
CREATE SEQUENCE map_id_seq AS integer;

CREATE TABLE map_catalog (
    id          integer PRIMARY KEY DEFAULT nextval('memshard.map_id_seq'),
    name        text NOT NULL CONSTRAINT map_catalog_name_key UNIQUE
                CHECK (length(name) BETWEEN 1 AND 63),
    default_ttl interval CHECK (default_ttl > interval '0'),
    max_memory  bigint CHECK (max_memory > 0),
    eviction    text NOT NULL DEFAULT 'lru' CHECK (eviction IN ('lru', 'none')),
    method      text NOT NULL DEFAULT 'hash' CHECK (method IN ('hash', 'range')),
    shard_count integer NOT NULL DEFAULT 32 CHECK (shard_count > 0),
    bounds      text[],     -- range maps: split points, ascending
    nodes       name[],     -- foreign servers; NULL = this node only
    replicas    integer NOT NULL DEFAULT 1 CHECK (replicas >= 1),
    created     timestamptz NOT NULL DEFAULT now(),
    CHECK ((method = 'range') = (bounds IS NOT NULL))
);
ALTER SEQUENCE map_id_seq OWNED BY map_catalog.id;

-- pg_dump keeps the maps (the items are a cache: they are not dumped)
SELECT pg_catalog.pg_extension_config_dump('map_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('map_id_seq', '');

CREATE VIEW maps AS
    SELECT id, name, default_ttl, max_memory, eviction, method, shard_count,
           bounds, nodes, replicas, created
      FROM map_catalog;
GRANT SELECT ON maps TO PUBLIC;

CREATE FUNCTION create_map(name text,
                           default_ttl interval DEFAULT NULL,
                           max_memory bigint DEFAULT NULL,
                           eviction text DEFAULT 'lru',
                           method text DEFAULT 'hash',
                           shard_count integer DEFAULT 32,
                           bounds text[] DEFAULT NULL,
                           nodes name[] DEFAULT NULL,
                           replicas integer DEFAULT 1)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_create_map'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION drop_map(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_drop_map'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Data functions: not STRICT (a NULL map, key or value is an ERROR),
-- VOLATILE (the cache changes under every statement).  text and bytea
-- values share one C function.
CREATE FUNCTION set(map text, key text, value text, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_set'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION set(map text, key text, value bytea, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_set'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION add(map text, key text, value text, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_add'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION add(map text, key text, value bytea, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_add'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION replace(map text, key text, value text, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_replace'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION replace(map text, key text, value bytea, ttl interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_replace'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION get(map text, key text)
RETURNS text
AS 'MODULE_PATHNAME', 'memshard_get'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION get_bytea(map text, key text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'memshard_get_bytea'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION mget(map text, keys text[])
RETURNS TABLE(key text, value text)
AS 'MODULE_PATHNAME', 'memshard_mget'
LANGUAGE C VOLATILE PARALLEL SAFE;

CREATE FUNCTION mset(map text, keys text[], "values" text[], ttl interval DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_mset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION delete(map text, key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_delete'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION incr(map text, key text, delta bigint DEFAULT 1, ttl interval DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'memshard_incr'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION touch(map text, key text, ttl interval)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_touch'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION flush(map text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'memshard_flush'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- admin functions: superusers, and whom they grant
REVOKE ALL ON FUNCTION create_map(text, interval, bigint, text, text, integer, text[], name[], integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION drop_map(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION flush(text) FROM PUBLIC;


------------------------------------------------------------------------------
-- statistics views (src/api/stats_api.c)
------------------------------------------------------------------------------

CREATE FUNCTION read_stats(
    OUT memory_budget bigint,
    OUT memory_used bigint,
    OUT payload_bytes bigint,
    OUT items bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT sets bigint,
    OUT deletes bigint,
    OUT evictions bigint,
    OUT expirations bigint,
    OUT fragmentation double precision,
    OUT hit_ratio double precision,
    OUT page_size bigint,
    OUT pages_total bigint,
    OUT pages_free bigint,
    OUT index_bytes bigint,
    OUT item_overhead_bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_stats'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW stats AS SELECT * FROM read_stats();

CREATE FUNCTION read_partition_stats(
    OUT partition integer,
    OUT items bigint,
    OUT memory_used bigint,
    OUT payload_bytes bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT sets bigint,
    OUT deletes bigint,
    OUT evictions bigint,
    OUT expirations bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_partition_stats'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW partition_stats AS SELECT * FROM read_partition_stats();

CREATE FUNCTION read_slab_stats(
    OUT class integer,
    OUT chunk_size bigint,
    OUT pages bigint,
    OUT chunks_per_page bigint,
    OUT chunks_used bigint,
    OUT chunks_free bigint,
    OUT wasted_bytes bigint,
    OUT evictions bigint,
    OUT pages_moved_in bigint,
    OUT pages_moved_out bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_slab_stats'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW slab_stats AS SELECT * FROM read_slab_stats();

-- the maps of the current database
CREATE FUNCTION read_map_stats(
    OUT map text,
    OUT items bigint,
    OUT memory_used bigint,
    OUT payload_bytes bigint,
    OUT hits bigint,
    OUT misses bigint,
    OUT sets bigint,
    OUT deletes bigint,
    OUT evictions bigint,
    OUT expirations bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_read_map_stats'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE VIEW map_stats AS SELECT * FROM read_map_stats();

GRANT SELECT ON stats, partition_stats, slab_stats, map_stats TO PUBLIC;

CREATE FUNCTION stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_stats_reset'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION stats_reset() FROM PUBLIC;


------------------------------------------------------------------------------
-- cluster: nodes, shards (src/cluster, src/remote)
------------------------------------------------------------------------------

-- Nodes are foreign servers of this wrapper; credentials live in user
-- mappings.  The validator accepts libpq's options (src/remote/remote_options.c).
CREATE FUNCTION fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_fdw_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER memshard VALIDATOR fdw_validator;

-- The members of the cluster, the same on every node.  A node recognises
-- itself by system identifier and database.
CREATE TABLE node_catalog (
    id integer PRIMARY KEY,
    server name NOT NULL UNIQUE,
    system_identifier bigint NOT NULL,
    database name NOT NULL,
    state text NOT NULL DEFAULT 'active' CHECK (state IN ('active')),
    added timestamptz NOT NULL DEFAULT now(),
    UNIQUE (system_identifier, database)
);

-- Where each shard of each map over nodes lives: replica 0 is the primary.
CREATE TABLE placement_catalog (
    map_id integer NOT NULL,
    shard integer NOT NULL CHECK (shard >= 0),
    replica integer NOT NULL CHECK (replica >= 0),
    node_id integer NOT NULL REFERENCES node_catalog (id),
    PRIMARY KEY (map_id, shard, replica),
    UNIQUE (map_id, shard, node_id)
);

-- Metadata changes this node coordinated, one row per other node: the
-- global transaction identifier prepared there.  A row that committed
-- means "commit it"; recover_metadata() uses that after a failure.
CREATE TABLE metadata_transactions (
    gid text PRIMARY KEY,
    node_id integer NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);

-- The cluster tables are not dumped: a node's identity belongs to its
-- instance, and a restored node joins a cluster with add_node.

-- The whole cluster metadata in canonical form: every node must produce
-- the same text (names sorted bytewise, intervals in one style).
-- for_removed_node gives the empty metadata of a node that leaves the
-- cluster.  Maps of one node outside a cluster (nodes NULL) are not part
-- of it.
CREATE FUNCTION metadata_snapshot(for_removed_node boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql STABLE
SET intervalstyle = 'postgres'
AS $$
SELECT pg_catalog.jsonb_build_object(
    'nodes', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'id', n.id, 'server', n.server,
                   'system_identifier', n.system_identifier,
                   'database', n.database) ORDER BY n.id)
        FROM memshard.node_catalog n
        WHERE NOT for_removed_node), '[]'::jsonb),
    'maps', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'name', m.name, 'default_ttl', m.default_ttl,
                   'max_memory', m.max_memory, 'eviction', m.eviction,
                   'method', m.method, 'shard_count', m.shard_count,
                   'bounds', m.bounds, 'nodes', m.nodes,
                   'replicas', m.replicas) ORDER BY m.name COLLATE "C")
        FROM memshard.map_catalog m
        WHERE m.nodes IS NOT NULL AND NOT for_removed_node), '[]'::jsonb),
    'placements', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                   m.name, p.shard, p.replica, p.node_id)
                   ORDER BY m.name COLLATE "C", p.shard, p.replica)
        FROM memshard.placement_catalog p
        JOIN memshard.map_catalog m ON m.id = p.map_id
        WHERE NOT for_removed_node), '[]'::jsonb))
$$;

CREATE FUNCTION add_node(server name)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_add_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION remove_node(server name)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_remove_node'
LANGUAGE C VOLATILE;

CREATE FUNCTION recover_metadata()
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_recover_metadata'
LANGUAGE C VOLATILE;

CREATE FUNCTION disconnect()
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_disconnect'
LANGUAGE C VOLATILE;

CREATE FUNCTION connections(OUT server name, OUT valid boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_connections'
LANGUAGE C VOLATILE;

CREATE FUNCTION nodes(OUT id integer, OUT server name, OUT host text,
                      OUT port integer, OUT dbname name, OUT is_local boolean,
                      OUT state text, OUT last_error text,
                      OUT last_error_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_nodes'
LANGUAGE C STABLE;

CREATE VIEW nodes AS SELECT * FROM nodes();

-- Called by other nodes (internal).
CREATE FUNCTION peer_identity(OUT system_identifier bigint, OUT database name)
RETURNS record
AS 'MODULE_PATHNAME', 'memshard_peer_identity'
LANGUAGE C STABLE;

CREATE FUNCTION peer_metadata_apply(before_digest text, snapshot jsonb,
                                    after_digest text)
RETURNS void
AS 'MODULE_PATHNAME', 'memshard_peer_metadata_apply'
LANGUAGE C VOLATILE;

-- Shards and where they live; bounds as native partitioning writes them.
CREATE VIEW shards AS
    SELECT m.name AS map, p.shard,
           CASE m.method
               WHEN 'hash' THEN format('FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                                       m.shard_count, p.shard)
               ELSE format('FOR VALUES FROM (%s) TO (%s)',
                           CASE WHEN p.shard = 0 THEN 'MINVALUE'
                                ELSE quote_literal(m.bounds[p.shard]) END,
                           CASE WHEN p.shard = cardinality(m.bounds) THEN 'MAXVALUE'
                                ELSE quote_literal(m.bounds[p.shard + 1]) END)
           END AS bounds,
           n.server AS node,
           CASE WHEN p.replica = 0 THEN 'primary' ELSE 'replica' END AS role
      FROM memshard.placement_catalog p
      JOIN memshard.map_catalog m ON m.id = p.map_id
      JOIN memshard.node_catalog n ON n.id = p.node_id;

CREATE FUNCTION shard_for(map text, key text)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_shard_for'
LANGUAGE C STABLE;

CREATE FUNCTION node_for(map text, key text)
RETURNS name
AS 'MODULE_PATHNAME', 'memshard_node_for'
LANGUAGE C STABLE;

-- memshard.stats of every node, gathered in parallel
CREATE FUNCTION cluster_stats(OUT node name, OUT is_local boolean,
                              OUT memory_budget bigint, OUT memory_used bigint,
                              OUT items bigint, OUT hits bigint,
                              OUT misses bigint, OUT sets bigint,
                              OUT deletes bigint, OUT evictions bigint,
                              OUT expirations bigint, OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_cluster_stats'
LANGUAGE C VOLATILE;

CREATE VIEW cluster_stats AS SELECT * FROM cluster_stats();

-- Called by other nodes (internal): the local part of each data function,
-- for shards this node holds.  ttl_ms: 0 is none.
CREATE FUNCTION peer_set(map text, key text, value bytea, ttl_ms bigint, mode integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_peer_set'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_get(map text, key text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'memshard_peer_get'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_mget(map text, keys text[])
RETURNS SETOF bytea
AS 'MODULE_PATHNAME', 'memshard_peer_mget'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_mset(map text, keys text[], "values" bytea[], ttl_ms bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'memshard_peer_mset'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_delete(map text, key text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_peer_delete'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_incr(map text, key text, delta bigint, ttl_ms bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'memshard_peer_incr'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_touch(map text, key text, ttl_ms bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'memshard_peer_touch'
LANGUAGE C VOLATILE;

CREATE FUNCTION peer_flush(map text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'memshard_peer_flush'
LANGUAGE C VOLATILE;

-- Administration is for superusers and whom they grant it to.
REVOKE ALL ON FUNCTION add_node(name), remove_node(name), recover_metadata(),
    peer_metadata_apply(text, jsonb, text), peer_flush(text) FROM PUBLIC;
REVOKE ALL ON node_catalog, placement_catalog, metadata_transactions FROM PUBLIC;
GRANT SELECT ON node_catalog, placement_catalog, nodes, shards, cluster_stats TO PUBLIC;


------------------------------------------------------------------------------
-- observability (metrics, reports)
------------------------------------------------------------------------------



-- What an operator and a DBA look at: shard figures and skew, a memory
-- report for psql, and the Prometheus exposition of every counter.  All of
-- it is read from the views above; only the per-shard figures need code of
-- their own: a scan of the store and a gathering over the nodes
-- (src/api/obs_shards.c, src/store/shard_scan.c).

-- This node's items and bytes of one map (NULL: every map of the database),
-- per shard, from a scan of the store.  Costs a walk of the whole index:
-- for pg_monitor and superusers, not PUBLIC.
CREATE FUNCTION local_shard_stats(map text DEFAULT NULL,
                                  OUT map text,
                                  OUT shard integer,
                                  OUT items bigint,
                                  OUT bytes bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_local_shard_stats'
LANGUAGE C VOLATILE PARALLEL SAFE;

REVOKE ALL ON FUNCTION local_shard_stats(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION local_shard_stats(text) TO pg_monitor;

-- local_shard_stats of the nodes of the cluster (those named, or all),
-- asked in parallel (this node answers from its own store; outside a
-- cluster it is node 'local').  A node that fails gives one row with its
-- error and NULL figures.
CREATE FUNCTION node_shard_stats(map text DEFAULT NULL,
                                 nodes text[] DEFAULT NULL,
                                 OUT node text,
                                 OUT is_local boolean,
                                 OUT map text,
                                 OUT shard integer,
                                 OUT items bigint,
                                 OUT bytes bigint,
                                 OUT error text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'memshard_node_shard_stats'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION node_shard_stats(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION node_shard_stats(text, text[]) TO pg_monitor;

-- Every placement's figures (NULL map: every map).  A map of this node only
-- shows node 'local' and its shards.  A map over nodes shows one row per
-- placement (shard and node), filled from that node's answer; when the node
-- could not answer, the row has NULL figures and the node's error.  Only
-- the nodes holding placements of the maps concerned are asked.
CREATE FUNCTION read_shard_stats(map text DEFAULT NULL,
                                 OUT map text,
                                 OUT shard integer,
                                 OUT node text,
                                 OUT items bigint,
                                 OUT bytes bigint,
                                 OUT error text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    WITH maps AS (
        SELECT m.name, m.nodes IS NULL AS local_only
          FROM memshard.maps m
         WHERE read_shard_stats.map IS NULL OR m.name = read_shard_stats.map
    ), placements AS MATERIALIZED (
        SELECT s.map, s.shard, s.node::text AS node
          FROM maps m
          JOIN memshard.shards s ON s.map = m.name
         WHERE NOT m.local_only
    ), answers AS MATERIALIZED (
        SELECT a.node, a.is_local, a.map, a.shard, a.items, a.bytes, a.error
          FROM memshard.node_shard_stats(read_shard_stats.map,
                                         ARRAY(SELECT DISTINCT p.node FROM placements p)) a
         WHERE EXISTS (SELECT FROM placements)
        UNION ALL
        SELECT 'local', true, l.map, l.shard, l.items, l.bytes, NULL
          FROM memshard.local_shard_stats(read_shard_stats.map) l
         WHERE NOT EXISTS (SELECT FROM placements)
    )
    SELECT r.map, r.shard, r.node, r.items, r.bytes, r.error
      FROM (SELECT a.map, a.shard, 'local' AS node, a.items, a.bytes, NULL AS error
              FROM answers a
              JOIN maps m ON m.name = a.map AND m.local_only
             WHERE a.is_local
            UNION ALL
            SELECT p.map, p.shard, p.node, a.items, a.bytes, e.error
              FROM placements p
              LEFT JOIN answers a
                ON a.node = p.node AND a.map = p.map AND a.shard = p.shard
              LEFT JOIN answers e
                ON e.node = p.node AND e.error IS NOT NULL) r
     ORDER BY r.map, r.shard, r.node;
END;

REVOKE ALL ON FUNCTION read_shard_stats(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_shard_stats(text) TO pg_monitor;

CREATE VIEW shard_stats AS SELECT * FROM read_shard_stats();
REVOKE ALL ON shard_stats FROM PUBLIC;
GRANT SELECT ON shard_stats TO pg_monitor;

-- Per map and node: shards held, items and bytes, the node's share
-- against the mean of the map's nodes (1.0 = exactly even), the map's
-- max/mean ratio of bytes over its nodes, and the max/mean ratio of bytes
-- over the node's own shards.  Nodes that could not answer show their error
-- and are left out of the means.  NULL map: every map, in one walk of the
-- store (what the exporter's queries file scrapes).
CREATE FUNCTION read_skew(map text DEFAULT NULL,
                          OUT map text,
                          OUT node text,
                          OUT shards integer,
                          OUT items bigint,
                          OUT bytes bigint,
                          OUT items_ratio double precision,
                          OUT bytes_ratio double precision,
                          OUT max_mean_ratio double precision,
                          OUT shard_max_mean_ratio double precision,
                          OUT error text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    WITH per_node AS (
        SELECT p.map, p.node, count(p.shard)::integer AS shards,
               sum(p.items)::bigint AS items, sum(p.bytes)::bigint AS bytes,
               max(p.bytes) / nullif(avg(p.bytes), 0) AS shard_max_mean_ratio,
               max(p.error) AS error
          FROM memshard.read_shard_stats(read_skew.map) p
         GROUP BY p.map, p.node
    ), means AS (
        SELECT n.map, avg(n.items) AS items, avg(n.bytes) AS bytes,
               max(n.bytes) AS max_bytes
          FROM per_node n
         WHERE n.error IS NULL
         GROUP BY n.map
    )
    SELECT n.map, n.node, n.shards, n.items, n.bytes,
           (n.items / nullif(m.items, 0))::double precision,
           (n.bytes / nullif(m.bytes, 0))::double precision,
           (m.max_bytes / nullif(m.bytes, 0))::double precision,
           n.shard_max_mean_ratio::double precision, n.error
      FROM per_node n
      LEFT JOIN means m ON m.map = n.map
     ORDER BY n.map, n.node;
END;

REVOKE ALL ON FUNCTION read_skew(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION read_skew(text) TO pg_monitor;

-- read_skew of one map, which must be given
CREATE FUNCTION skew(map text,
                     OUT node text,
                     OUT shards integer,
                     OUT items bigint,
                     OUT bytes bigint,
                     OUT items_ratio double precision,
                     OUT bytes_ratio double precision,
                     OUT max_mean_ratio double precision,
                     OUT shard_max_mean_ratio double precision,
                     OUT error text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
AS $$
BEGIN
    IF map IS NULL THEN
        RAISE EXCEPTION 'map name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT s.node, s.shards, s.items, s.bytes, s.items_ratio, s.bytes_ratio,
               s.max_mean_ratio, s.shard_max_mean_ratio, s.error
          FROM memshard.read_skew(skew.map) s;
END
$$;

REVOKE ALL ON FUNCTION skew(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION skew(text) TO pg_monitor;

-- A Prometheus label, name="value", with the value escaped as the text
-- exposition format requires: backslash, double quote and newline.
CREATE FUNCTION metric_label(name text, value text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN name || '="' ||
       replace(replace(replace(value, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') ||
       '"';

-- Every sample metrics() shows: one row per series.  'family' orders the
-- metric families (the exposition keeps each family's samples together,
-- after its HELP and TYPE lines), 'sort' the series inside one.
CREATE FUNCTION metric_samples(OUT family integer,
                               OUT metric text,
                               OUT type text,
                               OUT help text,
                               OUT labels text,
                               OUT sort text,
                               OUT value text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT f.family, 'pg_memshard_' || f.metric, f.type, f.help, '', '', f.value
      FROM memshard.stats s,
      LATERAL (VALUES
        (1, 'memory_budget_bytes', 'gauge', 'Size of the shared memory of the cache (pg_memshard.memory).', s.memory_budget::text),
        (2, 'memory_used_bytes', 'gauge', 'Bytes of chunks held by items.', s.memory_used::text),
        (3, 'payload_bytes', 'gauge', 'Bytes of the keys and values of the items.', s.payload_bytes::text),
        (4, 'items', 'gauge', 'Items in the cache.', s.items::text),
        (5, 'hits_total', 'counter', 'Reads that found their key.', s.hits::text),
        (6, 'misses_total', 'counter', 'Reads that did not find their key.', s.misses::text),
        (7, 'sets_total', 'counter', 'Items stored.', s.sets::text),
        (8, 'deletes_total', 'counter', 'Items deleted.', s.deletes::text),
        (9, 'evictions_total', 'counter', 'Unexpired items evicted to make room.', s.evictions::text),
        (10, 'expirations_total', 'counter', 'Expired items reclaimed.', s.expirations::text),
        (11, 'fragmentation_ratio', 'gauge', 'Share of item memory that is not payload (1 - payload / used).', s.fragmentation::text),
        (12, 'hit_ratio', 'gauge', 'Hits over reads since the last stats_reset.', s.hit_ratio::text),
        (13, 'page_size_bytes', 'gauge', 'Size of a slab page.', s.page_size::text),
        (14, 'pages', 'gauge', 'Slab pages of the segment.', s.pages_total::text),
        (15, 'pages_free', 'gauge', 'Slab pages not given to any size class.', s.pages_free::text),
        (16, 'index_bytes', 'gauge', 'Bytes of the hash index.', s.index_bytes::text),
        (17, 'item_overhead_bytes', 'gauge', 'Header bytes of every item.', s.item_overhead_bytes::text)
      ) f(family, metric, type, help, value)
    UNION ALL
    SELECT f.family, 'pg_memshard_partition_' || f.metric, f.type, f.help,
           '{' || memshard.metric_label('partition', p.partition::text) || '}',
           lpad(p.partition::text, 10, '0'), f.value
      FROM memshard.partition_stats p,
      LATERAL (VALUES
        (20, 'items', 'gauge', 'Items in the partition.', p.items::text),
        (21, 'memory_used_bytes', 'gauge', 'Bytes of chunks held by the items of the partition.', p.memory_used::text),
        (22, 'payload_bytes', 'gauge', 'Bytes of the keys and values of the partition.', p.payload_bytes::text),
        (23, 'hits_total', 'counter', 'Reads of the partition that found their key.', p.hits::text),
        (24, 'misses_total', 'counter', 'Reads of the partition that did not find their key.', p.misses::text),
        (25, 'sets_total', 'counter', 'Items stored in the partition.', p.sets::text),
        (26, 'deletes_total', 'counter', 'Items deleted from the partition.', p.deletes::text),
        (27, 'evictions_total', 'counter', 'Unexpired items of the partition evicted.', p.evictions::text),
        (28, 'expirations_total', 'counter', 'Expired items of the partition reclaimed.', p.expirations::text)
      ) f(family, metric, type, help, value)
    UNION ALL
    SELECT f.family, 'pg_memshard_slab_' || f.metric, f.type, f.help,
           '{' || memshard.metric_label('class', c.class::text) || ',' ||
           memshard.metric_label('chunk_size', c.chunk_size::text) || '}',
           lpad(c.chunk_size::text, 20, '0'), f.value
      FROM memshard.slab_stats c,
      LATERAL (VALUES
        (30, 'chunk_size_bytes', 'gauge', 'Chunk size of the size class.', c.chunk_size::text),
        (31, 'pages', 'gauge', 'Pages held by the size class.', c.pages::text),
        (32, 'chunks_per_page', 'gauge', 'Chunks in one page of the size class.', c.chunks_per_page::text),
        (33, 'chunks_used', 'gauge', 'Chunks of the size class holding items.', c.chunks_used::text),
        (34, 'chunks_free', 'gauge', 'Free chunks of the size class.', c.chunks_free::text),
        (35, 'wasted_bytes', 'gauge', 'Bytes of the class''s pages neither holding item data nor free.', c.wasted_bytes::text),
        (36, 'evictions_total', 'counter', 'Unexpired items of the size class evicted.', c.evictions::text),
        (37, 'pages_moved_in_total', 'counter', 'Pages moved to the size class from another.', c.pages_moved_in::text),
        (38, 'pages_moved_out_total', 'counter', 'Pages moved from the size class to another.', c.pages_moved_out::text)
      ) f(family, metric, type, help, value)
    UNION ALL
    SELECT f.family, 'pg_memshard_map_' || f.metric, f.type, f.help,
           '{' || memshard.metric_label('database', current_database()) || ',' ||
           memshard.metric_label('map', m.map) || '}',
           m.map, f.value
      FROM memshard.map_stats m
      LEFT JOIN memshard.maps d ON d.name = m.map,
      LATERAL (VALUES
        (40, 'items', 'gauge', 'Items of the map on this node.', m.items::text),
        (41, 'memory_used_bytes', 'gauge', 'Bytes of chunks held by the map''s items on this node.', m.memory_used::text),
        (42, 'payload_bytes', 'gauge', 'Bytes of the keys and values of the map on this node.', m.payload_bytes::text),
        (43, 'max_memory_bytes', 'gauge', 'Memory quota of the map (absent: none).', d.max_memory::text),
        (44, 'hits_total', 'counter', 'Reads of the map that found their key.', m.hits::text),
        (45, 'misses_total', 'counter', 'Reads of the map that did not find their key.', m.misses::text),
        (46, 'sets_total', 'counter', 'Items of the map stored.', m.sets::text),
        (47, 'deletes_total', 'counter', 'Items of the map deleted.', m.deletes::text),
        (48, 'evictions_total', 'counter', 'Unexpired items of the map evicted.', m.evictions::text),
        (49, 'expirations_total', 'counter', 'Expired items of the map reclaimed.', m.expirations::text)
      ) f(family, metric, type, help, value)
     WHERE f.value IS NOT NULL
    UNION ALL
    SELECT 50, 'pg_memshard_node_up', 'gauge',
           'Whether this node reaches the node of the cluster now (1) or not (0).',
           '{' || memshard.metric_label('node', n.node) || '}', n.node,
           CASE WHEN n.error IS NULL THEN '1' ELSE '0' END
      FROM memshard.cluster_stats n
     WHERE n.node IS NOT NULL;
END;

-- The Prometheus text exposition (format 0.0.4) of metric_samples().
CREATE FUNCTION metrics()
RETURNS text
LANGUAGE sql VOLATILE PARALLEL UNSAFE
BEGIN ATOMIC
    SELECT coalesce(string_agg(block, '' ORDER BY family), '')
      FROM (SELECT s.family,
                   '# HELP ' || s.metric || ' ' || s.help || E'\n' ||
                   '# TYPE ' || s.metric || ' ' || s.type || E'\n' ||
                   string_agg(s.metric || s.labels || ' ' || s.value || E'\n', ''
                              ORDER BY s.sort COLLATE "C", s.labels COLLATE "C") AS block
              FROM memshard.metric_samples() s
             GROUP BY s.family, s.metric, s.type, s.help) families;
END;

-- A summary of memory for psql: figures with pg_size_pretty, the largest
-- maps and the size classes that waste most, and a line of advice beside
-- any figure out of line.
CREATE FUNCTION memory_report(OUT section text,
                              OUT item text,
                              OUT value text,
                              OUT advice text)
RETURNS SETOF record
LANGUAGE sql VOLATILE PARALLEL SAFE
BEGIN ATOMIC
    WITH s AS (
        SELECT * FROM memshard.stats
    ), lines(ord, section, item, value, advice) AS (
        SELECT 1, 'memory', 'budget', pg_size_pretty(s.memory_budget) ||
               format(' (pg_memshard.memory; %s pages of %s)', s.pages_total,
                      pg_size_pretty(s.page_size)), NULL
          FROM s
        UNION ALL
        SELECT 2, 'memory', 'used by items', pg_size_pretty(s.memory_used) ||
               format(' (%s%% of the budget)',
                      round(100.0 * s.memory_used / nullif(s.memory_budget, 0), 1)),
               NULL
          FROM s
        UNION ALL
        SELECT 3, 'memory', 'payload (keys + values)', pg_size_pretty(s.payload_bytes) ||
               CASE WHEN s.memory_used > 0 THEN
                   format(' (%s%% of used)', round(100.0 * s.payload_bytes / s.memory_used, 1))
               ELSE '' END,
               NULL
          FROM s
        UNION ALL
        SELECT 4, 'memory', 'items', s.items::text, NULL FROM s
        UNION ALL
        SELECT 5, 'memory', 'overhead per item',
               coalesce(round((s.memory_used - s.payload_bytes)::numeric / nullif(s.items, 0), 1) ||
                        format(' bytes (header %s, the rest rounding to chunk sizes)',
                               s.item_overhead_bytes),
                        format('no items (header %s bytes)', s.item_overhead_bytes)),
               NULL
          FROM s
        UNION ALL
        SELECT 6, 'memory', 'fragmentation', round(100 * s.fragmentation::numeric, 1) || '%',
               CASE WHEN s.fragmentation > 0.5 AND s.items > 0 THEN
                   'over half of item memory is headers and rounding: values are very small; pack several values in one item'
               END
          FROM s
        UNION ALL
        SELECT 7, 'memory', 'free pages', s.pages_free || ' of ' || s.pages_total ||
               ' (' || pg_size_pretty(s.pages_free * s.page_size) || ')', NULL
          FROM s
        UNION ALL
        SELECT 8, 'memory', 'hash index', pg_size_pretty(s.index_bytes), NULL FROM s
        UNION ALL
        SELECT 10, 'activity', 'hit ratio',
               round(100 * s.hit_ratio::numeric, 1) || format('%% (%s hits, %s misses)', s.hits, s.misses),
               CASE WHEN s.hits + s.misses >= 1000 AND s.hit_ratio < 0.5 THEN
                   'fewer than half of the reads hit: items are evicted or expire before they are read again'
               END
          FROM s
        UNION ALL
        SELECT 11, 'activity', 'evictions', s.evictions::text || ' unexpired items',
               CASE WHEN s.evictions > q.evictions THEN
                   format('unexpired items were evicted: the working set is larger than the budget; raise pg_memshard.memory (now %s) or give less important maps a max_memory',
                          pg_size_pretty(s.memory_budget))
                    WHEN s.evictions > 0 THEN
                   'unexpired items were evicted by maps at their max_memory (see top maps)'
               END
          FROM s,
               (SELECT coalesce(sum(m.evictions), 0) AS evictions
                  FROM memshard.map_stats m
                  JOIN memshard.maps d ON d.name = m.map
                 WHERE d.max_memory IS NOT NULL) q
        UNION ALL
        SELECT 12, 'activity', 'expirations', s.expirations::text, NULL FROM s
        UNION ALL
        (SELECT 20 + row_number() OVER (ORDER BY m.memory_used DESC, m.map),
               'top maps by bytes', m.map,
               pg_size_pretty(m.memory_used) || format(', %s items', m.items) ||
               CASE WHEN d.max_memory IS NOT NULL THEN
                   format(', quota %s (%s%%)', pg_size_pretty(d.max_memory),
                          round(100.0 * m.memory_used / d.max_memory, 1))
               ELSE '' END,
               CASE WHEN d.max_memory IS NOT NULL AND m.memory_used >= 0.9 * d.max_memory THEN
                   CASE WHEN d.eviction = 'none' THEN
                       'map at its quota: new items fail with SQLSTATE 53200; raise its max_memory or delete items'
                   ELSE
                       'map at its quota: its own items are evicted to make room; raise its max_memory'
                   END
               END
          FROM memshard.map_stats m
          LEFT JOIN memshard.maps d ON d.name = m.map
         ORDER BY m.memory_used DESC, m.map
         LIMIT 5)
        UNION ALL
        (SELECT 40 + row_number() OVER (ORDER BY c.wasted_bytes DESC, c.class),
               'top size classes by waste',
               format('class %s (%s-byte chunks)', c.class, c.chunk_size),
               pg_size_pretty(c.wasted_bytes) ||
               format(' wasted of %s (%s%%) in %s page(s), %s of %s chunks used',
                      pg_size_pretty(c.pages * s.page_size),
                      round(100.0 * c.wasted_bytes / nullif(c.pages * s.page_size, 0), 1),
                      c.pages, c.chunks_used, c.chunks_used + c.chunks_free),
               CASE WHEN c.evictions > 0 AND s.evictions > 0
                         AND c.evictions >= 0.5 * s.evictions
                         AND c.pages < 0.1 * (s.pages_total - s.pages_free) THEN
                   format('class starving: %s of the %s evictions with %s pages; pages move to it under pressure (pages_moved_in %s)',
                          c.evictions, s.evictions, c.pages, c.pages_moved_in)
                    WHEN c.pages > 0 AND c.wasted_bytes > 0.25 * c.pages * s.page_size THEN
                   'over a quarter of this class is rounding: its items are much smaller than its chunks'
               END
          FROM memshard.slab_stats c, s
         ORDER BY c.wasted_bytes DESC, c.class
         LIMIT 5)
    )
    SELECT r.section, r.item, r.value, r.advice
      FROM (SELECT l.ord, l.section, l.item, l.value, l.advice
              FROM lines l
            UNION ALL
            SELECT 100, 'advice', 'summary',
                   CASE count(l.advice) WHEN 0 THEN 'nothing out of line'
                        ELSE count(l.advice) || ' figure(s) out of line: see the advice column' END,
                   NULL
              FROM lines l) r
     ORDER BY r.ord;
END;
