# The RESP workers and their signals: a reload followed at once by a fast
# or a smart shutdown.  SIGHUP sets a worker's latch and the worker re-reads its
# settings; a SIGTERM that lands while it does so must still end it.  (The
# worker once reset its latch after the reload and slept through the
# shutdown: pg_ctl stop timed out in test 050, once in CI.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use RespNode;

my $node = RespNode::start('resp_signals', "pg_memshard.resp_workers = 2\n");
my $port = $node->{resp_port};

# wait up to $secs for process $pid to be gone
sub gone_within
{
	my ($pid, $secs) = @_;
	my $until = time + $secs;
	while (time < $until)
	{
		return 1 unless kill 0, $pid;
		usleep(10_000);
	}
	return 0;
}

# SIGHUP then SIGINT (fast shutdown) or SIGTERM (smart shutdown) to the
# postmaster, $delay_us apart: the postmaster passes SIGHUP on to the
# workers, then SIGTERM.  Rounds 0-9 and 20-29 fast, 10-19 smart.
my $hung = 0;
for my $round (0 .. 29)
{
	my $delay_us = ($round % 10) * 500;
	my $mode = (int($round / 10) % 2) ? 'TERM' : 'INT';
	my $pid = $node->{_pid};

	kill 'HUP', $pid;
	usleep($delay_us);
	kill $mode, $pid;
	if (!gone_within($pid, 30))
	{
		$hung++;
		diag "round $round (SIG$mode $delay_us us after the reload): the server did not stop in 30 s";
		diag `ps -o pid,stat,cmd --ppid $pid`;
		$node->stop('immediate');
		last;
	}
	$node->_update_pid(0);
	$node->start;
	RespNode::wait_resp($port) or BAIL_OUT("RESP port does not answer after restart");
}
is($hung, 0, 'a fast or smart shutdown right after a reload stops the RESP workers, 30 times');
is(`redis-cli -p $port PING`, "PONG\n", 'the workers answer after the last restart');

$node->stop('fast');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated/, 'no worker crashed');

done_testing();
