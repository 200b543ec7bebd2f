# Concurrency: four pgbench clients at once doing random set, add, replace,
# get, delete and incr on keys of their own, and incr on counters they all
# share, over few partitions so that they contend for the same locks.
#
# Every operation and its result goes into a log table in the same
# statement.  Afterwards the log is replayed in Perl against a model: each
# client's own keys are touched by that client alone, so its operations are
# ordered by the log's sequence and every result (a get's value, add's and
# delete's true/false, incr's new value) must be what the model predicts;
# the final contents of the cache must match the model key by key; and each
# shared counter must equal the sum of its increments, with the values incr
# returned forming one unbroken chain (atomic increments).  The map is far
# larger than the data, so nothing is evicted and the model is exact.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 4;
my $transactions = 1500;	# per client
my $own_keys = 50;			# string keys per client (k), counters per client (n)
my $own_counters = 20;
my $shared_counters = 4;

my $node = PostgreSQL::Test::Cluster->new('concurrency');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\n"
	  . "pg_memshard.memory = 32MB\n"
	  . "pg_memshard.partitions = 2\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('conc');
CREATE TABLE oplog (
    seq     bigserial PRIMARY KEY,
    client  int NOT NULL,
    key     text NOT NULL,
    op      text NOT NULL,
    arg     text,
    result  text
);
});

# One transaction: an operation chosen at random.  Values are 1..640 bytes
# long, so replacing a value often moves it to another size class.
my $script = q{
\set op random(1, 100)
\set k random(1, OWN_KEYS)
\set n random(1, OWN_COUNTERS)
\set s random(1, SHARED_COUNTERS)
\set d random(1, 10)
\set v random(1, 1000000)
\if :op <= 25
WITH a AS (SELECT 'k:' || :client_id || ':' || :k AS key,
                  :v || ':' || repeat(md5(:v::text), :v % 20) AS val)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, 'set', val, memshard.set('conc', key, val)::text FROM a;
\elif :op <= 45
WITH a AS (SELECT 'k:' || :client_id || ':' || :k AS key)
INSERT INTO oplog (client, key, op, result)
SELECT :client_id, key, 'get', memshard.get('conc', key) FROM a;
\elif :op <= 52
WITH a AS (SELECT 'k:' || :client_id || ':' || :k AS key,
                  'add' || :v || repeat('+', :v % 300) AS val)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, 'add', val, memshard.add('conc', key, val)::text FROM a;
\elif :op <= 59
WITH a AS (SELECT 'k:' || :client_id || ':' || :k AS key,
                  'rep' || :v || repeat('-', :v % 300) AS val)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, 'replace', val, memshard.replace('conc', key, val)::text FROM a;
\elif :op <= 67
WITH a AS (SELECT 'k:' || :client_id || ':' || :k AS key)
INSERT INTO oplog (client, key, op, result)
SELECT :client_id, key, 'delete', memshard.delete('conc', key)::text FROM a;
\elif :op <= 80
WITH a AS (SELECT 'n:' || :client_id || ':' || :n AS key)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, 'incr', :d, memshard.incr('conc', key, :d)::text FROM a;
\elif :op <= 84
WITH a AS (SELECT 'n:' || :client_id || ':' || :n AS key)
INSERT INTO oplog (client, key, op, result)
SELECT :client_id, key, 'delete', memshard.delete('conc', key)::text FROM a;
\elif :op <= 88
WITH a AS (SELECT 'n:' || :client_id || ':' || :n AS key)
INSERT INTO oplog (client, key, op, result)
SELECT :client_id, key, 'get', memshard.get('conc', key) FROM a;
\else
WITH a AS (SELECT 'shared:' || :s AS key)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, 'incr_shared', :d, memshard.incr('conc', key, :d)::text FROM a;
\endif
};
$script =~ s/OWN_KEYS/$own_keys/;
$script =~ s/OWN_COUNTERS/$own_counters/;
$script =~ s/SHARED_COUNTERS/$shared_counters/;

my $total = $clients * $transactions;
$node->pgbench(
	"-n -c $clients -j 2 -t $transactions",
	0,
	[qr{processed: $total/$total}],
	[qr{^$}],
	'pgbench clients ran without error',
	{ '004_concurrency_ops' => $script });

is($node->safe_psql('postgres', 'SELECT count(*) FROM oplog'),
	$total, 'every operation was logged');

# null results come back as the empty string from psql: mark them
my @log = map { [ split /\|/, $_, -1 ] } split /\n/,
  $node->safe_psql('postgres',
	"SELECT client, key, op, coalesce(arg, ''), coalesce(result, '<null>')
	   FROM oplog ORDER BY seq");

my %model;			# own key => value, absent = not in the cache
my %shared_sum;		# shared counter => sum of deltas
my %shared_results;	# shared counter => [ [result, delta], ... ]
my %op_count;
my @mismatches;
for my $row (@log)
{
	my ($client, $key, $op, $arg, $result) = @$row;
	my $before = $model{$key};
	my $expected;
	$op_count{$op}++;

	if ($op eq 'set')
	{
		$expected = 'true';
		$model{$key} = $arg;
	}
	elsif ($op eq 'add')
	{
		$expected = defined $before ? 'false' : 'true';
		$model{$key} = $arg unless defined $before;
	}
	elsif ($op eq 'replace')
	{
		$expected = defined $before ? 'true' : 'false';
		$model{$key} = $arg if defined $before;
	}
	elsif ($op eq 'delete')
	{
		$expected = defined $before ? 'true' : 'false';
		delete $model{$key};
	}
	elsif ($op eq 'get')
	{
		$expected = $before // '<null>';
	}
	elsif ($op eq 'incr')
	{
		$expected = ($before // 0) + $arg;
		$model{$key} = $expected;
	}
	elsif ($op eq 'incr_shared')
	{
		$shared_sum{$key} += $arg;
		push @{ $shared_results{$key} }, [ $result, $arg ];
		next;
	}
	push @mismatches, "$op $key: got '$result', expected '$expected'"
	  if $result ne $expected;
}
note join(', ', map { "$_: $op_count{$_}" } sort keys %op_count);
is(scalar @mismatches, 0, 'every result agrees with the model')
  or diag join("\n", @mismatches[ 0 .. ($#mismatches < 9 ? $#mismatches : 9) ]);

# the final contents: every key any client could have used
my @keys;
for my $c (0 .. $clients - 1)
{
	push @keys, map { "k:$c:$_" } 1 .. $own_keys;
	push @keys, map { "n:$c:$_" } 1 .. $own_counters;
}
my %cache = map { my ($k, $v) = split /\|/, $_, 2; ($k => $v) } split /\n/,
  $node->safe_psql('postgres',
	"SELECT key, coalesce(value, '<null>')
	   FROM memshard.mget('conc', ARRAY['" . join("','", @keys) . "'])");
my @wrong = grep { $cache{$_} ne ($model{$_} // '<null>') } @keys;
is(scalar @wrong, 0, 'every key holds what the model says')
  or diag join("\n", map { "$_: cache '$cache{$_}', model '" . ($model{$_} // '<null>') . "'" }
	  @wrong[ 0 .. ($#wrong < 9 ? $#wrong : 9) ]);

# shared counters: exact totals, and each incr saw the one before it
my $broken = 0;
for my $key (sort keys %shared_sum)
{
	is( $node->safe_psql('postgres', "SELECT memshard.get('conc', '$key')"),
		$shared_sum{$key}, "$key is the sum of its increments");
	my $previous = 0;
	for my $r (sort { $a->[0] <=> $b->[0] } @{ $shared_results{$key} })
	{
		$broken++ if $r->[0] - $r->[1] != $previous;
		$previous = $r->[0];
	}
}
is(scalar keys %shared_sum, $shared_counters, 'every shared counter was used');
is($broken, 0, 'the values incr returned form an unbroken chain');

my $present = scalar(keys %model) + $shared_counters;
is( $node->safe_psql(
		'postgres', "SELECT items, evictions FROM memshard.map_stats WHERE map = 'conc'"),
	"$present|0",
	'map_stats: as many items as the model, nothing evicted');
is($node->safe_psql('postgres', 'SELECT evictions FROM memshard.stats'),
	'0', 'stats: nothing evicted');

$node->stop;
done_testing();
