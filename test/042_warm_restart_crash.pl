# A crash never brings back the cache as it was before it (issue 11): after
# an immediate shutdown, a backend killed with SIGKILL (shared memory is
# reset) and a killed postmaster, the cache comes back empty, and a dump
# file left from an earlier clean shutdown is removed, not loaded.  With
# pg_memshard.restart = cold nothing is written and nothing loaded.
use strict;
use warnings;
use File::Copy;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);

my $node = PostgreSQL::Test::Cluster->new('warm_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 16MB
restart_after_crash = on
});
$node->start;
my $dir = $node->data_dir . '/pg_memshard';
my $dump = "$dir/cache.dump";
my $saved = $node->basedir . '/saved.dump';

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('m');
SELECT count(memshard.set('m', 'k' || i, 'v' || i)) FROM generate_series(1, 1000) i;
SELECT memshard.set('m', 'gone', 'deleted later'), memshard.set('m', 'chg', 'old');
});

# a dump of a clean shutdown, kept aside for later
$node->stop;
ok(-f $dump, 'a clean shutdown writes a dump');
copy($dump, $saved) or die "copy: $!";
$node->start;
$node->poll_query_until('postgres', "SELECT state = 'loaded' FROM memshard.restart_stats");
is($node->safe_psql('postgres', "SELECT items FROM memshard.stats"), '1002', 'loaded');

# the persist worker, by its process title (cluster_name is the node's name)
sub persist_worker_runs
{
	return scalar grep { /postgres: warm_crash: pg_memshard persist/ } `ps -eo args`;
}
ok(persist_worker_runs(), 'warm: the persist worker runs');

# changes after the load, which no dump holds
$node->safe_psql('postgres',
	"SELECT memshard.delete('m', 'gone'), memshard.set('m', 'chg', 'new')");

# the cache is empty, every get misses, the old items stay gone
sub check_empty
{
	my ($how, $detail) = @_;

	$node->poll_query_until('postgres', "SELECT state <> 'loading' FROM memshard.restart_stats")
	  or die 'the start did not settle';
	is( $node->safe_psql('postgres',
			"SELECT state, detail, items_loaded FROM memshard.restart_stats"),
		"empty|$detail|0", "after $how: nothing loaded ($detail)");
	is($node->safe_psql('postgres', 'SELECT items FROM memshard.stats'),
		'0', "after $how: the cache is empty");
	is( $node->safe_psql('postgres',
			"SELECT count(memshard.get('m', 'k' || i)), count(memshard.get('m', 'gone')), "
			  . "count(memshard.get('m', 'chg')) FROM generate_series(1, 1000) i"),
		'0|0|0', "after $how: every get misses (the deleted key stays deleted)");
	ok(!-e $dump && !-e "$dump.load", "after $how: no dump file is left");
}

# --- an immediate shutdown writes nothing ---
$node->stop('immediate');
ok(!-e $dump, 'an immediate shutdown writes no dump');
$node->start;
check_empty('an immediate shutdown', 'no dump file');

# --- a dump of an earlier clean shutdown is not loaded after a crash ---
$node->safe_psql('postgres', "SELECT memshard.set('m', 'k1', 'v1')");
copy($saved, $dump) or die "copy: $!";
$node->stop('immediate');
my $log_offset = -s $node->logfile;
$node->start;
check_empty('an immediate shutdown, with an old dump in place',
	'the previous shutdown was not clean');
like(slurp_file($node->logfile, $log_offset),
	qr/pg_memshard: cache dump "pg_memshard\/cache.dump" not loaded: the previous shutdown was not clean/,
	'the refusal is logged');

# --- a backend killed with SIGKILL: shared memory is reset ---
$node->safe_psql('postgres', "SELECT memshard.set('m', 'k' || i, 'v' || i) FROM generate_series(1, 1000) i");
copy($saved, $dump) or die "copy: $!";
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $victim->quit; };
$node->poll_query_until('postgres',
	"SELECT detail = 'shared memory was reset after a crash' FROM memshard.restart_stats")
  or die 'no reset after the crash of a backend';
check_empty('a backend killed with SIGKILL', 'shared memory was reset after a crash');

# what is set after the crash is what the next clean shutdown keeps
$node->safe_psql('postgres', "SELECT memshard.set('m', 'after', 'crash')");
$node->restart;
is( $node->safe_psql('postgres',
		"SELECT memshard.get('m', 'after'), memshard.get('m', 'gone') IS NULL, memshard.get('m', 'chg') IS NULL, "
		  . "(SELECT items_loaded FROM memshard.restart_stats)"),
	'crash|t|t|1', 'the clean restart after it brings back only what was set since');

# --- the postmaster killed ---
copy($saved, $dump) or die "copy: $!";
my $postmaster = $node->{_pid};
$node->kill9;
# it must be gone, and its children too (they notice and exit; they hold
# the shared memory a new start needs)
for (1 .. 300)
{
	last unless kill(0, $postmaster) || grep { /postgres: warm_crash: / } `ps -eo args`;
	sleep(0.1);
}
$node->start;
check_empty('a killed postmaster', 'the previous shutdown was not clean');

# --- pg_memshard.restart = cold ---
$node->append_conf('postgresql.conf', "pg_memshard.restart = cold\n");
$node->restart;
$node->safe_psql('postgres', "SELECT count(memshard.set('m', 'k' || i, 'v' || i)) FROM generate_series(1, 1000) i");
$node->stop;
ok(!-e $dump, 'cold: a clean shutdown writes nothing');
copy($saved, $dump) or die "copy: $!";
$node->start;
is( $node->safe_psql('postgres',
		"SELECT mode, state, detail, items_loaded, (SELECT items FROM memshard.stats) FROM memshard.restart_stats"),
	'cold|cold|pg_memshard.restart is cold|0|0', 'cold: nothing is loaded');
ok(!-e $dump, 'cold: a dump found at the start is removed');
ok(!persist_worker_runs(), 'cold: no persist worker runs');

$node->stop;
done_testing();
