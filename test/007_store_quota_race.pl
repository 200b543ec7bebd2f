# Replacing sets on a map with a quota, under concurrent CLOCK sweeps
# (issue 9, part 4).
#
# A write replacing an item of a map at its max_memory makes room by
# evicting the map's other items, while other backends' CLOCK sweeps (which
# hold a class lock, not the partition lock) clear reference bytes.  The
# replaced item used to be pinned with its reference byte, which a sweep
# could overwrite; the quota eviction then freed it and the writer
# dereferenced a NULL link.  Now nothing marks it: the quota sweep skips
# the key being written.
#
# pgbench clients at once, on a small cache with two partitions: writers
# replacing the values of a few hundred keys of map 'q' (a quota of 64 kB,
# values of 40..400 bytes, so that every write evicts), readers of those
# keys (setting reference bytes), and writers of new keys of map 'o' with
# values of the same sizes (the cache is full: their classes sweep over the
# chunks of 'q' items too), and incr of counters in 'q'.  Afterwards the
# server must be the one that started (no backend crashed), every value of
# 'q' must be one that was written for its key, 'q' within its quota, and
# the counters must agree with what can be read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $quota = 65536;
my $node = PostgreSQL::Test::Cluster->new('quota_race');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\n"
	  . "pg_memshard.memory = 4MB\n"
	  . "pg_memshard.partitions = 2\n"
	  . "max_connections = 20\n");
$node->start;
my $pid = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('q', max_memory => $quota);
SELECT memshard.create_map('o');
-- a value written for key k: the key, a number, padding of 40..400 bytes
CREATE FUNCTION val(k text, n int) RETURNS text LANGUAGE sql IMMUTABLE
    AS \$\$ SELECT k || ':' || n || ':' || repeat('v', 40 + n % 361) \$\$;
SELECT count(memshard.set('o', 'o' || i, val('o' || i, i))) FROM generate_series(1, 20000) i;
});

my %scripts = (
	'007_replace' => q{
\set k random(1, 300)
\set n random(1, 1000000)
SELECT memshard.set('q', 'q' || :k, val('q' || :k, :n));
},
	'007_read' => q{
\set k random(1, 300)
SELECT memshard.get('q', 'q' || :k);
},
	'007_other' => q{
\set k random(1, 10000000)
SELECT memshard.set('o', 'o' || :k, val('o' || :k, :k));
},
	'007_incr' => q{
\set k random(1, 20)
SELECT memshard.incr('q', 'n' || :k, 1);
});

$node->pgbench(
	'-n -c 6 -j 3 -T 20',
	0,
	[qr{processed: [1-9]}],
	[qr{^$}],
	'pgbench clients ran without error',
	{ map { ("$_\@" . ($_ eq '007_replace' ? 4 : $_ eq '007_other' ? 3 : 2)) => $scripts{$_} } keys %scripts });

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$pid, 'no backend crashed (the postmaster did not reinitialize)');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC/, 'no backend died');

my ($items, $used) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT items, memory_used FROM memshard.map_stats WHERE map = 'q'");
cmp_ok($used, '<=', $quota, "map q is within its quota ($used bytes)");
cmp_ok($items, '>', 0, 'map q holds items');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM (
    SELECT 'q' || k AS key, memshard.get('q', 'q' || k) AS v FROM generate_series(1, 300) k
    UNION ALL
    SELECT 'n' || k, memshard.get('q', 'n' || k) FROM generate_series(1, 20) k) s
 WHERE v IS NOT NULL}),
	$items,
	'map_stats counts the items of q that can be read');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM generate_series(1, 300) k, memshard.get('q', 'q' || k) v
 WHERE v IS NOT NULL
   AND v <> val('q' || k, split_part(v, ':', 2)::int)}),
	'0',
	'every value of q is one written for its key');
is( $node->safe_psql(
		'postgres', q{
SELECT count(*) FROM generate_series(1, 20) k, memshard.get('q', 'n' || k) v
 WHERE v IS NOT NULL AND v !~ '^[0-9]+$'}),
	'0',
	'the counters of q hold numbers');
is( $node->safe_psql(
		'postgres', q{
SELECT (SELECT items FROM memshard.stats) = (SELECT sum(items) FROM memshard.map_stats)
   AND (SELECT memory_used FROM memshard.stats) = (SELECT sum(memory_used) FROM memshard.map_stats)
   AND (SELECT sum(chunks_used) FROM memshard.slab_stats) >= (SELECT items FROM memshard.stats)}),
	't',
	'the cache, map and class counters agree');
is( $node->safe_psql(
		'postgres',
		'SELECT count(*) FROM memshard.slab_stats
		  WHERE chunks_free < 0 OR chunks_used > pages * chunks_per_page'),
	'0',
	'no class holds more chunks than its pages have');
cmp_ok(
	$node->safe_psql('postgres', "SELECT evictions FROM memshard.map_stats WHERE map = 'q'"),
	'>', 0, 'map q evicted its own items to stay within its quota');

$node->stop;
done_testing();
