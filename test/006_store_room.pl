# Room for every set of an evictable map, and no eviction while the cache
# is mostly free (issue 9, part 2).
#
# On an 8MB cache:
# - 141 small items of 141 sizes 4 bytes apart (a size class each), then a
#   70 kB item: every set succeeds and nothing is evicted;
# - a cache filled with items of a thousand sizes, nine in ten deleted: 60
#   items of 70 kB then find room in the pages the deleted items left
#   sparse (they are emptied by moving what is left on them), nothing is
#   evicted;
# - randomized fills (log-uniform sizes, 1 byte .. pg_memshard.max_item_size,
#   three seeds): every set succeeds, and no item is evicted before
#   memory_used is 85% of memory_budget.
# On a 64MB cache (the default): a load of values of every size from 0 to
# 4000 bytes, far over the budget, then 300 sets of 70 kB, one statement
# each: all succeed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $small = PostgreSQL::Test::Cluster->new('room8');
$small->init;
$small->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 8MB\n");
$small->start;
$small->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');

# items, memory_used, evictions, memory_budget
sub stats
{
	my ($node) = @_;
	return split /\|/,
	  $node->safe_psql('postgres',
		'SELECT items, memory_used, evictions, memory_budget FROM memshard.stats');
}

############################################################################
# 141 size classes, then a value over one page
############################################################################

$small->safe_psql('postgres', q{SELECT memshard.create_map('lru1')});
is( $small->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE memshard.set('lru1', 'p' || s, repeat('x', 20 + 4 * s)))
  FROM generate_series(0, 140) s}),
	'141',
	'141 small sets of 141 sizes succeed');
my ($items, $used, $evictions) = stats($small);
is($evictions, 0, 'none of the 141 small items was evicted');

my ($rc, $out, $err) = $small->psql('postgres',
	q{SELECT memshard.set('lru1', 'big', repeat('A', 70000))});
is($rc, 0, 'a 70 kB set into the lru map succeeds') or diag($err);
is( $small->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE memshard.get('lru1', 'p' || s) = repeat('x', 20 + 4 * s)),
       memshard.get('lru1', 'big') = repeat('A', 70000)
  FROM generate_series(0, 140) s}),
	'141|t',
	'all 141 small items and the large one are there, exact');
(undef, undef, $evictions) = stats($small);
is($evictions, 0, 'still nothing evicted');

############################################################################
# sparse pages: a full cache, nine items in ten deleted, then 70 kB values
############################################################################

$small->safe_psql('postgres', q{
SELECT memshard.drop_map('lru1');
SELECT memshard.create_map('sparse');
SELECT count(memshard.set('sparse', 's' || s, repeat('y', (s * 37) % 1000)))
  FROM generate_series(1, 16000) s;
SELECT count(memshard.delete('sparse', 's' || s))
  FROM generate_series(1, 16000) s WHERE s % 10 <> 0;
});
my ($items_before, $used_before, $evictions_before, $budget) = stats($small);
note "after the deletes: $items_before items, memory_used $used_before of $budget";
is( $small->safe_psql(
		'postgres',
		'SELECT pages_free FROM memshard.stats'),
	'0',
	'every page belongs to some class');
cmp_ok($used_before, '<', $budget / 5, 'the cache is mostly free chunks');
is( $small->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE memshard.set('sparse', 'big' || s, repeat('B', 70000)))
  FROM generate_series(1, 60) s}),
	'60',
	'60 sets of 70 kB succeed');
my ($items_after, $used_after, $evictions_after) = stats($small);
is($evictions_after, $evictions_before,
	'no item was evicted to make room for them');
is($items_after, $items_before + 60, 'every item is still there');
is( $small->safe_psql(
		'postgres', q{
SELECT count(*) FILTER (WHERE memshard.get('sparse', 'big' || s) = repeat('B', 70000))
  FROM generate_series(1, 60) s}),
	'60',
	'the 70 kB values read back exact');
cmp_ok(
	$small->safe_psql('postgres', 'SELECT sum(pages_moved_in) FROM memshard.slab_stats'),
	'>', 0, 'pages moved to the class of the large values');

############################################################################
# randomized fills of sizes 1 B .. max_item_size
############################################################################

$small->safe_psql(
	'postgres', q{
SELECT memshard.drop_map('sparse');
CREATE TABLE fill_log (seed float8, i int, size int, ok bool,
                       used_before bigint, evictions_before bigint);

-- sets of n keys with log-uniform sizes 1 .. max_item_size (key included);
-- before each set, what memshard.stats shows
CREATE PROCEDURE fill(map text, seed float8, n int)
LANGUAGE plpgsql AS $$
DECLARE
    maxv int := (SELECT setting::int FROM pg_settings
                  WHERE name = 'pg_memshard.max_item_size') - 8;
    size int;
    ok bool;
    st record;
BEGIN
    PERFORM setseed(seed);
    FOR i IN 1..n LOOP
        size := least(maxv, floor(exp(random() * ln(maxv + 1)))::int);
        SELECT memory_used, evictions INTO st FROM memshard.stats;
        BEGIN
            ok := memshard.set(map, 'k' || i, repeat(chr(65 + i % 26), size));
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'set % of % bytes failed: %', i, size, SQLERRM;
            ok := false;
        END;
        INSERT INTO fill_log VALUES (seed, i, size, ok, st.memory_used, st.evictions);
    END LOOP;
END $$;
});

for my $seed (0.42, 0.1, 0.7)
{
	$small->safe_psql('postgres', qq{
SELECT memshard.create_map('fill');
SELECT memshard.stats_reset();
CALL fill('fill', $seed, 500);
});
	my ($sets, $failed, $bytes) = split /\|/,
	  $small->safe_psql('postgres', qq{
SELECT count(*), count(*) FILTER (WHERE NOT ok), sum(size)
  FROM fill_log WHERE seed = $seed});
	(undef, undef, undef, $budget) = stats($small);
	cmp_ok($bytes, '>', 3 * $budget, "seed $seed: the fill wrote over three times the budget");
	is($failed, 0, "seed $seed: every one of the $sets sets succeeded");

	# the set that evicted first: the last one that found no eviction before it
	my ($first, $share) = split /\|/,
	  $small->safe_psql('postgres', qq{
SELECT i, round(used_before::numeric / $budget, 3) FROM fill_log
 WHERE seed = $seed AND i = (SELECT min(i) - 1 FROM fill_log
                              WHERE seed = $seed AND evictions_before > 0)});
	note "seed $seed: first eviction by set $first, memory_used $share of the budget";
	cmp_ok($share, '>=', 0.85,
		"seed $seed: nothing was evicted before the cache was 85% used");

	# the cache tells the truth about what it holds
	my ($items_now) = stats($small);
	is( $small->safe_psql('postgres', qq{
SELECT count(*) FROM fill_log
 WHERE seed = $seed AND memshard.get('fill', 'k' || i) = repeat(chr(65 + i % 26), size)}),
		$items_now,
		"seed $seed: every item counted is there with its value");
	$small->safe_psql('postgres', q{SELECT memshard.drop_map('fill')});
}
is( $small->safe_psql(
		'postgres',
		'SELECT count(*) FROM memshard.slab_stats
		  WHERE chunks_free < 0 OR chunks_used > pages * chunks_per_page'),
	'0',
	'no class holds more chunks than its pages have');
$small->stop;

############################################################################
# 64MB: 70 kB values after a load of every size up to 4000 bytes
############################################################################

my $node = PostgreSQL::Test::Cluster->new('room64');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_memshard'\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('m');
SELECT count(memshard.set('m', 's' || s, repeat('x', (s * 37) % 4001)))
  FROM generate_series(1, 60000) s;
});
(undef, undef, $evictions) = stats($node);
cmp_ok($evictions, '>', 0, 'the load went over the budget');

my $failures = 0;
for my $s (1 .. 300)
{
	my ($rc) = $node->psql('postgres',
		qq{SELECT memshard.set('m', 'big$s', repeat('A', 70000))});
	$failures++ if $rc != 0;
}
is($failures, 0, '300 sets of 70 kB, one statement each, all succeed');
cmp_ok(
	$node->safe_psql('postgres', q{
SELECT count(*) FROM generate_series(291, 300) s
 WHERE memshard.get('m', 'big' || s) = repeat('A', 70000)}),
	'==', 10, 'the last ten are there');
$node->stop;

done_testing();
