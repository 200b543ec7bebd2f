-- Errors of memshard.hash_partition and memshard.range_partition, with their
-- SQLSTATEs.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_memshard;
RESET client_min_messages;

-- error_of(query): 'SQLSTATE: message (detail)' of the error query raises
CREATE FUNCTION pg_temp.error_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    message text;
    detail text;
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || message || coalesce(' (' || nullif(detail, '') || ')', '');
END
$$;

-- two collations that cannot be told apart in one expression
CREATE TEMP TABLE two_collations (a text COLLATE "C", b text COLLATE "POSIX");
INSERT INTO two_collations VALUES ('a', 'b');

-- hash_partition: types without a default hash opclass (42883), even NULL;
-- modulus <= 0 (22023); a string without a collation (42P22)
SELECT q, pg_temp.error_of(q) FROM (VALUES
    ('SELECT memshard.hash_partition(point(1, 2), 8)'),
    ('SELECT memshard.hash_partition(NULL::point, 8)'),
    ('SELECT memshard.hash_partition(ARRAY[point(1, 2)], 8)'),
    ('SELECT memshard.hash_partition(ROW(point(1, 2), 1), 8)'),
    ('SELECT memshard.hash_partition(''{"a": 1}''::json, 8)'),
    ('SELECT memshard.hash_partition(1, 0)'),
    ('SELECT memshard.hash_partition(1, -5)'),
    ('SELECT memshard.hash_partition(NULL::int, 0)'),
    ('SELECT memshard.hash_partition(a || b, 8) FROM two_collations'),
    ('SELECT memshard.hash_partition(ROW(1, ''x''), 8)')
) AS t(q);

-- range_partition: bad bounds (22023), types without a btree opclass (42883),
-- a string without a collation (42P22)
SELECT q, pg_temp.error_of(q) FROM (VALUES
    ('SELECT memshard.range_partition(5, ARRAY[3, 1])'),
    ('SELECT memshard.range_partition(5, ARRAY[1, 2, 2, 3])'),
    ('SELECT memshard.range_partition(5, ARRAY[1, NULL, 3])'),
    ('SELECT memshard.range_partition(5, ARRAY[''a'', ''b''])'),
    ('SELECT memshard.range_partition(5, ARRAY[1.5, 2])'),
    ('SELECT memshard.range_partition(5::int8, ARRAY[1, 2])'),
    ('SELECT memshard.range_partition(''x''::text, ARRAY[1, 2])'),
    ('SELECT memshard.range_partition(5, 7)'),
    ('SELECT memshard.range_partition(5, ''{{1,2},{3,4}}''::int[])'),
    ('SELECT memshard.range_partition(5, ''{3,1}'')'),
    ('SELECT memshard.range_partition(''a'' COLLATE "C", ARRAY[''a'', ''B''])'),
    ('SELECT memshard.range_partition(''a'' COLLATE "und-x-icu", ARRAY[''a'', ''B''])'),
    ('SELECT memshard.range_partition(point(1, 1), ARRAY[point(0, 0)])'),
    ('SELECT memshard.range_partition(''1''::xid, ARRAY[''2''::xid])'),
    ('SELECT memshard.range_partition(a || b, ARRAY[''m'']) FROM two_collations'),
    ('SELECT memshard.range_partition(5, b) FROM (VALUES (''{1,10}''::int[]), (''{10,1}'')) v(b)')
) AS t(q);
-- NULL in, NULL out, before any check
SELECT memshard.range_partition(NULL::point, ARRAY[point(0, 0)]) IS NULL AS null_point,
       memshard.range_partition(NULL::int, ARRAY[3, 1]) IS NULL AS null_unsorted;

DROP TABLE two_collations;
DROP EXTENSION pg_memshard;
