# Warm restart of a node of a cluster (issue 11): a node loads the shards it
# is the primary of under its own metadata at the start.  Its replica
# copies are not loaded: writes made while it was down skipped it, and a
# read that falls back to it (the primary unreachable) must not find the
# values from before (a key changed, a key deleted).  A shard its metadata
# gave to another node while it was down is left out.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_nodes('wr', 2, "pg_memshard.memory = 16MB\nlog_statement = none\n");
my ($n1, $n2) = @nodes;
for my $node (@nodes)
{
	$node->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n" . server_sql(\@nodes));
}
$n1->safe_psql('postgres', "SELECT memshard.add_node('n1'), memshard.add_node('n2')");
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('m', shard_count => 8, nodes => ARRAY['n1', 'n2']);
SELECT memshard.create_map('r', shard_count => 8, nodes => ARRAY['n1', 'n2'], replicas => 2);
SELECT memshard.mset('m', array_agg('k' || i), array_agg('m' || i)) FROM generate_series(1, 2000) i;
SELECT memshard.mset('r', array_agg('k' || i), array_agg('r' || i)) FROM generate_series(1, 2000) i;
});

# what node 2 holds of a map, by its role for the shard
sub held
{
	my ($node, $map, $role) = @_;
	return $node->safe_psql('postgres', qq{
SELECT coalesce(sum(l.items), 0) FROM memshard.local_shard_stats('$map') l
  JOIN memshard.shards s ON s.map = l.map AND s.shard = l.shard
 WHERE s.node = 'n2' AND s.role = '$role'});
}

my $m_primary = held($n2, 'm', 'primary');
my $r_primary = held($n2, 'r', 'primary');
my $r_replica = held($n2, 'r', 'replica');
cmp_ok($m_primary, '>', 0, "node 2 holds primaries of 'm'");
cmp_ok($r_replica, '>', 0, "and replicas of 'r'");

# keys of 'r' whose primary is node 1 and replica node 2
my ($changed, $deleted) = split /\n/, $n1->safe_psql('postgres', q{
SELECT 'k' || i FROM generate_series(1, 2000) i
 WHERE memshard.node_for('r', 'k' || i) = 'n1' ORDER BY i LIMIT 2});

# --- node 2 down: writes to its replica copies skip it ---
$n2->stop;
ok(-f $n2->data_dir . '/pg_memshard/cache.dump', 'node 2 wrote its dump');
my ($ret, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.connect_timeout = '1s'; SELECT memshard.set('r', '$changed', 'new'), memshard.delete('r', '$deleted')");
is($out, 't|t', 'with node 2 down, node 1 changes and deletes keys node 2 has replicas of');
like($err, qr/a replica of map "r" missed a write/, 'node 2 missed those writes');
$n2->start;
$n2->poll_query_until('postgres', "SELECT state = 'loaded' FROM memshard.restart_stats")
  or die 'node 2 did not load';

is( $n2->safe_psql('postgres',
		'SELECT items_loaded, skipped_not_held, items_loaded = (SELECT items FROM memshard.stats) FROM memshard.restart_stats'),
	($m_primary + $r_primary) . "|$r_replica|t",
	'node 2 loaded its primary shards and left out its replica copies');
is(held($n2, 'm', 'primary'), $m_primary, "its primaries of 'm' are all back");
is(held($n2, 'r', 'replica'), '0', "its replicas of 'r' hold nothing old");
is( $n1->safe_psql('postgres',
		"SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('k' || i) FROM generate_series(1, 2000) i)) WHERE value = 'm' || substr(key, 2)"),
	'2000', "every key of 'm' reads back from node 1, node 2's through node 2");

# with node 1 down, a read on node 2 falls back to its copy: no old value
$n1->stop;
is( $n2->safe_psql('postgres',
		"SET pg_memshard.connect_timeout = '1s'; SELECT coalesce(memshard.get('r', '$changed'), '<miss>'), coalesce(memshard.get('r', '$deleted'), '<miss>')"),
	'<miss>|<miss>',
	'a read falling back to the restarted replica misses: neither the old value nor the deleted key');
$n1->start;

# --- metadata changed while node 2 was down: a shard moved to node 1 ---
my ($moved_shard, $moved_items) = split /\|/, $n2->safe_psql('postgres', q{
SELECT l.shard, l.items FROM memshard.local_shard_stats('m') l
 WHERE l.items > 0 ORDER BY l.shard LIMIT 1});
$n2->stop;
$n2->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$n2->start;
$n2->safe_psql('postgres', qq{
UPDATE memshard.placement_catalog
   SET node_id = (SELECT id FROM memshard.nodes WHERE server = 'n1')
 WHERE map_id = (SELECT id FROM memshard.maps WHERE name = 'm') AND shard = $moved_shard});
$n2->stop;
$n2->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_memshard'\n");
$n2->start;
$n2->poll_query_until('postgres', "SELECT state = 'loaded' FROM memshard.restart_stats")
  or die 'node 2 did not load';
is( $n2->safe_psql('postgres', 'SELECT items_loaded, skipped_not_held FROM memshard.restart_stats'),
	($m_primary + $r_primary - $moved_items) . "|$moved_items",
	'the shard moved away while node 2 was down is left out');
is( $n2->safe_psql('postgres',
		"SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('m') WHERE shard = $moved_shard"),
	'0', 'node 2 holds nothing of it');

$_->stop for @nodes;
done_testing();
