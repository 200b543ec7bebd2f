# repair(): a node whose state is not 'active' (the failover marks a dead
# primary 'failed') holds copies that no longer count; repair() makes them
# again on live nodes that hold no copy of the shard, copied online from a
# live copy while a session writes, until every shard has its replicas.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_cluster('rp', 4,
	"pg_memshard.memory = 16MB\nlog_statement = none\npg_memshard.restart = cold\n");
my ($n1, $n2, $n3, $n4) = @nodes;

$n1->safe_psql('postgres', q{
SELECT memshard.create_map('r', shard_count => 8, replicas => 2, nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.mset('r', array_agg('k' || i), array_agg('v' || i)) FROM generate_series(1, 3000) i;
});
my $on_n3 = $n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE map = 'r' AND node = 'n3'");
cmp_ok($on_n3, '>', 2, "node 3 holds $on_n3 copies");

# nothing to repair while every node is active
is($n1->safe_psql('postgres', 'SELECT memshard.repair()'), '0', 'nothing to repair');

# node 3 is marked failed (as the failover would) on every node
$_->safe_psql('postgres', "UPDATE memshard.node_catalog SET state = 'failed' WHERE server = 'n3'")
  for @nodes;

# a session on node 2 writes while node 1 repairs
my $bg = $n2->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
\echo started
DO $$
DECLARE i int := 0;
BEGIN
    WHILE memshard.get('r', 'stop') IS NULL OR i < 300 LOOP
        i := i + 1;
        PERFORM memshard.set('r', 'k' || (1 + i % 3000), 'w' || i);
    END LOOP;
END
$$;
\echo finished
});
is($n1->safe_psql('postgres', 'SELECT memshard.repair()'), $on_n3,
	'repair() makes every copy of node 3 again');
$n1->safe_psql('postgres', "SELECT memshard.set('r', 'stop', '1')");
$bg->query_until(qr/finished/, '');
$bg->quit;

is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'"),
	'0', 'no copy is placed on the failed node');
is($n2->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT shard FROM memshard.shards WHERE map = 'r' GROUP BY shard HAVING count(DISTINCT node) = 2) x"),
	'8', 'every shard has its two copies on distinct nodes');
# node 3 is failed: metadata changes skip it (it takes the metadata when it
# rejoins), so the live nodes only
same_metadata('after the repair', $n1, $n2, $n4);

# each copy holds what the other holds (read each node's own copy)
my $copies = q{
SELECT s.shard, n.server,
       md5(string_agg(k || '=' || encode(memshard.peer_get('r', k), 'escape'), ',' ORDER BY k))
  FROM memshard.shards s
  JOIN memshard.nodes n ON n.server = s.node AND n.is_local
  CROSS JOIN LATERAL (SELECT 'k' || i AS k FROM generate_series(1, 3000) i
                       WHERE memshard.shard_for('r', 'k' || i) = s.shard) keys
 WHERE s.map = 'r'
 GROUP BY 1, 2};
my %digest;
for my $node ($n1, $n2, $n4)
{
	for my $row (split /\n/, $node->safe_psql('postgres', $copies))
	{
		my ($shard, $server, $md5) = split /\|/, $row;
		push @{ $digest{$shard} }, $md5;
	}
}
is(scalar(grep { @{ $digest{$_} } == 2 && $digest{$_}[0] eq $digest{$_}[1] } keys %digest),
	8, 'the two copies of every shard hold the same items');
is($n4->safe_psql('postgres',
	"SELECT count(*) FROM memshard.mget('r', (SELECT array_agg('k' || i) FROM generate_series(1, 3000) i)) WHERE value IS NOT NULL"),
	'3000', 'every key reads back');
is($n1->safe_psql('postgres', 'SELECT memshard.repair()'), '0', 'a second repair finds nothing');

done_testing();
