# A table cached over two nodes (issue 14, guarantees 1, 7 and 8): its rows
# live on the node holding each key's shard, the table and its readers and
# writers on node 1.
#
# - every row read through the cache, from either node's memory, equals the
#   table's;
# - linearizable as on one node: commits through another connection, each
#   followed by get_row, while two readers hammer the same keys on small
#   quotas, with thousands of rounds and no stale read;
# - node 2 unreachable (node 1's server entry for it pointing nowhere)
#   while it keeps its copies: writers commit at once, get_row reads the
#   table for node 2's keys; once node 2 is back its copies are old, and
#   not one is served (the versions on node 1 fence them); node 2 stopped:
#   the same, each read of its keys bounded by the timeouts;
# - uncache_table drops the map on both nodes and frees node 2's items.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MemshardCluster;
use TablecacheRace;

my $keys = 64;
my $seconds = 10;

my @nodes = start_nodes('tcn', 2, qq{
pg_memshard.memory = 8MB
pg_memshard.connect_timeout = 1s
pg_memshard.remote_timeout = 3s
log_statement = none
});
my ($n1, $n2) = @nodes;
for my $node (@nodes)
{
	$node->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n" . server_sql(\@nodes));
}
$n1->safe_psql('postgres', "SELECT memshard.add_node('n1'), memshard.add_node('n2')");

$n1->safe_psql('postgres', qq{
CREATE EXTENSION dblink;
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, pad text NOT NULL);
INSERT INTO counters SELECT i, 0, repeat('x', 300) FROM generate_series(1, $keys) i;
});
is( $n1->safe_psql('postgres',
		"SELECT memshard.cache_table('counters', nodes => ARRAY['n1', 'n2'], max_memory => 8192)"),
	'table:public.counters', 'cache_table over two nodes');
is( $n2->safe_psql('postgres',
		"SELECT count(DISTINCT node) FROM memshard.shards WHERE map = 'table:public.counters'"),
	'2', 'node 2 knows the map and its shards on both nodes');

my $stale_sql = "SELECT count(*) FROM counters c "
  . "WHERE memshard.get_row(NULL::counters, c.id) IS DISTINCT FROM c";
sub figures
{
	return split /\|/, $n1->safe_psql('postgres',
		'SELECT hits, misses, fills, bypasses FROM memshard.cached_tables');
}
sub items_on_n2
{
	return $n2->safe_psql('postgres', 'SELECT items FROM memshard.stats');
}

is($n1->safe_psql('postgres', $stale_sql), '0', 'first reads: every row equals the table');
is($n1->safe_psql('postgres', $stale_sql), '0', 'second reads too');
my ($hits, $misses, $fills) = figures();
cmp_ok($hits, '>', 0, 'second reads hit');
cmp_ok(items_on_n2(), '>', 0, 'node 2 holds rows of the table');

# --- linearizability over the two nodes ---
my ($rounds, $stale, $first, $hammer_ok, $err) =
  commit_then_read($n1, $keys, $seconds);
note "two nodes: rounds $rounds, stale reads $stale";
cmp_ok($rounds, '>=', 1000, 'thousands of commit-then-read rounds over two nodes');
is($stale, 0, 'no get_row after a COMMIT returned the old row') or diag $first;
ok($hammer_ok, 'the readers ran without error') or diag $err;
($hits, $misses, $fills) = figures();
note "hits $hits, misses $misses, fills $fills";
is($n1->safe_psql('postgres', $stale_sql), '0', 'after the race every row equals the table');

# --- node 2 unreachable while it keeps its copies ---
is($n1->safe_psql('postgres', $stale_sql), '0', 'rows cached again on both nodes');
my $n2_items = items_on_n2();
my $n2_port = $n2->port;
$n1->safe_psql('postgres', "ALTER SERVER n2 OPTIONS (SET port '1')");
my $started = time;
$n1->safe_psql('postgres', 'UPDATE counters SET n = n + 1000');
cmp_ok(time - $started, '<', 1, 'a writer commits at once while node 2 cannot be reached');
is($n1->safe_psql('postgres', $stale_sql), '0',
	'node 2 unreachable: its keys are read from the table');
is(items_on_n2(), $n2_items, 'node 2 still holds its (old) copies');
$n1->safe_psql('postgres', "ALTER SERVER n2 OPTIONS (SET port '$n2_port')");
sleep 2;	# past connect_timeout: node 1 asks node 2 again
my ($hits0, $misses0) = figures();
is($n1->safe_psql('postgres', $stale_sql), '0',
	'node 2 back with its old copies: not one of them is served');
my ($hits1, $misses1) = figures();
cmp_ok($misses1 - $misses0, '>', 0, 'the old copies were found and refused');
is($n1->safe_psql('postgres', $stale_sql), '0', 'refilled: every row equals the table');

# --- node 2 stopped ---
$n2->stop;
$started = time;
$n1->safe_psql('postgres', 'UPDATE counters SET n = n + 1');
cmp_ok(time - $started, '<', 1, 'a writer commits at once while node 2 is down');
$started = time;
is($n1->safe_psql('postgres', $stale_sql), '0', 'node 2 down: every row equals the table');
cmp_ok(time - $started, '<', 6, 'one timeout, not one per key');
$n2->start;
sleep 2;
is($n1->safe_psql('postgres', $stale_sql), '0', 'node 2 restarted (empty): rows cached again');

# --- uncache_table ---
cmp_ok(items_on_n2(), '>', 0, 'node 2 holds rows again');
is($n1->safe_psql('postgres', "SELECT memshard.uncache_table('counters')"), 't', 'uncache_table');
is( $n2->safe_psql('postgres',
		"SELECT count(*) FROM memshard.maps WHERE name = 'table:public.counters'"),
	'0', 'the map is gone from node 2');
is(items_on_n2(), '0', "node 2's rows are freed");

$_->stop for @nodes;
done_testing();
