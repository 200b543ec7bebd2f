-- Bad input: every case gets a clear ERROR with its SQLSTATE, and the item
-- that was there before is still there, unchanged.
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('err') > 0 AS created;

-- run a statement, give back its SQLSTATE and message (or 'ok')
CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

SELECT memshard.set('err', 'keep', 'original');
SELECT memshard.set('err', 'counter', '41');
SELECT memshard.set('err', 'word', 'not a number');

-- NULL map, key, value or delta: 22004
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.set(NULL, 'keep', 'x')$$),
    ($$SELECT memshard.set('err', NULL, 'x')$$),
    ($$SELECT memshard.set('err', 'keep', NULL::text)$$),
    ($$SELECT memshard.set('err', 'keep', NULL::bytea)$$),
    ($$SELECT memshard.add(NULL, 'keep', 'x')$$),
    ($$SELECT memshard.add('err', NULL, 'x')$$),
    ($$SELECT memshard.add('err', 'new', NULL::text)$$),
    ($$SELECT memshard.replace(NULL, 'keep', 'x')$$),
    ($$SELECT memshard.replace('err', NULL, 'x')$$),
    ($$SELECT memshard.replace('err', 'keep', NULL::bytea)$$),
    ($$SELECT memshard.get(NULL, 'keep')$$),
    ($$SELECT memshard.get('err', NULL)$$),
    ($$SELECT memshard.get_bytea(NULL, 'keep')$$),
    ($$SELECT memshard.get_bytea('err', NULL)$$),
    ($$SELECT * FROM memshard.mget(NULL, ARRAY['keep'])$$),
    ($$SELECT * FROM memshard.mget('err', NULL)$$),
    ($$SELECT * FROM memshard.mget('err', ARRAY['keep', NULL])$$),
    ($$SELECT memshard.mset(NULL, ARRAY['keep'], ARRAY['x'])$$),
    ($$SELECT memshard.mset('err', NULL, ARRAY['x'])$$),
    ($$SELECT memshard.mset('err', ARRAY['keep'], NULL)$$),
    ($$SELECT memshard.mset('err', ARRAY['keep', NULL], ARRAY['x', 'y'])$$),
    ($$SELECT memshard.mset('err', ARRAY['keep', 'other'], ARRAY['x', NULL])$$),
    ($$SELECT memshard.delete(NULL, 'keep')$$),
    ($$SELECT memshard.delete('err', NULL)$$),
    ($$SELECT memshard.incr(NULL, 'counter')$$),
    ($$SELECT memshard.incr('err', NULL)$$),
    ($$SELECT memshard.incr('err', 'counter', NULL)$$),
    ($$SELECT memshard.touch(NULL, 'keep', '1 hour')$$),
    ($$SELECT memshard.touch('err', NULL, '1 hour')$$),
    ($$SELECT memshard.flush(NULL)$$)
) AS t(stmt);
SELECT memshard.get('err', 'keep'), memshard.get('err', 'counter');

-- unknown map: 42704, with a hint
SELECT memshard.get('nosuchmap', 'keep');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.set('nosuchmap', 'keep', 'x')$$),
    ($$SELECT memshard.set('nosuchmap', 'keep', '\x00'::bytea)$$),
    ($$SELECT memshard.add('nosuchmap', 'keep', 'x')$$),
    ($$SELECT memshard.replace('nosuchmap', 'keep', 'x')$$),
    ($$SELECT memshard.get_bytea('nosuchmap', 'keep')$$),
    ($$SELECT * FROM memshard.mget('nosuchmap', ARRAY['keep'])$$),
    ($$SELECT memshard.mset('nosuchmap', ARRAY['keep'], ARRAY['x'])$$),
    ($$SELECT memshard.delete('nosuchmap', 'keep')$$),
    ($$SELECT memshard.incr('nosuchmap', 'counter')$$),
    ($$SELECT memshard.touch('nosuchmap', 'keep', '1 hour')$$),
    ($$SELECT memshard.flush('nosuchmap')$$),
    ($$SELECT memshard.get('', 'keep')$$),
    ($$SELECT memshard.get(repeat('m', 100), 'keep')$$),
    -- map names are exact: no case folding
    ($$SELECT memshard.get('ERR', 'keep')$$)
) AS t(stmt);

-- a key over 1024 bytes, or key + value over pg_memshard.max_item_size: 54000
SELECT current_setting('pg_memshard.max_item_size') AS max_item_size;
SELECT memshard.set('err', repeat('k', 1025), 'x');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.set('err', repeat('k', 1025), 'x')$$),
    ($$SELECT memshard.add('err', repeat('k', 1025), 'x')$$),
    ($$SELECT memshard.replace('err', repeat('k', 1025), 'x')$$),
    ($$SELECT memshard.get('err', repeat('k', 1025))$$),
    ($$SELECT memshard.get_bytea('err', repeat('k', 1025))$$),
    ($$SELECT * FROM memshard.mget('err', ARRAY['keep', repeat('k', 1025)])$$),
    ($$SELECT memshard.mset('err', ARRAY['keep', repeat('k', 1025)], ARRAY['x', 'y'])$$),
    ($$SELECT memshard.delete('err', repeat('k', 1025))$$),
    ($$SELECT memshard.incr('err', repeat('k', 1025))$$),
    ($$SELECT memshard.touch('err', repeat('k', 1025), '1 hour')$$),
    -- multibyte: 342 three-byte characters are 1026 bytes
    ($$SELECT memshard.set('err', repeat('✓', 342), 'x')$$),
    ($$SELECT memshard.set('err', 'keep', repeat('v', 1048576))$$),
    ($$SELECT memshard.set('err', 'keep', convert_to(repeat('v', 1048573), 'UTF8'))$$),
    ($$SELECT memshard.add('err', 'new', repeat('v', 1048576))$$),
    ($$SELECT memshard.replace('err', 'keep', repeat('v', 1048576))$$),
    ($$SELECT memshard.mset('err', ARRAY['keep', 'other'], ARRAY['x', repeat('v', 1048576)])$$)
) AS t(stmt);
SELECT memshard.get('err', 'keep'), memshard.get('err', 'other') IS NULL AS other_absent,
       memshard.get('err', 'new') IS NULL AS new_absent;
-- right at the limits it works
SELECT memshard.set('err', repeat('k', 1024), 'longest key');
SELECT memshard.get('err', repeat('k', 1024));
SELECT memshard.set('err', 'big', repeat('v', 1048573));
SELECT length(memshard.get('err', 'big'));
SELECT memshard.delete('err', 'big'), memshard.delete('err', repeat('k', 1024));

-- incr on a value that is not an integer: 22P02; past bigint: 22003
SELECT memshard.incr('err', 'word');
SELECT memshard.set('err', 'max', '9223372036854775807');
SELECT memshard.set('err', 'min', '-9223372036854775808');
SELECT memshard.set('err', 'fraction', '1.5');
SELECT memshard.set('err', 'empty', '');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.incr('err', 'word')$$),
    ($$SELECT memshard.incr('err', 'fraction')$$),
    ($$SELECT memshard.incr('err', 'empty')$$),
    ($$SELECT memshard.incr('err', 'max')$$),
    ($$SELECT memshard.incr('err', 'min', -1)$$),
    ($$SELECT memshard.incr('err', 'counter', 9223372036854775807)$$)
) AS t(stmt);
SELECT k, memshard.get('err', k)
  FROM unnest(ARRAY['word', 'fraction', 'empty', 'max', 'min', 'counter']) k;

-- ttl <= 0: 22023
SELECT memshard.set('err', 'keep', 'x', '0 seconds');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.set('err', 'keep', 'x', '0 seconds')$$),
    ($$SELECT memshard.set('err', 'keep', 'x', '-1 second')$$),
    ($$SELECT memshard.set('err', 'keep', 'x', '1 day -24 hours')$$),
    ($$SELECT memshard.set('err', 'keep', '\x00'::bytea, '-1 hour')$$),
    ($$SELECT memshard.add('err', 'new', 'x', '0 seconds')$$),
    ($$SELECT memshard.replace('err', 'keep', 'x', '-1 month')$$),
    ($$SELECT memshard.mset('err', ARRAY['keep'], ARRAY['x'], '0 seconds')$$),
    ($$SELECT memshard.incr('err', 'counter', 1, '-1 second')$$),
    ($$SELECT memshard.touch('err', 'keep', '0 seconds')$$),
    ($$SELECT memshard.set('err', 'keep', 'x', '1000 years')$$)
) AS t(stmt);
SELECT memshard.get('err', 'keep'), memshard.get('err', 'counter'),
       memshard.get('err', 'new') IS NULL AS new_absent;

-- arrays of the wrong shape
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.mset('err', ARRAY['keep', 'other'], ARRAY['x'])$$),
    ($$SELECT memshard.mset('err', ARRAY[['keep', 'other']], ARRAY[['x', 'y']])$$),
    ($$SELECT * FROM memshard.mget('err', ARRAY[['keep']])$$)
) AS t(stmt);
SELECT memshard.get('err', 'keep'), memshard.get('err', 'other') IS NULL AS other_absent;

-- bytes that are not valid in the database encoding: get errors (22021),
-- get_bytea returns them
SELECT memshard.set('err', 'binary', '\xff00fe'::bytea);
SELECT memshard.set('err', 'nul', '\x610062'::bytea);
SELECT memshard.get('err', 'binary');
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT memshard.get('err', 'binary')$$),
    ($$SELECT memshard.get('err', 'nul')$$),
    ($$SELECT * FROM memshard.mget('err', ARRAY['keep', 'binary'])$$)
) AS t(stmt);
SELECT memshard.get_bytea('err', 'binary'), memshard.get_bytea('err', 'nul');
-- valid UTF-8 set as bytea reads back as text
SELECT memshard.set('err', 'utf8', convert_to('✓ ok', 'UTF8'));
SELECT memshard.get('err', 'utf8');

-- a map that never evicts: a set that finds no room fails with 53200 and
-- leaves the cache as it was
SELECT memshard.create_map('full', max_memory => 65536, eviction => 'none') > 0 AS created;
DO $$
DECLARE
    stored integer := 0;
BEGIN
    FOR i IN 1..10000 LOOP
        PERFORM memshard.set('full', 'key' || i, repeat('v', 200));
        stored := i;
    END LOOP;
    RAISE EXCEPTION 'a map limited to 64kB that never evicts took 2MB';
EXCEPTION WHEN out_of_memory THEN
    RAISE NOTICE 'set failed with % after more than 100 items: %',
        SQLSTATE, stored > 100;
    -- every item stored before the failure is there, unchanged
    IF (SELECT count(*) FROM generate_series(1, stored) i
         WHERE memshard.get('full', 'key' || i) = repeat('v', 200)) <> stored THEN
        RAISE EXCEPTION 'items lost';
    END IF;
    IF memshard.get('full', 'key' || (stored + 1)) IS NOT NULL THEN
        RAISE EXCEPTION 'the failed set left an item';
    END IF;
    -- overwriting with a larger value fails too, and keeps the old value
    BEGIN
        PERFORM memshard.set('full', 'key1', repeat('w', 60000));
    EXCEPTION WHEN out_of_memory THEN
        RAISE NOTICE 'larger value: %', SQLSTATE;
    END;
    RAISE NOTICE 'key1 unchanged: %', memshard.get('full', 'key1') = repeat('v', 200);
    RAISE NOTICE 'evictions: %', (SELECT evictions FROM memshard.map_stats WHERE map = 'full');
END
$$;
-- the message says why
SELECT memshard.set('full', 'one more', repeat('v', 60000));
-- after deleting, there is room again
SELECT memshard.flush('full') > 100 AS flushed;
SELECT memshard.set('full', 'one more', 'fits');

SELECT memshard.drop_map('full'), memshard.drop_map('err');
DROP EXTENSION pg_memshard;
