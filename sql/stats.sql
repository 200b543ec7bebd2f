-- The statistics views and stats_reset().  Counts are exact: the workload
-- below is known, and counters are reset first.
CREATE EXTENSION pg_memshard;

-- the columns of each view
\d memshard.stats
\d memshard.partition_stats
\d memshard.slab_stats
\d memshard.map_stats

SELECT memshard.create_map('s1') > 0 AS created;
SELECT memshard.create_map('s2') > 0 AS created;
SELECT memshard.stats_reset();
-- (items of earlier tests, if any, are not this test's business)
SELECT items AS items0, payload_bytes AS payload0 FROM memshard.stats \gset

-- a known workload: 4 sets (one replacing), 3 hits, 2 misses, 1 delete
SELECT memshard.set('s1', 'alpha', 'one'),           -- 5 + 3 bytes
       memshard.set('s1', 'beta', repeat('b', 1000)),  -- 4 + 1000 bytes
       memshard.set('s1', 'gamma', 'three'),          -- deleted below
       memshard.set('s1', 'alpha', 'uno');            -- replaces: 5 + 3 bytes
SELECT memshard.get('s1', 'alpha'), length(memshard.get('s1', 'beta')),
       memshard.get('s1', 'missing'), memshard.get_bytea('s1', 'gamma');
SELECT memshard.delete('s1', 'gamma'), memshard.delete('s1', 'gamma');
SELECT memshard.get('s1', 'gamma');
SELECT memshard.set('s2', 'k', 'v');

SELECT map, items, payload_bytes, hits, misses, sets, deletes, evictions,
       expirations, memory_used >= payload_bytes AS used_covers_payload
  FROM memshard.map_stats ORDER BY map;

-- the whole cache
SELECT items - :items0 AS items, payload_bytes - :payload0 AS payload_bytes,
       hits, misses, sets, deletes, evictions, expirations, hit_ratio,
       round(fragmentation::numeric, 12) = round(1 - payload_bytes::numeric / memory_used, 12)
           AS fragmentation_is_1_minus_payload_over_used
  FROM memshard.stats;
SELECT memory_budget = pg_size_bytes(current_setting('pg_memshard.memory')) AS budget_is_the_setting,
       memory_used BETWEEN payload_bytes AND memory_budget AS used_sane,
       page_size > 0 AS has_pages,
       pages_total * page_size + index_bytes <= memory_budget AS fits_budget,
       pages_free BETWEEN 0 AND pages_total AS free_sane,
       index_bytes > 0 AS has_index,
       item_overhead_bytes BETWEEN 1 AND 47 AS overhead_below_memcached
  FROM memshard.stats;

-- partitions: as many as pg_memshard.partitions, adding up to the whole
SELECT count(*) = current_setting('pg_memshard.partitions')::int AS all_partitions,
       min(partition) AS first, max(partition) AS last
  FROM memshard.partition_stats;
SELECT p.items = s.items AS items, p.memory_used = s.memory_used AS memory_used,
       p.payload_bytes = s.payload_bytes AS payload_bytes, p.hits = s.hits AS hits,
       p.misses = s.misses AS misses, p.sets = s.sets AS sets,
       p.deletes = s.deletes AS deletes
  FROM (SELECT sum(items) items, sum(memory_used) memory_used,
               sum(payload_bytes) payload_bytes, sum(hits) hits, sum(misses) misses,
               sum(sets) sets, sum(deletes) deletes
          FROM memshard.partition_stats) p, memshard.stats s;

-- size classes in use, by chunk size; they hold every item's bytes
SELECT count(*) > 0 AS has_classes,
       bool_and(pages >= 0 AND chunks_used >= 0 AND chunks_free >= 0 AND wasted_bytes >= 0) AS non_negative,
       sum(chunks_used * chunk_size) >= (SELECT memory_used FROM memshard.stats) AS chunks_hold_items
  FROM memshard.slab_stats;
SELECT bool_and(chunk_size > prev) AS ordered_by_chunk_size
  FROM (SELECT chunk_size, lag(chunk_size, 1, 0::bigint) OVER () AS prev
          FROM memshard.slab_stats) s;

-- stats_reset zeroes the counters; items and bytes stay
SELECT memshard.stats_reset();
SELECT items - :items0 AS items, payload_bytes - :payload0 AS payload_bytes,
       hits, misses, sets, deletes, evictions, expirations, hit_ratio
  FROM memshard.stats;
SELECT map, items, hits, misses, sets, deletes FROM memshard.map_stats ORDER BY map;
SELECT sum(hits + misses + sets + deletes) AS partition_counters FROM memshard.partition_stats;

-- flush and drop take the items away
SELECT memshard.flush('s1');
SELECT map, items, payload_bytes, memory_used > 0 AS uses_memory
  FROM memshard.map_stats ORDER BY map;
SELECT memshard.drop_map('s2');
SELECT map FROM memshard.map_stats;
SELECT items - :items0 AS items, payload_bytes - :payload0 AS payload_bytes
  FROM memshard.stats;

-- a quota: a map at max_memory evicts its own items, never fails
SELECT memshard.create_map('capped', max_memory => 262144) > 0 AS created;
SELECT count(*) FILTER (WHERE memshard.set('capped', 'k' || i, repeat('v', 500))) AS stored
  FROM generate_series(1, 2000) i;
SELECT memory_used <= 262144 AS within_quota, evictions > 0 AS evicted,
       sets = 2000 AS all_sets_counted
  FROM memshard.map_stats WHERE map = 'capped';
-- the most recent key is there, exact
SELECT memshard.get('capped', 'k2000') = repeat('v', 500) AS newest_kept;
SELECT memshard.drop_map('capped'), memshard.drop_map('s1');

-- map_stats shows the maps of this database only (see database_isolation.sql)
SELECT count(*) FROM memshard.map_stats;
DROP EXTENSION pg_memshard;
