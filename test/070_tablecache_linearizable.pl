# The table cache is linearizable for readers that start after a commit
# (issue 14, guarantees 1 and 7): one session commits UPDATEs of a counter
# through a second connection (dblink, so COMMIT has returned when the call
# does) and right after each one reads the row with get_row, which must
# show the value just committed.  Meanwhile two pgbench clients hammer
# get_row on the same keys through a cache far too small for them (a map
# quota of a few dozen rows for 64 keys): items are evicted and refilled all
# the time, and fills race the writer's commits.  Thousands of rounds, not
# one stale read.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TablecacheRace;

my $keys = 64;
my $seconds = 15;

my $node = PostgreSQL::Test::Cluster->new('tc_linear');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 8MB
pg_memshard.partitions = 2
pg_memshard.tablecache_marks = 1024
});
$node->start;

$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_memshard;
CREATE EXTENSION dblink;
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, pad text NOT NULL);
INSERT INTO counters SELECT i, 0, repeat('x', 400) FROM generate_series(1, $keys) i;
SELECT memshard.cache_table('counters', max_memory => 16384);
});

my ($rounds, $stale, $first, $hammer_ok, $err) =
  commit_then_read($node, $keys, $seconds);

note "rounds: $rounds, stale reads: $stale";
cmp_ok($rounds, '>=', 1000, 'thousands of commit-then-read rounds');
is($stale, 0, 'no get_row after a COMMIT returned the old row') or diag $first;
ok($hammer_ok, 'the readers ran without error') or diag $err;

# the readers really raced the writer on a cache that evicts
my ($hits, $misses, $fills, $refused, $items) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT hits, misses, fills, fills_refused, items FROM memshard.cached_tables");
note "hits $hits, misses $misses, fills $fills, fills refused $refused, items $items";
cmp_ok($hits, '>', 0, 'reads were served from the cache');
cmp_ok($fills, '>', $rounds, 'rows were filled again and again (evictions and invalidations)');
cmp_ok($items, '<', $keys, 'the cache holds fewer rows than the readers use');

# and the cache agrees with the table at the end
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM counters c WHERE memshard.get_row(NULL::counters, c.id) IS DISTINCT FROM c"),
	0, 'every row read through the cache equals the table');

$node->stop;
done_testing();
