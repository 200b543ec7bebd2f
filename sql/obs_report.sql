-- memshard.memory_report(): the psql summary of memory, and its advice.
CREATE EXTENSION pg_memshard;

SELECT memshard.stats_reset();
SELECT memshard.create_map('plain') > 0 AS created;
SELECT count(memshard.set('plain', 'k' || g, repeat('v', 100))) FROM generate_series(1, 500) g;
SELECT count(memshard.get('plain', 'k' || g)) FROM generate_series(1, 500) g;

-- a healthy cache: every figure, no advice
SELECT section, item, advice FROM memshard.memory_report()
 WHERE section <> 'top size classes by waste';
SELECT bool_and(item ~ '^class [0-9]+ \([0-9]+-byte chunks\)$') AS classes_named,
       count(*) BETWEEN 1 AND 5 AS at_most_five, count(advice) AS advice
  FROM memshard.memory_report() WHERE section = 'top size classes by waste';
SELECT split_part(value, ' (', 1) AS budget
  FROM memshard.memory_report() WHERE item = 'budget';
SELECT value FROM memshard.memory_report() WHERE item IN ('items', 'hit ratio', 'summary');
SELECT value ~ '^[0-9.]+ bytes \(header [0-9]+, ' AS overhead_in_bytes
  FROM memshard.memory_report() WHERE item = 'overhead per item';
SELECT value ~ '^[0-9]+ (bytes|kB) \([0-9.]+% of the budget\)$' AS used_pretty
  FROM memshard.memory_report() WHERE item = 'used by items';

-- a map at its quota evicts its own items: two lines of advice
SELECT memshard.create_map('capped', max_memory => 200000) > 0 AS created;
SELECT count(memshard.set('capped', 'k' || g, repeat('x', 1000))) FROM generate_series(1, 400) g;
SELECT section, item, advice FROM memshard.memory_report() WHERE advice IS NOT NULL;
SELECT value ~ ', quota 195 kB \(9[0-9.]+%\)$' AS quota_shown
  FROM memshard.memory_report() WHERE item = 'capped';
SELECT value FROM memshard.memory_report() WHERE item = 'summary';

-- reads that mostly miss
SELECT count(memshard.get('plain', 'absent' || g)) FROM generate_series(1, 2000) g;
SELECT item, advice FROM memshard.memory_report() WHERE section = 'activity' AND item = 'hit ratio';

-- top maps by bytes, largest first; at most five
SELECT memshard.create_map('m' || g) > 0 FROM generate_series(1, 6) g \g /dev/null
SELECT count(memshard.set('m' || g, 'k', repeat('x', g * 10))) FROM generate_series(1, 6) g;
SELECT item FROM memshard.memory_report() WHERE section = 'top maps by bytes';
SELECT count(*) AS classes_shown FROM memshard.memory_report() WHERE section = 'top size classes by waste';

DROP EXTENSION pg_memshard;
