# Bounds of the RESP front end: the client limit, the reply backlog of a
# client that never reads (dropped, others unaffected), a half request
# left hanging, and pg_memshard.resp_auth = off refused on a non-loopback
# address.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RespNode;

my $node = RespNode::start('resp_limits',
	"pg_memshard.resp_auth = off\npg_memshard.resp_max_clients = 4\n"
	  . "pg_memshard.resp_max_output_buffer = 256kB\n");
my $port = $node->{resp_port};
sub conn
{
	return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 5);
}
sub ask
{
	my ($sock, $req) = @_;
	print $sock $req;
	my $buf = '';
	$sock->recv($buf, 4096);
	return $buf;
}

# a half request left hanging does not block anyone
my $half = conn();
print $half "*3\r\n\$3\r\nSET\r\n\$1\r\nk\r\n\$100\r\nhalf";
my @c = map { conn() } 1 .. 3;
is(ask($c[0], "PING\r\n"), "+PONG\r\n", 'others are served while a request hangs half sent');

# the fifth client is refused as Redis refuses it
my $fifth = conn();
like(ask($fifth, "PING\r\n"), qr/^-ERR max number of clients reached/,
	'over pg_memshard.resp_max_clients: refused');
close($half);
close($fifth);

# a client that floods requests and never reads is dropped at its backlog
is(ask($c[1], "SET big " . ('v' x 10000) . "\r\n"), "+OK\r\n", 'a 10 kB value');
my $flood = $c[2];
$flood->blocking(0);
my $req = "GET big\r\n" x 200;
for (1 .. 200) { syswrite($flood, $req); select(undef, undef, undef, 0.005); }
sleep 1;
like(slurp_file($node->logfile), qr/passed pg_memshard.resp_max_output_buffer/,
	'the flooding client was dropped');
is(ask($c[0], "PING\r\n"), "+PONG\r\n", 'the other clients are unaffected');
close($_) for @c;

$node->stop('fast');

# resp_auth = off with a non-loopback address is refused: auth stays on
my $open = PostgreSQL::Test::Cluster->new('resp_open');
my $oport = PostgreSQL::Test::Cluster::get_free_port();
$open->init;
$open->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.resp_port = $oport
pg_memshard.resp_listen_addresses = '*'
pg_memshard.resp_auth = off
});
$open->start;
$open->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');
like(slurp_file($open->logfile),
	qr/pg_memshard.resp_auth may only be off when every listen address is a loopback address/,
	'resp_auth = off on "*" is refused, with the reason');
is($open->safe_psql('postgres', 'SHOW pg_memshard.resp_auth'), 'on', 'authentication stays on');
RespNode::wait_resp($oport);
like(`redis-cli -p $oport GET k`, qr/NOAUTH/, 'clients must AUTH');
$open->stop('fast');
done_testing();
