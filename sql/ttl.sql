-- Time to live: an expired item is never returned.  The TTLs here are two
-- seconds and the test sleeps once, 2.5 s (expiry has a granularity of a
-- tenth of a second).
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('t') > 0 AS created;
SELECT memshard.create_map('short', default_ttl => '2 seconds') > 0 AS created;

-- before the sleep: items with and without a TTL
SELECT memshard.set('t', 'forever', 'v');
SELECT memshard.set('t', 'brief', 'v', '2 seconds');
SELECT memshard.set('t', 'brief_bytes', '\x01'::bytea, '2 seconds');
SELECT memshard.set('t', 'long', 'v', '1 hour');
SELECT memshard.add('t', 'added', 'v', '2 seconds');
SELECT memshard.set('t', 'replaced', 'v');
SELECT memshard.replace('t', 'replaced', 'w', '2 seconds');
SELECT memshard.mset('t', ARRAY['m1', 'm2'], ARRAY['v1', 'v2'], '2 seconds');
SELECT memshard.incr('t', 'counter', 5, '2 seconds');
-- touch gives a new ttl: longer, shorter, or (NULL, in a map without a
-- default ttl) none
SELECT memshard.set('t', 'rescued', 'v', '2 seconds');
SELECT memshard.touch('t', 'rescued', '1 hour');
SELECT memshard.set('t', 'doomed', 'v');
SELECT memshard.touch('t', 'doomed', '2 seconds');
SELECT memshard.set('t', 'unexpiring', 'v', '2 seconds');
SELECT memshard.touch('t', 'unexpiring', NULL);
-- incr without a ttl keeps the counter's expiry
SELECT memshard.incr('t', 'counter');
SELECT memshard.set('t', 'kept_counter', '1', '1 hour');
SELECT memshard.incr('t', 'kept_counter', 1, '2 seconds');
SELECT memshard.incr('t', 'kept_counter');
-- a map's default ttl applies when ttl is NULL; an explicit ttl wins
SELECT memshard.set('short', 'default', 'v');
SELECT memshard.set('short', 'explicit', 'v', '1 hour');
SELECT memshard.incr('short', 'counter');
SELECT memshard.mset('short', ARRAY['m'], ARRAY['v']);
-- touch with NULL in a map with a default ttl: the default again
SELECT memshard.set('short', 'touched', 'v', '1 hour');
SELECT memshard.touch('short', 'touched', NULL);

-- all present now
SELECT k, memshard.get('t', k) IS NOT NULL AS present
  FROM unnest(ARRAY['forever', 'brief', 'long', 'added', 'replaced', 'm1', 'm2',
                    'counter', 'rescued', 'doomed', 'unexpiring', 'kept_counter']) k;
SELECT k, memshard.get('short', k) IS NOT NULL AS present
  FROM unnest(ARRAY['default', 'explicit', 'counter', 'm', 'touched']) k;

SELECT memshard.stats_reset();
SELECT pg_sleep(2.5);

-- after the sleep: expired items are gone, for every way of reading them
SELECT k, memshard.get('t', k)
  FROM unnest(ARRAY['forever', 'brief', 'long', 'added', 'replaced', 'm1', 'm2',
                    'counter', 'rescued', 'doomed', 'unexpiring', 'kept_counter']) k;
SELECT memshard.get_bytea('t', 'brief_bytes') IS NULL AS expired;
SELECT * FROM memshard.mget('t', ARRAY['m1', 'forever', 'm2']);
SELECT k, memshard.get('short', k)
  FROM unnest(ARRAY['default', 'explicit', 'counter', 'm', 'touched']) k;
-- an expired key is absent for every function
SELECT memshard.touch('t', 'brief', '1 hour');
SELECT memshard.replace('t', 'brief', 'again');
SELECT memshard.delete('t', 'brief');
SELECT memshard.add('t', 'brief', 'again');
SELECT memshard.get('t', 'brief');
SELECT memshard.incr('t', 'counter');
-- writers reclaim what they meet expired (readers only skip it); once every
-- expired item has met a writer, each has been counted once
SELECT k, memshard.delete('t', k) AS deleted
  FROM unnest(ARRAY['brief_bytes', 'added', 'replaced', 'm1', 'm2', 'doomed',
                    'kept_counter']) k;
SELECT k, memshard.delete('short', k) AS deleted
  FROM unnest(ARRAY['default', 'counter', 'm', 'touched']) k;
SELECT map, items, expirations, deletes FROM memshard.map_stats ORDER BY map;

SELECT memshard.drop_map('t'), memshard.drop_map('short');
DROP EXTENSION pg_memshard;
