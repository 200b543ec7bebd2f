-- What the demo shows once the server is up.  The demo cluster is
-- throwaway: the extension is created afresh, so a rebuilt library and its
-- script always match.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS pg_memshard;
CREATE EXTENSION pg_memshard;
RESET client_min_messages;
SELECT memshard.version() AS pg_memshard_version,
       current_setting('pg_memshard.memory') AS cache_memory;

-- a map (a namespace of keys) with a default time to live
SELECT memshard.create_map('demo', default_ttl => '1 hour') AS demo_map_id;
SELECT name, default_ttl, eviction FROM memshard.maps;

-- set and get, one key or many
SELECT memshard.set('demo', 'greeting', 'hello from shared memory');
SELECT memshard.get('demo', 'greeting');
SELECT memshard.mset('demo', ARRAY['user:1', 'user:2'], ARRAY['Ada', 'Grace']);
SELECT * FROM memshard.mget('demo', ARRAY['user:1', 'user:2', 'user:3']);
SELECT memshard.incr('demo', 'visits') AS visits, memshard.incr('demo', 'visits') AS visits_again;

-- 10,000 keys in one statement, read back
SELECT count(*) FILTER (WHERE memshard.set('demo', 'key:' || i, repeat('x', 100))) AS stored
  FROM generate_series(1, 10000) i;
SELECT count(*) FILTER (WHERE memshard.get('demo', 'key:' || i) IS NOT NULL) AS found
  FROM generate_series(1, 10000) i;

-- what the cache holds
SELECT pg_size_pretty(memory_budget) AS budget, pg_size_pretty(memory_used) AS used,
       items, hits, misses, round(hit_ratio::numeric, 3) AS hit_ratio,
       round(fragmentation::numeric, 3) AS fragmentation, item_overhead_bytes
  FROM memshard.stats;
SELECT map, items, pg_size_pretty(memory_used) AS used, hits, misses FROM memshard.map_stats;
SELECT class, chunk_size, pages, chunks_used FROM memshard.slab_stats;
