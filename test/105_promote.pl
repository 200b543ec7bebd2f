# promote(): the shards of a dead node get a new primary on the reachable
# nodes (a majority needed), the node is marked failed and skipped by later
# changes; the metadata epoch fences it when it comes back, until
# rejoin_node() gives it the cluster's metadata with empty placements.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

# warm restart (the default): node 2 comes back with the items it held
my ($n1, $n2, $n3) = start_cluster('pr', 3,
	"pg_memshard.memory = 16MB\npg_memshard.connect_timeout = 2000\n");

$n1->safe_psql('postgres', q{
SELECT memshard.create_map('r2', nodes => ARRAY['n1', 'n2', 'n3'], shard_count => 12, replicas => 2);
SELECT memshard.create_map('r1', nodes => ARRAY['n1', 'n2', 'n3'], shard_count => 6);
SELECT memshard.create_map('only2', nodes => ARRAY['n2'], shard_count => 2);
SELECT memshard.set('only2', 'a', 'b');
SELECT memshard.mset('r2', array_agg('k' || i), array_agg('v' || i)) FROM generate_series(1, 600) i;
SELECT memshard.mset('r1', array_agg('k' || i), array_agg('v' || i)) FROM generate_series(1, 600) i;
});
my $epoch_before = $n1->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats');
ok($epoch_before > 0, "every change bumps the metadata epoch (now $epoch_before)");
is($n3->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats'),
	$epoch_before, 'node 3 has the same epoch');
like($n1->safe_psql('postgres', 'SELECT memshard.metadata_snapshot()::text'),
	qr/"epoch": $epoch_before/, 'the epoch is part of the canonical metadata');

my $primaries_n2 = $n1->safe_psql('postgres',
	"SELECT count(*) FROM memshard.shards WHERE map = 'r2' AND node = 'n2' AND role = 'primary'");
my $r1_on_n2 = $n1->safe_psql('postgres',
	"SELECT count(*) FROM memshard.shards WHERE map IN ('r1', 'only2') AND node = 'n2'");
# the keys whose primary is on node 2 now (node_for changes with promote)
my $keys_n2 = "'" . $n1->safe_psql('postgres',
	"SELECT array_agg('k' || i) FROM generate_series(1, 600) i "
	  . "WHERE memshard.node_for('r2', 'k' || i) = 'n2'") . "'::text[]";
my $nkeys_n2 = $n1->safe_psql('postgres', "SELECT cardinality($keys_n2)");
ok($primaries_n2 > 0 && $nkeys_n2 > 0, "node 2 holds $primaries_n2 primaries of r2 ($nkeys_n2 keys)");

# --- refusals while every node is up ---
my ($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.promote('nope')");
like($err, qr/node "nope" is not in the cluster/, 'promote of an unknown node: 42704');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.promote('n1')");
like($err, qr/cannot promote the shards of node "n1" away from itself/, 'promote of this node');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.promote('n2')");
like($err, qr/node "n2" answers: promote is for a node that is down/, 'promote of a node that answers');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.rejoin_node('n2')");
like($err, qr/node "n2" is neither failed nor draining/, 'rejoin_node of an active node');
is($n1->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats'), $epoch_before,
	'the refusals changed nothing');

# --- node 2 stops: writes to its shards fail until promote ---
$n2->stop('fast');
($rc, $out, $err) = $n1->psql('postgres',
	"SELECT memshard.set('r2', k, 'new') FROM unnest($keys_n2) k LIMIT 1");
isnt($rc, 0, 'before promote a write to a shard of node 2 fails');

($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.promote('n2')");
is($rc, 0, 'promote(n2) on node 1 succeeds') or diag $err;
is($out, $primaries_n2, 'promote returns the number of shards promoted');
like($err, qr/$r1_on_n2 shards of node "n2" had no copy elsewhere/,
	'the shards without a replica are named in a NOTICE');

is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	'0', 'node 2 holds no placement any more');
is($n1->safe_psql('postgres', "SELECT state FROM memshard.nodes WHERE server = 'n2'"),
	'failed', 'node 2 is kept in the node list as failed');
is($n3->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE map = 'r2' AND role = 'primary'"),
	'12', 'every shard of r2 has a primary on node 3 too');
same_metadata('after promote', $n1, $n3);
ok($n1->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats') > $epoch_before,
	'promote bumped the epoch');

is( $n3->safe_psql('postgres',
		"SELECT count(*) FROM unnest($keys_n2) k WHERE memshard.get('r2', k) IN ('v' || substr(k, 2), 'new')"),
	$nkeys_n2, 'the promoted replicas kept the items of the shards of node 2');
is( $n3->safe_psql('postgres',
		"SELECT count(*) FROM unnest($keys_n2) k WHERE memshard.set('r2', k, 'new')"),
	$nkeys_n2, 'writes to the shards of node 2 work again, from node 3');
is( $n1->safe_psql('postgres',
		"SELECT count(*) FROM unnest($keys_n2) k WHERE memshard.get('r2', k) = 'new'"),
	$nkeys_n2, 'and node 1 reads them');
is( $n1->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 600) i WHERE memshard.set('r1', 'k' || i, 'w')"),
	'600', 'a map without replicas serves every shard again (those of node 2 empty)');
is($n3->safe_psql('postgres', "SELECT memshard.set('only2', 'a', 'c'), memshard.get('only2', 'a')"),
	't|c', 'so does a map of node 2 only, on another node');
is($n1->safe_psql('postgres', "SELECT memshard.promote('n2')"), '0',
	'promoting a failed node again does nothing');
like( $n1->safe_psql('postgres', "SELECT s::text FROM memshard.failover_stats s"),
	qr/^\(\d+,1,1,$primaries_n2,/, 'failover_stats: one node failed, one failover, the shards promoted');
like($n1->safe_psql('postgres', 'SELECT memshard.metrics()'),
	qr/^pg_memshard_failover_failovers_total 1$/m, 'metrics() has the failover figures');

# --- later changes skip the failed node ---
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('later', nodes => ARRAY['n1', 'n2', 'n3'], shard_count => 4)");
is($n3->safe_psql('postgres', "SELECT string_agg(DISTINCT node, ',') FROM memshard.shards WHERE map = 'later'"),
	'n1,n3', 'a new map is placed on the live nodes only');
same_metadata('after create_map with a failed node', $n1, $n3);

# --- no majority: refused ---
$n3->stop('immediate');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.promote('n3')");
isnt($rc, 0, 'with 2 of 3 nodes down promote is refused');
like($err, qr/only 1 of the cluster's 3 nodes are reachable/, 'the error says why');
$n3->start;

# --- node 2 comes back: fenced until it rejoins ---
$n2->start;
ok($n2->safe_psql('postgres', 'SELECT items FROM memshard.stats') > 0,
	'node 2 is back with the items it held (warm restart)');
my $stale = $n2->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats');
ok($stale < $n1->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats'),
	'node 2 is back with an older epoch');
my $current = $n1->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats');
($rc, $out, $err) = $n2->psql('postgres', "SELECT memshard.get('r2', 'k1')");
isnt($rc, 0, 'node 2 refuses its own requests for shards (its first request asked the others)');
like($err, qr/node "n2" is fenced: its metadata epoch $stale is older than the cluster's $current/,
	'the error names the stale epoch');
($rc, $out, $err) = $n2->psql('postgres',
	"SET pg_memshard.peer_epoch = 100000; SELECT memshard.peer_get('r2', 'k1')");
like($err, qr/node "n2" is fenced: its metadata epoch $stale is older than the cluster's 100000/,
	'a peer call with a newer epoch is refused, naming both epochs');

$n1->safe_psql('postgres', "SELECT memshard.rejoin_node('n2')");
same_metadata('after rejoin', $n1, $n2, $n3);
is($n2->safe_psql('postgres', "SELECT state FROM memshard.nodes WHERE server = 'n2'"),
	'active', 'node 2 is active again');
is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	'0', 'with empty placements');
is($n2->safe_psql('postgres', "SELECT items FROM memshard.stats"), '0',
	'its old items were freed');
is($n2->safe_psql('postgres',
		"SELECT count(*) FROM unnest($keys_n2) k WHERE memshard.set('r2', k, 'again')"),
	$nkeys_n2, 'node 2 serves requests again, on the new primaries');
is($n1->safe_psql('postgres',
		"SELECT count(*) FROM unnest($keys_n2) k WHERE memshard.get('r2', k) = 'again'"),
	$nkeys_n2, 'which node 1 reads');

done_testing();
