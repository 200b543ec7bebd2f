-- The table cache's administration (issue 14): cache_table and its
-- refusals, get_row and get_rows and their bad inputs, privileges,
-- uncache_table, DROP TABLE, the cached_tables view and metrics().
CREATE EXTENSION pg_memshard;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

CREATE FUNCTION pg_temp.counts(tbl regclass)
RETURNS TABLE (items bigint, hits bigint, misses bigint, fills bigint,
               fills_refused bigint, invalidations bigint, bypasses bigint)
LANGUAGE sql AS $$
    SELECT items, hits, misses, fills, fills_refused, invalidations, bypasses
      FROM memshard.cached_tables WHERE "table" = tbl
$$;

CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, visits int DEFAULT 0);
INSERT INTO users SELECT i, 'user ' || i FROM generate_series(1, 100) i;

-- cache_table returns the map's name; the map shows in memshard.maps
SELECT memshard.cache_table('users');
SELECT name, default_ttl, max_memory, eviction, nodes FROM memshard.maps;
SELECT "table", map, key_columns, ttl, max_memory, items FROM memshard.cached_tables;
SELECT tgname, tgenabled, tgtype FROM pg_trigger
 WHERE tgrelid = 'users'::regclass ORDER BY tgname;

-- a miss reads the table and fills; the same key again is a hit
SELECT memshard.get_row(NULL::users, 42);
SELECT memshard.get_row(NULL::users, 42);
SELECT (memshard.get_row(NULL::users, 42)).name;
SELECT * FROM pg_temp.counts('users');
-- exactly what SELECT * returns, for every row
SELECT count(*) AS rows_equal
  FROM users u WHERE memshard.get_row(NULL::users, u.id) IS NOT DISTINCT FROM u;
SELECT count(*) AS rows_equal_again
  FROM users u WHERE memshard.get_row(NULL::users, u.id) IS NOT DISTINCT FROM u;
SELECT items, hits, misses, fills FROM pg_temp.counts('users');

-- no such row: NULL, and nothing is cached for it; a NULL key: NULL
SELECT memshard.get_row(NULL::users, 1000) IS NULL AS no_row;
SELECT memshard.get_row(NULL::users, NULL::int) IS NULL AS null_key;
SELECT items FROM pg_temp.counts('users');

-- keys: an implicit cast and an untyped literal are fine; else 22023
SELECT (memshard.get_row(NULL::users, 7::smallint)).name;
SELECT (memshard.get_row(NULL::users, '8')).name;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 7::bigint)$$);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 'seven'::text)$$);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, ROW(1, 2))$$);
SELECT (memshard.get_row(NULL::users, ROW(9))).name AS one_field_row;
-- the first argument names a cached table
SELECT pg_temp.try($$SELECT memshard.get_row(42, 42)$$);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::pg_class, 42)$$);
CREATE TABLE uncached (id int PRIMARY KEY);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::uncached, 42)$$);

-- get_rows: one row per key found, in the keys' order
SELECT * FROM memshard.get_rows(NULL::users, ARRAY[3, 1000, 1, NULL, 3]);
SELECT count(*) FROM memshard.get_rows(NULL::users, '{}'::int[]);
SELECT count(*) FROM memshard.get_rows(NULL::users, NULL::int[]);
SELECT pg_temp.try($$SELECT * FROM memshard.get_rows(NULL::users, 3)$$);

-- keys of several columns: ROW(...) in primary key order
CREATE TABLE pairs (region text, code int, label text, PRIMARY KEY (region, code));
INSERT INTO pairs VALUES ('eu', 1, 'eu one'), ('eu', 2, 'eu two'), ('us', 1, 'us one');
SELECT memshard.cache_table('pairs');
SELECT memshard.get_row(NULL::pairs, ROW('eu', 2));
SELECT memshard.get_row(NULL::pairs, ROW('eu', 2));
SELECT memshard.get_row(NULL::pairs, ROW('us', 2)) IS NULL AS no_row;
SELECT memshard.get_row(NULL::pairs, ROW('us', NULL)) IS NULL AS null_column;
SELECT * FROM memshard.get_rows(NULL::pairs, ARRAY[ROW('us', 1), ROW('eu', 1)]);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::pairs, 'eu')$$);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::pairs, ROW('eu', 1, 1))$$);
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::pairs, ROW(1, 'eu'))$$);

-- key types: text, char(n) without its trailing blanks, uuid, enums, domains
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN code AS text CHECK (VALUE <> '');
CREATE TABLE keyed (k char(4), u uuid, m mood, d code, v int,
                    PRIMARY KEY (k, u, m, d));
INSERT INTO keyed VALUES ('ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ok', 'x', 1);
SELECT memshard.cache_table('keyed');
SELECT (memshard.get_row(NULL::keyed, ROW('ab'::char(4), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 'ok'::mood, 'x'))).v;
SELECT (memshard.get_row(NULL::keyed, ROW('ab  '::char(4), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 'ok'::mood, 'x'::code))).v;
UPDATE keyed SET v = 2;
SELECT (memshard.get_row(NULL::keyed, ROW('ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, 'ok'::mood, 'x'))).v;
SELECT hits, fills, invalidations FROM pg_temp.counts('keyed');

-- what cache_table refuses
SELECT pg_temp.try($$SELECT memshard.cache_table(NULL)$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('users')$$);
CREATE TABLE no_pk (id int);
SELECT pg_temp.try($$SELECT memshard.cache_table('no_pk')$$);
CREATE VIEW users_view AS SELECT * FROM users;
SELECT pg_temp.try($$SELECT memshard.cache_table('users_view')$$);
CREATE MATERIALIZED VIEW users_mat AS SELECT * FROM users;
SELECT pg_temp.try($$SELECT memshard.cache_table('users_mat')$$);
CREATE SERVER tc_elsewhere FOREIGN DATA WRAPPER memshard;
CREATE FOREIGN TABLE far (id int) SERVER tc_elsewhere;
SELECT pg_temp.try($$SELECT memshard.cache_table('far')$$);
CREATE SEQUENCE tc_seq;
SELECT pg_temp.try($$SELECT memshard.cache_table('tc_seq')$$);
CREATE TEMP TABLE scratch (id int PRIMARY KEY);
SELECT pg_temp.try($$SELECT memshard.cache_table('scratch')$$);
CREATE TABLE by_amount (amount numeric PRIMARY KEY);
SELECT pg_temp.try($$SELECT memshard.cache_table('by_amount')$$);
CREATE TABLE by_float (x float8 PRIMARY KEY);
SELECT pg_temp.try($$SELECT memshard.cache_table('by_float')$$);
CREATE COLLATION tc_nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE by_name (name text COLLATE tc_nocase PRIMARY KEY);
SELECT pg_temp.try($$SELECT memshard.cache_table('by_name')$$);
CREATE TABLE secret (id int PRIMARY KEY, v text);
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
SELECT pg_temp.try($$SELECT memshard.cache_table('secret')$$);
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child () INHERITS (parent);
SELECT pg_temp.try($$SELECT memshard.cache_table('parent')$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('child')$$);
CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
SELECT pg_temp.try($$SELECT memshard.cache_table('parted_1')$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('pg_class')$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('memshard.map_catalog')$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('no_pk', ttl => '0 seconds')$$);
SELECT pg_temp.try($$SELECT memshard.cache_table('no_pk', max_memory => 0)$$);
-- nodes outside a cluster (test/072_tablecache_two_nodes.pl caches over nodes)
SELECT pg_temp.try($$SELECT memshard.cache_table('uncached', nodes => ARRAY['n1'])$$);
-- nothing was left behind by the refusals
SELECT "table" FROM memshard.cached_tables ORDER BY 1;

-- ttl and max_memory
CREATE TABLE brief (id int PRIMARY KEY, v text);
INSERT INTO brief VALUES (1, 'one');
SELECT memshard.cache_table('brief', ttl => '1 hour', max_memory => 1048576);
SELECT "table", ttl, max_memory FROM memshard.cached_tables WHERE "table" = 'brief'::regclass;
SELECT name, default_ttl, max_memory FROM memshard.maps WHERE name = 'table:public.brief';

-- privileges: SELECT on the table (grants on all its columns are not
-- enough), checked at every call; cache_table needs the table's owner
CREATE ROLE tc_reader;
GRANT USAGE ON SCHEMA memshard TO tc_reader;
SET ROLE tc_reader;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 42)$$);
SELECT pg_temp.try($$SELECT * FROM memshard.get_rows(NULL::users, ARRAY[42])$$);
-- nor through the map's items: the data functions never see them
SELECT memshard.get('table:public.users', 'anything') IS NULL AS not_through_get;
SELECT pg_temp.try($$SELECT memshard.cache_table('uncached')$$);
RESET ROLE;
GRANT SELECT (id, name) ON users TO tc_reader;
SET ROLE tc_reader;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 42)$$);
RESET ROLE;
GRANT SELECT (visits) ON users TO tc_reader;
SET ROLE tc_reader;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 42)$$) AS all_columns_granted;
RESET ROLE;
REVOKE SELECT (id, name, visits) ON users FROM tc_reader;
GRANT SELECT ON users TO tc_reader;
SET ROLE tc_reader;
SELECT (memshard.get_row(NULL::users, 42)).name AS table_granted;
RESET ROLE;
REVOKE SELECT ON users FROM tc_reader;
SET ROLE tc_reader;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::users, 42)$$) AS revoked;
RESET ROLE;
-- row level security enabled after caching: for the roles it applies to,
-- get_row reads the table (row 42 is cached, and stays hidden)
GRANT SELECT ON users TO tc_reader;
CREATE POLICY low_ids ON users FOR SELECT USING (id < 10);
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
SET ROLE tc_reader;
SELECT memshard.get_row(NULL::users, 42) IS NULL AS hidden_by_policy,
       (memshard.get_row(NULL::users, 5)).name AS allowed;
SELECT id FROM memshard.get_rows(NULL::users, ARRAY[1, 42, 5]);
RESET ROLE;
SELECT (memshard.get_row(NULL::users, 42)).name AS the_owner_sees_it;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;
DROP POLICY low_ids ON users;
REVOKE SELECT ON users FROM tc_reader;
GRANT EXECUTE ON FUNCTION memshard.cache_table, memshard.uncache_table TO tc_reader;
SET ROLE tc_reader;
SELECT pg_temp.try($$SELECT memshard.cache_table('uncached')$$) AS not_owner;
SELECT pg_temp.try($$SELECT memshard.uncache_table('users')$$) AS not_owner;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION memshard.cache_table, memshard.uncache_table FROM tc_reader;

-- metrics() carries the table's figures
SELECT line FROM regexp_split_to_table(memshard.metrics(), E'\n') AS line
 WHERE line LIKE 'pg_memshard_table_%public.pairs%' ORDER BY line;

-- uncache_table: the map, the catalog row and the triggers go; false the
-- second time
SELECT memshard.uncache_table('pairs');
SELECT memshard.uncache_table('pairs');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'pairs'::regclass;
SELECT name FROM memshard.maps ORDER BY name;
SELECT pg_temp.try($$SELECT memshard.get_row(NULL::pairs, ROW('eu', 2))$$);
SELECT pg_temp.try($$SELECT memshard.uncache_table(NULL)$$);
-- cached again: a new map, empty
SELECT memshard.cache_table('pairs');
SELECT items FROM pg_temp.counts('pairs');
SELECT (memshard.get_row(NULL::pairs, ROW('eu', 2))).label;

-- cache_table rolled back leaves nothing; uncache_table rolled back keeps it
BEGIN;
SELECT memshard.cache_table('uncached');
SELECT memshard.get_row(NULL::uncached, 1) IS NULL AS no_row;
ROLLBACK;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'uncached'::regclass;
SELECT "table" FROM memshard.cached_tables ORDER BY 1;
BEGIN;
SELECT memshard.uncache_table('brief');
ROLLBACK;
SELECT (memshard.get_row(NULL::brief, 1)).v;

-- DROP TABLE of a cached table uncaches it (also through DROP SCHEMA
-- ... CASCADE); a rolled-back drop keeps it
BEGIN;
DROP TABLE brief;
ROLLBACK;
SELECT "table" FROM memshard.cached_tables ORDER BY 1;
DROP TABLE brief;
CREATE SCHEMA tc_gone;
CREATE TABLE tc_gone.t (id int PRIMARY KEY);
SELECT memshard.cache_table('tc_gone.t');
DROP SCHEMA tc_gone CASCADE;
SELECT "table" FROM memshard.cached_tables ORDER BY 1;
SELECT name FROM memshard.maps ORDER BY name;

-- DROP EXTENSION with cached tables needs CASCADE (their triggers use its
-- function); it removes the triggers
DROP FOREIGN TABLE far;
DROP SERVER tc_elsewhere;
SELECT pg_temp.try($$DROP EXTENSION pg_memshard$$);
DROP EXTENSION pg_memshard CASCADE;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'users'::regclass;
DROP TABLE users, pairs, keyed, uncached, no_pk, by_amount, by_float, by_name,
           secret, parent, child, parted, scratch CASCADE;
DROP SEQUENCE tc_seq;
DROP TYPE mood;
DROP DOMAIN code;
DROP COLLATION tc_nocase;
DROP ROLE tc_reader;
