-- Install and remove the extension cleanly.
CREATE EXTENSION pg_memshard;
SELECT extname, extversion, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'pg_memshard';
SELECT memshard.version();
-- every object the extension owns is in schema memshard (but the objects
-- that have no schema: the wrapper, and the table cache's event trigger)
SELECT count(*) > 0 AS has_members,
       bool_and(pg_describe_object(classid, objid, objsubid) LIKE '%memshard.%'
                OR classid IN ('pg_namespace'::regclass,
                               'pg_foreign_data_wrapper'::regclass,
                               'pg_event_trigger'::regclass)) AS all_in_schema
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_memshard')
   AND deptype = 'e';
DROP EXTENSION pg_memshard;
-- nothing left behind: no extension, no schema, no function
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'pg_memshard';
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'memshard';
SELECT count(*) AS functions FROM pg_proc WHERE probin LIKE '%pg_memshard%';
-- and it installs again
CREATE EXTENSION pg_memshard;
DROP EXTENSION pg_memshard;
