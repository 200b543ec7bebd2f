-- memshard.shard_stats, memshard.skew(map) and local_shard_stats on a
-- single node: every key counted in the shard the partitioning functions
-- name, bytes adding up to map_stats, skew ratios.
CREATE EXTENSION pg_memshard;

CREATE FUNCTION pg_temp.try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

\d memshard.shard_stats

SELECT memshard.create_map('hashed', shard_count => 8) > 0 AS created;
SELECT memshard.create_map('ranged', method => 'range', bounds => ARRAY['g', 'n', 't']) > 0 AS created;
SELECT memshard.create_map('empty', shard_count => 4) > 0 AS created;

-- 1000 keys with values of 1 to 200 bytes; 26 keys over the ranges
SELECT count(memshard.set('hashed', 'key:' || g, repeat('v', 1 + g % 200)))
  FROM generate_series(1, 1000) g;
SELECT count(memshard.set('ranged', chr(ascii('a') + g) || '-key', 'value'))
  FROM generate_series(0, 25) g;

-- one row per shard of every map, empty shards included, on node 'local'
SELECT map, count(*) AS shards, min(shard) AS first, max(shard) AS last,
       sum(items) AS items, bool_and(node = 'local') AS local,
       bool_and(error IS NULL) AS no_error
  FROM memshard.shard_stats GROUP BY map ORDER BY map;

-- each key sits in the shard hash_partition names; items and bytes add up
SELECT count(*) AS shards_differing
  FROM (SELECT memshard.hash_partition('key:' || g, 8) AS shard, count(*) AS items
          FROM generate_series(1, 1000) g GROUP BY 1) expected
  FULL JOIN (SELECT shard, items FROM memshard.shard_stats WHERE map = 'hashed') got
 USING (shard)
 WHERE expected.items IS DISTINCT FROM got.items;
SELECT sum(s.items) = m.items AS items_match, sum(s.bytes) = m.memory_used AS bytes_match
  FROM memshard.shard_stats s JOIN memshard.map_stats m USING (map)
 WHERE map = 'hashed' GROUP BY m.items, m.memory_used;

-- range maps: range_partition
SELECT shard, items FROM memshard.shard_stats WHERE map = 'ranged' ORDER BY shard;
SELECT count(*) AS keys_in_other_shards
  FROM (SELECT memshard.range_partition(chr(ascii('a') + g) || '-key', ARRAY['g', 'n', 't']) AS shard,
               count(*) AS items
          FROM generate_series(0, 25) g GROUP BY 1) expected
  JOIN memshard.shard_stats got ON got.map = 'ranged' AND got.shard = expected.shard
 WHERE got.items <> expected.items;

-- local_shard_stats of one map; deleted and expired items are gone
SELECT memshard.delete('ranged', 'a-key'), memshard.delete('ranged', 'b-key');
SELECT memshard.set('ranged', 'zz-short-lived', 'x', ttl => '100 milliseconds');
SELECT sum(items) AS with_short_lived FROM memshard.local_shard_stats('ranged');
SELECT pg_sleep(0.5);
SELECT shard, items, bytes > 0 AS has_bytes FROM memshard.local_shard_stats('ranged');

-- skew on one node: the node against itself is even; its shards are not
-- quite (hashing 1000 keys into 8 shards)
SELECT node, shards, items, bytes = (SELECT memory_used FROM memshard.map_stats WHERE map = 'hashed') AS bytes_match,
       items_ratio, bytes_ratio, max_mean_ratio,
       round(shard_max_mean_ratio::numeric, 9) =
           (SELECT round(max(bytes) / avg(bytes), 9) FROM memshard.shard_stats WHERE map = 'hashed')
           AS shard_ratio_matches,
       shard_max_mean_ratio BETWEEN 1 AND 1.5 AS shard_ratio_modest, error
  FROM memshard.skew('hashed');

-- an uneven map: one shard holds large values, the others small ones
SELECT memshard.create_map('uneven', shard_count => 4) > 0 AS created;
SELECT count(memshard.set('uneven', k, CASE WHEN memshard.hash_partition(k, 4) = 0
                                            THEN repeat('x', 4000) ELSE 'x' END))
  FROM (SELECT 'u' || g AS k FROM generate_series(1, 400) g) keys;
SELECT shards, shard_max_mean_ratio > 3 AS skewed FROM memshard.skew('uneven');
SELECT shard, items > 0 AS has_items, bytes > 100000 AS large
  FROM memshard.shard_stats WHERE map = 'uneven' ORDER BY shard;

-- an empty map: rows with zeros, ratios unknown
SELECT shard, items, bytes FROM memshard.shard_stats WHERE map = 'empty' ORDER BY shard;
SELECT node, shards, items, bytes, items_ratio, bytes_ratio, max_mean_ratio,
       shard_max_mean_ratio, error
  FROM memshard.skew('empty');

-- errors
SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
    ($$SELECT * FROM memshard.skew(NULL)$$),
    ($$SELECT * FROM memshard.skew('nope')$$),
    ($$SELECT * FROM memshard.local_shard_stats('nope')$$)) t(stmt);

-- a dropped map is gone from shard_stats at once
SELECT memshard.drop_map('uneven');
SELECT count(*) AS uneven_rows FROM memshard.shard_stats WHERE map = 'uneven';

-- shard figures walk the store: pg_monitor and superusers only
CREATE ROLE obs_plain;
CREATE ROLE obs_monitor IN ROLE pg_monitor;
SET ROLE obs_plain;
SELECT pg_temp.try($$SELECT * FROM memshard.shard_stats$$) AS plain_shard_stats;
SELECT pg_temp.try($$SELECT * FROM memshard.skew('hashed')$$) AS plain_skew;
SET ROLE obs_monitor;
SELECT count(*) AS monitor_shard_rows FROM memshard.shard_stats;
SELECT node, items FROM memshard.skew('hashed');
RESET ROLE;
DROP ROLE obs_plain;
DROP ROLE obs_monitor;

DROP EXTENSION pg_memshard;
