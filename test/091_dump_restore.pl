# pg_dump and restore of a database with pg_memshard at 1.1: the maps
# (memshard.map_catalog and its id sequence, marked by
# pg_extension_config_dump) survive with every option, the extension comes
# back with exactly the same members, privileges granted on its functions
# and the user's objects that use it (a view, a foreign server of FDW
# memshard) are restored, and the restored maps work.  Items are a cache
# and are not dumped.  Both formats: custom (pg_restore, into another
# server) and plain (psql).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my ($src, $dst) = start_nodes('dump', 2, "pg_memshard.memory = 16MB\n");

# roles are global objects (pg_dumpall --globals-only): the same on both
for my $node ($src, $dst)
{
	$node->safe_psql('postgres', 'CREATE ROLE cache_admin; CREATE ROLE cache_user');
}

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql(
	'app', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('sessions', default_ttl => '1 hour');
SELECT memshard.create_map('gone');
SELECT memshard.create_map('quota', max_memory => 1048576, eviction => 'none');
SELECT memshard.drop_map('gone');
SELECT memshard.create_map('by_name', method => 'range', bounds => ARRAY['g', 'p']);
SELECT memshard.create_map('few_shards', shard_count => 8);
SELECT memshard.set('sessions', 'user:1', 'alice');
SELECT memshard.set('by_name', 'zed', 'z');
GRANT EXECUTE ON FUNCTION memshard.create_map(text, interval, bigint, text, text, integer, text[], name[], integer),
                          memshard.drop_map(text) TO cache_admin;
CREATE VIEW public.current_user_session AS
    SELECT memshard.get('sessions', 'user:1') AS value;
CREATE SERVER other FOREIGN DATA WRAPPER memshard
    OPTIONS (host 'localhost', port '5432', dbname 'app');
CREATE USER MAPPING FOR cache_user SERVER other;
});
is( $src->safe_psql('app',
		"SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.1', 'the source database has the extension at 1.1');

# what must be the same after a restore
my %queries = (
	maps => 'SELECT * FROM memshard.maps ORDER BY id',
	sequence => 'SELECT last_value, is_called FROM memshard.map_id_seq',
	members => q{
SELECT pg_describe_object(classid, objid, objsubid)
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_memshard')
 ORDER BY 1},
	privileges => q{
SELECT r, f, has_function_privilege(r, f, 'EXECUTE')
  FROM unnest(ARRAY['cache_admin', 'cache_user']) r,
       unnest(ARRAY['memshard.create_map(text, interval, bigint, text, text, integer, text[], name[], integer)',
                    'memshard.drop_map(text)', 'memshard.get(text, text)']) f
 ORDER BY 1, 2},
	# (pg_dump writes options in name order)
	servers => q{
SELECT s.srvname, w.fdwname, ARRAY(SELECT unnest(s.srvoptions) ORDER BY 1), m.usename
  FROM pg_foreign_server s
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
  LEFT JOIN pg_user_mappings m ON m.srvid = s.oid
 ORDER BY 1},
	schema => q{
SELECT count(*) FROM pg_namespace WHERE nspname = 'memshard'});
my %before = map { $_ => $src->safe_psql('app', $queries{$_}) } keys %queries;
like($before{members}, qr/^table memshard\.map_catalog$/m,
	'the members include the map catalog');
like($before{maps}, qr/^5\|few_shards\|/m, 'five maps were made, one dropped');

sub check_restored
{
	my ($node, $db, $how) = @_;

	is( $node->safe_psql($db,
			"SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
		'1.1', "$how: the extension is at 1.1");
	for my $what (sort keys %queries)
	{
		is($node->safe_psql($db, $queries{$what}), $before{$what},
			"$how: the same $what");
	}

	# the maps work: items are not restored (a cache), new ones are kept
	is($node->safe_psql($db, "SELECT memshard.get('sessions', 'user:1') IS NULL"),
		't', "$how: items are not part of the dump");
	$node->safe_psql($db, "SELECT memshard.set('sessions', 'user:1', 'bob')");
	is($node->safe_psql($db, 'SELECT value FROM public.current_user_session'),
		'bob', "$how: the restored view reads the restored map");
	is( $node->safe_psql($db,
			"SELECT memshard.shard_for('by_name', 'h'), memshard.shard_for('few_shards', 'k') < 8"),
		'1|t', "$how: a range map keeps its bounds, a hash map its shard count");
	my ($ret, $stdout, $stderr) = $node->psql($db,
		"SELECT memshard.set('quota', 'k' || i, repeat('x', 10000)) FROM generate_series(1, 200) i");
	like($stderr, qr/Map "quota" is limited to 1048576 bytes \(max_memory\) and its items are never evicted/,
		"$how: the quota and eviction 'none' are in force");

	# the id sequence goes on: a new map does not reuse an id
	is($node->safe_psql($db, "SELECT memshard.create_map('after_restore')"),
		'6', "$how: a new map gets the next id");

	# and the restored extension drops as cleanly as a new one
	$node->safe_psql($db, 'DROP VIEW public.current_user_session; DROP EXTENSION pg_memshard CASCADE');
	is( $node->safe_psql($db,
			"SELECT count(*) FROM pg_namespace WHERE nspname = 'memshard'"),
		'0', "$how: DROP EXTENSION leaves no schema behind");
}

my $dump = $PostgreSQL::Test::Utils::tmp_check . '/app.dump';
command_ok(
	[ 'pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('app') ],
	'pg_dump -Fc of the database');
$dst->safe_psql('postgres', 'CREATE DATABASE app');
command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $dst->connstr('app'), $dump ],
	'pg_restore into another server');
check_restored($dst, 'app', 'pg_restore');

my $plain = $PostgreSQL::Test::Utils::tmp_check . '/app.sql';
command_ok(
	[ 'pg_dump', '-f', $plain, '-d', $src->connstr('app') ],
	'pg_dump in plain format');
$src->safe_psql('postgres', 'CREATE DATABASE app_copy');
command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $src->connstr('app_copy') ],
	'psql restores the plain dump into a new database of the same server');
check_restored($src, 'app_copy', 'plain dump');

# --- a node of a cluster: its node, map and placement catalogs and its
# metadata epoch are dumped (extension configuration tables) ---
$src->safe_psql('postgres', 'CREATE DATABASE clu');
$src->safe_psql('clu', sprintf(q{
CREATE EXTENSION pg_memshard;
CREATE SERVER self FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'clu');
CREATE USER MAPPING FOR CURRENT_USER SERVER self;
SELECT memshard.add_node('self');
SELECT memshard.create_map('spread', nodes => ARRAY['self'], shard_count => 4, replicas => 1);
SELECT memshard.set('spread', 'k', 'v');
}, $src->host, $src->port));
my $catalogs = q{
SELECT (SELECT string_agg(format('%s %s %s %s', id, server, database, state), ',' ORDER BY id) FROM memshard.node_catalog),
       (SELECT string_agg(format('%s/%s/%s/%s', map_id, shard, replica, node_id), ',' ORDER BY 1) FROM memshard.placement_catalog),
       (SELECT epoch FROM memshard.metadata_epoch),
       md5(memshard.metadata_snapshot()::text)};
my $catalogs_before = $src->safe_psql('clu', $catalogs);
like($catalogs_before, qr/^1 self clu active\|\S+\/0\/0\/1,.*\|2\|/, 'a cluster of one node with a map over it');
my $clu_dump = $PostgreSQL::Test::Utils::tmp_check . '/clu.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $clu_dump, '-d', $src->connstr('clu') ],
	'pg_dump -Fc of a node of a cluster');
$dst->safe_psql('postgres', 'CREATE DATABASE clu_restored');
command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $dst->connstr('clu_restored'), $clu_dump ],
	'pg_restore of it into a new database');
is($dst->safe_psql('clu_restored', $catalogs), $catalogs_before,
	'the node, map and placement catalogs and the epoch are restored: the same metadata');
is($dst->safe_psql('clu_restored', "SELECT node, role FROM memshard.shards WHERE map = 'spread' AND shard = 0"),
	'self|primary', 'the restored placements are those of the cluster');

# the source database is untouched by all this
is($src->safe_psql('app', "SELECT memshard.get('sessions', 'user:1')"),
	'alice', 'the source still has its items');

$src->stop;
$dst->stop;
done_testing();
