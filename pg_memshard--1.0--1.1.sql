-- pg_memshard 1.0 -> 1.1 (ALTER EXTENSION pg_memshard UPDATE)
\echo Use "ALTER EXTENSION pg_memshard UPDATE" to load this file. \quit

-- packaging: the library serves the SQL objects of 1.0 and 1.1 and refuses
-- any other version (src/api/ext_version.c); this section adds no object.
