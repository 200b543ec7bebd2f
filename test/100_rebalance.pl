# Rebalancing by memory: three nodes of 64MB with a 32-shard map and a
# 16-shard map of two replicas, a fourth node of 256MB added, the plan and
# its preview (every node within the threshold afterwards), then
# rebalance() while two sessions on other nodes set, incr, delete, touch
# and mset keys and note what each call acknowledged: afterwards every key is
# as the sessions' model says (nothing lost, nothing resurrected, counters
# exact), the placements are where the plan said, and the plan is empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my $conf = "log_statement = none\npg_memshard.restart = cold\n";
my @nodes = start_nodes('rb', 3, "pg_memshard.memory = 64MB\n$conf");
my $n4 = PostgreSQL::Test::Cluster->new('rb4');
$n4->init;
$n4->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
max_prepared_transactions = 10
pg_memshard.memory = 256MB
$conf});
$n4->start;
push @nodes, $n4;
my ($n1, $n2, $n3) = @nodes;

$_->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n" . server_sql(\@nodes))
  for @nodes;
$n1->safe_psql('postgres',
	"SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3')");
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('m', nodes => ARRAY['n1', 'n2', 'n3']);
SELECT memshard.create_map('r', shard_count => 16, replicas => 2,
                           nodes => ARRAY['n1', 'n2', 'n3']);
});

# filled through node 1: 24,000 items of 400 bytes in m, 8,000 in r (two
# copies each), and the keys the sessions work on (small counters)
$n1->safe_psql('postgres', q{
SELECT memshard.mset('m', array_agg('k' || i), array_agg(repeat('x', 400)))
  FROM generate_series(1, 24000) i;
SELECT memshard.mset('r', array_agg('k' || i), array_agg(repeat('y', 400)))
  FROM generate_series(1, 8000) i;
SELECT memshard.mset(mp, array_agg(s || '_' || i), array_agg('1000'::text))
  FROM unnest(ARRAY['A', 'B']) s, unnest(ARRAY['m', 'r']) mp,
       generate_series(1, 200) i
 GROUP BY mp;
});

# an unknown strategy or a bad threshold is refused clearly
my ($rc, $out, $err) = $n1->psql('postgres',
	"SELECT * FROM memshard.rebalance_plan(strategy => 'by_luck')");
like($err, qr/unknown rebalance strategy "by_luck".*\n.*HINT:.*by_memory/s,
	'unknown strategy: error with a hint');
($rc, $out, $err) = $n1->psql('postgres',
	"SELECT * FROM memshard.rebalance_plan(threshold => -1)");
like($err, qr/threshold must be at least 0/, 'negative threshold refused');
($rc, $out, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM memshard.rebalance_plan(threshold => 1.5)");
like($err, qr/22023/, 'a bad threshold is 22023');

# balanced among three equal nodes: nothing to do
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.rebalance_plan()'),
	'0', 'three equal nodes with round-robin shards: empty plan');

# the fourth node, four times the memory, gets nothing by itself
$n1->safe_psql('postgres', "SELECT memshard.add_node('n4')");
$_->safe_psql('postgres', 'SELECT memshard.disconnect()') for @nodes;

my $plan = $n1->safe_psql('postgres',
	'SELECT step, map, shard, source, target, bytes, items FROM memshard.rebalance_plan() ORDER BY step');
my @steps = map { [ split /\|/ ] } split /\n/, $plan;
cmp_ok(scalar @steps, '>', 5, 'the plan moves shards to the new node (' . scalar(@steps) . ' steps)');
is($n2->safe_psql('postgres',
	'SELECT step, map, shard, source, target, bytes, items FROM memshard.rebalance_plan() ORDER BY step'),
	$plan, 'the same plan from another node');
cmp_ok(scalar(grep { $_->[4] eq 'n4' } @steps), '>=', scalar(@steps) / 2,
	'most moves go to the new node');
is(scalar(grep { $_->[3] eq 'n4' } @steps), 0, 'none leaves it');

# where the plan says every copy ends
my %expect_at;
for my $row (split /\n/, $n1->safe_psql('postgres',
	"SELECT map, shard, node FROM memshard.shards ORDER BY 1, 2, 3"))
{
	my ($map, $shard, $node) = split /\|/, $row;
	$expect_at{"$map|$shard"}{$node} = 1;
}
for my $step (@steps)
{
	my (undef, $map, $shard, $source, $target) = @$step;
	delete $expect_at{"$map|$shard"}{$source};
	$expect_at{"$map|$shard"}{$target} = 1;
}
my $expected_placements = join("\n",
	map { my $k = $_; map { "$k|$_" } sort keys %{ $expect_at{$k} } }
	  sort { my @a = split /\|/, $a; my @b = split /\|/, $b; $a[0] cmp $b[0] || $a[1] <=> $b[1] } keys %expect_at);

# the preview: every node within 1 +- 0.1 of the mean utilization after
my $within = q{
SELECT count(*) FILTER (WHERE utilization_%1$s NOT BETWEEN 0.9 * m AND 1.1 * m)
  FROM memshard.rebalance_preview(),
       (SELECT sum(bytes_%1$s)::float8 / sum(budget) AS m FROM memshard.rebalance_preview()) mean
};
my $within_after = sprintf($within, 'after');
$within_after =~ s/%1\$s/after/g;
my $within_before = $within;
$within_before =~ s/%1\$s/before/g;
is($n1->safe_psql('postgres', $within_after), '0',
	'preview: every node within the threshold after the plan');
cmp_ok($n1->safe_psql('postgres', $within_before), '>', 0,
	'preview: not so before');
like($n1->safe_psql('postgres',
	"SELECT budget FROM memshard.rebalance_preview() WHERE node = 'n4'"),
	qr/^268435456$/, 'preview: the new node\'s budget is its pg_memshard.memory');

# by_shard_count: equal numbers of placements (not weighted)
my $by_count = $n1->safe_psql('postgres', q{
SELECT count(*) FROM memshard.rebalance_plan(strategy => 'by_shard_count')});
cmp_ok($by_count, '>', 5, "by_shard_count plans moves too ($by_count)");

# two sessions (nodes 2 and 3) work on their keys and keep a model of
# what each acknowledged call did
my $workload = q{
CREATE TEMP TABLE model (mp text, k text, v text, certain boolean DEFAULT true,
                         PRIMARY KEY (mp, k));
INSERT INTO model SELECT mp, '%1$s_' || i, '1000'
  FROM unnest(ARRAY['m', 'r']) mp, generate_series(1, 200) i;
CREATE TEMP TABLE counts (acked bigint, failed bigint);
DO $$
DECLARE
    i bigint := 0;
    failed bigint := 0;
    v_mp text;
    v_k text;
    r bigint;
    ok boolean;
BEGIN
    WHILE memshard.get('m', 'stop') IS NULL OR i < 500 LOOP
        i := i + 1;
        v_mp := CASE WHEN i % 2 = 0 THEN 'm' ELSE 'r' END;
        v_k := '%1$s_' || (1 + (i * 37) % 199);
        BEGIN
            CASE i % 5
            WHEN 0 THEN
                PERFORM memshard.set(v_mp, v_k, (i % 1000 + 1000)::text);
                UPDATE model SET v = (i % 1000 + 1000)::text WHERE model.mp = v_mp AND model.k = v_k;
            WHEN 1 THEN
                r := memshard.incr(v_mp, v_k, 1);
                UPDATE model SET v = r::text WHERE model.mp = v_mp AND model.k = v_k;
            WHEN 2 THEN
                PERFORM memshard.delete(v_mp, v_k);
                UPDATE model SET v = NULL WHERE model.mp = v_mp AND model.k = v_k;
            WHEN 3 THEN
                PERFORM memshard.touch(v_mp, v_k, '1 hour');
            ELSE
                PERFORM memshard.mset(v_mp, ARRAY[v_k], ARRAY[(i % 1000 + 2000)::text]);
                UPDATE model SET v = (i % 1000 + 2000)::text WHERE model.mp = v_mp AND model.k = v_k;
            END CASE;
        EXCEPTION WHEN OTHERS THEN
            failed := failed + 1;
            UPDATE model SET certain = false WHERE model.mp = v_mp AND model.k = v_k;
            RAISE WARNING 'failed: %', SQLERRM;
        END;
    END LOOP;
    INSERT INTO counts VALUES (i - failed, failed);
END
$$;
};
my %sessions;
for my $s ([ 'A', $n2 ], [ 'B', $n3 ])
{
	my ($name, $node) = @$s;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	(my $sql = $workload) =~ s/%1\$s/$name/g;
	$bg->query_until(qr/started/, "\\echo started\n$sql\n\\echo finished\n");
	$sessions{$name} = [ $bg, $node ];
}

is($n1->safe_psql('postgres', 'SELECT memshard.rebalance()'), scalar @steps,
	'rebalance() makes the moves of the plan');
$n1->safe_psql('postgres', "SELECT memshard.set('m', 'stop', '1')");

for my $name (sort keys %sessions)
{
	my ($bg, $node) = @{ $sessions{$name} };
	$bg->query_until(qr/finished/, '');
	my $counts = $bg->query_safe('SELECT acked, failed FROM counts');
	my ($acked, $failed) = split /\|/, $counts;
	diag("session $name: $acked acknowledged, $failed failed");
	cmp_ok($acked, '>', 500, "session $name made its calls during the rebalance");
	is($bg->query_safe(q{
SELECT count(*) FROM model WHERE certain AND v IS NOT NULL
   AND memshard.get(mp, k) IS DISTINCT FROM v}), '0',
		"session $name: no acknowledged write lost, counters exact");
	is($bg->query_safe(q{
SELECT count(*) FROM model WHERE certain AND v IS NULL
   AND memshard.get(mp, k) IS NOT NULL}), '0',
		"session $name: no deleted key came back");
	$bg->quit;
}

# everything filled before is still there, read from every node
for my $node ($n1, $n4)
{
	is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('k' || i) FROM generate_series(1, 24000) i)) WHERE value IS NOT NULL)
     + (SELECT count(*) FROM memshard.mget('r', (SELECT array_agg('k' || i) FROM generate_series(1, 8000) i)) WHERE value IS NOT NULL)}),
		'32000', 'every item filled before is still there (read from ' . $node->name . ')');
}

# the placements are where the plan said, the plan is empty, balanced
is($n1->safe_psql('postgres', "SELECT map, shard, node FROM memshard.shards ORDER BY 1, 2, 3"),
	$expected_placements, 'every placement is where the plan said');
is($n3->safe_psql('postgres', 'SELECT count(*) FROM memshard.rebalance_plan()'),
	'0', 'after the rebalance the plan is empty');
is($n1->safe_psql('postgres', $within_before), '0',
	'after the rebalance every node is within the threshold');
is($n2->safe_psql('postgres',
	"SELECT count(*) FROM memshard.shards s WHERE s.map = 'r' GROUP BY s.map, s.shard HAVING count(DISTINCT s.node) <> 2"),
	'', 'replicas still on distinct nodes');
same_metadata('after the rebalance', @nodes);
like($n1->safe_psql('postgres',
	'SELECT state, step = steps, error IS NULL FROM memshard.rebalance_status'),
	qr/^done\|t\|t$/, 'rebalance_status: the job is done');

done_testing();
