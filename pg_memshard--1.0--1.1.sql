-- pg_memshard 1.0 -> 1.1 (every object schema-qualified: an upgrade script
-- runs with the caller's search_path)
\echo Use "ALTER EXTENSION pg_memshard UPDATE TO '1.1'" to load this file. \quit

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

REVOKE ALL ON FUNCTION memshard.peer_metadata_outcome(text),
    memshard.read_metadata_recovery() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION memshard.read_metadata_recovery() TO pg_monitor;
GRANT SELECT ON memshard.metadata_recovery TO pg_monitor;
