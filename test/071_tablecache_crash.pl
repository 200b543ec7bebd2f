# Writers that die (issue 14): a crashed writer's marks must not block its
# keys for ever, and afterwards the keys are served again and hold the
# committed state.
#
# - kill -9 of a writer idle in its transaction, and of a writer stopped in
#   the middle of its commit (its keys marked, its items deleted, before the
#   commit record): the postmaster restarts, the shared memory is new, the
#   keys hold what was committed before and are cached again;
# - a prepared transaction survives the crash, but its marks do not: until
#   it is decided no key is filled (the prepared transactions found at the
#   first use mark every key), and after COMMIT PREPARED the new row shows;
# - a writer terminated (FATAL, not a crash) in the middle of its commit:
#   its transaction aborts, its marks go, the key is cached again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('tc_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
max_prepared_transactions = 5
restart_after_crash = on
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
CREATE TABLE acct (id int PRIMARY KEY, balance int NOT NULL);
INSERT INTO acct SELECT i, 100 FROM generate_series(1, 10) i;
SELECT memshard.cache_table('acct');
});

sub balance
{
	my ($key) = @_;
	return $node->safe_psql('postgres',
		"SELECT (memshard.get_row(NULL::acct, $key)).balance");
}

sub figures
{
	return $node->safe_psql('postgres',
		'SELECT hits, fills, bypasses FROM memshard.cached_tables');
}

# kill -9 a backend and wait for the restart that follows
sub crash
{
	my ($pid, $what) = @_;
	kill 'KILL', $pid or die "could not kill $pid";
	$node->poll_query_until('postgres', 'SELECT 1', '1')
	  or die "the server did not come back after killing $what";
}

# a psql session whose backend died: its psql may be gone too
sub forget
{
	my ($session) = @_;
	eval { $session->quit; };
	return;
}

# the key is read through the cache again: a miss that fills, then a hit
sub served_again
{
	my ($key, $expected, $name) = @_;
	my ($hits, $fills) = split /\|/, figures();
	is(balance($key), $expected, "$name: key $key holds the committed state");
	is(balance($key), $expected, "$name: and again");
	my ($hits2, $fills2) = split /\|/, figures();
	ok($fills2 > $fills && $hits2 > $hits, "$name: key $key is cached again");
}

# a writer stopped inside its commit, after its marks (test hook: the
# commit waits for an advisory lock that another session holds); returns
# the writer's session, the holder's, and the writer's pid
sub writer_in_commit
{
	my ($lock, $statement) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe("SELECT pg_advisory_lock($lock)");
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $writer->query_safe('SELECT pg_backend_pid()');
	$writer->query_safe("SET pg_memshard.tablecache_test_commit_lock = $lock");
	$writer->query_until(qr/sent/, "\\echo sent\n$statement;\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", '1')
	  or die 'the writer did not reach its commit';
	return ($writer, $holder, $pid);
}

is(balance(1), 100, 'key 1 cached');

# 1. a writer idle in its transaction
my $writer = $node->background_psql('postgres');
my $pid = $writer->query_safe('SELECT pg_backend_pid()');
$writer->query_safe('BEGIN; UPDATE acct SET balance = 1 WHERE id = 1');
is(balance(1), 100, 'an uncommitted change is not seen');
crash($pid, 'the idle writer');
forget($writer);
served_again(1, 100, 'writer killed before its commit');

# 2. a writer stopped inside its commit
is(balance(2), 100, 'key 2 cached');
my $holder;
($writer, $holder, $pid) = writer_in_commit(7101, 'UPDATE acct SET balance = 2 WHERE id = 2');
my (undef, undef, $bypasses) = split /\|/, figures();
is(balance(2), 100, 'in the commit window the old row is read from the table');
my (undef, undef, $bypasses2) = split /\|/, figures();
ok($bypasses2 > $bypasses, 'the marked key was not served from the cache');
crash($pid, 'the committing writer');
forget($writer);
forget($holder);
served_again(2, 100, 'writer killed inside its commit');

# 3. a prepared transaction outlives a crash, its marks do not
$node->safe_psql('postgres',
	"BEGIN; UPDATE acct SET balance = 3 WHERE id = 3; PREPARE TRANSACTION 'tc_p3'");
my $bystander = $node->background_psql('postgres');
$pid = $bystander->query_safe('SELECT pg_backend_pid()');
crash($pid, 'a bystander');
forget($bystander);
is(balance(3), 100, 'after the crash: the prepared change is not seen');
is(balance(3), 100, 'and again');
is(balance(4), 100, 'another key, read while the prepared transaction is undecided');
my (undef, $fills) = split /\|/, figures();
is($fills, 0, 'nothing is filled while a prepared transaction older than the shared memory is undecided');
$node->safe_psql('postgres', "COMMIT PREPARED 'tc_p3'");
served_again(3, 3, 'prepared transaction committed after the crash');

# 4. a writer terminated inside its commit: its transaction aborts
is(balance(5), 100, 'key 5 cached');
($writer, $holder, $pid) = writer_in_commit(7102, 'UPDATE acct SET balance = 5 WHERE id = 5');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $pid", '0')
  or die 'the writer did not exit';
forget($holder);
served_again(5, 100, 'writer terminated inside its commit');

is( $node->safe_psql('postgres',
		'SELECT count(*) FROM acct a WHERE memshard.get_row(NULL::acct, a.id) IS DISTINCT FROM a'),
	0, 'every row read through the cache equals the table');

$node->stop;
done_testing();
