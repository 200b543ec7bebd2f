# A shard move that fails: the target killed in the middle of the copy,
# then the source in another move, then a mover cancelled.  Each time:
# exactly one owner per shard, the same metadata on every node (md5 of
# metadata_snapshot), nothing left prepared, no copy left on the target,
# writes to the shard go on, and the move run again succeeds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_cluster('mf', 3,
	"pg_memshard.memory = 32MB\nlog_statement = none\npg_memshard.restart = cold\n"
	  . "pg_memshard.connect_timeout = 2s\npg_memshard.remote_timeout = 5s\n");
my ($n1, $n2, $n3) = @nodes;

# 8 shards over nodes 1 and 2; node 3 holds nothing yet
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('m', shard_count => 8, nodes => ARRAY['n1', 'n2']);
SELECT memshard.mset('m', array_agg('k' || i), array_agg('v' || i))
  FROM generate_series(1, 4000) i;
});
my $shard = $n1->safe_psql('postgres',
	"SELECT shard FROM memshard.shards WHERE map = 'm' AND node = 'n2' ORDER BY shard LIMIT 1");
my $keys_of_shard = $n1->safe_psql('postgres',
	"SELECT count(*) FROM generate_series(1, 4000) i WHERE memshard.shard_for('m', 'k' || i) = $shard");
cmp_ok($keys_of_shard, '>', 100, "shard $shard holds $keys_of_shard keys");

sub owners
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg(node, ',') FROM memshard.shards WHERE map = 'm' AND shard = $shard");
}

sub held_items
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('m') WHERE shard = $shard");
}

# a move from node 1 that stops after its first full copy, until the
# holder lets it go on
sub held_move
{
	my ($key, $target, $source) = @_;
	my $holder = $n1->background_psql('postgres');
	my $move = $n1->background_psql('postgres', on_error_stop => 0);

	$holder->query_safe("SELECT pg_advisory_lock($key)");
	$move->query_safe("SET pg_memshard.test_hold_move = $key");
	$move->query_until(qr/started/,
		"\\echo started\nSELECT memshard.move_shard('m', $shard, '$target', '$source');\n\\echo done\n");
	$n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $key AND NOT granted")
	  or die 'the move did not reach its hold';
	return ($holder, $move);
}

sub all_keys_from
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('k' || i) FROM generate_series(1, 4000) i)) WHERE value = 'v' || substr(key, 2)");
}

my ($rc, $out, $err);

# --- 1. the target dies in the middle of the copy ---
my ($holder, $move) = held_move(5101, 'n3', 'n2');
is(held_items($n3), $keys_of_shard, 'mid-move: the target holds the first copy');
$n3->stop('immediate');
$holder->query_safe("SELECT pg_advisory_unlock(5101)");
$move->query_until(qr/done/, '');
like($move->{stderr}, qr/ERROR/, 'the move fails when its target dies');
$move->quit;
$holder->quit;
is(owners($n1), 'n2', 'target died: node 2 still owns the shard');
is(owners($n2), 'n2', 'target died: node 2 says so too');
is($n1->safe_psql('postgres', "SELECT memshard.set('m', 'k' || (SELECT min(i) FROM generate_series(1, 4000) i WHERE memshard.shard_for('m', 'k' || i) = $shard), 'after1')"),
	't', 'target died: writes to the shard go on');
$n3->start;
same_metadata('target died', @nodes);
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.rebalance_status"), '1',
	'rebalance_status answers');

# the move again: it succeeds, nothing lost
is($n1->safe_psql('postgres', "SELECT memshard.move_shard('m', $shard, 'n3', 'n2')"),
	$keys_of_shard, 'the move run again copies every item');
is(owners($n2), 'n3', 'rerun: node 3 owns the shard');
is(held_items($n2), '0', 'rerun: the source copy is freed');
is(all_keys_from($n2), '3999', 'rerun: every key but the one rewritten reads back from node 2');
same_metadata('after the rerun', @nodes);

# --- 2. the source dies in the middle of a move (node 3 -> node 2) ---
($holder, $move) = held_move(5102, 'n2', 'n3');
is(held_items($n2), $keys_of_shard, 'mid-move: the target (node 2) holds the first copy');
$n3->stop('immediate');
$holder->query_safe("SELECT pg_advisory_unlock(5102)");
$move->query_until(qr/done/, '');
like($move->{stderr}, qr/ERROR/, 'the move fails when its source dies');
$move->quit;
$holder->quit;
is(owners($n1), 'n3', 'source died: node 3 still owns the shard');
is(owners($n2), 'n3', 'source died: node 2 says so too');
is(held_items($n2), '0', 'source died: the target\'s partial copy is freed');
$n3->start;
same_metadata('source died', @nodes);

# node 3 came back empty (a cache): the move again, of whatever it holds
$n1->safe_psql('postgres', "SELECT memshard.set('m', 'k' || i, 'v' || i) FROM generate_series(1, 4000) i WHERE memshard.shard_for('m', 'k' || i) = $shard");
is($n1->safe_psql('postgres', "SELECT memshard.move_shard('m', $shard, 'n2')"),
	$keys_of_shard, 'the move run again succeeds (source: the primary)');
is(owners($n3), 'n2', 'rerun: node 2 owns the shard');
is(all_keys_from($n3), '4000', 'every key reads back');

# --- 3. the mover is cancelled ---
($holder, $move) = held_move(5103, 'n3', 'n2');
$n1->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 5103 AND NOT granted");
$move->query_until(qr/done/, '');
like($move->{stderr}, qr/canceling statement/, 'the move is cancelled');
$move->quit;
$holder->quit;
is(owners($n1), 'n2', 'cancelled: node 2 still owns the shard');
is(held_items($n3), '0', 'cancelled: the target\'s copy is freed');
is($n3->safe_psql('postgres', "SELECT memshard.set('m', 'k' || i, 'w' || i) FROM generate_series(1, 4000) i WHERE memshard.shard_for('m', 'k' || i) = $shard LIMIT 1"),
	't', 'cancelled: the shard takes writes (not frozen)');
same_metadata('cancelled', @nodes);

# --- 4. a rebalance in the background, one at a time, stopped ---
$n1->safe_psql('postgres', "ALTER SYSTEM SET pg_memshard.test_hold_move = 5104; SELECT pg_reload_conf()");
my $plan_steps = $n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.rebalance_plan()');
cmp_ok($plan_steps, '>', 0, "node 3 holds less: the plan has $plan_steps moves");
my $placements = $n1->safe_psql('postgres', "SELECT map, shard, node FROM memshard.shards ORDER BY 1, 2, 3");
$holder = $n1->background_psql('postgres');
$holder->query_safe("SELECT pg_advisory_lock(5104)");
my $job = $n1->safe_psql('postgres', 'SELECT memshard.rebalance_start()');
like($job, qr/^\d+$/, "rebalance_start returns its job ($job) at once");
$n1->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 5104 AND NOT granted")
  or die 'the rebalance did not reach its hold';
like($n1->safe_psql('postgres', 'SELECT job, state, step, steps, map FROM memshard.rebalance_status'),
	qr/^$job\|running\|1\|$plan_steps\|m$/, 'rebalance_status shows the job at its first move');
($rc, $out, $err) = $n2->psql('postgres', "\\set VERBOSITY verbose\nSELECT memshard.rebalance()");
like($err, qr/55006: a rebalance, drain or shard move is already running in the cluster/,
	'a second rebalance, from another node, fails clearly');
($rc, $out, $err) = $n3->psql('postgres', "SELECT memshard.move_shard('m', 0, 'n3')");
like($err, qr/already running in the cluster/, 'so does a move');
is($n1->safe_psql('postgres', 'SELECT memshard.rebalance_stop()'), 't', 'rebalance_stop asks it to stop');
$holder->query_safe("SELECT pg_advisory_unlock(5104)");
is($n1->safe_psql('postgres', 'SELECT memshard.rebalance_wait()'), 'stopped', 'rebalance_wait: it stopped');
$holder->quit;
is($n1->safe_psql('postgres', "SELECT map, shard, node FROM memshard.shards ORDER BY 1, 2, 3"),
	$placements, 'stopped: the move in progress was undone');
is($n3->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('m')")
	 - $n1->safe_psql('postgres', "SELECT count(*) FROM memshard.shards WHERE node = 'n3'") * 0,
	$n3->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('m') s JOIN memshard.shards p ON p.map = 'm' AND p.shard = s.shard AND p.node = 'n3'"),
	'stopped: node 3 holds only its own shards');
same_metadata('stopped', @nodes);
$n1->safe_psql('postgres', "ALTER SYSTEM RESET pg_memshard.test_hold_move; SELECT pg_reload_conf()");
$job = $n1->safe_psql('postgres', 'SELECT memshard.rebalance_start()');
is($n1->safe_psql('postgres', 'SELECT memshard.rebalance_wait()'), 'done', 'the rebalance started again is done');
like($n1->safe_psql('postgres', 'SELECT job, state, step = steps, error IS NULL FROM memshard.rebalance_status'),
	qr/^$job\|done\|t\|t$/, 'rebalance_status: done, every step');
is($n2->safe_psql('postgres', 'SELECT count(*) FROM memshard.rebalance_plan()'), '0',
	'the plan is empty afterwards');
is(all_keys_from($n2), '3999', 'every key reads back after the rebalance (but the one rewritten)');
same_metadata('after the background rebalance', @nodes);

# errors: a target that holds a copy, a shard out of range, a map of one node
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.move_shard('m', $shard, 'n2')");
like($err, qr/holds a copy of shard $shard of map "m" already/, 'no move onto a node holding the shard');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.move_shard('m', 99, 'n3')");
like($err, qr/map "m" has no shard 99/, 'shard out of range');
($rc, $out, $err) = $n1->psql('postgres', "SELECT memshard.move_shard('m', 0, 'nowhere')");
like($err, qr/node "nowhere" is not in the cluster/, 'unknown target');

done_testing();
