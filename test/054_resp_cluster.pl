# The Redis protocol over maps over nodes (issue 15): two nodes whose RESP
# databases 0 and 1 are maps over both (database 1 with two copies of each
# shard).  Every command replies through either node byte for byte as on a
# map of one node (a third node) and as redis-server does (compare.py);
# KEYS, SCAN and DBSIZE see every node's keys once; APPEND, INCRBYFLOAT and
# INCR from clients of both nodes at once lose nothing; SQL on any node
# reads what RESP wrote, and the replicas got the read-modify-writes;
# memshard.resp_clients shows the clients, to pg_monitor.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;
use RespNode;
use IPC::Run;

my @nodes = start_cluster('rc', 2, "pg_memshard.resp_auth = off\n");
my @ports;
for my $node (@nodes)
{
	my $port = RespNode::listen($node);
	push @ports, $port;
	ok(RespNode::wait_resp($port), $node->name . ' listens for RESP');
}
my ($n1, $n2) = @nodes;
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('redis', shard_count => 8, nodes => ARRAY['n1', 'n2']);
SELECT memshard.create_map('redis_1', shard_count => 8, nodes => ARRAY['n1', 'n2'], replicas => 2);
});
for my $map ('redis', 'redis_1')
{
	is($n2->safe_psql('postgres',
			"SELECT count(DISTINCT node) FROM memshard.shards WHERE map = '$map'"),
		'2', "map $map is over both nodes");
}

my $local = RespNode::start('rc_local', "pg_memshard.resp_auth = off\n");
my $lport = $local->{resp_port};

# compare.py through each node, against redis-server and the local map
my ($rport, $redis) = RespNode::start_redis();
for my $i (0, 1)
{
	my ($rc, $out) = RespNode::run_py('compare.py', $ports[$i], $rport);
	is($rc, 0, "node " . ($i + 1) . ": every reply equals redis-server's") or diag $out;
	like($out, qr/\d+ replies compared, 0 differ/, 'replies compared');
	($rc, $out) = RespNode::run_py('compare.py', $ports[$i], $lport);
	is($rc, 0, "node " . ($i + 1) . ": every reply equals a local map's") or diag $out;
}
$redis->kill_kill;

my ($rc, $out) = RespNode::run_py('cluster_check.py', @ports, $lport);
is($rc, 0, 'read-modify-write, TTL, KEYS, SCAN, DBSIZE and atomicity over nodes')
  or diag $out;
like($out, qr/^0 failures$/m, 'cluster_check ran to the end');
unlike($out, qr/command '.*' is not supported/, 'no command refused on a map over nodes');

# the keys live on both nodes, and SQL on either node reads them
for my $map ('redis', 'redis_1')
{
	for my $node (@nodes)
	{
		is($node->safe_psql('postgres',
				"SELECT string_agg(memshard.get('$map', 'sql:' || i), ',' ORDER BY i) FROM generate_series(0, 19) i"),
			join(',', map { "v$_" } 0 .. 19),
			"memshard.get on " . $node->name . " reads the keys set over RESP ($map)");
		is($node->safe_psql('postgres', "SELECT memshard.get('$map', 'rmw:app')"),
			'abcdef', "APPEND and SETRANGE over RESP, read on " . $node->name . " ($map)");
	}
	is($n1->safe_psql('postgres',
			"SELECT count(DISTINCT memshard.node_for('$map', 'sql:' || i)) FROM generate_series(0, 19) i"),
		'2', "the keys of $map are on both nodes");
}
# database 1 keeps two copies: each node's own copy got the writes
for my $node (@nodes)
{
	is($node->safe_psql('postgres',
			"SELECT convert_from(memshard.peer_get('redis_1', 'rmw:app'), 'UTF8'), "
			  . "convert_from(memshard.peer_get('redis_1', 'rmw:gs'), 'UTF8')"),
		'abcdef|new', 'the copy on ' . $node->name . ' got the read-modify-writes');
}

# memshard.resp_clients: a client that named itself, seen from SQL
my $py = qq{import redis, time
r = redis.Redis(port=$ports[0], db=1)
r.client_setname("viewer")
r.set("seen", "yes")
print("ready", flush=True)
time.sleep(30)
};
my ($pyout, $pyerr) = ('', '');
my $viewer = IPC::Run::start([ '/usr/bin/python3', '-c', $py ], '>', \$pyout, '2>', \$pyerr);
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM memshard.resp_clients WHERE name = 'viewer'"),
	'memshard.resp_clients shows the client') or diag $pyerr;
is($n1->safe_psql('postgres', q{
SELECT worker BETWEEN 0 AND 1, id > 0, addr LIKE '127.0.0.1:%', role = current_user, db,
       age >= idle, idle < interval '1 minute', last_command, query_buffer, output_buffer
  FROM memshard.resp_clients WHERE name = 'viewer'}),
	't|t|t|t|1|t|t|set|0|0', 'its worker, id, address, role, database, times, last command, buffers');
$viewer->kill_kill;
ok($n1->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM memshard.resp_clients WHERE name = 'viewer'"),
	'a client gone leaves the view');
$n1->safe_psql('postgres', 'CREATE ROLE plain_viewer');
my ($ret, $o, $e) = $n1->psql('postgres',
	'SET ROLE plain_viewer; SELECT * FROM memshard.resp_clients');
like($e, qr/permission denied/, 'a plain role may not read memshard.resp_clients');
$n1->safe_psql('postgres', 'GRANT pg_monitor TO plain_viewer');
($ret, $o, $e) = $n1->psql('postgres',
	'SET ROLE plain_viewer; SELECT count(*) >= 0 FROM memshard.resp_clients');
is($o, 't', 'pg_monitor may') or diag $e;

$_->stop for @nodes, $local;
for my $node (@nodes, $local)
{
	unlike(slurp_file($node->logfile), qr/terminated by signal|was terminated/,
		'no process crashed on ' . $node->name);
}
done_testing();
