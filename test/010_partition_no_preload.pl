# The partitioning functions are pure: in a server WITHOUT pg_memshard in
# shared_preload_libraries they still agree with native hash and range
# routing, in the backend and in parallel workers (they are PARALLEL SAFE).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'', 'pg_memshard is not preloaded');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');

# native hash partitioning: int8, text, and a two-column key; NULLs included
$node->safe_psql(
	'postgres', q{
CREATE TABLE h_int8 (v int8) PARTITION BY HASH (v);
CREATE TABLE h_text (v text) PARTITION BY HASH (v);
CREATE TABLE h_pair (a int4, b text) PARTITION BY HASH (a, b);
DO $$
BEGIN
    FOR r IN 0 .. 6 LOOP
        EXECUTE format('CREATE TABLE h_int8_%s PARTITION OF h_int8 FOR VALUES WITH (modulus 7, remainder %s)', r, r);
        EXECUTE format('CREATE TABLE h_text_%s PARTITION OF h_text FOR VALUES WITH (modulus 7, remainder %s)', r, r);
        EXECUTE format('CREATE TABLE h_pair_%s PARTITION OF h_pair FOR VALUES WITH (modulus 7, remainder %s)', r, r);
    END LOOP;
END
$$;
INSERT INTO h_int8 SELECT CASE WHEN i % 100 <> 0 THEN i * 7919 END FROM generate_series(1, 20000) i;
INSERT INTO h_text SELECT CASE WHEN i % 100 <> 0 THEN md5(i::text) END FROM generate_series(1, 20000) i;
INSERT INTO h_pair SELECT i, CASE WHEN i % 3 <> 0 THEN md5(i::text) END FROM generate_series(1, 20000) i;
CREATE TABLE r_int (v int) PARTITION BY RANGE (v);
CREATE TABLE r_int_0 PARTITION OF r_int FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE r_int_1 PARTITION OF r_int FOR VALUES FROM (100) TO (1000);
CREATE TABLE r_int_2 PARTITION OF r_int FOR VALUES FROM (1000) TO (MAXVALUE);
INSERT INTO r_int SELECT i FROM generate_series(-500, 5000) i;
ANALYZE;
});

# the remainder of the partition a row landed in, from its bound
my $remainder = q{(regexp_match(pg_get_expr(c.relpartbound, c.oid), 'remainder (\d+)'))[1]::int};

sub mismatches
{
	my ($table, $arg) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE memshard.hash_partition($arg, 7) IS DISTINCT FROM $remainder)
		   FROM $table t JOIN pg_class c ON c.oid = t.tableoid");
}

is(mismatches('h_int8', 'v'), '0', 'int8 rows agree with native routing');
is(mismatches('h_text', 'v'), '0', 'text rows agree with native routing');
is(mismatches('h_pair', 'ROW(a, b)'), '0', 'two-column rows agree with native routing');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE memshard.range_partition(v, ARRAY[100, 1000])
                        <> right(tableoid::regclass::text, 1)::int)
  FROM r_int}), '0', 'range rows agree with native routing');

# the same in parallel workers, which load the library on their own
my $parallel = q{
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
};
like(
	$node->safe_psql('postgres',
		$parallel . 'EXPLAIN (COSTS OFF) SELECT count(*) FROM h_text WHERE memshard.hash_partition(v, 7) = 3'),
	qr/Gather/, 'a query with hash_partition runs in parallel');
is( $node->safe_psql(
		'postgres', $parallel . q{
SELECT sum(n) FROM (
    SELECT count(*) FILTER (WHERE memshard.hash_partition(v, 7) = right(tableoid::regclass::text, 1)::int) AS n
      FROM h_text) s}),
	$node->safe_psql('postgres', 'SELECT count(*) FROM h_text'),
	'parallel workers agree with native routing');

$node->stop;
done_testing();
