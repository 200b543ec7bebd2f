--
-- The store's quota and long operations (issue 9, parts 4 and 7): a map at
-- its max_memory evicts its own items but never the one a write replaces;
-- a map with eviction 'none' at its quota gets room only from expired
-- items; a flush of a large map can be cancelled (it checks for interrupts
-- between lock holds).
--
CREATE EXTENSION pg_memshard;

-- a full quota map: replacing a key keeps it, its new value exact
SELECT memshard.create_map('q', max_memory => 16384) > 0 AS created;
SELECT count(*) FILTER (WHERE memshard.set('q', 'k' || i, repeat('a', 200))) AS stored
  FROM generate_series(1, 200) i;
SELECT memory_used <= 16384 AS within_quota, evictions > 0 AS evicted
  FROM memshard.map_stats WHERE map = 'q';
-- every replace of a key that is there keeps it (the quota never evicts the
-- item being replaced), with values of another size class
SELECT count(*) FILTER (WHERE memshard.replace('q', 'k' || i, repeat('b', 230))
                         AND memshard.get('q', 'k' || i) = repeat('b', 230)) AS replaced_and_there,
       count(*) AS tried
  FROM generate_series(1, 200) i
 WHERE memshard.get('q', 'k' || i) IS NOT NULL
 \gset
SELECT :replaced_and_there = :tried AS every_replace_kept_its_key, :tried > 10 AS enough;
SELECT memory_used <= 16384 AS within_quota FROM memshard.map_stats WHERE map = 'q';

-- a counter in a full quota map keeps counting: its own incr never evicts it
SELECT memshard.set('q', 'counter', '0');
SELECT count(memshard.set('q', 'x' || i, repeat('c', 200))) AS filler,
       max(memshard.incr('q', 'counter', 1)) AS counted
  FROM generate_series(1, 300) i;
SELECT memshard.get('q', 'counter') AS counter;
SELECT memory_used <= 16384 AS within_quota, items > 0 AS has_items
  FROM memshard.map_stats WHERE map = 'q';
SELECT memshard.drop_map('q');

-- eviction 'none' at its quota: 53200 until items expire, then room
SELECT memshard.create_map('n', max_memory => 8192, eviction => 'none') > 0 AS created;
DO $$
BEGIN
    FOR i IN 1..100 LOOP
        PERFORM memshard.set('n', 't' || i, repeat('t', 200), interval '1 second');
    END LOOP;
EXCEPTION WHEN sqlstate '53200' THEN
    RAISE NOTICE 'the quota is full';
END $$;
SELECT memory_used > 8192 - 400 AND memory_used <= 8192 AS full FROM memshard.map_stats WHERE map = 'n';
\set VERBOSITY sqlstate
SELECT memshard.set('n', 'late', repeat('l', 200));
\set VERBOSITY default
SELECT pg_sleep(1.2);
SELECT memshard.set('n', 'late', repeat('l', 200)) AS set_after_expiry;
SELECT memshard.get('n', 'late') = repeat('l', 200) AS late_there,
       (SELECT expirations > 0 FROM memshard.map_stats WHERE map = 'n') AS expired_reclaimed;
SELECT memshard.drop_map('n');

-- a flush of a large map is cancelled by statement_timeout part way
SELECT memshard.create_map('big') > 0 AS created;
SELECT count(*) FILTER (WHERE memshard.set('big', 'k' || i, 'v')) AS stored
  FROM generate_series(1, 300000) i;
SET statement_timeout = '2ms';
SELECT memshard.flush('big');
RESET statement_timeout;
SELECT items > 0 AND items < 300000 AS flush_was_interrupted
  FROM memshard.map_stats WHERE map = 'big';
-- and a flush that runs to its end removes the rest
SELECT memshard.flush('big') > 0 AS flushed;
SELECT items FROM memshard.map_stats WHERE map = 'big';
SELECT memshard.drop_map('big');

DROP EXTENSION pg_memshard;
