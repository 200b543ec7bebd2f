# Restart with pg_memshard.restart = cold: the cache lives in shared memory
# only.  After a clean restart, after a crash (immediate stop) and after a
# restart with another pg_memshard.memory, the cache is empty (no items,
# gets miss), its maps still exist (they are catalog rows) and it works
# again.  (The warm restart is tested in 040..044.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 16MB\n"
	  . "restart_after_crash = on\npg_memshard.restart = cold\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('sessions', default_ttl => '1 hour');
SELECT memshard.create_map('counters');
});

# fill both maps; true when every write succeeded
sub fill
{
	return $node->safe_psql(
		'postgres', q{
SELECT bool_and(memshard.set('sessions', 's' || i, md5(i::text)))
   AND bool_and(memshard.incr('counters', 'c' || (i % 10), i) > 0)
  FROM generate_series(1, 1000) i});
}

# true when every key of both maps is there with its value
sub all_present
{
	return $node->safe_psql(
		'postgres', q{
SELECT bool_and(memshard.get('sessions', 's' || i) IS NOT DISTINCT FROM md5(i::text))
   AND (SELECT sum(memshard.get('counters', 'c' || j)::bigint)
          FROM generate_series(0, 9) j) = 500500
  FROM generate_series(1, 1000) i});
}

sub check_empty_and_working
{
	my ($how) = @_;

	is($node->safe_psql('postgres', 'SELECT items, memory_used, payload_bytes FROM memshard.stats'),
		'0|0|0', "after $how: stats show an empty cache");
	is( $node->safe_psql(
			'postgres', q{
SELECT count(memshard.get('sessions', 's' || i)) + count(memshard.get('counters', 'c' || (i % 10)))
  FROM generate_series(1, 1000) i}),
		'0',
		"after $how: every get misses");
	is( $node->safe_psql('postgres',
			"SELECT misses >= 2000, hits FROM memshard.stats"),
		't|0', "after $how: the misses are counted");
	is($node->safe_psql('postgres', 'SELECT string_agg(name, \',\' ORDER BY name) FROM memshard.maps'),
		'counters,sessions', "after $how: the maps still exist");
	is( $node->safe_psql('postgres',
			"SELECT default_ttl FROM memshard.maps WHERE name = 'sessions'"),
		'01:00:00', "after $how: map options are kept");
	is(fill(), 't', "after $how: sets work");
	is(all_present(), 't', "after $how: gets find them");
	is( $node->safe_psql(
			'postgres',
			"SELECT string_agg(map || '=' || items, ',' ORDER BY map) FROM memshard.map_stats"),
		'counters=10,sessions=1000',
		"after $how: map_stats count the new items");
}

is(fill(), 't', 'sets before the restart');
is(all_present(), 't', 'gets before the restart');
is($node->safe_psql('postgres', 'SELECT items FROM memshard.stats'),
	'1010', 'stats count the items');

$node->restart;
check_empty_and_working('a clean restart');

$node->stop('immediate');
$node->start;
check_empty_and_working('a crash');

# a process killed hard makes the postmaster reset shared memory: wait
# until a new checkpointer has replaced the killed one
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
kill 'KILL', $pid;
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity
	  WHERE backend_type = 'checkpointer' AND pid <> $pid")
  or die 'server did not come back after the crash of a process';
check_empty_and_working('the crash of one process');

$node->append_conf('postgresql.conf', "pg_memshard.memory = 32MB\n");
$node->restart;
is($node->safe_psql('postgres', 'SELECT memory_budget FROM memshard.stats'),
	32 * 1024 * 1024, 'a restart with a new pg_memshard.memory resizes the cache');
check_empty_and_working('a restart with a new budget');

$node->stop;
done_testing();
