# Fill: the cache under three times its budget, then a change of value sizes.
#
# Phase 1 writes more than three times pg_memshard.memory in a mix of small
# (50..500 bytes) and large (20..200 kB, most of them chained over several
# pages) values, a few SQL statements at a time.  Between statements the
# memory in use must stay within the budget; at the end evictions must have
# happened, no set may have failed, and the most recent keys must be there
# with exactly the values written (values come from a deterministic
# md5-based generator, so they can be recomputed).
#
# Phase 2 switches to values of one size none of phase 1 used (700 bytes).
# The class of that size starts with no page and must take pages from the
# classes of phase 1 (slab_stats pages_moved_in/out); reading back each
# batch right after writing it shows the hit rate recovering to 100%.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('fill');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\n"
	  . "pg_memshard.memory = 16MB\n"
	  . "pg_memshard.partitions = 4\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('fill');

-- a number in 0..n-1 that depends only on i
CREATE FUNCTION pick(i int, n int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$ SELECT ((hashint4(i)::bigint & 2147483647) % n)::int $$;

-- phase 1 value sizes: one large value (20..200 kB) in a hundred, the rest
-- small (50..500 bytes)
CREATE FUNCTION mixed_size(i int) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN i % 100 = 0 THEN 20000 + pick(i, 180001)
                ELSE 50 + pick(i, 451) END $$;

-- the value of key number i, len bytes long
CREATE FUNCTION value_of(i int, len int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT left(repeat(md5(i::text), len / 32 + 1), len) $$;
});

my $budget = $node->safe_psql('postgres', 'SELECT memory_budget FROM memshard.stats');
my ($pages_total, $page_size) = split /\|/,
  $node->safe_psql('postgres', 'SELECT pages_total, page_size FROM memshard.stats');
note "budget $budget bytes: $pages_total pages of $page_size bytes";
cmp_ok($budget, '==', 16 * 1024 * 1024, 'memory_budget is pg_memshard.memory');

# Write keys prefix||first..prefix||last with values of the given size
# expression; returns (failed sets, bytes written).
sub write_batch
{
	my ($prefix, $first, $last, $size_expr) = @_;
	my $out = $node->safe_psql(
		'postgres', qq{
SELECT count(*) FILTER (WHERE ok IS NOT TRUE), sum(len)
  FROM (SELECT memshard.set('fill', '$prefix' || i, value_of(i, len)) AS ok, len
          FROM (SELECT i, $size_expr AS len
                  FROM generate_series($first, $last) i) g) s});
	return split /\|/, $out;
}

# memory_used, payload_bytes, evictions, items
sub sample_stats
{
	return split /\|/,
	  $node->safe_psql('postgres',
		'SELECT memory_used, payload_bytes, evictions, items FROM memshard.stats');
}

# Of keys prefix||first..last (those that pass the filter on i): how many
# are missing, how many have a value other than the generated one
sub check_keys
{
	my ($prefix, $first, $last, $size_expr, $filter) = @_;
	$filter //= 'true';
	my $out = $node->safe_psql(
		'postgres', qq{
SELECT count(*) FILTER (WHERE v IS NULL),
       count(*) FILTER (WHERE v <> value_of(i, $size_expr))
  FROM (SELECT i, memshard.get('fill', '$prefix' || i) AS v
          FROM generate_series($first, $last) i
         WHERE $filter) g});
	return split /\|/, $out;
}

sub slab_snapshot
{
	my %classes;
	for my $row (
		split /\n/,
		$node->safe_psql(
			'postgres',
			'SELECT class, chunk_size, pages, chunks_used, pages_moved_in, pages_moved_out
			   FROM memshard.slab_stats ORDER BY class'))
	{
		my ($class, $chunk, $pages, $used, $in, $out) = split /\|/, $row;
		$classes{$class} = {
			chunk_size => $chunk,
			pages => $pages,
			used => $used,
			moved_in => $in,
			moved_out => $out
		};
	}
	return \%classes;
}

############################################################################
# Phase 1: three times the budget in mixed sizes
############################################################################

my $batches = 8;
my $batch_keys = 5000;
my $failed = 0;
my $written = 0;
my $over_budget = 0;
my $max_used = 0;
for my $b (0 .. $batches - 1)
{
	my ($f, $bytes) =
	  write_batch('k', $b * $batch_keys + 1, ($b + 1) * $batch_keys, 'mixed_size(i)');
	$failed += $f;
	$written += $bytes;
	my ($used, $payload, $evictions, $items) = sample_stats();
	$over_budget++ if $used > $budget || $used > $pages_total * $page_size;
	$max_used = $used if $used > $max_used;
	note "batch $b: written $written bytes, memory_used $used, payload $payload, "
	  . "items $items, evictions $evictions";
}
my $last_key = $batches * $batch_keys;

cmp_ok($written, '>=', 3 * $budget, 'phase 1 wrote three times the budget');
is($failed, 0, 'every set returned true');
is($over_budget, 0, 'memory_used never exceeded the budget');
cmp_ok($max_used, '>', $budget / 2, 'the cache did fill up');
my (undef, undef, $evictions, $items) = sample_stats();
cmp_ok($evictions, '>', 0, 'items were evicted');
cmp_ok($items, '<', $last_key, 'not every key is still there');

# the last 500 keys: about 5 large values and 500 small ones, a twentieth of
# the budget
my ($missing, $wrong) = check_keys('k', $last_key - 499, $last_key, 'mixed_size(i)');
is($missing, 0, 'the most recent keys are present');
is($wrong, 0, 'the most recent keys have exactly the values written');
my ($large_missing, $large_wrong) =
  check_keys('k', $last_key - 1999, $last_key, 'mixed_size(i)', 'i % 100 = 0');
note "of the last 20 large values: $large_missing missing, $large_wrong wrong";
is($large_wrong, 0, 'no large value came back altered');

# the counters describe what is really there
is( $node->safe_psql(
		'postgres', qq{
SELECT count(*) FROM generate_series(1, $last_key) i
 WHERE memshard.get('fill', 'k' || i) IS NOT NULL}),
	$items,
	'every item that stats counts can be read');
is( $node->safe_psql(
		'postgres',
		'SELECT count(*) FROM memshard.slab_stats
		  WHERE chunks_free < 0 OR chunks_used > pages * chunks_per_page'),
	'0',
	'no class holds more chunks than its pages have');

is( $node->safe_psql(
		'postgres',
		"SELECT evictions > 0 AND items = (SELECT items FROM memshard.stats)
		   FROM memshard.map_stats WHERE map = 'fill'"),
	't',
	'map_stats agrees with stats');

############################################################################
# Phase 2: only 700-byte values, twice the budget
############################################################################

my $before = slab_snapshot();

my $batch2_keys = 6000;
my @hit_ratios;
my $wrong2 = 0;
my $miscounted = 0;
$over_budget = 0;
$failed = 0;
for my $b (0 .. $batches - 1)
{
	my $first = $b * $batch2_keys + 1;
	my $last = ($b + 1) * $batch2_keys;
	my ($f) = write_batch('m', $first, $last, '700');
	$failed += $f;
	my ($used) = sample_stats();
	$over_budget++ if $used > $budget;

	# read the batch back: the hit rate the counters show, and every value
	# that comes back must be exact
	my ($hits0, $misses0) = split /\|/,
	  $node->safe_psql('postgres',
		"SELECT hits, misses FROM memshard.map_stats WHERE map = 'fill'");
	my ($m, $w) = check_keys('m', $first, $last, '700');
	my ($hits1, $misses1) = split /\|/,
	  $node->safe_psql('postgres',
		"SELECT hits, misses FROM memshard.map_stats WHERE map = 'fill'");
	my $hits = $hits1 - $hits0;
	my $misses = $misses1 - $misses0;
	$miscounted++ if $misses != $m || $hits != $batch2_keys - $m;
	$wrong2 += $w;
	push @hit_ratios, $hits / ($hits + $misses);
	note sprintf("phase 2 batch %d: hit ratio %.3f, memory_used %d", $b,
		$hit_ratios[-1], $used);
}
is($failed, 0, 'phase 2: every set returned true');
is($over_budget, 0, 'phase 2: memory_used never exceeded the budget');
is($wrong2, 0, 'phase 2: every value read back is exact');
is($miscounted, 0, 'phase 2: map_stats counted every hit and miss');

my $after = slab_snapshot();
# slab_stats may leave out a class that has never had a page
for my $c (keys %$after)
{
	$before->{$c} //= { pages => 0, used => 0, moved_in => 0, moved_out => 0 };
}
my %old_pages = map { $_ => $before->{$_}{pages} } keys %$before;
# the class of the 700-byte items: the one holding most items now
my ($new_class) =
  sort { $after->{$b}{used} <=> $after->{$a}{used} } keys %$after;
my $new = $after->{$new_class};
note "class $new_class (chunk $new->{chunk_size}): pages $old_pages{$new_class} -> "
  . "$new->{pages}, moved in $before->{$new_class}{moved_in} -> $new->{moved_in}";
cmp_ok($new->{chunk_size}, '>=', 700, 'the new class holds 700-byte values');
cmp_ok($new->{chunk_size}, '<', 800, 'the new class is not much larger');
cmp_ok($new->{pages}, '>', $old_pages{$new_class} + $pages_total / 2,
	'the new class grew to more than half of all pages');
cmp_ok($new->{moved_in}, '>', $before->{$new_class}{moved_in},
	'pages moved into the new class');

my ($moved_out_before, $moved_out_after, $old_shrunk) = (0, 0, 0);
for my $c (keys %$before)
{
	next if $c == $new_class;
	$moved_out_before += $before->{$c}{moved_out};
	$moved_out_after += $after->{$c}{moved_out} // 0;
	$old_shrunk += $old_pages{$c} - ($after->{$c}{pages} // 0);
}
cmp_ok($moved_out_after, '>', $moved_out_before,
	'pages moved out of the classes of phase 1');
cmp_ok($old_shrunk, '>', $pages_total / 2,
	'the classes of phase 1 gave up more than half of all pages');

cmp_ok($hit_ratios[-1], '==', 1, 'the hit rate recovered: the last batch is all there');
cmp_ok($hit_ratios[-1], '>=', $hit_ratios[0], 'the hit rate did not fall');

# what the new mix keeps: most of the memory, no stranded pages
my ($m2) = check_keys('m', 1, $batches * $batch2_keys, '700');
my $kept = $batches * $batch2_keys - $m2;
my $capacity = $pages_total * int($page_size / $new->{chunk_size});
note "700-byte values kept: $kept of a possible $capacity";
cmp_ok($kept, '>=', 0.8 * $capacity,
	'the new mix holds at least 80% of what the whole budget could');

$node->stop;
done_testing();
