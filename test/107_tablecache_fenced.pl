# The table cache on a fenced node (issue 13): a node whose metadata epoch
# is older than one it saw elsewhere (left behind by a failover) may hold
# cached rows of shards given to others since, and must not serve them.
#
# - peer side: a fenced node refuses peer_tc_get and peer_tc_set, as the
#   other peer_* functions; the table's node then reads the table (a
#   WARNING says why), and every row read is the table's;
# - local side: get_row of a table cached over nodes on a fenced node reads
#   the table, bypassing the cache (its own memory and the other nodes'):
#   no hit, no fill, every row right.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my $keys = 64;
my @nodes = start_nodes('tcf', 2, qq{
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
$n1->safe_psql('postgres', q{
SELECT memshard.add_node('n1'), memshard.add_node('n2');
SELECT memshard.create_map('m', shard_count => 4, nodes => ARRAY['n1', 'n2']);
});
$n1->safe_psql('postgres', qq{
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
INSERT INTO counters SELECT i, i FROM generate_series(1, $keys) i;
SELECT memshard.cache_table('counters', nodes => ARRAY['n1', 'n2'], max_memory => 8192);
});

my $stale_sql = "SELECT count(*) FROM counters c "
  . "WHERE memshard.get_row(NULL::counters, c.id) IS DISTINCT FROM c";
sub figures
{
	return split /\|/, $n1->safe_psql('postgres',
		'SELECT hits, misses, fills, bypasses FROM memshard.cached_tables');
}
sub items_on
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT items FROM memshard.stats');
}

is($n1->safe_psql('postgres', $stale_sql), '0', 'first reads fill the cache');
is($n1->safe_psql('postgres', $stale_sql), '0', 'second reads');
my ($hits0) = figures();
cmp_ok($hits0, '>=', $keys, 'second reads hit, on both nodes');
my $n2_items = items_on($n2);
cmp_ok($n2_items, '>', 0, 'node 2 holds rows of the table');

# node 2 hears of a newer epoch (as from a node that promoted it away):
# fenced until it rejoins
my ($rc, $out, $err) = $n2->psql('postgres',
	"SET pg_memshard.peer_epoch = 100000; SELECT memshard.peer_get('m', 'k1')");
like($err, qr/node "n2" is fenced/, 'node 2 is fenced');
is($n2->safe_psql('postgres', 'SELECT fenced FROM memshard.failover_stats'), 't',
	'failover_stats says so');

# --- peer side: node 2 serves and stores nothing ---
$n1->safe_psql('postgres', 'UPDATE counters SET n = n + 1000');
($rc, $out, $err) = $n1->psql('postgres', $stale_sql);
is($out, '0', 'node 2 fenced: every row read equals the table');
like($err, qr/the table cache read the table instead: n2: node "n2" is fenced/,
	'node 2 refused the calls: a WARNING says why');
my ($hits1, $misses1, $fills1) = figures();
($rc, $out, $err) = $n1->psql('postgres', $stale_sql);
is($out, '0', 'read again: every row equals the table');
my ($hits2) = figures();
cmp_ok($hits2 - $hits1, '<', $keys, 'the keys of node 2 are not served from its cache');
is(items_on($n2) <= $n2_items ? 'ok' : 'more', 'ok', 'node 2 stored no new row');
my ($rc2, $out2, $err2) = $n2->psql('postgres',
	"SELECT memshard.peer_tc_get('table:public.counters', '\\x00'::bytea)");
like($err2, qr/node "n2" is fenced/, 'peer_tc_get on a fenced node is refused');
($rc2, $out2, $err2) = $n2->psql('postgres',
	"SELECT memshard.peer_tc_set('table:public.counters', '\\x00'::bytea, '\\x00'::bytea, 0)");
like($err2, qr/node "n2" is fenced/, 'peer_tc_set on a fenced node is refused');

# --- local side: node 1 fenced reads the table, not its cache ---
($rc, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.peer_epoch = 100000; SELECT memshard.peer_get('m', 'k1')");
like($err, qr/node "n1" is fenced/, 'node 1 is fenced too');
my ($hits3, $misses3, $fills3, $bypasses3) = figures();
is($n1->safe_psql('postgres', $stale_sql), '0', 'node 1 fenced: every row equals the table');
my ($hits4, $misses4, $fills4, $bypasses4) = figures();
is($hits4 - $hits3, 0, 'no row served from a cache');
is($fills4 - $fills3, 0, 'none stored');
is($misses4 - $misses3, 0, 'and no miss: every read went to the table directly');
$n1->safe_psql('postgres', 'UPDATE counters SET n = n + 1');
is($n1->safe_psql('postgres', $stale_sql), '0', 'a commit, then every row is the new one');

done_testing();
