-- memshard.metrics(): the Prometheus text exposition of every counter.
-- Checks the format line by line (HELP and TYPE once per family, before its
-- samples, samples of a family together, counters ending in _total, label
-- values escaped), the values against the statistics views after a known
-- workload, and that counters only grow.  promtool checks the same text in
-- test/exporter_metrics.pl.
CREATE EXTENSION pg_memshard;

-- label values: backslash, double quote and newline are escaped, nothing else
SELECT memshard.metric_label('map', E'plain') AS plain,
       memshard.metric_label('map', E'say "hi"') AS quotes,
       memshard.metric_label('map', E'back\\slash') AS backslash,
       memshard.metric_label('map', E'two\nlines') AS newline,
       memshard.metric_label('map', E'tab\there, é') AS untouched;

-- a map whose name needs escapes (quotes, backslash; map names cannot hold
-- a newline: the newline is tested with a database name, in
-- test/exporter_metrics.pl), and a plain one
SELECT memshard.create_map(E'we"ird\\map') > 0 AS created;
SELECT memshard.create_map('plain') > 0 AS created;
SELECT memshard.stats_reset();

-- known workload: 10 sets and 7 gets (5 hits, 2 misses) on plain,
-- 3 sets and 1 hit on the other
SELECT count(memshard.set('plain', 'k' || g, repeat('v', g))) AS sets
  FROM generate_series(1, 10) g;
SELECT count(memshard.get('plain', 'k' || g)) AS hits FROM generate_series(1, 5) g;
SELECT count(memshard.get('plain', 'none' || g)) AS found FROM generate_series(1, 2) g;
SELECT count(memshard.set(E'we"ird\\map', 'k' || g, 'x')) AS sets
  FROM generate_series(1, 3) g;
SELECT memshard.get(E'we"ird\\map', 'k1');

CREATE TEMP TABLE scrape1 AS
    SELECT n, line FROM regexp_split_to_table(memshard.metrics(), E'\n')
           WITH ORDINALITY AS t(line, n);

-- the text ends with a newline (the last split is empty), no other empty line
SELECT count(*) FILTER (WHERE line = '') AS empty_lines,
       (SELECT line FROM scrape1 ORDER BY n DESC LIMIT 1) = '' AS ends_with_newline
  FROM scrape1;

-- the escaped map name, as Prometheus reads it
SELECT line FROM scrape1 WHERE line LIKE 'pg\_memshard\_map\_items%' ORDER BY n;

-- parse every line: comments, then samples  name{labels} value
CREATE TEMP VIEW parsed1 AS
    SELECT n, line,
           substring(line FROM '^# (HELP|TYPE) ') AS comment,
           (regexp_match(line, '^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$'))[1] AS comment_metric,
           (regexp_match(line, '^# TYPE [^ ]+ (.*)$'))[1] AS type,
           (regexp_match(line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (.*)$'))[1] AS metric,
           (regexp_match(line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (.*)$'))[2] AS labels,
           (regexp_match(line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (.*)$'))[3] AS value
      FROM scrape1 WHERE line <> '';

-- every line is a HELP, a TYPE or a sample with a numeric value
SELECT count(*) AS lines_not_understood FROM parsed1
 WHERE comment IS NULL AND (metric IS NULL OR value !~ '^-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?$');

-- label sets: name="escaped value" pairs separated by commas, nothing else
SELECT count(*) AS malformed_label_sets FROM parsed1
 WHERE labels IS NOT NULL
   AND labels !~ '^\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*\}$';

-- each family: one HELP, then one TYPE, then its samples, all together
WITH families AS (
    SELECT n, coalesce(comment_metric, metric) AS family, comment, type,
           lag(coalesce(comment_metric, metric)) OVER (ORDER BY n) AS previous_family
      FROM parsed1
)
SELECT count(DISTINCT family) >= 40 AS many_families,
       count(*) FILTER (WHERE comment = 'HELP') = count(DISTINCT family) AS one_help_each,
       count(*) FILTER (WHERE comment = 'TYPE') = count(DISTINCT family) AS one_type_each,
       count(*) FILTER (WHERE family IS DISTINCT FROM previous_family) = count(DISTINCT family) AS families_contiguous,
       bool_and(comment = 'HELP') FILTER (WHERE family IS DISTINCT FROM previous_family) AS help_first
  FROM families;
SELECT count(*) AS type_not_after_help FROM parsed1 t
  JOIN parsed1 h ON h.n = t.n - 1
 WHERE t.comment = 'TYPE' AND (h.comment IS DISTINCT FROM 'HELP' OR h.comment_metric <> t.comment_metric);

-- names: our prefix; counters and only counters end in _total; one series per label set
SELECT count(*) FILTER (WHERE comment_metric NOT LIKE 'pg\_memshard\_%') AS unprefixed,
       count(*) FILTER (WHERE type = 'counter' AND comment_metric NOT LIKE '%\_total') AS counters_without_total,
       count(*) FILTER (WHERE type = 'gauge' AND comment_metric LIKE '%\_total') AS gauges_with_total,
       count(*) FILTER (WHERE type NOT IN ('counter', 'gauge')) AS other_types
  FROM parsed1 WHERE comment = 'TYPE';
SELECT count(*) AS duplicate_series FROM (
    SELECT metric, labels FROM parsed1 WHERE metric IS NOT NULL
     GROUP BY metric, labels HAVING count(*) > 1) d;

-- values agree with the views
CREATE TEMP VIEW values1 AS
    SELECT metric, coalesce(labels, '') AS labels, value::numeric AS value
      FROM parsed1 WHERE metric IS NOT NULL;
SELECT v.metric, v.value::float8 = s.value AS matches_stats
  FROM values1 v
  JOIN (SELECT * FROM memshard.stats,
        LATERAL (VALUES ('pg_memshard_items', items::float8),
                        ('pg_memshard_hits_total', hits),
                        ('pg_memshard_misses_total', misses),
                        ('pg_memshard_sets_total', sets),
                        ('pg_memshard_memory_budget_bytes', memory_budget),
                        ('pg_memshard_memory_used_bytes', memory_used),
                        ('pg_memshard_payload_bytes', payload_bytes),
                        ('pg_memshard_fragmentation_ratio', fragmentation),
                        ('pg_memshard_hit_ratio', hit_ratio),
                        ('pg_memshard_pages', pages_total)) x(metric, value)) s
    ON s.metric = v.metric
 ORDER BY v.metric;
SELECT v.metric, v.labels, v.value
  FROM values1 v
 WHERE v.metric IN ('pg_memshard_map_items', 'pg_memshard_map_hits_total',
                    'pg_memshard_map_misses_total', 'pg_memshard_map_sets_total')
 ORDER BY v.metric, v.labels;
SELECT (SELECT sum(value) FROM values1 WHERE metric = 'pg_memshard_partition_items') =
       (SELECT items FROM memshard.stats) AS partitions_add_up,
       (SELECT count(*) FROM values1 WHERE metric = 'pg_memshard_partition_items') =
       current_setting('pg_memshard.partitions')::int AS every_partition,
       (SELECT count(*) FROM values1 WHERE metric = 'pg_memshard_slab_chunks_used') =
       (SELECT count(*) FROM memshard.slab_stats) AS every_class;

-- counters are monotonic: more work, a second scrape, no counter went down
SELECT count(memshard.get('plain', 'k' || g)) AS more_hits FROM generate_series(1, 4) g;
SELECT memshard.set('plain', 'k1', 'again'), memshard.delete('plain', 'k2');
CREATE TEMP TABLE scrape2 AS
    SELECT (regexp_match(line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (.*)$')) AS m
      FROM regexp_split_to_table(memshard.metrics(), E'\n') AS line
     WHERE line ~ '^pg_memshard_';
WITH counters AS (
    SELECT comment_metric AS metric FROM parsed1 WHERE type = 'counter'
), before AS (
    SELECT v.metric, v.labels, v.value FROM values1 v JOIN counters USING (metric)
), after AS (
    SELECT m[1] AS metric, coalesce(m[2], '') AS labels, m[3]::numeric AS value
      FROM scrape2
)
SELECT count(*) = (SELECT count(*) FROM before) AND count(*) > 100 AS every_counter_compared,
       count(*) FILTER (WHERE a.value < b.value) AS went_down,
       count(*) FILTER (WHERE a.value > b.value) > 0 AS some_grew
  FROM before b JOIN after a USING (metric, labels);
SELECT m[1] AS metric, m[3] AS value FROM scrape2
 WHERE m[1] IN ('pg_memshard_hits_total', 'pg_memshard_sets_total', 'pg_memshard_deletes_total')
 ORDER BY 1;

-- a quota shows as a series of its own; maps without one have none
SELECT memshard.create_map('capped', max_memory => 1048576) > 0 AS created;
SELECT line FROM regexp_split_to_table(memshard.metrics(), E'\n') AS line
 WHERE line LIKE 'pg\_memshard\_map\_max\_memory\_bytes%';

-- metrics() is for everyone who may read the statistics views
CREATE ROLE obs_metrics_reader;
SET ROLE obs_metrics_reader;
SELECT length(memshard.metrics()) > 1000 AS readable;
RESET ROLE;
DROP ROLE obs_metrics_reader;

DROP EXTENSION pg_memshard;
