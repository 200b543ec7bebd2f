# Automatic failover: with pg_memshard.failover_timeout = 3s a primary that
# stops is promoted away by one node under writes, and writes to its shards
# work again within seconds; restarted, the node refuses its old shards
# (fenced by the metadata epoch) until the failover worker brings it back
# with empty placements and without its old items.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use MemshardCluster;

my ($n1, $n2, $n3) = start_cluster('fo', 3,
	"pg_memshard.memory = 16MB\npg_memshard.connect_timeout = 1000\n"
	  . "pg_memshard.failover_timeout = 3s\nlog_min_messages = log\n");

$n1->safe_psql('postgres', q{
SELECT memshard.create_map('r2', nodes => ARRAY['n1', 'n2', 'n3'], shard_count => 12, replicas => 2);
SELECT memshard.mset('r2', array_agg('k' || i), array_agg('v' || i)) FROM generate_series(1, 300) i;
});
my $keys_n2 = "'" . $n1->safe_psql('postgres',
	"SELECT array_agg('k' || i) FROM generate_series(1, 300) i "
	  . "WHERE memshard.node_for('r2', 'k' || i) = 'n2'") . "'::text[]";
my $key = $n1->safe_psql('postgres', "SELECT ($keys_n2)[1]");
my $primaries = $n1->safe_psql('postgres',
	"SELECT count(*) FROM memshard.shards WHERE node = 'n2' AND role = 'primary'");
ok($primaries > 0, "node 2 holds $primaries primaries");
my $on_n2 = $n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'");
sleep 1;
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.nodes WHERE state <> $$active$$'),
	'0', 'every node is active while all answer: nothing is promoted');

# writers on node 3, all the time: every key of the map, errors counted
my $writer = $n3->background_psql('postgres', on_error_stop => 0);
$writer->query_until(qr/writing/, q{
\echo writing
DO $$
DECLARE ok bigint := 0; failed bigint := 0;
BEGIN
  FOR round IN 1 .. 100000 LOOP
    BEGIN
      PERFORM memshard.set('r2', 'k' || (round % 300 + 1), 'w' || round);
      ok := ok + 1;
      EXIT WHEN memshard.get('r2', 'stop') IS NOT NULL;
    EXCEPTION WHEN OTHERS THEN
      failed := failed + 1;
      PERFORM pg_sleep(0.05);
    END;
  END LOOP;
  RAISE NOTICE 'writes ok % failed %', ok, failed;
END $$;
});

# --- node 2 stops: how long until a write to its shards works again ---
$n2->stop('fast');
my $stopped = time;
my $recovered;
while (time - $stopped < 60)
{
	my ($rc) = $n1->psql('postgres', "SELECT memshard.set('r2', '$key', 'after')",
		on_error_stop => 1);
	if ($rc == 0)
	{
		$recovered = time - $stopped;
		last;
	}
	sleep 0.2;
}
ok(defined $recovered, 'writes to the shards of the stopped node work again');
diag(sprintf('writes to the shards of the stopped node work again %.1f s after it stopped (failover_timeout 3 s)',
	$recovered // -1));
cmp_ok($recovered // 1e9, '<', 30, 'within failover_timeout and a few seconds');
cmp_ok($recovered // 0, '>=', 2.5, 'not before failover_timeout');

is($n1->safe_psql('postgres', "SELECT state FROM memshard.nodes WHERE server = 'n2'"),
	'failed', 'node 2 is failed');
is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	'0', 'and holds no placement');
is( $n1->safe_psql('postgres', 'SELECT failovers FROM memshard.failover_stats')
	  + $n3->safe_psql('postgres', 'SELECT failovers FROM memshard.failover_stats'),
	1, 'exactly one node promoted it');
ok($n1->log_contains(qr/node "n2" has been unreachable for 3000 ms or more: promoting its shards away/),
	'node 1 (the lowest id) did, and logged it');
same_metadata('after the failover', $n1, $n3);

$n1->safe_psql('postgres', "SELECT memshard.set('r2', 'stop', 'now')");
my $notices = $writer->query("SELECT 1");
$writer->quit;
like($writer->{stderr}, qr/writes ok [1-9]\d* failed \d+/, 'the writers went on') or diag($writer->{stderr});
is($n3->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 300) i WHERE memshard.set('r2', 'k' || i, 'final')"),
	'300', 'every key is written on the live nodes');

# --- repair() on a live node while node 2 is still down ---
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.placement_catalog'),
	24 - $on_n2, 'the failover dropped the copies of node 2');
is($n3->safe_psql('postgres', "SELECT memshard.repair('r2')"), $on_n2,
	'repair() makes every copy dropped with node 2 again');
for my $node ($n1, $n3)
{
	is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT pc.shard FROM memshard.placement_catalog pc
  JOIN memshard.node_catalog n ON n.id = pc.node_id
 WHERE n.server IN ('n1', 'n3') GROUP BY pc.shard
HAVING count(DISTINCT pc.node_id) = 2 AND count(*) = 2 AND min(pc.replica) = 0 AND max(pc.replica) = 1) x}),
		'12', 'every shard has its 2 copies on distinct live nodes, in placement_catalog of ' . $node->name);
}
is( $n1->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('r2')")
	  + $n3->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('r2')"),
	2 * 301, 'both copies of every shard hold its items');
is($n1->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 300) i WHERE memshard.get('r2', 'k' || i) = 'final'"),
	'300', 'every value reads back after the repair');
same_metadata('after the repair', $n1, $n3);
is($n1->safe_psql('postgres', 'SELECT memshard.repair()'), '0', 'a second repair has nothing to do');

# --- node 2 restarts: fenced until it has answered for failover_timeout ---
$n2->start;
my $started = time;
ok($n2->safe_psql('postgres', 'SELECT items FROM memshard.stats') > 0,
	'node 2 is back with its old items (warm restart)');
my ($rc, $out, $err) = $n2->psql('postgres', "SELECT memshard.get('r2', '$key')");
isnt($rc, 0, 'node 2 refuses its old shards');
like($err, qr/node "n2" is fenced: its metadata epoch \d+ is older than the cluster's \d+/,
	'the error names the stale epoch');
($rc, $out, $err) = $n2->psql('postgres', "SELECT memshard.set('r2', '$key', 'stale')");
like($err, qr/is fenced/, 'writes too');
is($n2->safe_psql('postgres', 'SELECT fenced FROM memshard.failover_stats'), 't',
	'failover_stats says it is fenced');

# --- node 1 brings node 2 back ---
ok( $n1->poll_query_until('postgres',
		"SELECT state = 'active' FROM memshard.nodes WHERE server = 'n2'"),
	'the failover worker of node 1 brings node 2 back');
my $back = time - $started;
diag(sprintf('node 2 rejoined %.1f s after its start', $back));
cmp_ok($back, '>=', 2.5, 'once it has answered for failover_timeout');
ok($n1->log_contains(qr/failed node "n2" has answered for 3000 ms: it rejoins with empty placements/),
	'node 1 logged it');
$n2->poll_query_until('postgres', 'SELECT NOT fenced FROM memshard.failover_stats')
  or diag 'node 2 still fenced';
same_metadata('after the rejoin', $n1, $n2, $n3);
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	'0', 'node 2 rejoined with empty placements');
is($n2->safe_psql('postgres', 'SELECT items FROM memshard.stats'), '0',
	'its old items were freed');
is($n2->safe_psql('postgres', "SELECT memshard.get('r2', '$key')"), 'final',
	'node 2 serves the current value from the new primary');

# --- the rejoined node gets work: repair has none, a rebalance does ---
is($n2->safe_psql('postgres', 'SELECT memshard.repair()'), '0',
	'every shard has its copies: repair() gives node 2 nothing');
cmp_ok($n2->safe_psql('postgres', "SELECT memshard.rebalance('r2', 'by_shard_count')"),
	'>', 0, 'a rebalance gives node 2 work');
cmp_ok($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	'>', 0, 'node 2 holds placements again');
is($n2->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 300) i WHERE memshard.get('r2', 'k' || i) = 'final'"),
	'300', 'every value reads back from node 2');
same_metadata('after the rebalance', $n1, $n2, $n3);

done_testing();
