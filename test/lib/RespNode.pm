# A node with pg_memshard's Redis protocol front end on a free port, and a
# redis-server beside it, for the test/05x_resp_*.pl tests.
package RespNode;

use strict;
use warnings;
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our $dir = dirname(__FILE__) . '/../resp';

# start(NAME, EXTRA_CONF): a started node whose RESP port is $node->{resp_port}
sub start
{
	my ($name, $extra) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.resp_port = $port
pg_memshard.max_item_size = 8MB
pg_memshard.memory = 128MB
password_encryption = 'scram-sha-256'
} . ($extra // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');
	$node->{resp_port} = $port;
	wait_resp($port) or die "RESP port $port does not answer";
	return $node;
}

# listen(NODE, EXTRA_CONF): the RESP front end on a running node, on a free
# port (EXTRA_CONF appended too), after a restart; returns the port
sub listen
{
	my ($node, $extra) = @_;
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	$node->append_conf('postgresql.conf',
		"pg_memshard.resp_port = $port\n" . ($extra // ''));
	$node->restart;
	return $port;
}

# a raw PING until the workers listen
sub wait_resp
{
	my ($port) = @_;
	for (1 .. 100)
	{
		my $out = `redis-cli -p $port PING 2>/dev/null`;
		return 1 if defined $out && $out =~ /PONG/;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# a redis-server on loopback, as the reference; returns (port, harness)
sub start_redis
{
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $h = IPC::Run::start(
		[
			'redis-server', '--port', $port, '--bind', '127.0.0.1',
			'--save', '', '--appendonly', 'no',
			'--proto-max-bulk-len', '33554432', '--dir', PostgreSQL::Test::Utils::tempdir()
		],
		'>', '/dev/null', '2>', '/dev/null');
	wait_resp($port) or die "redis-server on $port does not answer";
	return ($port, $h);
}

# run a helper script of test/resp; returns (exit status, output)
sub run_py
{
	my ($script, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', "$dir/$script", @args ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

1;
