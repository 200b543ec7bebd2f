# Metadata changes left in doubt by a coordinator that fails between
# PREPARE and COMMIT PREPARED: the other nodes refuse changes at once
# (55P03) instead of waiting on the prepared part's locks; any node
# finishes the change by asking the coordinator how it ended
# (recover_metadata()), and so does the recovery worker with nobody asking.
# Both outcomes: the coordinator's record committed (the parts are
# committed) and the coordinator died before its commit (rolled back).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MemshardCluster;

# the worker is off until a test turns it on; nothing flushes the log of a
# transaction by the way (the coordinator must, before the parts prepare)
my @nodes = start_cluster('n', 3,
	"pg_memshard.memory = 16MB\npg_memshard.recovery_interval = 0\n"
	  . "wal_writer_delay = 10s\nautovacuum = off\n");
my ($n1, $n2, $n3) = @nodes;
$n1->safe_psql('postgres',
	"SELECT memshard.create_map('base', nodes => ARRAY['n1', 'n2', 'n3'])");

is($n1->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_memshard recovery launcher'"),
	'1', 'the recovery launcher runs when the library is preloaded');

# a change on node 1 that stops once every node has prepared its part
sub held_change
{
	my ($key, $map) = @_;
	return hold_change($n1, $key,
		"SELECT memshard.create_map('$map', nodes => ARRAY['n1', 'n2', 'n3'])",
		$n2, $n3);
}

# a change on node 2 (the map 'base' exists): fails at once, well before
# lock_timeout, with 55P03 naming the prepared change and its coordinator
sub refused_at_once
{
	my ($what, $sql) = @_;
	my $started = time;
	my ($ret, $out, $err) = $n2->psql('postgres',
		"\\set VERBOSITY verbose\nSET lock_timeout = '20s';\n$sql");
	my $elapsed = time - $started;
	like($err,
		qr/ERROR:  55P03: the cluster metadata of this node is held by metadata change "memshard_\d+_\d+_\d+_2" of node "n1", prepared here and not finished/,
		"$what: 55P03 naming the prepared change and its coordinator");
	like($err, qr/HINT:  Retry.  If this persists, run memshard.recover_metadata\(\) on any node once node "n1" is reachable/,
		"$what: with a hint");
	cmp_ok($elapsed, '<', 5, "$what: at once, not after lock_timeout");
}

# --- 1. the coordinator committed, then failed before COMMIT PREPARED ---
my ($holder, $change) = held_change(4201, 'held');
my $gid = $n2->safe_psql('postgres', "SELECT gid FROM pg_prepared_xacts");
is($n1->safe_psql('postgres', "SELECT memshard.peer_metadata_outcome('$gid')"),
	'in progress', 'the coordinator does not answer while its transaction runs');
is($n1->safe_psql('postgres', "SELECT memshard.peer_metadata_outcome('memshard_1_2_3_4')"),
	'', 'nor for a change it did not make');
# the nodes lose the coordinator's sessions: COMMIT PREPARED cannot reach them
for my $node ($n2, $n3)
{
	$node->safe_psql('postgres',
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pg_memshard'");
}
$holder->query_safe("SELECT pg_advisory_unlock(4201)");
$change->query_until(qr/done/, '');
like($change->{stderr}, qr/WARNING:  could not commit the metadata change on node "n2"/,
	'the coordinator warns that a node did not commit');
$holder->quit;
$change->quit;
is(has_map($n1, 'held'), '1', 'the change committed on the coordinator');
is($n1->safe_psql('postgres', "SELECT memshard.peer_metadata_outcome('$gid')"),
	'committed', 'and it says so');
is(prepared_changes($n2) . prepared_changes($n3), '11', 'both other nodes hold their part prepared');

$n1->stop;
refused_at_once('create_map', "SELECT memshard.create_map('other', nodes => ARRAY['n2', 'n3'])");
refused_at_once('drop_map', "SELECT memshard.drop_map('base')");
my $started = time;
my ($ret, $out, $err) = $n2->psql('postgres',
	"\\set VERBOSITY verbose\nSET lock_timeout = '20s';\nSELECT memshard.recover_metadata()");
like($err,
	qr/ERROR:  08\w\w\w: metadata change "memshard_\d+_\d+_\d+_2" stays in doubt: node "n1", which made it, cannot be asked how it ended/,
	'recover_metadata() with the coordinator down: it stays in doubt, naming the coordinator');
cmp_ok(time - $started, '<', 5, 'and says so at once');
is($n2->safe_psql('postgres', 'SELECT in_doubt FROM memshard.metadata_recovery'),
	'1', 'metadata_recovery shows the change in doubt');

$n1->start;
is($n2->safe_psql('postgres', 'SELECT memshard.recover_metadata()'), '1',
	'recover_metadata() on a node that did not make the change finishes it');
is(prepared_changes($n2), '0', 'its part is no longer prepared');
is(has_map($n2, 'held'), '1', 'it was committed, as the coordinator had');
like(slurp_file($n2->logfile),
	qr/LOG:  pg_memshard: committed in-doubt metadata change memshard_\d+_\d+_\d+_2 on this node, as node "n1" that made it decided/,
	'and logged');
is(prepared_changes($n3), '1', 'node 3 still holds its part');

# the worker of node 3 finishes it with nobody asking
$n3->append_conf('postgresql.conf', "pg_memshard.recovery_interval = '100ms'");
$n3->reload;
$n3->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid LIKE 'memshard%'")
  or die "the worker did not finish the change on node 3";
pass('the recovery worker finished the change on node 3');
is(has_map($n3, 'held'), '1', 'committed there too');
is($n3->safe_psql('postgres', 'SELECT in_doubt, resolved, last_pass IS NOT NULL, last_problem FROM memshard.metadata_recovery'),
	'0|1|t|', 'metadata_recovery on node 3: one change finished, nothing left');
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.metadata_transactions'),
	'2', 'the coordinator still has the records of both parts');
is($n1->safe_psql('postgres', 'SELECT memshard.recover_metadata()'),
	'0', 'its recovery finds nothing left to finish ...');
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.metadata_transactions'),
	'0', '... and forgets the records of the finished parts');
same_metadata('after a committed change left in doubt', @nodes);

# --- 2. the coordinator died before its commit: the parts roll back ---
($holder, $change) = held_change(4202, 'lost');
$n1->stop('immediate');
refused_at_once('create_map (coordinator dead)',
	"SELECT memshard.create_map('other', nodes => ARRAY['n2', 'n3'])");
# the worker of node 3 tries, and says why it cannot
$n3->poll_query_until('postgres',
	"SELECT last_problem LIKE '%node \"n1\", which made it, cannot be asked how it ended' FROM memshard.metadata_recovery")
  or die "the worker does not show why the change stays in doubt";
pass('metadata_recovery on node 3 shows why the change stays in doubt');
like(slurp_file($n3->logfile),
	qr/LOG:  pg_memshard: metadata change "memshard_\d+_\d+_\d+_3" stays in doubt: node "n1", which made it, cannot be asked how it ended/,
	'the worker logs it');
eval { $holder->quit; };
eval { $change->quit; };

$n1->start;
my $lost_gid = $n2->safe_psql('postgres', "SELECT gid FROM pg_prepared_xacts");
my ($lost_xid) = $lost_gid =~ /^memshard_\d+_\d+_(\d+)_\d+$/;
cmp_ok($n1->safe_psql('postgres', 'SELECT pg_current_xact_id()::text::bigint'),
	'>', $lost_xid, 'after its crash the coordinator does not give the change\'s xid again');
is($n1->safe_psql('postgres', "SELECT memshard.peer_metadata_outcome('$lost_gid')"),
	'aborted', 'the coordinator, back, says the change was rolled back');
is($n2->safe_psql('postgres', 'SELECT memshard.recover_metadata()'), '1',
	'recover_metadata() on node 2 finishes the change the coordinator never committed');
is(has_map($n2, 'lost'), '0', 'by rolling it back');
like(slurp_file($n2->logfile),
	qr/LOG:  pg_memshard: rolled back in-doubt metadata change memshard_\d+_\d+_\d+_2 on this node, as node "n1" that made it decided/,
	'and logs it');
$n3->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_prepared_xacts WHERE gid LIKE 'memshard%'")
  or die "the worker did not finish the change on node 3";
pass('the recovery worker of node 3 rolled back its part once node 1 was back');
is(has_map($n3, 'lost') . has_map($n1, 'lost'), '00', 'no node has the map');
$n3->poll_query_until('postgres',
	"SELECT last_problem IS NULL FROM memshard.metadata_recovery")
  or die "the problem is still shown";
pass('and metadata_recovery no longer shows a problem');
same_metadata('after a change whose coordinator died', @nodes);

# --- changes work again everywhere ---
$n2->safe_psql('postgres', "SELECT memshard.create_map('after', nodes => ARRAY['n1', 'n2', 'n3'])");
is(join(',', map { has_map($_, 'after') } @nodes), '1,1,1', 'a change from node 2 reaches every node');
same_metadata('after a new change', @nodes);
unlike(join('', map { slurp_file($_->logfile) } @nodes), qr/PANIC|TRAP/, 'no node panicked');

$_->stop for @nodes;
done_testing();
