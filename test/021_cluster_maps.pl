# Maps over three nodes: keys routed by hash and range partitioning to the
# node that owns their shard, read back from every node, replicas, nodes
# that are down or do not answer, query cancel while waiting for a node,
# metadata reaching every node or none, cluster_stats.
use strict;
use warnings;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use MemshardCluster;

# cold: nodes that were stopped come back empty (warm restart: test/044)
my @nodes = start_nodes('n', 3, "pg_memshard.memory = 32MB\nlog_statement = none\npg_memshard.restart = cold\n");
my ($n1, $n2, $n3) = @nodes;

# the same servers and user mappings on every node; node 1 keeps a
# password in its mappings (unused under trust) to check it never shows
for my $node (@nodes)
{
	$node->safe_psql('postgres',
		"CREATE EXTENSION pg_memshard;\n"
		  . server_sql(\@nodes,
			$node == $n1 ? "OPTIONS (password 'sekrit-pw')" : undef));
}
$n1->safe_psql('postgres',
	"SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3')");

# --- a hash map of 32 shards over the three nodes ---
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('m', nodes => ARRAY['n1', 'n2', 'n3'])");
is( $n1->safe_psql('postgres',
		"SELECT string_agg(node || ':' || count, ' ' ORDER BY node) FROM "
		  . "(SELECT node, count(*) FROM memshard.shards WHERE map = 'm' GROUP BY node) s"),
	'n1:11 n2:11 n3:10',
	'32 shards spread round robin over 3 nodes');
my $shards_n1 = $n1->safe_psql('postgres', "SELECT * FROM memshard.shards ORDER BY 1, 2");
is($n2->safe_psql('postgres', "SELECT * FROM memshard.shards ORDER BY 1, 2"),
	$shards_n1, 'node 2 has the same placements');
is($n3->safe_psql('postgres', "SELECT * FROM memshard.shards ORDER BY 1, 2"),
	$shards_n1, 'node 3 has the same placements');
like($shards_n1, qr/^m\|5\|FOR VALUES WITH \(MODULUS 32, REMAINDER 5\)\|n3\|primary$/m,
	'shards view shows bounds as native partitioning does');

# 10,000 keys from node 1, one statement
is( $n1->safe_psql('postgres',
		"SELECT memshard.mset('m', array_agg('key' || i), array_agg('value' || i)) "
		  . "FROM generate_series(1, 10000) i"),
	'10000', 'mset of 10,000 keys from node 1');

my $all_back =
  "SELECT count(*) FROM memshard.mget('m', (SELECT array_agg('key' || i) FROM generate_series(1, 10000) i)) "
  . "WHERE value = 'value' || substr(key, 4)";
is($n2->safe_psql('postgres', $all_back), '10000', 'node 2 reads all 10,000 back with mget');
is($n3->safe_psql('postgres', $all_back), '10000', 'node 3 reads all 10,000 back with mget');
is( $n3->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 10000) i WHERE memshard.get('m', 'key' || i) = 'value' || i"),
	'10000', 'node 3 reads all 10,000 back key by key');

# shard_for is hash_partition, node_for agrees on every node
is( $n2->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, 10000) i "
		  . "WHERE memshard.shard_for('m', 'key' || i) = memshard.hash_partition(('key' || i)::text, 32)"),
	'10000', 'shard_for is exactly hash_partition(key, 32)');
my $where =
  "SELECT string_agg(node || ':' || count, ' ' ORDER BY node) FROM "
  . "(SELECT memshard.node_for('m', 'key' || i) AS node, count(*) FROM generate_series(1, 10000) i GROUP BY 1) s";
my $distribution = $n1->safe_psql('postgres', $where);
is($n3->safe_psql('postgres', $where), $distribution, 'node_for agrees on nodes 1 and 3');

# each key physically sits on the node node_for names: local stats
my %expected = map { split /:/ } split / /, $distribution;
for my $i (1 .. 3)
{
	is( $nodes[ $i - 1 ]->safe_psql('postgres',
			"SELECT items FROM memshard.map_stats WHERE map = 'm'"),
		$expected{"n$i"},
		"node $i holds exactly the keys node_for gives it ($expected{\"n$i\"})");
	cmp_ok($expected{"n$i"}, '>', 2800, "node $i has its share of keys");
	cmp_ok($expected{"n$i"}, '<', 3800, "node $i has no more than its share");
}

# a node refuses a key whose shard it does not hold
my $key_on_n2 = $n1->safe_psql('postgres',
	"SELECT 'key' || i FROM generate_series(1, 100) i WHERE memshard.node_for('m', 'key' || i) = 'n2' LIMIT 1");
my $key_on_n3 = $n1->safe_psql('postgres',
	"SELECT 'key' || i FROM generate_series(1, 100) i WHERE memshard.node_for('m', 'key' || i) = 'n3' LIMIT 1");
my ($ret, $out, $err) = $n3->psql('postgres', "SELECT memshard.peer_get('m', '$key_on_n2')");
like($err, qr/node "n3" does not hold shard \d+ of map "m"/, 'a node refuses a shard it does not hold');

# the other data functions through the cluster, from node 2
is( $n2->safe_psql('postgres', qq{
	SELECT memshard.set('m', '$key_on_n3', 'x'),
	       memshard.add('m', '$key_on_n3', 'y'),
	       memshard.replace('m', '$key_on_n3', 'z'),
	       memshard.get('m', '$key_on_n3'),
	       memshard.delete('m', '$key_on_n3'),
	       memshard.get('m', '$key_on_n3') IS NULL,
	       memshard.incr('m', '$key_on_n3', 5),
	       memshard.incr('m', '$key_on_n3', 2),
	       memshard.touch('m', '$key_on_n3', '1 hour'),
	       encode(memshard.get_bytea('m', '$key_on_n3'), 'escape')}),
	't|f|t|z|t|t|5|7|t|7',
	'set, add, replace, get, delete, incr, touch, get_bytea on another node');
$n1->safe_psql('postgres', "SELECT memshard.set('m', '$key_on_n2', 'not a number')");
($ret, $out, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT memshard.incr('m', '$key_on_n2')");
like($err, qr/ERROR:  22P02: n2: value of key "\Q$key_on_n2\E" in map "m" is not an integer/,
	"a node's error comes back with its SQLSTATE, prefixed by the node's name");
$n1->safe_psql('postgres', "SELECT memshard.set('m', '$key_on_n2', 'value'), memshard.set('m', '$key_on_n3', 'value')");

# a role that is not a superuser: its own mapping, with a password
$n1->safe_psql('postgres', "CREATE ROLE bob; CREATE USER MAPPING FOR bob SERVER n2");
my $key_on_n1 = $n1->safe_psql('postgres',
	"SELECT 'key' || i FROM generate_series(1, 100) i WHERE memshard.node_for('m', 'key' || i) = 'n1' LIMIT 1");
($ret, $out, $err) = $n1->psql('postgres', qq{SET ROLE bob;
SELECT memshard.get('m', '$key_on_n1');
SELECT memshard.get('m', '$key_on_n2');}, on_error_stop => 0);
is($out, 'value' . $key_on_n1 =~ s/key//r, 'a non-superuser reads keys of this node');
like($err, qr/ERROR:  password is required\nDETAIL:  Non-superusers must provide a password in the user mapping/,
	'but cannot connect to a node without a password in its user mapping');
like( $n1->safe_psql('postgres', "SET ROLE bob; SELECT node || ':' || coalesce(error, 'ok') FROM memshard.cluster_stats ORDER BY node"),
	qr/^n1:ok\nn2:password is required\nn3:user mapping not found for "n3"$/,
	"cluster_stats shows each node's own error");

# the password is not in the nodes view, nor in the nodes' activity
unlike($n1->safe_psql('postgres', "SELECT * FROM memshard.nodes"), qr/sekrit/,
	'no password in memshard.nodes');
unlike($n2->safe_psql('postgres', "SELECT * FROM pg_stat_activity"), qr/sekrit/,
	'no password in pg_stat_activity of a node we are connected to');

# --- a range map ---
$n2->safe_psql('postgres',
	"SELECT memshard.create_map('r', method => 'range', bounds => ARRAY['g', 'p'], nodes => ARRAY['n3', 'n1', 'n2'])");
is($n1->safe_psql('postgres', "SELECT string_agg(node || ' ' || bounds, ', ' ORDER BY shard) FROM memshard.shards WHERE map = 'r'"),
	"n3 FOR VALUES FROM (MINVALUE) TO ('g'), n1 FOR VALUES FROM ('g') TO ('p'), n2 FOR VALUES FROM ('p') TO (MAXVALUE)",
	'range map: one shard per range, round robin from the first node');
$n1->safe_psql('postgres', q{
	SELECT memshard.mset('r', array_agg(k), array_agg(k))
	FROM (SELECT chr(97 + i % 26) || i AS k FROM generate_series(0, 2599) i) s});
is( $n1->safe_psql('postgres', q{
	SELECT count(*) FROM generate_series(0, 2599) i, LATERAL (SELECT chr(97 + i % 26) || i AS k) k
	WHERE memshard.shard_for('r', k) = memshard.range_partition(k, ARRAY['g', 'p'])}),
	'2600', 'shard_for of a range map is range_partition(key, bounds)');
is($n3->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'r'"),
	'600', 'keys below g sit on node 3');
is($n1->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'r'"),
	'900', 'keys from g to p sit on node 1');
is($n2->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'r'"),
	'1100', 'keys from p sit on node 2');
is($n2->safe_psql('postgres', "SELECT memshard.get('r', 'h7'), memshard.get('r', 'z25')"),
	'h7|z25', 'range keys read back');
is($n1->safe_psql('postgres', "SELECT memshard.flush('r')"), '2600', 'flush removes the items of every node');
is(join(',', map { $_->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'r'") } @nodes),
	'0,0,0', 'none is left anywhere');

# --- replicas = 2, one node stopped ---
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('rep', shard_count => 8, nodes => ARRAY['n1', 'n2', 'n3'], replicas => 2)");
is( $n1->safe_psql('postgres',
		"SELECT count(DISTINCT node) FROM memshard.shards WHERE map = 'rep' GROUP BY shard ORDER BY 1 LIMIT 1"),
	'2', 'the two copies of a shard are on distinct nodes');
$n1->safe_psql('postgres',
	"SELECT memshard.mset('rep', array_agg('k' || i), array_agg('v' || i)) FROM generate_series(1, 3000) i");
is($n1->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'rep'")
	  + $n2->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'rep'")
	  + $n3->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'rep'"),
	6000, 'every key stored twice');
$n3->stop;
my $rep_back =
  "SET pg_memshard.connect_timeout = '1s';"
  . "SELECT count(*) FROM memshard.mget('rep', (SELECT array_agg('k' || i) FROM generate_series(1, 3000) i)) "
  . "WHERE value = 'v' || substr(key, 2)";
is($n1->safe_psql('postgres', $rep_back), '3000', 'node 3 stopped: node 1 still reads every key (mget)');
is($n2->safe_psql('postgres', $rep_back), '3000', 'and so does node 2');
is( $n2->safe_psql('postgres',
		"SET pg_memshard.connect_timeout = '1s'; SELECT count(*) FROM generate_series(1, 300) i WHERE memshard.get('rep', 'k' || i) = 'v' || i"),
	'300', 'and key by key');
my $primary_n3 = $n1->safe_psql('postgres',
	"SELECT 'k' || i FROM generate_series(1, 100) i WHERE memshard.node_for('rep', 'k' || i) = 'n3' LIMIT 1");
my $replica_n3 = $n1->safe_psql('postgres', q{
	SELECT 'k' || i FROM generate_series(1, 100) i
	WHERE memshard.shard_for('rep', 'k' || i) IN
		(SELECT shard FROM memshard.shards WHERE map = 'rep' AND node = 'n3' AND role = 'replica')
	LIMIT 1});
($ret, $out, $err) = $n1->psql('postgres',
	"\\set VERBOSITY verbose\nSET pg_memshard.connect_timeout = '1s'; SELECT memshard.set('rep', '$primary_n3', 'new')");
like($err, qr/ERROR:  08001: could not connect to node "n3"/,
	'a write whose primary is down fails, naming the node');
($ret, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.connect_timeout = '1s'; SELECT memshard.set('rep', '$replica_n3', 'new')");
is($out, 't', 'a write whose replica is down succeeds on the primary');
like($err, qr/WARNING:  a replica of map "rep" missed a write\nDETAIL:  could not connect to node "n3"/,
	'with a warning naming the node');
like( $n1->safe_psql('postgres',
		"SET pg_memshard.connect_timeout = '1s'; SELECT node || ':' || coalesce(items::text, error) FROM memshard.cluster_stats ORDER BY node"),
	qr/^n1:\d+\nn2:\d+\nn3:could not connect to node "n3"$/,
	'cluster_stats: a row per node, the unreachable one with its error');
$n3->start;
is($n3->safe_psql('postgres', "SELECT count(*) FROM memshard.map_stats WHERE items > 0"),
	'0', 'node 3 restarted empty (a cache)');
is($n1->safe_psql('postgres', "SELECT memshard.set('rep', '$primary_n3', 'new')"),
	't', 'once it is back, its shards take writes again, through a new connection');

# --- a node down, no replicas: its shards fail fast, the others work ---
$n1->safe_psql('postgres', "SELECT memshard.set('m', '$key_on_n3', 'value')");
$n2->stop;
my $started = time;
($ret, $out, $err) = $n1->psql('postgres', qq{\\set VERBOSITY verbose
SET pg_memshard.connect_timeout = '1s';
SELECT memshard.get('m', '$key_on_n2');
SELECT memshard.get('m', '$key_on_n3');
SELECT memshard.get('m', '$key_on_n2');
SELECT memshard.get('m', '$key_on_n3');}, on_error_stop => 0);
like($err, qr/ERROR:  08001: could not connect to node "n2"/, 'a key on the stopped node: 08 error naming it');
is($out, "value\nvalue", 'keys on the other nodes still answer in the same session');
cmp_ok(time - $started, '<', 5, 'and nothing waited long');
$n2->start;

# a node that accepts connections but never answers (a blackhole)
my $hole_port = PostgreSQL::Test::Cluster::get_free_port();
my $hole = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => $hole_port,
	Listen => 16,
	ReuseAddr => 1) or die "blackhole: $!";
$n1->safe_psql('postgres', "ALTER SERVER n2 OPTIONS (SET host '127.0.0.1', SET port '$hole_port')");
$started = time;
($ret, $out, $err) = $n1->psql('postgres', qq{\\set VERBOSITY verbose
SET pg_memshard.connect_timeout = '1s';
SELECT memshard.get('m', '$key_on_n2');
SELECT memshard.get('m', '$key_on_n3');}, on_error_stop => 0);
like($err, qr/ERROR:  08001: could not connect to node "n2"\nDETAIL:  timeout expired after 1000 ms/,
	'a node that never answers costs one timeout and an 08 error');
is($out, 'value', 'the other nodes keep answering in that session');
my $elapsed = time - $started;
cmp_ok($elapsed, '>=', 0.9, 'the timeout was waited for');
cmp_ok($elapsed, '<', 4, 'and not much longer');

# with a replica elsewhere, a read pays that timeout once, then asks the
# replica first while the node is likely still down
my $rep_on_n2 = $n1->safe_psql('postgres',
	"SELECT 'k' || i FROM generate_series(1, 100) i WHERE memshard.node_for('rep', 'k' || i) = 'n2' LIMIT 1");
$n3->safe_psql('postgres', "SELECT memshard.set('rep', '$rep_on_n2', 'kept')");
sleep(1.1);		# the failure of the node above is forgotten for reads
$started = time;
is( $n1->safe_psql('postgres',
		"SET pg_memshard.connect_timeout = '1s'; "
		  . "SELECT memshard.get('rep', '$rep_on_n2'), memshard.get('rep', '$rep_on_n2'), "
		  . "memshard.get('rep', '$rep_on_n2')"),
	'kept|kept|kept', 'reads whose primary never answers fall back to the replica');
$elapsed = time - $started;
cmp_ok($elapsed, '>=', 0.9, 'after one timeout');
cmp_ok($elapsed, '<', 1.9, 'only one');

($ret, $out, $err) = $n1->psql('postgres', qq{
SET pg_memshard.connect_timeout = '60s';
SET statement_timeout = '500ms';
SELECT memshard.get('m', '$key_on_n2');});
like($err, qr/canceling statement due to statement timeout/,
	'statement_timeout interrupts a wait for a node');

my $waiter = $n1->background_psql('postgres', on_error_stop => 0);
$waiter->query_safe("SET application_name = 'waiter'; SET pg_memshard.connect_timeout = '60s'");
$started = time;
$waiter->query_until(qr/waiting/, "\\echo waiting\nSELECT memshard.get('m', '$key_on_n2');\n");
$n1->poll_query_until('postgres',
	"SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE application_name = 'waiter'")
  or die "the waiter does not wait";
$n1->safe_psql('postgres',
	"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'waiter'");
$waiter->query_until(qr/after/, "\\echo after\n");
like($waiter->{stderr}, qr/canceling statement due to user request/, 'pg_cancel_backend interrupts a wait for a node');
cmp_ok(time - $started, '<', 30, 'long before the connect timeout');
$waiter->{stderr} = '';
is($waiter->query("SELECT memshard.get('m', '$key_on_n3')"), 'value',
	'the session goes on working with the other nodes');
$waiter->quit;
$n1->safe_psql('postgres', sprintf("ALTER SERVER n2 OPTIONS (SET host '%s', SET port '%d')", $n2->host, $n2->port));
is($n1->safe_psql('postgres', "SELECT memshard.get('m', '$key_on_n2')"), '',
	'ALTER SERVER back: node 2 restarted empty, reached again');
close $hole;

# --- metadata: made on any node, reaches every node or none ---
$n2->safe_psql('postgres', "SELECT memshard.create_map('from2', shard_count => 4, nodes => ARRAY['n1', 'n2', 'n3'])");
for my $node ($n1, $n3)
{
	is($node->safe_psql('postgres', "SELECT shard_count FROM memshard.maps WHERE name = 'from2'"),
		'4', 'create_map on node 2 visible on ' . $node->name);
}
is($n3->safe_psql('postgres', "SELECT memshard.set('from2', 'a', 'b'), memshard.get('from2', 'a')"),
	't|b', 'and usable there');
$n3->stop;
($ret, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.connect_timeout = '1s'; SELECT memshard.create_map('lost', nodes => ARRAY['n1', 'n2'])");
like($err, qr/could not connect to node "n3"/, 'with node 3 stopped, create_map fails naming it');
($ret, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.connect_timeout = '1s'; SELECT memshard.drop_map('from2')");
like($err, qr/could not connect to node "n3"/, 'and so does drop_map');
$n3->start;
for my $node (@nodes)
{
	is($node->safe_psql('postgres', "SELECT count(*) FROM memshard.maps WHERE name = 'lost'"),
		'0', 'no node has the failed map: ' . $node->name);
	is($node->safe_psql('postgres', "SELECT count(*) FROM memshard.maps WHERE name = 'from2'"),
		'1', 'every node still has the map whose drop failed: ' . $node->name);
	is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'),
		'0', 'nothing left prepared: ' . $node->name);
}
$n3->safe_psql('postgres', "SELECT memshard.drop_map('from2')");
is(join(',', map { $_->safe_psql('postgres', "SELECT count(*) FROM memshard.maps WHERE name = 'from2'") } @nodes),
	'0,0,0', 'drop_map on node 3 reaches every node');

# a map made on a node of a cluster without nodes lives on that node only,
# and every node knows it
$n3->safe_psql('postgres', "SELECT memshard.create_map('mine')");
is($n1->safe_psql('postgres', "SELECT memshard.set('mine', 'a', 'b'), memshard.node_for('mine', 'a')"),
	't|n3', 'a map without nodes, made on node 3, lives on node 3');
is($n3->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'mine'"),
	'1', 'and its items are there');

# a node that takes too long to answer: 08006 within remote_timeout
$n1->safe_psql('postgres', "SELECT memshard.set('m', '$key_on_n3', 'value')");
my $locker = $n2->background_psql('postgres');
$locker->query_safe("BEGIN; LOCK TABLE memshard.map_catalog IN ACCESS EXCLUSIVE MODE");
$started = time;
($ret, $out, $err) = $n1->psql('postgres', qq{\\set VERBOSITY verbose
SET pg_memshard.remote_timeout = '1s';
SELECT memshard.get('m', '$key_on_n2');
SELECT memshard.get('m', '$key_on_n3');}, on_error_stop => 0);
like($err, qr/ERROR:  08006: node "n2" did not answer within 1000 ms/,
	'a node that does not answer in time: 08006 naming it');
is($out, 'value', 'the other nodes keep answering');
$elapsed = time - $started;
cmp_ok($elapsed, '>=', 0.9, 'after remote_timeout');
cmp_ok($elapsed, '<', 4, 'not much later');
$locker->query_safe("ROLLBACK");
$locker->quit;

# connections are cached per session, and dropped when the server changes
my $session = $n1->background_psql('postgres');
my $connections_to_n2 =
  "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE application_name = 'pg_memshard'";
$session->query_safe("SELECT memshard.get('m', '$key_on_n2')");
$n2->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'pg_memshard'")
  or die "no connection from node 1";
my $first = $n2->safe_psql('postgres', $connections_to_n2);
$session->query_safe("SELECT memshard.get('m', '$key_on_n2') FROM generate_series(1, 5)");
$session->query_safe("SELECT memshard.mget('m', ARRAY['$key_on_n2'])");
is($n2->safe_psql('postgres', $connections_to_n2), $first, 'one connection, reused across calls and statements');
is($session->query_safe("SELECT string_agg(server || ':' || valid, ',') FROM memshard.connections()"),
	'n2:true', 'memshard.connections() shows it');
$n1->safe_psql('postgres', "ALTER SERVER n2 OPTIONS (ADD application_name 'pg_memshard')");
$session->query_safe("SELECT memshard.get('m', '$key_on_n2')");
$n2->poll_query_until('postgres',
	"SELECT count(*) = 1 AND string_agg(pid::text, ',') <> '$first' FROM pg_stat_activity WHERE application_name = 'pg_memshard'")
  or die "the connection was not replaced";
pass('ALTER SERVER replaced the connection');
is($session->query_safe("SELECT memshard.disconnect(); SELECT count(*) FROM memshard.connections()"),
	"1\n0", 'memshard.disconnect() closes it');
$session->quit;

# remove_node is refused while the node holds shards
($ret, $out, $err) = $n1->psql('postgres', "SELECT memshard.remove_node('n3')");
like($err, qr/node "n3" holds \d+ shards\nDETAIL:  Maps with shards on it: m, mine, r, rep\./,
	'remove_node refused while the node holds shards, naming the maps');

$_->stop for @nodes;
done_testing();
