# The Redis protocol over maps over nodes when a node is down (issue 15):
# three nodes, RESP database 0 a map with two copies of each shard,
# database 1 a map with one.  INFO keyspace counts both maps over their
# nodes (as DBSIZE).  With the third node stopped, KEYS, SCAN and DBSIZE
# of database 0 still see every key exactly once (its shards answered by
# their replicas); database 1's fail naming the node, while INFO still
# answers, leaving out the keys of the shards no node answered for and
# saying how many.  MSETNX from clients of two workers at once over nodes
# is all or none with at most one winner.
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

my @nodes = start_cluster('rr', 3, "pg_memshard.resp_auth = off\n");
my ($n1, $n2, $n3) = @nodes;
my $port = RespNode::listen($n1, q{
pg_memshard.resp_workers = 2
pg_memshard.connect_timeout = 2s
pg_memshard.remote_timeout = 3s
});
ok(RespNode::wait_resp($port), 'node 1 listens for RESP');
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('redis', shard_count => 12, nodes => ARRAY['n1', 'n2', 'n3'], replicas => 2);
SELECT memshard.create_map('redis_1', shard_count => 12, nodes => ARRAY['n1', 'n2', 'n3']);
});
is($n1->safe_psql('postgres',
		"SELECT count(DISTINCT node) FROM memshard.shards WHERE map = 'redis' AND role = 'primary'"),
	'3', 'every node holds primaries of map redis');

# 300 keys in database 0, 90 in database 1, set over RESP
my $cmds = join('', map { "SET key:$_ v$_\n" } 1 .. 300);
IPC::Run::run([ 'redis-cli', '-p', $port, '-n', '0' ], '<', \$cmds, '>', \my $set_out);
$cmds = join('', map { "SET one:$_ w$_\n" } 1 .. 90);
IPC::Run::run([ 'redis-cli', '-p', $port, '-n', '1' ], '<', \$cmds, '>', \my $set_out1);
is(() = $set_out =~ /^OK$/mg, 300, '300 keys set in database 0');
is(() = $set_out1 =~ /^OK$/mg, 90, '90 keys set in database 1');

sub cli { my $out = `redis-cli -p $port @_ 2>&1`; chomp $out; return $out; }

sub keyspace
{
	my ($info) = @_;
	return join(' ', $info =~ /^(db\d+:[^\r\n]*)/mg);
}
is(cli('DBSIZE'), '300', 'DBSIZE over three nodes');
is(keyspace(cli('INFO keyspace')),
	'db0:keys=300,expires=0,avg_ttl=0 db1:keys=90,expires=0,avg_ttl=0',
	'INFO keyspace counts the maps over nodes as DBSIZE does');

my $on_n3 = $n1->safe_psql('postgres',
	"SELECT count(*) FROM generate_series(1, 90) i "
	  . "WHERE memshard.node_for('redis_1', 'one:' || i) = 'n3'");
my $n3_shards = $n1->safe_psql('postgres',
	"SELECT count(*) FROM memshard.shards WHERE map = 'redis_1' AND node = 'n3'");
cmp_ok($on_n3, '>', 0, "$on_n3 keys of database 1 on node 3, in $n3_shards shards");

# MSETNX from clients of both workers at once: all or none, one winner
my ($rc, $out) = RespNode::run_py('msetnx_race.py', $port, 150);
is($rc, 0, 'concurrent MSETNX over nodes: at most one winner, all or none of its keys')
  or diag $out;
like($out, qr/^150 rounds, [1-9]\d* won, 0 failures$/m, 'rounds run, some won');
note $out;
is(cli('MSETNX', 'key:1', 'x', 'fresh:1', 'y'), '0', 'MSETNX with one existing key: 0');
is(cli('EXISTS', 'fresh:1'), '0', 'and the other key was not left set');
is(cli('GET', 'key:1'), 'v1', 'nor the existing one changed');
is(cli('MSETNX', 'fresh:1', 'a', 'fresh:2', 'b', 'fresh:1', 'c'), '1', 'MSETNX of new keys: 1');
is(cli('MGET', 'fresh:1', 'fresh:2'), "c\nb", 'a key named twice: the last value');
is(cli('DEL', 'fresh:1', 'fresh:2'), '2', 'cleaned');

$n3->stop;

my @want = sort map { "key:$_" } 1 .. 300;
is(cli('DBSIZE'), '300', 'node 3 stopped: DBSIZE still counts every key');
my @keys = sort split /\n/, cli(q{KEYS '*'});
is_deeply(\@keys, \@want, 'KEYS sees every key once');

my ($cursor, @scanned, $rounds) = (0);
do
{
	my @lines = split /\n/, cli("SCAN $cursor COUNT 20");
	$cursor = shift @lines;
	push @scanned, @lines;
} while ($cursor ne '0' && ++$rounds < 1000);
is_deeply([ sort @scanned ], \@want, 'SCAN sees every key once');
is(cli('GET key:7'), 'v7', 'GET of a key reads its replica');

like(cli('-n 1 DBSIZE'), qr/^ERR .*node "n3"/,
	'no copy answers: DBSIZE fails naming the node');
like(cli(q{-n 1 KEYS '*'}), qr/^ERR .*node "n3"/, 'and KEYS');
like(cli('-n 1 SCAN 0 COUNT 1000'), qr/^ERR .*node "n3"/, 'and SCAN');

my $t0 = time;
my $info = cli('INFO keyspace');
is(keyspace($info),
	'db0:keys=300,expires=0,avg_ttl=0 db1:keys=' . (90 - $on_n3)
	  . ",expires=0,avg_ttl=0,pg_memshard_shards_unanswered=$n3_shards",
	'INFO keyspace answers: the keys that answered and the shards missed');
cmp_ok(time - $t0, '<=', 15, 'INFO bounded by the timeouts');
like(cli('INFO server'), qr/redis_version/, 'INFO goes on answering');

$n3->start;
is(cli('-n 1 DBSIZE'), '90', 'node 3 back: database 1 counts every key again');

$_->stop for @nodes;
unlike(slurp_file($n1->logfile), qr/terminated by signal|was terminated/, 'no process crashed');
like(slurp_file($n1->logfile), qr/INFO keyspace: $n3_shards shards of map "redis_1" left out/,
	'the shards left out are logged');
done_testing();
