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
my $transactions = 2500;	# per client
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

# One transaction: an operation chosen at random, with its share of 100.
# Each is one statement that calls the cache and logs what it did: the
# key, the argument (value or delta) and the result as text.  Values are
# 1..640 bytes long, so replacing a value often moves it to another size
# class.
my $own_key = q{'k:' || :client_id || ':' || :k};
my $own_counter = q{'n:' || :client_id || ':' || :n};
my @operations = (
	# share, key, op, argument, call (of key and argument)
	[ 25, $own_key, 'set', q{:v || ':' || repeat(md5(:v::text), :v % 20)},
	  q{memshard.set('conc', key, arg)::text} ],
	[ 20, $own_key, 'get', 'NULL', q{memshard.get('conc', key)} ],
	[ 7, $own_key, 'add', q{'add' || :v || repeat('+', :v % 300)},
	  q{memshard.add('conc', key, arg)::text} ],
	[ 7, $own_key, 'replace', q{'rep' || :v || repeat('-', :v % 300)},
	  q{memshard.replace('conc', key, arg)::text} ],
	[ 8, $own_key, 'delete', 'NULL', q{memshard.delete('conc', key)::text} ],
	[ 13, $own_counter, 'incr', ':d',
	  q{memshard.incr('conc', key, arg::bigint)::text} ],
	[ 4, $own_counter, 'delete', 'NULL', q{memshard.delete('conc', key)::text} ],
	[ 4, $own_counter, 'get', 'NULL', q{memshard.get('conc', key)} ],
	[ 12, q{'shared:' || :s}, 'incr_shared', ':d',
	  q{memshard.incr('conc', key, arg::bigint)::text} ]);

my $script = "\\set op random(1, 100)
\\set k random(1, $own_keys)
\\set n random(1, $own_counters)
\\set s random(1, $shared_counters)
\\set d random(1, 10)
\\set v random(1, 1000000)
";
my $upto = 0;
for my $i (0 .. $#operations)
{
	my ($share, $key, $op, $arg, $call) = @{ $operations[$i] };
	$upto += $share;
	$script .=
	    $i == 0 ? "\\if :op <= $upto\n"
	  : $i < $#operations ? "\\elif :op <= $upto\n"
	  : "\\else\n";
	$script .= "WITH a AS (SELECT $key AS key, ($arg)::text AS arg)
INSERT INTO oplog (client, key, op, arg, result)
SELECT :client_id, key, '$op', arg, $call FROM a;
";
}
$script .= "\\endif\n";
die "shares add up to $upto, not 100" unless $upto == 100;

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
