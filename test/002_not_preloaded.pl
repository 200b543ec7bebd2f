# A server WITHOUT pg_memshard in shared_preload_libraries: the extension
# installs, pure functions and the map catalog work, and every function that
# needs the shared-memory cache fails with SQLSTATE 55000 and a HINT naming
# shared_preload_libraries.  Then the same server with the library preloaded:
# maps, being catalog rows, survive restarts; the cache starts empty.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('not_preloaded');
$node->init;
$node->start;

is($node->psql('postgres', 'CREATE EXTENSION pg_memshard'),
	0, 'CREATE EXTENSION works without preloading');
is($node->safe_psql('postgres', 'SELECT memshard.version()'),
	'1.1', 'pure functions work');

# maps are catalog rows: they can be defined before the cache exists
ok($node->safe_psql('postgres', "SELECT memshard.create_map('m')") > 0,
	'create_map works without preloading');
is($node->safe_psql('postgres', 'SELECT name FROM memshard.maps'),
	'm', 'the map is in the catalog');

my @needs_cache = (
	"SELECT memshard.set('m', 'k', 'v')",
	"SELECT memshard.set('m', 'k', '\\x00'::bytea)",
	"SELECT memshard.add('m', 'k', 'v')",
	"SELECT memshard.replace('m', 'k', 'v')",
	"SELECT memshard.get('m', 'k')",
	"SELECT memshard.get_bytea('m', 'k')",
	"SELECT * FROM memshard.mget('m', ARRAY['k'])",
	"SELECT memshard.mset('m', ARRAY['k'], ARRAY['v'])",
	"SELECT memshard.delete('m', 'k')",
	"SELECT memshard.incr('m', 'k')",
	"SELECT memshard.touch('m', 'k', '1 hour')",
	"SELECT memshard.flush('m')",
	# checked before the map: the missing cache is the first problem
	"SELECT memshard.get('no such map', 'k')",
	'SELECT * FROM memshard.stats',
	'SELECT * FROM memshard.partition_stats',
	'SELECT * FROM memshard.slab_stats',
	'SELECT * FROM memshard.map_stats',
	'SELECT memshard.stats_reset()');
for my $sql (@needs_cache)
{
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "fails: $sql");
	like($stderr, qr/ERROR:\s+55000: pg_memshard must be loaded via shared_preload_libraries/,
		"SQLSTATE 55000: $sql");
	like($stderr, qr/HINT:\s+.*shared_preload_libraries/,
		"HINT names shared_preload_libraries: $sql");
}

is($node->safe_psql('postgres', "SELECT memshard.drop_map('m')"),
	't', 'drop_map works without preloading');
$node->safe_psql('postgres', "SELECT memshard.create_map('kept')");

# now preload it: the map defined earlier is there, and works
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 8MB\n"
	  . "pg_memshard.restart = cold\n");
$node->restart;
is($node->safe_psql('postgres',
		"SELECT memshard.set('kept', 'k', 'v'), memshard.get('kept', 'k')"),
	't|v', 'a map created before preloading works once preloaded');

# a restart (cold) empties the cache, not the catalog
$node->restart;
is($node->safe_psql('postgres',
		"SELECT memshard.get('kept', 'k') IS NULL, (SELECT count(*) FROM memshard.maps)"),
	't|1', 'after a restart the map is there and its items are gone');
is($node->safe_psql('postgres',
		"SELECT memshard.set('kept', 'k', 'again'), memshard.get('kept', 'k')"),
	't|again', 'and the cache works');

$node->stop;
done_testing();
