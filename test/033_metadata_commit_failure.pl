# After the local commit of a metadata change nothing may raise an ERROR
# (it would be a PANIC: the transaction is already committed).  A failure
# while the other nodes' parts are being committed is a WARNING, the change
# stays committed here and prepared there, and recovery finishes it.
# Failures: one injected where the parts are committed (as a failed
# allocation would be), and a node that vanishes right after PREPARE.
# Last, DROP EXTENSION while the recovery worker visits the database.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MemshardCluster;

my @nodes = start_cluster('n', 3,
	"pg_memshard.memory = 16MB\npg_memshard.recovery_interval = 0\n");
my ($n1, $n2, $n3) = @nodes;
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('base', nodes => ARRAY['n1', 'n2', 'n3'])");

# --- 1. an ERROR where the parts are committed: a WARNING, not a PANIC ---
my $session = $n1->background_psql('postgres', on_error_stop => 0);
$session->query_safe('SET pg_memshard.test_error_after_commit = on');
$session->query("SELECT memshard.create_map('e1', nodes => ARRAY['n1', 'n2', 'n3'])");
like($session->{stderr},
	qr/WARNING:  could not commit the metadata change on node "n2"\nDETAIL:  failure injected after the commit \(pg_memshard.test_error_after_commit\)/,
	'a failure after the commit is a WARNING naming the node');
like($session->{stderr}, qr/could not commit the metadata change on node "n3"/,
	'for each node');
unlike($session->{stderr}, qr/ERROR|PANIC/, 'and nothing worse');
$session->{stderr} = '';
$session->query_safe('RESET pg_memshard.test_error_after_commit');
is($session->query_safe("SELECT memshard.set('base', 'k', 'v'), memshard.get('base', 'k')"),
	't|v', 'the session goes on, reaching the other nodes');
$session->quit;
is($n1->safe_psql('postgres', 'SELECT 1'), '1', 'the coordinator is up');
is(has_map($n1, 'e1'), '1', 'the change is committed on the coordinator');
is(prepared_changes($n2) . prepared_changes($n3), '11', 'and prepared on the other nodes');
is(has_map($n2, 'e1'), '0', 'not visible there yet');
is($n1->safe_psql('postgres', 'SELECT memshard.recover_metadata()'), '2',
	'recovery on the coordinator finishes both parts');
is(has_map($n2, 'e1') . has_map($n3, 'e1'), '11', 'committed there');
same_metadata('after a failure after the commit', @nodes);

# --- 2. a node vanishes right after PREPARE ---
my ($holder, $change) = hold_change($n1, 4301,
	"SELECT memshard.create_map('e2', nodes => ARRAY['n1', 'n2', 'n3'])",
	$n2, $n3);
$n2->stop('immediate');
$holder->query_safe('SELECT pg_advisory_unlock(4301)');
$change->query_until(qr/done/, '');
like($change->{stderr}, qr/WARNING:  could not commit the metadata change on node "n2"/,
	'a node lost after PREPARE: a WARNING naming it');
unlike($change->{stderr}, qr/could not commit the metadata change on node "n3"/,
	'the node still there committed');
$holder->quit;
$change->quit;
is($n1->safe_psql('postgres', 'SELECT 1'), '1', 'the coordinator is up');
is(has_map($n1, 'e2') . has_map($n3, 'e2'), '11',
	'the change is committed on the coordinator and on node 3');
is(prepared_changes($n3), '0', 'nothing left prepared on node 3');

$n2->start;
is(prepared_changes($n2), '1', 'node 2 restarts with its part prepared');
# the recovery worker of node 2 finishes it (prepared parts survive a
# restart: its first pass looks at every database)
$n2->append_conf('postgresql.conf', "pg_memshard.recovery_interval = '100ms'");
$n2->reload;
$n2->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid LIKE 'memshard%'")
  or die 'the worker did not finish the change on node 2';
is(has_map($n2, 'e2'), '1', 'the recovery worker committed it on node 2');
same_metadata('after a node lost after PREPARE', @nodes);

my $log = join('', map { slurp_file($_->logfile) } @nodes);
unlike($log, qr/PANIC|TRAP|cannot abort transaction/, 'no node panicked');

# --- 3. DROP EXTENSION while the recovery worker visits the database ---
# a part prepared in a database of its own whose coordinator is unknown
# keeps the worker coming back there (every 20 ms) once it has seen it;
# a new launcher (restart) looks at every database
$n2->safe_psql('postgres', 'CREATE DATABASE other');
$n2->safe_psql('other', "CREATE EXTENSION pg_memshard VERSION '1.0'; ALTER EXTENSION pg_memshard UPDATE");
is($n2->safe_psql('other', 'SELECT in_doubt, resolved FROM memshard.metadata_recovery'),
	'0|1', 'an extension updated from 1.0 has the view metadata_recovery (resolved: of the instance)');
$n2->safe_psql('other',
	"BEGIN; CREATE TABLE t (); PREPARE TRANSACTION 'memshard_1_2_3_4'");
$n2->safe_psql('postgres', "ALTER SYSTEM SET pg_memshard.recovery_interval = '20ms'");
my $slowest = 0;
my $started;
my $dropped = 1;
for my $round (1 .. 5)
{
	$n2->restart;
	$n2->poll_query_until('other',
		"SELECT last_problem LIKE '%memshard_1_2_3_4%' FROM memshard.metadata_recovery")
	  or die 'the worker does not visit the database';
	$started = time;
	my ($ret, $out, $err) = $n2->psql('other', 'DROP EXTENSION pg_memshard');
	$slowest = time - $started if time - $started > $slowest;
	$dropped &&= ($ret == 0);
	$n2->safe_psql('other', 'CREATE EXTENSION pg_memshard');
}
ok($dropped, 'DROP EXTENSION succeeds while the worker visits the database');
cmp_ok($slowest, '<', 5, 'without waiting long for the worker');
like(slurp_file($n2->logfile),
	qr/LOG:  pg_memshard: metadata change "memshard_1_2_3_4" stays in doubt: the node that made it is not in this node's node list/,
	'the worker said why it cannot finish that part');
$n2->safe_psql('other', "ROLLBACK PREPARED 'memshard_1_2_3_4'");
$n2->safe_psql('other', 'DROP EXTENSION pg_memshard');
is($n2->safe_psql('other', "SELECT count(*) FROM pg_namespace WHERE nspname = 'memshard'"),
	'0', 'and leaves nothing behind');
unlike(slurp_file($n2->logfile),
	qr/background worker "pg_memshard recovery (worker|launcher)" \(PID \d+\) exited with exit code 1/,
	'the recovery worker never failed');
# DROP DATABASE waits until every process absorbed its barrier, the
# launcher included
$started = time;
$n2->safe_psql('postgres', 'DROP DATABASE other');
cmp_ok(time - $started, '<', 5, 'DROP DATABASE does not wait for the recovery launcher');

$_->stop for @nodes;
done_testing();
