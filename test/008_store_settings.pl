# Start-up settings of the cache (issue 9, part 7).
#
# A postmaster setting that PostgreSQL refuses (out of range, not a power
# of two, not a number) used to be replaced by its default with only a
# WARNING, so that a cache configured for 32GB ran with 64MB.  Now the
# server refuses to start and its log says why.  So does it for settings
# the segment cannot be laid out with (max_item_size larger than the cache).
# And the documented maximum, pg_memshard.memory = 16GB, works: the
# server starts with a 16GB segment, and the pages handed out first are
# those at its far end (the largest chunk references), where a set and a
# get are checked.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('settings');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_memshard'\n");

# start with extra settings; returns whether it started, and the log
sub try_start
{
	my ($conf) = @_;
	$node->adjust_conf('postgresql.conf', $_, undef)
	  for qw(pg_memshard.memory pg_memshard.partitions pg_memshard.max_item_size
		pg_memshard.max_maps);
	$node->append_conf('postgresql.conf', $conf);
	my $offset = -s $node->logfile // 0;
	my $started = $node->start(fail_ok => 1);
	my $log = slurp_file($node->logfile, $offset);
	$node->stop if $started;
	return ($started, $log);
}

for my $case (
	[ "pg_memshard.memory = '32GB'", qr/invalid value for parameter "pg_memshard\.memory": "32GB"/,
		qr/pg_memshard\.memory must be between 4MB and 16GB/ ],
	[ "pg_memshard.memory = '2MB'", qr/invalid value for parameter "pg_memshard\.memory": "2MB"/,
		qr/between 4MB and 16GB/ ],
	[ "pg_memshard.memory = 'plenty'", qr/invalid value for parameter "pg_memshard\.memory": "plenty"/,
		qr/between 4MB and 16GB/ ],
	[ "pg_memshard.partitions = 12", qr/invalid value for parameter "pg_memshard\.partitions": "12"/,
		qr/a power of two between 1 and 1024/ ],
	[ "pg_memshard.max_item_size = '16MB'",
		qr/invalid value for parameter "pg_memshard\.max_item_size": "16MB"/,
		qr/between 4kB and 16MB minus 4kB/ ],
	[ "pg_memshard.max_maps = 100000", qr/invalid value for parameter "pg_memshard\.max_maps": "100000"/,
		qr/between 16 and 65000/ ],
	[ "pg_memshard.memory = '4MB'\npg_memshard.max_item_size = '8MB'",
		qr/pg_memshard\.max_item_size is larger than the cache can hold/,
		qr/Lower pg_memshard\.max_item_size or raise pg_memshard\.memory/ ])
{
	my ($conf, $message, $detail) = @$case;
	(my $name = $conf) =~ s/\n/, /g;
	my ($started, $log) = try_start("$conf\n");
	ok(!$started, "$name: the server refuses to start");
	like($log, qr/FATAL:  $message/, "$name: the log says which setting");
	like($log, $detail, "$name: and what it must be");
}

# the largest documented budget works, as configured
my ($started, $log) = try_start("pg_memshard.memory = '16GB'\n");
ok($started, 'pg_memshard.memory = 16GB starts') or diag($log);
$node->start;
is( $node->safe_psql(
		'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memory_budget = 16::bigint * 1024 * 1024 * 1024 FROM memshard.stats}),
	't',
	'memory_budget is 16GB');
is( $node->safe_psql(
		'postgres', q{
SELECT memshard.create_map('far');
SELECT count(*) FILTER (WHERE memshard.set('far', 'k' || i, repeat(md5(i::text), 1 + i % 60)))
  FROM generate_series(1, 2000) i;
SELECT memshard.set('far', 'large', repeat('L', 900000));
SELECT count(*) FILTER (WHERE memshard.get('far', 'k' || i) = repeat(md5(i::text), 1 + i % 60))
  FROM generate_series(1, 2000) i;
SELECT memshard.get('far', 'large') = repeat('L', 900000)}),
	"1\n2000\nt\n2000\nt",
	'items at the far end of a 16GB segment read back exact');
is($node->safe_psql('postgres', "SHOW pg_memshard.memory"), '16GB',
	'SHOW reports what was configured');
$node->stop;

done_testing();
