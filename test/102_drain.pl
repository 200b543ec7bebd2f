# drain_node: every placement (primaries and replicas) off a node while a
# session on another node writes, replicas kept on distinct nodes, then
# remove_node succeeds; a drain the other nodes cannot hold is refused and
# nothing moves.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_cluster('dr', 3,
	"pg_memshard.memory = 32MB\nlog_statement = none\npg_memshard.restart = cold\n");
my ($n1, $n2, $n3) = @nodes;

$n1->safe_psql('postgres', q{
SELECT memshard.create_map('m', shard_count => 12, nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.create_map('r', shard_count => 6, replicas => 2, nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.mset('m', array_agg('k' || i), array_agg(repeat('x', 200)))
  FROM generate_series(1, 6000) i;
SELECT memshard.mset('r', array_agg('k' || i), array_agg(repeat('y', 200)))
  FROM generate_series(1, 3000) i;
SELECT memshard.mset(mp, array_agg('c' || i), array_agg('0'::text))
  FROM unnest(ARRAY['m', 'r']) mp, generate_series(1, 100) i GROUP BY mp;
});
my $on_n3 = $n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'");
cmp_ok($on_n3, '>', 5, "node 3 holds $on_n3 placements");

sub states
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(server || ':' || state, ',' ORDER BY server) FROM memshard.nodes");
}

# a drain that fails midway (cancelled at its first move, held after the
# copy) leaves the node 'draining' on every node, its placements where they
# were; plans and repair give it nothing; drain_node run again continues
my $holder = $n1->background_psql('postgres');
my $drain = $n1->background_psql('postgres', on_error_stop => 0);
$holder->query_safe('SELECT pg_advisory_lock(5201)');
$drain->query_safe('SET pg_memshard.test_hold_move = 5201');
$drain->query_until(qr/started/,
	"\\echo started\nSELECT memshard.drain_node('n3');\n\\echo done\n");
$n1->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 5201 AND NOT granted")
  or die 'the drain did not reach its hold';
is(states($n2), 'n1:active,n2:active,n3:draining', 'drain_node marks the node draining before it moves');
$n1->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 5201 AND NOT granted");
$drain->query_until(qr/done/, '');
like($drain->{stderr}, qr/canceling statement/, 'the drain is cancelled');
$drain->quit;
$holder->quit;
is(states($_), 'n1:active,n2:active,n3:draining', 'a failed drain leaves the node draining on ' . $_->name)
  for @nodes;
is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'"),
	$on_n3, 'the cancelled move is undone: node 3 keeps its placements');
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.rebalance_plan('m', 'by_shard_count', 0.01) WHERE target = 'n3'"),
	'0', 'a plan gives a draining node nothing');
is($n2->safe_psql('postgres', 'SELECT memshard.repair()'), '0',
	'repair sees no copy missing on a draining node, and gives it nothing');
same_metadata('after the failed drain', @nodes);

# a session on node 2 counts up while node 3 is drained
my $bg = $n2->background_psql('postgres', on_error_stop => 0);
$bg->query_until(qr/started/, q{
\echo started
CREATE TEMP TABLE acked (mp text, k text, n bigint, PRIMARY KEY (mp, k));
DO $$
DECLARE
    i bigint := 0;
    v_mp text;
    v_k text;
    r bigint;
BEGIN
    WHILE memshard.get('m', 'stop') IS NULL OR i < 300 LOOP
        i := i + 1;
        v_mp := CASE WHEN i % 2 = 0 THEN 'm' ELSE 'r' END;
        v_k := 'c' || (1 + (i * 7) % 100);
        BEGIN
            r := memshard.incr(v_mp, v_k, 1);
            INSERT INTO acked VALUES (v_mp, v_k, r)
                ON CONFLICT (mp, k) DO UPDATE SET n = excluded.n;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'failed: %', SQLERRM;
            DELETE FROM acked WHERE acked.mp = v_mp AND acked.k = v_k;
            INSERT INTO acked VALUES (v_mp, v_k, -1);
        END;
    END LOOP;
END
$$;
\echo finished
});

is($n1->safe_psql('postgres', "SELECT memshard.drain_node('n3')"), $on_n3,
	'drain_node run again moves every placement off the node');
$n1->safe_psql('postgres', "SELECT memshard.set('m', 'stop', '1')");
$bg->query_until(qr/finished/, '');
is($bg->query_safe('SELECT count(*) FROM acked WHERE n < 0'), '0', 'no write failed during the drain');
is($bg->query_safe(q{SELECT count(*) FROM acked WHERE memshard.get(mp, k) IS DISTINCT FROM n::text}),
	'0', 'every counter is its last acknowledged value');
$bg->quit;

is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'"),
	'0', 'nothing is placed on node 3');
is($n2->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT 1 FROM memshard.shards WHERE map = 'r' GROUP BY shard HAVING count(DISTINCT node) <> 2) x"),
	'0', 'the replicas stay on distinct nodes');
is($n3->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats()"),
	'0', 'node 3 freed every copy');
same_metadata('after the drain', @nodes);
is(states($n1), 'n1:active,n2:active,n3:draining', 'the drained node stays draining');
$n1->safe_psql('postgres', "SELECT memshard.remove_node('n3')");
is($n1->safe_psql('postgres', "SELECT string_agg(server, ',' ORDER BY server) FROM memshard.nodes"),
	'n1,n2', 'remove_node succeeds after the drain');
is($n2->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('k' || i) FROM generate_series(1, 6000) i)) WHERE value IS NOT NULL)
     + (SELECT count(*) FROM memshard.mget('r', (SELECT array_agg('k' || i) FROM generate_series(1, 3000) i)) WHERE value IS NOT NULL)}),
	'9000', 'every item is still there');

# a drain that cannot fit: node 2 cannot take node 1's shards of r (it
# holds the other copy) and m's would not fit its budget
$n1->safe_psql('postgres', q{
SELECT memshard.mset('m', array_agg('big' || i), array_agg(repeat('z', 4000)))
  FROM generate_series(1, 4500) i;
});
my $before = $n1->safe_psql('postgres', 'SELECT md5(memshard.metadata_snapshot()::text)');
my ($rc, $out, $err) = $n2->psql('postgres', "\\set VERBOSITY verbose\nSELECT memshard.drain_node('n1')");
like($err, qr/53000: no node can take shard \d+ of map "\w+"/, 'a drain that cannot fit is refused');
like($err, qr/HINT:  Add a node, or raise pg_memshard.memory/, 'with a hint');
is($n1->safe_psql('postgres', 'SELECT md5(memshard.metadata_snapshot()::text)'), $before,
	'the refused drain moved nothing');
is(states($n2), 'n1:active,n2:active', 'the refused drain leaves the node active');
same_metadata('after the refused drain', $n1, $n2);

# node 3 comes back: add_node(server, rebalance => true) adds it and
# rebalances onto it in one call
cmp_ok($n2->safe_psql('postgres', "SELECT memshard.add_node('n3', rebalance => true)"),
	'>', 0, 'add_node with rebalance adds the node');
cmp_ok($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'"),
	'>', 0, 'and the rebalance gives it shards');
is($n3->safe_psql('postgres', 'SELECT count(*) FROM memshard.rebalance_plan()'), '0',
	'the plan is empty afterwards');
same_metadata('after add_node with rebalance', @nodes);
is($n3->safe_psql('postgres', q{
SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('k' || i) FROM generate_series(1, 6000) i)) WHERE value IS NOT NULL}),
	'6000', 'every item of m is still there');

# rejoin_node ends a drain: the node active again, keeping its placements
my $held = $n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'");
$n1->safe_psql('postgres', "SELECT memshard.peer_node_draining('n2')");
is(states($n3), 'n1:active,n2:draining,n3:active', 'the mark reaches every node');
$n3->safe_psql('postgres', "SELECT memshard.rejoin_node('n2')");
is(states($n1), 'n1:active,n2:active,n3:active', 'rejoin_node ends the drain');
is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n2'"),
	$held, 'the node keeps its placements');
same_metadata('after rejoin_node of a draining node', @nodes);

done_testing();
