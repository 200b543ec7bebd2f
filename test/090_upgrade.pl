# ALTER EXTENSION pg_memshard UPDATE from 1.0 to 1.1: the maps, their items
# and the cluster metadata stay (the metadata digest too, so that updated
# nodes agree), the 1.1 changes are in effect, and a database that creates
# the extension at 1.1 directly gets the same objects, privileges and
# settings as one updated from 1.0.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my ($node) = start_nodes('up', 1, "pg_memshard.memory = 16MB\n");

# --- a 1.0 installation in use: maps of this node, a cluster of one node ---
$node->safe_psql('postgres', "CREATE EXTENSION pg_memshard VERSION '1.0';\n"
	  . server_sql([$node]));
$node->safe_psql('postgres', q{
SELECT memshard.create_map('plain');
SELECT memshard.create_map('kept', default_ttl => interval '1 day', eviction => 'none');
SELECT memshard.set('plain', 'k', 'v');
SELECT memshard.mset('kept', array_agg('key' || i), array_agg('value' || i))
  FROM generate_series(1, 500) i;
SELECT memshard.incr('plain', 'counter', 41);
SELECT memshard.add_node('n1');
SELECT memshard.create_map('over_nodes', nodes => ARRAY['n1'], shard_count => 8);
SELECT memshard.set('over_nodes', 'x', 'y');
});
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.0', 'installed at 1.0');
is($node->safe_psql('postgres',
		"SELECT has_function_privilege('public', 'memshard.peer_set(text, text, bytea, bigint, integer)', 'EXECUTE')"),
	't', 'in 1.0 PUBLIC may run peer_set');

my $maps_query = 'SELECT name, default_ttl, eviction, method, shard_count, nodes FROM memshard.maps ORDER BY name';
my $maps_before = $node->safe_psql('postgres', $maps_query);
my $digest_query = 'SELECT md5(memshard.metadata_snapshot()::text)';
my $digest_before = $node->safe_psql('postgres', $digest_query);
my $shards_before = $node->safe_psql('postgres', 'SELECT * FROM memshard.shards ORDER BY 1, 2');

# --- the update ---
$node->safe_psql('postgres', 'ALTER EXTENSION pg_memshard UPDATE');
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.1', 'updated to 1.1');

is($node->safe_psql('postgres', $maps_query), $maps_before, 'the maps are the same');
is($node->safe_psql('postgres', 'SELECT * FROM memshard.shards ORDER BY 1, 2'),
	$shards_before, 'the placements are the same');
is($node->safe_psql('postgres', $digest_query), $digest_before,
	'the metadata digest is the same: updated and not yet updated nodes agree');
is( $node->safe_psql('postgres', q{
SELECT memshard.get('plain', 'k') || ' ' || memshard.get('plain', 'counter') || ' ' ||
       (SELECT count(*) FROM generate_series(1, 500) i
         WHERE memshard.get('kept', 'key' || i) = 'value' || i) || ' ' ||
       memshard.get('over_nodes', 'x')}),
	'v 41 500 y', 'every item is still there');
is($node->safe_psql('postgres',
		"SELECT memshard.set('over_nodes', 'after', 'update'), memshard.get('over_nodes', 'after')"),
	't|update', 'and the maps take new items');

# --- the 1.1 changes ---
is($node->safe_psql('postgres',
		"SELECT rolcanlogin FROM pg_roles WHERE rolname = 'memshard_peer'"),
	'f', 'role memshard_peer exists, NOLOGIN');
my $peer_functions = q{
  SELECT p.oid, p.proname FROM pg_proc p
   WHERE p.pronamespace = 'memshard'::regnamespace AND p.proname LIKE 'peer%'};
is( $node->safe_psql('postgres', qq{
SELECT string_agg(proname || ':' || has_function_privilege('public', oid, 'EXECUTE')::int
                  || has_function_privilege('memshard_peer', oid, 'EXECUTE')::int, ' ' ORDER BY proname)
  FROM ($peer_functions) f}),
	'peer_count:01 peer_delete:01 peer_epoch:01 peer_flush:00 peer_get:01 '
	  . 'peer_get_expiry:01 peer_identity:01 peer_incr:01 '
	  . 'peer_metadata_apply:00 peer_metadata_outcome:01 '
	  . 'peer_metadata_rejoin:00 peer_mget:01 peer_move_begin:01 '
	  . 'peer_move_clear:01 peer_move_end:01 peer_move_freeze:01 '
	  . 'peer_move_push:01 peer_move_put:01 peer_move_switch:00 peer_mset:01 '
	  . 'peer_node_draining:00 peer_scan:01 peer_set:01 peer_shard_sizes:01 peer_tc_get:01 '
	  . 'peer_tc_set:01 peer_touch:01 peer_write_if:01',
	'peer_* are not for PUBLIC; memshard_peer runs all but the five admin ones');
is( $node->safe_psql('postgres', q{
SELECT string_agg(p.proname || ' ' || array_to_string(p.proconfig, ','), E'\n' ORDER BY p.proname)
  FROM pg_proc p
 WHERE p.pronamespace = 'memshard'::regnamespace AND p.proconfig IS NOT NULL}),
	"metadata_snapshot IntervalStyle=postgres,search_path=pg_catalog, pg_temp\n"
	  . "peer_shard_sizes search_path=pg_catalog, pg_temp\n"
	  . "skew search_path=pg_catalog, pg_temp",
	'the functions whose bodies are parsed when they run have a fixed search_path');
is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'memshard'::regnamespace
   AND (p.prosecdef OR (l.lanname IN ('sql', 'plpgsql') AND p.prosqlbody IS NULL))
   AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)}),
	'0', 'no SECURITY DEFINER function nor string body without it');

# failover: the epoch starts at 0 (the digest of 1.0, above), the next
# change bumps it; a node may be failed
is($node->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats'), '0',
	'the metadata epoch of an updated node is 0');
$node->safe_psql('postgres',
	"SELECT memshard.create_map('after_update', nodes => ARRAY['n1'], shard_count => 2)");
is($node->safe_psql('postgres', 'SELECT epoch FROM memshard.failover_stats'), '1',
	'a change after the update bumps it');
$node->safe_psql('postgres', "SELECT memshard.drop_map('after_update')");
is($node->safe_psql('postgres', q{
BEGIN;
UPDATE memshard.node_catalog SET state = 'failed';
SELECT state FROM memshard.node_catalog;
ROLLBACK;}), 'failed', 'the state of a node may be failed');

# --- the same objects when 1.1 is created directly ---
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_memshard');
is($node->safe_psql('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.1', 'CREATE EXTENSION installs 1.1');
my $objects = q{
WITH members AS (
  SELECT d.classid, d.objid FROM pg_depend d
    JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pg_memshard'
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e')
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT pg_describe_object(m.classid, m.objid, 0) AS line FROM members m
  UNION ALL
  SELECT format('%s acl=%s config=%s secdef=%s volatile=%s parallel=%s strict=%s body=%s',
                p.oid::regprocedure, p.proacl, p.proconfig, p.prosecdef, p.provolatile,
                p.proparallel, p.proisstrict,
                md5(p.prosrc || coalesce(pg_get_function_sqlbody(p.oid), '')))
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT format('%s acl=%s def=%s', c.oid::regclass, c.relacl,
                md5(coalesce(pg_get_viewdef(c.oid), '')))
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
) lines};
my $updated = $node->safe_psql('postgres', $objects);
my $fresh = $node->safe_psql('fresh', $objects);
cmp_ok(scalar(() = $updated =~ /\n/g), '>', 100, 'the comparison sees every member');
is($fresh, $updated,
	'1.1 created directly and 1.0 updated to 1.1 give the same objects, privileges and settings');

# roles belong to the instance: DROP EXTENSION leaves memshard_peer
$node->safe_psql('fresh', 'DROP EXTENSION pg_memshard');
is($node->safe_psql('fresh', "SELECT count(*) FROM pg_roles WHERE rolname = 'memshard_peer'"),
	'1', 'DROP EXTENSION leaves role memshard_peer');
$node->safe_psql('fresh', 'CREATE EXTENSION pg_memshard');
is($node->safe_psql('fresh',
		"SELECT has_function_privilege('memshard_peer', 'memshard.peer_get(text, text)', 'EXECUTE')"),
	't', 'and CREATE EXTENSION uses the role that is there');

$node->stop;
done_testing();
