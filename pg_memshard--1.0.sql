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



------------------------------------------------------------------------------
-- maps and data (src/router, src/api/map_api.c, src/api/data_api.c)
------------------------------------------------------------------------------



------------------------------------------------------------------------------
-- statistics views (src/api/stats_api.c)
------------------------------------------------------------------------------



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

SELECT pg_catalog.pg_extension_config_dump('node_catalog', '');
SELECT pg_catalog.pg_extension_config_dump('placement_catalog', '');

-- The whole cluster metadata in canonical form: every node must produce
-- the same text.  for_removed_node gives the empty metadata of a node that
-- leaves the cluster.
CREATE FUNCTION metadata_snapshot(for_removed_node boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
SELECT pg_catalog.jsonb_build_object(
    'nodes', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                   'id', n.id, 'server', n.server,
                   'system_identifier', n.system_identifier,
                   'database', n.database) ORDER BY n.id)
        FROM memshard.node_catalog n
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

-- Administration is for superusers and whom they grant it to.
REVOKE ALL ON FUNCTION add_node(name), remove_node(name), recover_metadata(),
    peer_metadata_apply(text, jsonb, text) FROM PUBLIC;
REVOKE ALL ON node_catalog, placement_catalog, metadata_transactions FROM PUBLIC;
GRANT SELECT ON node_catalog, placement_catalog TO PUBLIC;




------------------------------------------------------------------------------
-- observability (metrics, reports)
------------------------------------------------------------------------------



