-- Two databases on one instance never see each other's keys, even with the
-- same map name (keys are namespaced by database and map).
SELECT current_database() AS regress_db \gset
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('shared_name') > 0 AS created;
SELECT memshard.set('shared_name', 'only_here', 'first database');
SELECT memshard.set('shared_name', 'both', 'value of the first database');
SELECT memshard.incr('shared_name', 'counter', 10);

CREATE DATABASE memshard_isolation;
\c memshard_isolation
CREATE EXTENSION pg_memshard;
-- same map name; the map ids may even be equal
SELECT memshard.create_map('shared_name') > 0 AS created;
SELECT memshard.get('shared_name', 'only_here') IS NULL AS invisible;
SELECT memshard.get('shared_name', 'both') IS NULL AS invisible;
SELECT memshard.incr('shared_name', 'counter');
SELECT memshard.set('shared_name', 'both', 'value of the second database');
SELECT memshard.set('shared_name', 'only_there', 'second database');
SELECT * FROM memshard.mget('shared_name', ARRAY['only_here', 'both', 'only_there', 'counter']);
SELECT map, items FROM memshard.map_stats;
-- flush in one database leaves the other alone
SELECT memshard.flush('shared_name');

\c :regress_db
SELECT * FROM memshard.mget('shared_name', ARRAY['only_here', 'both', 'only_there', 'counter']);
SELECT map, items FROM memshard.map_stats;
-- a map that exists only in the other database is unknown here
\c memshard_isolation
SELECT memshard.create_map('elsewhere') > 0 AS created;
\c :regress_db
SELECT memshard.get('elsewhere', 'k');

-- dropping a database's map does not touch the other's
\c memshard_isolation
SELECT memshard.set('shared_name', 'both', 'second again');
SELECT memshard.drop_map('shared_name'), memshard.drop_map('elsewhere');
DROP EXTENSION pg_memshard;
\c :regress_db
SELECT memshard.get('shared_name', 'both');
DROP DATABASE memshard_isolation;
SELECT memshard.drop_map('shared_name');
DROP EXTENSION pg_memshard;
