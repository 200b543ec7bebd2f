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



