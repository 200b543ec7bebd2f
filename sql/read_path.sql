-- The read path (issue 12): gets and mgets read optimistically, and what
-- they return is what was set; the counts of hits and misses a backend
-- keeps reach the views before it reads them; memshard.read_path_stats
-- counts the reads that took the lock (a large item is always one).
CREATE EXTENSION pg_memshard;

SELECT memshard.create_map('rp') > 0 AS created;
SELECT count(*) FILTER (WHERE memshard.set('rp', 'k' || i, md5(i::text) || repeat('v', i)))
  FROM generate_series(1, 500) i;
-- larger than a page (64kB at the 64MB of the tests): a chained item
SELECT memshard.set('rp', 'big', repeat('0123456789', 20000));
SELECT memshard.stats_reset();

-- every value as set, by get, get_bytea and mget (in the order asked,
-- duplicates and misses included)
SELECT count(*) FILTER (WHERE memshard.get('rp', 'k' || i) = md5(i::text) || repeat('v', i)) AS get_ok,
       count(*) FILTER (WHERE convert_from(memshard.get_bytea('rp', 'k' || i), 'UTF8')
                              = md5(i::text) || repeat('v', i)) AS get_bytea_ok
  FROM generate_series(1, 500) i;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE m.key = a.k AND m.ord = a.ord) AS in_order,
       count(*) FILTER (WHERE m.value = md5(substr(a.k, 2)::text) || repeat('v', substr(a.k, 2)::int)) AS values_ok,
       count(*) FILTER (WHERE m.value IS NULL) AS misses
  FROM (SELECT k, row_number() OVER () AS ord
          FROM unnest(ARRAY(SELECT 'k' || (i % 600 + 1) FROM generate_series(1, 1200) i)) k) a
  JOIN (SELECT key, value, row_number() OVER () AS ord
          FROM memshard.mget('rp', ARRAY(SELECT 'k' || (i % 600 + 1) FROM generate_series(1, 1200) i))) m
    ON m.ord = a.ord;
SELECT md5(memshard.get('rp', 'big')) = md5(repeat('0123456789', 20000)) AS big_ok;

-- counted in this backend, shown at once: 500 gets, 500 get_bytea, 1200
-- keys of the mget (200 misses), the large item
SELECT hits, misses FROM memshard.map_stats WHERE map = 'rp';
SELECT sum(hits) AS hits, sum(misses) AS misses FROM memshard.partition_stats;
-- the large item was read under the lock, and nothing else was
SELECT retries >= 0 AS retries_counted, fallbacks FROM memshard.read_path_stats;
SELECT memshard.stats_reset();
SELECT retries, fallbacks FROM memshard.read_path_stats;

-- a deleted or replaced key reads as such at once
SELECT memshard.delete('rp', 'k1'), memshard.set('rp', 'k2', 'new');
SELECT memshard.get('rp', 'k1') IS NULL AS gone, memshard.get('rp', 'k2') AS replaced;
SELECT key, value FROM memshard.mget('rp', ARRAY['k2', 'k1', 'k2']);
SELECT memshard.drop_map('rp');
DROP EXTENSION pg_memshard;
