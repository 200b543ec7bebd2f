-- The data functions on a map of this node: every function, its results,
-- and that the cache is not transactional.
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('data') > 0 AS created;

-- set / get, text values
SELECT memshard.set('data', 'k1', 'v1');
SELECT memshard.get('data', 'k1');
SELECT memshard.get('data', 'absent') IS NULL AS miss_is_null;
-- overwrite
SELECT memshard.set('data', 'k1', 'v1 again');
SELECT memshard.get('data', 'k1');
-- empty key and empty value are values like any other
SELECT memshard.set('data', '', '');
SELECT memshard.get('data', '') = '' AS empty_value_kept;
-- multibyte text comes back byte for byte
SELECT memshard.set('data', 'ключ', 'значение ✓');
SELECT memshard.get('data', 'ключ');
-- large values (100 kB) come back exactly
SELECT memshard.set('data', 'big', repeat('0123456789', 10000));
SELECT md5(memshard.get('data', 'big')) = md5(repeat('0123456789', 10000)) AS big_exact;

-- bytea values, any bytes
SELECT memshard.set('data', 'bin', '\x00ff10'::bytea);
SELECT memshard.get_bytea('data', 'bin');
SELECT memshard.get_bytea('data', 'k1');
SELECT memshard.get_bytea('data', 'absent') IS NULL AS miss_is_null;

-- add: only when absent
SELECT memshard.add('data', 'a1', 'first');
SELECT memshard.add('data', 'a1', 'second');
SELECT memshard.get('data', 'a1');
SELECT memshard.add('data', 'a2', '\x01'::bytea);
SELECT memshard.get_bytea('data', 'a2');

-- replace: only when present
SELECT memshard.replace('data', 'r1', 'nothing to replace');
SELECT memshard.get('data', 'r1') IS NULL AS still_absent;
SELECT memshard.replace('data', 'a1', 'replaced');
SELECT memshard.get('data', 'a1');
SELECT memshard.replace('data', 'a2', '\x02'::bytea);
SELECT memshard.get_bytea('data', 'a2');

-- delete
SELECT memshard.delete('data', 'a1');
SELECT memshard.delete('data', 'a1');
SELECT memshard.get('data', 'a1') IS NULL AS deleted;

-- mset / mget: one row per requested key, in order, NULL on a miss
SELECT memshard.mset('data', ARRAY['m1', 'm2', 'm3'], ARRAY['one', 'two', 'three']);
SELECT * FROM memshard.mget('data', ARRAY['m3', 'nope', 'm1', 'm2', 'm1']);
SELECT * FROM memshard.mget('data', ARRAY[]::text[]);
SELECT memshard.mset('data', ARRAY[]::text[], ARRAY[]::text[]);
-- the same key twice: the last value wins
SELECT memshard.mset('data', ARRAY['m4', 'm4'], ARRAY['first', 'last']);
SELECT memshard.get('data', 'm4');
-- named arguments ("values" is a reserved word)
SELECT memshard.mset(map => 'data', keys => ARRAY['m5'], "values" => ARRAY['five']);
SELECT key, value FROM memshard.mget(map => 'data', keys => ARRAY['m5']);

-- incr: an absent key counts from 0; delta defaults to 1
SELECT memshard.incr('data', 'c');
SELECT memshard.incr('data', 'c');
SELECT memshard.incr('data', 'c', 40);
SELECT memshard.incr('data', 'c', -50);
SELECT memshard.get('data', 'c');
-- a value set as text that is an integer counts on
SELECT memshard.set('data', 'n', '100');
SELECT memshard.incr('data', 'n', 5);
SELECT memshard.set('data', 'n', '-7');
SELECT memshard.incr('data', 'n');
-- the edges of bigint are reachable
SELECT memshard.set('data', 'edge', '9223372036854775806');
SELECT memshard.incr('data', 'edge');
SELECT memshard.set('data', 'edge', '-9223372036854775807');
SELECT memshard.incr('data', 'edge', -1);

-- touch: a new ttl for an existing key only
SELECT memshard.touch('data', 'k1', '1 hour');
SELECT memshard.touch('data', 'absent', '1 hour');
SELECT memshard.get('data', 'k1');

-- named arguments and defaults
SELECT memshard.set(map => 'data', key => 'named', value => 'yes', ttl => '1 day');
SELECT memshard.get(map => 'data', key => 'named');
SELECT memshard.incr(map => 'data', key => 'named_counter', delta => 3);

-- ROLLBACK does not undo the cache: it is not transactional
BEGIN;
SELECT memshard.set('data', 'tx', 'set in a rolled back transaction');
SELECT memshard.delete('data', 'k1');
ROLLBACK;
SELECT memshard.get('data', 'tx');
SELECT memshard.get('data', 'k1') IS NULL AS delete_survived_rollback;
-- nor does an error later in the same transaction
BEGIN;
SELECT memshard.incr('data', 'tx_counter', 10);
SELECT 1 / 0;
ROLLBACK;
SELECT memshard.get('data', 'tx_counter');

-- flush empties the map and says how many items it removed
SELECT count(*) FROM memshard.mget('data', ARRAY['k1', 'm1', 'm2']) WHERE value IS NOT NULL;
SELECT memshard.flush('data');
SELECT count(*) FROM memshard.mget('data', ARRAY['k1', 'm1', 'm2', 'c', 'big']) WHERE value IS NOT NULL;
SELECT memshard.flush('data');
-- the map still works after a flush
SELECT memshard.set('data', 'after', 'flush');
SELECT memshard.get('data', 'after');

-- many keys in one statement
SELECT count(*) FILTER (WHERE memshard.set('data', 'key:' || i, 'value:' || i)) AS stored
  FROM generate_series(1, 5000) i;
SELECT count(*) FILTER (WHERE memshard.get('data', 'key:' || i) = 'value:' || i) AS exact
  FROM generate_series(1, 5000) i;
-- reads in parallel workers
CREATE TABLE parallel_keys AS SELECT 'key:' || i AS k FROM generate_series(1, 5000) i;
ANALYZE parallel_keys;
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT count(*) FILTER (WHERE memshard.get('data', k) = 'value:' || substr(k, 5)) AS exact,
       count(*) FILTER (WHERE memshard.get_bytea('data', k) IS NOT NULL) AS found
  FROM parallel_keys;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE parallel_keys;
SELECT memshard.flush('data');

SELECT memshard.drop_map('data');
DROP EXTENSION pg_memshard;
