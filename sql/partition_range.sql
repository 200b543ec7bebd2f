-- memshard.range_partition agrees with native range partition routing.
--
-- For each type, a table is natively range-partitioned on split points
-- b1 < ... < bn: (MINVALUE, b1), [b1, b2), ..., [bn, MAXVALUE), plus a
-- DEFAULT partition that only NULL reaches.  range_partition(v, bounds) must
-- be the index of the partition each row landed in (NULL for the default).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_memshard;
RESET client_min_messages;

-- check_range(type, bounds literal, values query, key collation): rows, rows
-- equal to a bound, partitions that received rows, and rows where
-- range_partition disagrees with native routing, with the bounds as a
-- constant and as a column (one is cached once, the other compared per row).
CREATE FUNCTION pg_temp.check_range(typ text, bounds text, source text,
                                    keycoll text DEFAULT NULL,
                                    OUT rows bigint, OUT on_bounds bigint,
                                    OUT partitions_hit bigint,
                                    OUT mismatches_const bigint,
                                    OUT mismatches_column bigint)
LANGUAGE plpgsql AS $$
DECLARE
    coll text := coalesce(' COLLATE ' || quote_ident(keycoll), '');
    b text[];
    n int;
BEGIN
    EXECUTE format('SELECT %L::%s[]::text[]', bounds, typ) INTO b;
    n := coalesce(array_length(b, 1), 0);
    EXECUTE format('CREATE TEMP TABLE rp (v %s) PARTITION BY RANGE (v%s)', typ, coll);
    CREATE TEMP TABLE rp_index (part regclass, idx int);
    FOR i IN 0 .. n LOOP
        EXECUTE format('CREATE TEMP TABLE rp_%s PARTITION OF rp FOR VALUES FROM (%s) TO (%s)', i,
                       CASE WHEN i = 0 THEN 'MINVALUE' ELSE quote_literal(b[i]) END,
                       CASE WHEN i = n THEN 'MAXVALUE' ELSE quote_literal(b[i + 1]) END);
        INSERT INTO rp_index VALUES (format('rp_%s', i)::regclass, i);
    END LOOP;
    CREATE TEMP TABLE rp_default PARTITION OF rp DEFAULT;
    INSERT INTO rp_index VALUES ('rp_default', NULL);
    EXECUTE format('CREATE TEMP TABLE rp_bounds AS SELECT %L::%s[] AS b', bounds, typ);
    EXECUTE format('INSERT INTO rp SELECT * FROM (%s) s', source);
    EXECUTE format($q$
        SELECT count(*),
               count(*) FILTER (WHERE v%1$s = ANY (%2$L::%3$s[])),
               count(DISTINCT rp.tableoid),
               count(*) FILTER (WHERE memshard.range_partition(v%1$s, %2$L::%3$s[]) IS DISTINCT FROM ri.idx),
               count(*) FILTER (WHERE memshard.range_partition(v%1$s, rb.b) IS DISTINCT FROM ri.idx)
          FROM rp JOIN rp_index ri ON ri.part = rp.tableoid CROSS JOIN rp_bounds rb$q$,
        coll, bounds, typ)
        INTO rows, on_bounds, partitions_hit, mismatches_const, mismatches_column;
    DROP TABLE rp, rp_index, rp_bounds;
END
$$;

CREATE TYPE range_mood AS ENUM ('sad', 'happy');
ALTER TYPE range_mood ADD VALUE 'ok' BEFORE 'happy';
ALTER TYPE range_mood ADD VALUE 'bored' BEFORE 'sad';

SELECT 'int4' AS type, * FROM pg_temp.check_range('int4', '{-100,0,10,20,1000}',
    $$SELECT i FROM generate_series(-200, 1200, 3) i
      UNION ALL SELECT unnest('{-100,0,10,20,1000,-101,-1,9,19,999,1001,-2147483648,2147483647,NULL}'::int4[])$$);
SELECT 'int8' AS type, * FROM pg_temp.check_range('int8', '{-9223372036854775807,0,4611686018427387904}',
    $$SELECT i::int8 << 40 FROM generate_series(-1000, 1000) i
      UNION ALL SELECT unnest('{-9223372036854775808,-9223372036854775807,-1,0,4611686018427387903,4611686018427387904,9223372036854775807,NULL}'::int8[])$$);
SELECT 'numeric' AS type, * FROM pg_temp.check_range('numeric', '{-Infinity,-1.5,0,0.001,1e10,Infinity,NaN}',
    $$SELECT i / 3.0 FROM generate_series(-100, 100) i
      UNION ALL SELECT unnest('{-Infinity,Infinity,NaN,-1.50,-1.5000001,0.0,-0.0,0.0009,0.001,1e10,1e100,NULL}'::numeric[])$$);
SELECT 'float8' AS type, * FROM pg_temp.check_range('float8', '{-Infinity,-0.5,0,1e300,Infinity,NaN}',
    $$SELECT i / 7.0::float8 FROM generate_series(-100, 100) i
      UNION ALL SELECT unnest('{-Infinity,Infinity,NaN,-0,0,-0.5,-0.50000001,1e300,1e308,-1e308,NULL}'::float8[])$$);
-- text in "C" (upper case first) and in ICU order (case folded first)
CREATE TEMP VIEW range_texts AS
    SELECT md5(i::text) AS v FROM generate_series(1, 500) i
    UNION ALL SELECT upper(md5(i::text)) FROM generate_series(1, 500) i
    UNION ALL SELECT unnest(ARRAY['', 'a', 'A', 'b', 'B', 'm', 'M', 'mm', 'Mm', 'z', 'Z',
                                  'é', 'É', 'żółw', '日本', repeat('m', 3000), NULL]);
SELECT 'text "C"' AS type, * FROM pg_temp.check_range('text', '{B,M,a,m}',
    'SELECT v FROM range_texts', 'C');
SELECT 'text und-x-icu' AS type, * FROM pg_temp.check_range('text', '{a,B,é,m,M}',
    'SELECT v FROM range_texts', 'und-x-icu');
SELECT 'varchar "C"' AS type, * FROM pg_temp.check_range('varchar', '{B,M,a,m}',
    'SELECT v FROM range_texts', 'C');
SELECT 'date' AS type, * FROM pg_temp.check_range('date', '{2000-01-01,2020-02-29,2020-03-01}',
    $$SELECT date '2019-01-01' + i FROM generate_series(-10, 600, 3) i
      UNION ALL SELECT unnest('{infinity,-infinity,2000-01-01,1999-12-31,2020-02-29,2020-03-01,NULL}'::date[])$$);
SELECT 'timestamptz' AS type, * FROM pg_temp.check_range('timestamptz',
    '{"2000-01-01 00:00:00+00","2000-01-01 00:00:00.000001+00","2030-06-01 12:00:00+00"}',
    $$SELECT timestamptz '2000-01-01 00:00+00' + i * interval '1 minute' FROM generate_series(-100, 100) i
      UNION ALL SELECT unnest('{infinity,-infinity,"2000-01-01 00:00:00+00","2000-01-01 00:00:00.000001+00","2030-06-01 12:00:00+00",NULL}'::timestamptz[])$$);
SELECT 'uuid' AS type, * FROM pg_temp.check_range('uuid',
    '{40000000-0000-0000-0000-000000000000,80000000-0000-0000-0000-000000000000,c0000000-0000-0000-0000-000000000000}',
    $$SELECT md5(i::text)::uuid FROM generate_series(1, 500) i
      UNION ALL SELECT unnest('{00000000-0000-0000-0000-000000000000,80000000-0000-0000-0000-000000000000,ffffffff-ffff-ffff-ffff-ffffffffffff,NULL}'::uuid[])$$);
SELECT 'bytea' AS type, * FROM pg_temp.check_range('bytea', '{"\\x00","\\x7f","\\x7f00","\\xff"}',
    $$SELECT decode(md5(i::text), 'hex') FROM generate_series(1, 500) i
      UNION ALL SELECT unnest('{"\\x","\\x00","\\x7f","\\x7f00","\\xff","\\xffff",NULL}'::bytea[])$$);
-- enums order by their sort order, not by OID
SELECT 'enum' AS type, * FROM pg_temp.check_range('range_mood', '{sad,happy}',
    $$SELECT unnest(enum_range(NULL::range_mood)) FROM generate_series(1, 10)
      UNION ALL SELECT NULL::range_mood$$);
SELECT 'int4, no bounds' AS type, * FROM pg_temp.check_range('int4', '{}',
    $$SELECT i FROM generate_series(-5, 5) i$$);

-- the index is the number of bounds <= value, lower bounds inclusive
SELECT v, memshard.range_partition(v, ARRAY[10, 20, 30]) AS idx
  FROM unnest(ARRAY[-2147483648, 9, 10, 11, 19, 20, 29, 30, 31, 2147483647]) v;
-- collation: the same bounds in two orders
SELECT memshard.range_partition('a' COLLATE "C", ARRAY['B', 'M']) AS c_order,
       memshard.range_partition('a' COLLATE "und-x-icu", ARRAY['a', 'M']) AS icu_order;
-- untyped literals take the other argument's type, or are text
SELECT memshard.range_partition(15, '{10,20,30}') AS int_literal_bounds,
       memshard.range_partition('15', ARRAY[10, 20, 30]) AS literal_value,
       memshard.range_partition('b', '{a,c}') AS both_literals,
       memshard.range_partition('2020-02-29'::date, '{2020-01-01,2020-03-01}') AS date_bounds;
-- NULL in, NULL out
SELECT memshard.range_partition(NULL::int, ARRAY[1, 2]) IS NULL AS null_value,
       memshard.range_partition(5, NULL::int[]) IS NULL AS null_bounds;

-- many bounds, constant or from a column: the index is floor(v / 10) here
CREATE TEMP TABLE range_many AS
    SELECT array_agg(i * 10 ORDER BY i) AS b FROM generate_series(1, 10000) i;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE memshard.range_partition(v, m.b) <> least(v / 10, 10000)) AS mismatches_column,
       count(*) FILTER (WHERE memshard.range_partition(v, (SELECT b FROM range_many)) <> least(v / 10, 10000))
           AS mismatches_subquery
  FROM generate_series(0, 110000, 7) v, range_many m;
-- bounds that change from row to row are rebuilt
SELECT v, b, memshard.range_partition(v, b)
  FROM (VALUES (5, '{1,10}'::int[]), (5, '{6,10}'), (5, '{1,2}'), (5, '{1,10}'), (5, '{}')) x(v, b);

DROP TABLE range_many;
DROP VIEW range_texts;
DROP TYPE range_mood;
DROP EXTENSION pg_memshard;
