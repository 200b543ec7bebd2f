# The Redis protocol and a node that does not answer (issue 15): with two
# RESP workers, a client whose key lives on a stopped node (SIGSTOP once
# the client's worker is connected to it: the call hangs rather than
# fails) gets an error within
# pg_memshard.connect_timeout + pg_memshard.remote_timeout, while a client
# of the other worker goes on being answered during that time; once the
# call gave up, the first worker answers again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;
use RespNode;

my @nodes = start_cluster('rd', 2, "pg_memshard.resp_auth = off\n");
my ($n1, $n2) = @nodes;
my $port = RespNode::listen($n1, q{
pg_memshard.resp_workers = 2
pg_memshard.connect_timeout = 2s
pg_memshard.remote_timeout = 3s
});
ok(RespNode::wait_resp($port), 'node 1 listens for RESP');
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('redis', shard_count => 8, nodes => ARRAY['n1', 'n2'])");

# a key of each node
my ($dead_key, $live_key) = map {
	$n1->safe_psql('postgres',
		"SELECT 'k' || i FROM generate_series(1, 1000) i "
		  . "WHERE memshard.node_for('redis', 'k' || i) = '$_' ORDER BY i LIMIT 1")
} ('n2', 'n1');
ok($dead_key && $live_key, "keys $dead_key (on n2) and $live_key (on n1)");
is(`redis-cli -p $port SET $dead_key before`, "OK\n", 'the key on node 2 is set through node 1');

# dead_node.py stops node 2's postmaster and every process of it once
# client A's worker is connected to node 2 (its calls then hang), and
# resumes them at its end
my ($rc, $out) = RespNode::run_py('dead_node.py', $port, $dead_key, $live_key, 20,
	$n2->{_pid});
is($rc, 0, 'the blocked client got its error within the bound; the other worker answered meanwhile')
  or diag $out;
like($out, qr/client A waited ([\d.]+) s and got b'-ERR [^']*'/, 'an error reply') or diag $out;
my ($waited) = $out =~ /client A waited ([\d.]+) s/;
like($out, qr/before the stop, client A read b'\$6\\r\\nbefore\\r\\n'/, 'client A read the key before the stop')
  or diag $out;
cmp_ok($waited // 0, '>=', 2.5, 'the client did wait for the node (pg_memshard.remote_timeout)');
like($out, qr/client B got (\d+) answers meanwhile/, 'answers counted');
note $out;

like($out, qr/stopped: \d+ \d+/, 'node 2 and its processes were stopped');
is(`redis-cli -p $port GET $dead_key`, "before\n", 'once node 2 answers again, so does its key');

$_->stop for @nodes;
unlike(slurp_file($n1->logfile), qr/terminated by signal|was terminated/, 'no process crashed');
done_testing();
