-- memshard.hash_partition agrees with native hash partition routing.
--
-- For each type, generated values and edge cases are inserted into a table
-- natively hash-partitioned with moduli 3, 8 and 17; every row must get from
-- hash_partition the remainder of the partition it landed in, read through
-- tableoid and the partition bound.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_memshard;
RESET client_min_messages;

-- check_hash(columns, values query, partition key, hash_partition argument):
-- one line over the three moduli: rows inserted per modulus, rows with a
-- NULL key column, partitions that received rows (28 = all of 3 + 8 + 17),
-- and rows where hash_partition disagrees with native routing.
CREATE FUNCTION pg_temp.check_hash(columns text, source text,
                                   partkey text DEFAULT 'v',
                                   hasharg text DEFAULT 'v',
                                   OUT rows bigint, OUT with_null bigint,
                                   OUT partitions_hit bigint, OUT mismatches bigint)
LANGUAGE plpgsql AS $$
DECLARE
    m int;
    r record;
BEGIN
    partitions_hit := 0;
    mismatches := 0;
    FOREACH m IN ARRAY ARRAY[3, 8, 17] LOOP
        EXECUTE format('CREATE TEMP TABLE hp (%s) PARTITION BY HASH (%s)', columns, partkey);
        FOR i IN 0 .. m - 1 LOOP
            EXECUTE format('CREATE TEMP TABLE hp_%s PARTITION OF hp FOR VALUES WITH (modulus %s, remainder %s)', i, m, i);
        END LOOP;
        EXECUTE format('INSERT INTO hp SELECT * FROM (%s) s', source);
        EXECUTE format($q$
            WITH part AS MATERIALIZED (
                SELECT c.oid, (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                            'modulus %s, remainder (\d+)'))[1]::int AS remainder
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'hp'::regclass)
            SELECT count(*) AS rows,
                   count(*) FILTER (WHERE NOT hp IS NOT NULL) AS with_null,
                   count(DISTINCT hp.tableoid) AS hit,
                   count(*) FILTER (WHERE memshard.hash_partition(%s, %s)
                                    IS DISTINCT FROM part.remainder) AS bad
              FROM hp JOIN part ON part.oid = hp.tableoid$q$, m, hasharg, m)
            INTO r;
        rows := r.rows;
        with_null := r.with_null;
        partitions_hit := partitions_hit + r.hit;
        mismatches := mismatches + r.bad;
        DROP TABLE hp;
    END LOOP;
END
$$;

CREATE TYPE hash_mood AS ENUM ('sad', 'ok', 'happy', 'ecstatic', 'bored');
CREATE TYPE hash_pair AS (x int, y text);
CREATE DOMAIN hash_posint AS int CHECK (VALUE > 0);
CREATE COLLATION hash_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

-- text values: hex strings, growing runs, multibyte, empty, long (toasted)
CREATE TEMP VIEW hash_texts AS
    SELECT md5(i::text) || repeat('é', i % 4) AS v FROM generate_series(1, 1500) i
    UNION ALL SELECT repeat('x', i) FROM generate_series(0, 400, 7) i
    UNION ALL SELECT unnest(ARRAY['', ' ', 'a', 'A', 'żółw', '日本語テキスト', '🐘🐘',
                                  E'tab\there', 'nul-free but \\0', NULL])
    UNION ALL SELECT repeat(md5('long'), 300)
    UNION ALL SELECT string_agg(md5(j::text), '') FROM generate_series(1, 400) j;

SELECT 'int2' AS type, * FROM pg_temp.check_hash('v int2',
    $$SELECT i::int2 FROM generate_series(-1000, 1000) i
      UNION ALL SELECT unnest('{-32768,32767,NULL}'::int2[])$$);
SELECT 'int4' AS type, * FROM pg_temp.check_hash('v int4',
    $$SELECT i * 104729 - 99999999 FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{-2147483648,2147483647,0,-1,NULL}'::int4[])$$);
SELECT 'int8' AS type, * FROM pg_temp.check_hash('v int8',
    $$SELECT i::int8 * 4611686018427 - 4611686018427000 FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{-9223372036854775808,9223372036854775807,0,-1,NULL}'::int8[])$$);
SELECT 'text' AS type, * FROM pg_temp.check_hash('v text', 'SELECT v FROM hash_texts');
SELECT 'text "C"' AS type, * FROM pg_temp.check_hash('v text COLLATE "C"', 'SELECT v FROM hash_texts');
SELECT 'text und-x-icu' AS type, * FROM pg_temp.check_hash('v text COLLATE "und-x-icu"', 'SELECT v FROM hash_texts');
-- a nondeterministic collation hashes a sort key: 'A' and 'a' are equal
SELECT 'text nondeterministic' AS type, * FROM pg_temp.check_hash('v text COLLATE hash_ci', 'SELECT v FROM hash_texts');
SELECT 'text key COLLATE' AS type, * FROM pg_temp.check_hash('v text', 'SELECT v FROM hash_texts',
    'v COLLATE hash_ci', 'v COLLATE hash_ci');
SELECT 'varchar' AS type, * FROM pg_temp.check_hash('v varchar', 'SELECT v FROM hash_texts');
SELECT 'char(12)' AS type, * FROM pg_temp.check_hash('v char(12)', 'SELECT left(v, 12) FROM hash_texts');
SELECT 'bytea' AS type, * FROM pg_temp.check_hash('v bytea',
    $$SELECT decode(md5(i::text), 'hex') FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest(ARRAY['\x'::bytea, '\x00', '\xff00ff', NULL])
      UNION ALL SELECT decode(repeat('fe', 5000), 'hex')$$);
SELECT 'uuid' AS type, * FROM pg_temp.check_hash('v uuid',
    $$SELECT md5(i::text)::uuid FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{00000000-0000-0000-0000-000000000000,ffffffff-ffff-ffff-ffff-ffffffffffff,NULL}'::uuid[])$$);
SELECT 'numeric' AS type, * FROM pg_temp.check_hash('v numeric',
    $$SELECT i / 7.0 - 100 FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{NaN,Infinity,-Infinity,0,-0.0,1.10,1.1,1e100,-1e-100,123456789012345678901234567890.123456789,NULL}'::numeric[])$$);
SELECT 'date' AS type, * FROM pg_temp.check_hash('v date',
    $$SELECT date '2000-01-01' + i * 13 - 13000 FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{infinity,-infinity,4713-01-01 BC,5874897-12-31,NULL}'::date[])$$);
SELECT 'timestamp' AS type, * FROM pg_temp.check_hash('v timestamp',
    $$SELECT timestamp '2000-01-01' + i * interval '1 hour 7 min 13.123456 sec' FROM generate_series(-1000, 1000) i
      UNION ALL SELECT unnest('{infinity,-infinity,4713-01-01 00:00 BC,NULL}'::timestamp[])$$);
SELECT 'timestamptz' AS type, * FROM pg_temp.check_hash('v timestamptz',
    $$SELECT timestamptz '2000-01-01 00:00+00' + i * interval '17 hours 13.5 sec' FROM generate_series(-1000, 1000) i
      UNION ALL SELECT unnest('{infinity,-infinity,NULL}'::timestamptz[])$$);
SELECT 'bool' AS type, * FROM pg_temp.check_hash('v bool',
    $$SELECT i % 3 = 0 FROM generate_series(1, 300) i UNION ALL SELECT NULL::bool$$);
SELECT 'oid' AS type, * FROM pg_temp.check_hash('v oid',
    $$SELECT (i::int8 * 2147483 % 4294967296)::oid FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{0,4294967295,NULL}'::oid[])$$);
SELECT 'float8' AS type, * FROM pg_temp.check_hash('v float8',
    $$SELECT i / 3.0::float8 - 300 FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{NaN,Infinity,-Infinity,0,-0,1e308,5e-324,NULL}'::float8[])$$);
SELECT 'inet' AS type, * FROM pg_temp.check_hash('v inet',
    $$SELECT ('10.' || i % 256 || '.' || i / 256 || '.1')::inet FROM generate_series(1, 1000) i
      UNION ALL SELECT ('2001:db8::' || to_hex(i) || '/64')::inet FROM generate_series(1, 1000) i
      UNION ALL SELECT unnest('{192.168.0.0/16,10.0.0.1/32,::1,0.0.0.0/0,NULL}'::inet[])$$);
SELECT 'jsonb' AS type, * FROM pg_temp.check_hash('v jsonb',
    $$SELECT jsonb_build_object('id', i, 'tags', jsonb_build_array(i % 3, md5(i::text))) FROM generate_series(1, 2000) i
      UNION ALL VALUES ('{}'::jsonb), ('[]'), ('null'), ('"str"'), ('1.0'), ('1'), (NULL)$$);
SELECT 'int4[]' AS type, * FROM pg_temp.check_hash('v int4[]',
    $$SELECT ARRAY[i, -i * 7] FROM generate_series(1, 2000) i
      UNION ALL VALUES ('{}'::int4[]), ('{NULL}'), ('{1,NULL}'), ('{{1,2},{3,4}}'), (NULL)$$);
SELECT 'text[]' AS type, * FROM pg_temp.check_hash('v text[]',
    $$SELECT ARRAY[md5(i::text), '', 'ü' || i] FROM generate_series(1, 2000) i
      UNION ALL VALUES ('{}'::text[]), ('{""}'), ('{NULL}'), (NULL)$$);
-- an enum hashes its label's OID, which differs between databases: how many
-- partitions 5 labels reach is not fixed, only that they spread
SELECT 'enum' AS type, rows, with_null, partitions_hit > 3 AS spread, mismatches
  FROM pg_temp.check_hash('v hash_mood',
    $$SELECT (enum_range(NULL::hash_mood))[1 + i % 5] FROM generate_series(1, 500) i
      UNION ALL SELECT NULL::hash_mood$$);
SELECT 'int4range' AS type, * FROM pg_temp.check_hash('v int4range',
    $$SELECT int4range(i, i + i % 10) FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest('{empty,"(,)","[5,)",NULL}'::int4range[])$$);
SELECT 'interval' AS type, * FROM pg_temp.check_hash('v interval',
    $$SELECT i * interval '1 day 3 hours' FROM generate_series(-1000, 1000) i
      UNION ALL SELECT unnest('{"1 day","24 hours",NULL}'::interval[])$$);
SELECT 'domain' AS type, * FROM pg_temp.check_hash('v hash_posint',
    $$SELECT i FROM generate_series(1, 2000) i UNION ALL SELECT NULL$$);
-- a named composite type is one key column, hashed as a whole
SELECT 'composite' AS type, * FROM pg_temp.check_hash('v hash_pair',
    $$SELECT ROW(i, md5(i::text))::hash_pair FROM generate_series(1, 2000) i
      UNION ALL SELECT unnest(ARRAY['(,)', '(1,)', NULL]::hash_pair[])$$);

-- multi-column keys: PARTITION BY HASH (a, b, ...) is hash_partition(ROW(a, b, ...), m)
SELECT 'int4, text' AS type, * FROM pg_temp.check_hash('a int4, b text',
    $$SELECT i, CASE WHEN i % 5 <> 0 THEN md5(i::text) END FROM generate_series(1, 2000) i
      UNION ALL SELECT NULL, 'x' UNION ALL SELECT NULL, NULL$$,
    'a, b', 'ROW(a, b)');
SELECT 'text nondeterministic, int8, uuid' AS type, * FROM pg_temp.check_hash(
    'a text COLLATE hash_ci, b int8, c uuid',
    $$SELECT CASE WHEN i % 2 = 0 THEN upper(md5(i::text)) ELSE md5(i::text) END,
             i::int8 << 20, CASE WHEN i % 7 <> 0 THEN md5((-i)::text)::uuid END
        FROM generate_series(1, 2000) i$$,
    'a, b, c', 'ROW(a, b, c)');
SELECT 'b, a (key order)' AS type, * FROM pg_temp.check_hash('a int4, b date',
    $$SELECT i, date '2020-01-01' + i FROM generate_series(1, 2000) i$$,
    'b, a', 'ROW(b, a)');

-- NULL values go where native routing sends them: remainder 0
SELECT memshard.hash_partition(NULL::int, 8) AS null_int,
       memshard.hash_partition(NULL::text, 17) AS null_text,
       memshard.hash_partition(NULL, 3) AS null_literal,
       memshard.hash_partition(ROW(NULL, NULL), 8) AS null_row,
       memshard.hash_partition(42, NULL) AS null_modulus;
-- a composite value is one column, not its fields as columns (ROW((v).*))
SELECT count(*) FILTER (WHERE memshard.hash_partition(v, 17) = memshard.hash_partition(ROW((v).*), 17))
           < count(*) AS composite_is_not_its_fields
  FROM (SELECT ROW(i, md5(i::text))::hash_pair AS v FROM generate_series(1, 200) i) s;
-- a one-column ROW(...) is that column; an untyped literal is text
SELECT memshard.hash_partition(ROW(12345), 17) = memshard.hash_partition(12345, 17) AS one_column_row,
       memshard.hash_partition('abc', 8) = memshard.hash_partition('abc'::text, 8) AS literal_is_text,
       memshard.hash_partition(ROW('abc', 1), 8) = memshard.hash_partition(ROW('abc'::text, 1), 8) AS literal_column_is_text,
       memshard.hash_partition('abc'::varchar, 8) = memshard.hash_partition('abc'::text, 8) AS varchar_is_text;
-- fixed answers, so that a change of the hashing shows
SELECT memshard.hash_partition(1, 8) AS int4_1, memshard.hash_partition(1::int8, 8) AS int8_1,
       memshard.hash_partition('key'::text, 1000) AS text_key, memshard.hash_partition(1, 1) AS modulus_1;

DROP TYPE hash_mood;
DROP TYPE hash_pair;
DROP DOMAIN hash_posint;
DROP VIEW hash_texts;
DROP COLLATION hash_ci;
DROP EXTENSION pg_memshard;
