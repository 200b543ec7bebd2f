# Shard figures over a cluster of three nodes: node_shard_stats asks every
# node in parallel; shard_stats shows each placement with what its node
# holds; skew compares the nodes; metrics() tells which nodes are up.  With
# a node down, its rows show the error and the other nodes still report,
# within the connect timeout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MemshardCluster;

# cold: a node that was stopped comes back empty (warm restart: test/044)
my @nodes = start_nodes('skew', 3,
	"pg_memshard.memory = 16MB\npg_memshard.connect_timeout = 2s\npg_memshard.restart = cold\n");
my ($n1, $n2, $n3) = @nodes;

my $servers = server_sql(\@nodes);
$_->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n$servers") for @nodes;
$n1->safe_psql('postgres',
	"SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3')");

# In a cluster a map created without nodes has all its shards on the node
# that created it: node 1 here.  Its keys, set from node 2, land there.
$n1->safe_psql('postgres', "SELECT memshard.create_map('one', shard_count => 4)");
$n2->safe_psql('postgres',
	"SELECT count(memshard.set('one', 'k' || g, 'value')) FROM generate_series(1, 100) g");
is( $n1->safe_psql('postgres', q{
		SELECT string_agg(format('%s:%s:%s', node, is_local, sum), ' ' ORDER BY node)
		  FROM (SELECT node, is_local, sum(items) FROM memshard.node_shard_stats('one')
		         WHERE error IS NULL GROUP BY node, is_local) s}),
	'n1:t:100 n2:f:0 n3:f:0',
	'node_shard_stats asks every node, this one from its own store');
is( $n1->safe_psql('postgres', q{
		SELECT string_agg(DISTINCT node, ',') FROM memshard.node_shard_stats('one', '{n2,n3}')}),
	'n2,n3', 'node_shard_stats asks only the nodes named');
is( $n2->safe_psql('postgres', q{
		SELECT string_agg(DISTINCT node, ',') || ':' || sum(items) || ':' || count(*)
		  FROM memshard.shard_stats WHERE map = 'one'}),
	'n1:100:4',
	'shard_stats of a map on one node: that node, its items, every shard');

# A map over the three nodes, six shards; the keys go where the router
# sends them, those on node 3 with values ten times larger.
my $keys = 600;
$n1->safe_psql('postgres', qq{
	SELECT memshard.create_map('dist', shard_count => 6, nodes => '{n1,n2,n3}');
	SELECT count(memshard.set('dist', k,
	                          repeat('v', CASE WHEN memshard.node_for('dist', k) = 'n3' THEN 300 ELSE 30 END)))
	  FROM (SELECT 'key' || g AS k FROM generate_series(1, $keys) g) keys;
});

# shard:node:items, from the partitioning functions and the shards view
my $expected_rows = $n1->safe_psql('postgres', qq{
	SELECT string_agg(format('%s:%s:%s', s.shard, s.node, coalesce(k.items, 0)), ' ' ORDER BY s.shard)
	  FROM memshard.shards s
	  LEFT JOIN (SELECT memshard.hash_partition('key' || g, 6) AS shard, count(*) AS items
	               FROM generate_series(1, $keys) g GROUP BY 1) k USING (shard)
	 WHERE s.map = 'dist'});
my $shard_rows = q{
	SELECT string_agg(format('%s:%s:%s', shard, node, coalesce(items::text, 'error')), ' ' ORDER BY shard)
	  FROM memshard.shard_stats WHERE map = 'dist'};
is($n2->safe_psql('postgres', $shard_rows), $expected_rows,
	'shard_stats: each placement with the items its node holds');

my $skew = q{
	SELECT string_agg(format('%s:%s:%s:%s', node, shards, items, error IS NOT NULL), ' ' ORDER BY node)
	  FROM memshard.skew('dist')};
my $n3_items = $n1->safe_psql('postgres', qq{
	SELECT count(*) FROM generate_series(1, $keys) g
	 WHERE memshard.node_for('dist', 'key' || g) = 'n3'});
like($n1->safe_psql('postgres', $skew), qr/^n1:2:\d+:f n2:2:\d+:f n3:2:$n3_items:f$/,
	'skew: one row per node, its shards and items');
my ($max_mean, $n3_ratio) = split /\|/, $n1->safe_psql('postgres', q{
	SELECT round(max_mean_ratio::numeric, 6), round(bytes_ratio::numeric, 6)
	  FROM memshard.skew('dist') WHERE node = 'n3'});
ok($max_mean > 2, "the node with ten times larger values stands out (max/mean $max_mean)");
is($n3_ratio, $max_mean, 'and it is the largest node');

my $node_up = q{
	SELECT string_agg(line, ' ' ORDER BY line)
	  FROM regexp_split_to_table(memshard.metrics(), E'\n') line
	 WHERE line LIKE 'pg\_memshard\_node\_up%'};
is($n2->safe_psql('postgres', $node_up),
	'pg_memshard_node_up{node="n1"} 1 pg_memshard_node_up{node="n2"} 1 pg_memshard_node_up{node="n3"} 1',
	'metrics(): every node reachable');

# ---- node 3 down ----
$n3->stop;
is($n2->safe_psql('postgres', $node_up),
	'pg_memshard_node_up{node="n1"} 1 pg_memshard_node_up{node="n2"} 1 pg_memshard_node_up{node="n3"} 0',
	'metrics(): node 3 unreachable');
like( $n2->safe_psql('postgres',
		q{SELECT error FROM memshard.cluster_stats WHERE node = 'n3'}),
	qr/n3/, 'cluster_stats names the node in its error');
my $start = time();
my $rows = $n1->safe_psql('postgres', $shard_rows);
my $elapsed = time() - $start;
(my $expected_down = $expected_rows) =~ s/(\d+):n3:\d+/$1:n3:error/g;
is($rows, $expected_down, 'node 3 down: its placements show an error, the others report');
ok($elapsed < 10, sprintf('answered within the timeouts (%.1f s)', $elapsed));
like( $n1->safe_psql('postgres',
		q{SELECT DISTINCT error FROM memshard.shard_stats WHERE map = 'dist' AND node = 'n3'}),
	qr/n3/, 'the error names the node');
is( $n1->safe_psql('postgres',
		q{SELECT count(*) FROM memshard.shard_stats WHERE map = 'dist' AND node <> 'n3' AND error IS NOT NULL}),
	'0', 'no error on the nodes that answered');
like($n1->safe_psql('postgres', $skew), qr/^n1:2:\d+:f n2:2:\d+:f n3:2::t$/,
	'skew: node 3 shows its error, nodes 1 and 2 their figures');
is( $n1->safe_psql('postgres', q{
		SELECT round(max_mean_ratio::numeric, 6) < 2 FROM memshard.skew('dist') WHERE node = 'n1'}),
	't', 'the means leave out the node that did not answer');
is( $n1->safe_psql('postgres', q{
		SELECT node || ':' || (error IS NULL) || ':' || count(*) FROM memshard.node_shard_stats('one')
		 WHERE node = 'n3' GROUP BY node, error}),
	'n3:false:1', 'node_shard_stats: one error row for the node down');
is( $n2->safe_psql('postgres', q{
		SELECT sum(items) || ':' || count(error) FROM memshard.shard_stats WHERE map = 'one'}),
	'100:0', 'a map on node 1 only still reports in full');

# a restart empties a node's cache: node 3 answers again, with no items
$n3->start;
(my $expected_back = $expected_rows) =~ s/(\d+):n3:\d+/$1:n3:0/g;
is($n1->safe_psql('postgres', $shard_rows), $expected_back,
	'node 3 back: every placement reports again');

$_->stop for @nodes;
done_testing();
