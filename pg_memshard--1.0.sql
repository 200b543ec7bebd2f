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



------------------------------------------------------------------------------
-- statistics views (src/api/stats_api.c)
------------------------------------------------------------------------------



------------------------------------------------------------------------------
-- cluster: nodes, shards (src/cluster, src/remote)
------------------------------------------------------------------------------



------------------------------------------------------------------------------
-- observability (metrics, reports)
------------------------------------------------------------------------------



