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



------------------------------------------------------------------------------
-- observability (metrics, reports)
------------------------------------------------------------------------------



