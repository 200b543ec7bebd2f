# Privileges between nodes (issue 9, part 7): the peer_* functions are for
# the roles nodes log in as (members of memshard_peer), not for PUBLIC; a
# node's last error, which may name another role's remote user, shows only
# to the role that ran into it, superusers and pg_monitor.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_nodes('pv', 2, "pg_memshard.memory = 16MB\n");
my ($n1, $n2) = @nodes;

# memshard_link: what the mappings of the roles using the cache name;
# not_peer: a role that may log in but is not memshard_peer
for my $node (@nodes)
{
	require_password($node, 'memshard_link', 'not_peer');
	$node->safe_psql('postgres',
		"CREATE EXTENSION pg_memshard;\n"
		  . server_sql(\@nodes)
		  . peer_role_sql('memshard_link', 'link-pw')
		  . "SET log_statement = 'none'; CREATE ROLE not_peer LOGIN PASSWORD 'np-pw';\n"
		  . "CREATE ROLE erin LOGIN;\n");
}
$n1->safe_psql('postgres', q{
SELECT memshard.add_node('n1'), memshard.add_node('n2');
SELECT memshard.create_map('m', nodes => ARRAY['n1', 'n2']);
CREATE ROLE frank LOGIN;
CREATE ROLE gus LOGIN;
CREATE ROLE mon LOGIN IN ROLE pg_monitor;
SET log_statement = 'none';
CREATE USER MAPPING FOR erin SERVER n2 OPTIONS (user 'memshard_link', password 'link-pw');
CREATE USER MAPPING FOR mon SERVER n2 OPTIONS (user 'memshard_link', password 'link-pw');
CREATE USER MAPPING FOR frank SERVER n2 OPTIONS (user 'memshard_link', password 'not-the-password');
CREATE USER MAPPING FOR gus SERVER n2 OPTIONS (user 'not_peer', password 'np-pw');
});
my $key_on_n2 = $n1->safe_psql('postgres',
	"SELECT 'key' || i FROM generate_series(1, 100) i WHERE memshard.node_for('m', 'key' || i) = 'n2' LIMIT 1");

# run SQL on a node as a role; 'ok' or the SQLSTATE of the error
sub outcome
{
	my ($node, $role, $sql, $password) = @_;
	my $connstr = $node->connstr('postgres') . " user=$role"
	  . ($password ? " password=$password" : '');
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n$sql", connstr => $connstr);
	return "$1 $2" if $err =~ /ERROR:  (\w{5}): (.*)/;
	return $ret == 0 ? "ok $out" : "failed: $err";
}

# --- the peer functions: not for a plain role ---
my %peer_calls = (
	'peer_set' => "SELECT memshard.peer_set('m', '$key_on_n2', '\\x01'::bytea, 0, 0)",
	'peer_get' => "SELECT memshard.peer_get('m', '$key_on_n2')",
	'peer_mget' => "SELECT * FROM memshard.peer_mget('m', ARRAY['$key_on_n2'])",
	'peer_mset' => "SELECT memshard.peer_mset('m', ARRAY['$key_on_n2'], ARRAY['\\x01'::bytea], 0)",
	'peer_delete' => "SELECT memshard.peer_delete('m', '$key_on_n2')",
	'peer_incr' => "SELECT memshard.peer_incr('m', '$key_on_n2', 1, 0)",
	'peer_touch' => "SELECT memshard.peer_touch('m', '$key_on_n2', 1000)",
	'peer_identity' => "SELECT * FROM memshard.peer_identity()",
	'peer_flush' => "SELECT memshard.peer_flush('m')",
	'peer_metadata_apply' => "SELECT memshard.peer_metadata_apply(NULL, '{}', 'x')");
for my $function (sort keys %peer_calls)
{
	is(outcome($n2, 'erin', $peer_calls{$function}),
		"42501 permission denied for function $function",
		"a plain role calling $function gets 42501");
}

# the role nodes log in as may: a write of one copy, read back through
# the cluster
is(outcome($n2, 'memshard_link',
		"SELECT memshard.peer_set('m', '$key_on_n2', 'from the peer'::bytea, 0, 0)", 'link-pw'),
	'ok t', 'a member of memshard_peer runs peer_set');
is($n1->safe_psql('postgres', "SELECT memshard.get('m', '$key_on_n2')"),
	'from the peer', 'what it wrote is the value of the key');
is(outcome($n2, 'memshard_link', $peer_calls{peer_flush}, 'link-pw'),
	'42501 permission denied for function peer_flush',
	'but not peer_flush, an admin function');

# data calls reach the node as the role the mapping names
is(outcome($n1, 'erin', "SELECT memshard.set('m', '$key_on_n2', 'erin was here')"),
	'ok t', 'a plain role whose mapping names a member of memshard_peer writes a key of node 2');
is(outcome($n1, 'erin', "SELECT memshard.get('m', '$key_on_n2')"),
	'ok erin was here', 'and reads it back');
is(outcome($n1, 'gus', "SELECT memshard.set('m', '$key_on_n2', 'gus')"),
	'42501 n2: permission denied for function peer_set',
	'a mapping naming a role that is not memshard_peer: 42501 from the node');

# --- node health: another role's error is not everyone's ---
like(outcome($n1, 'frank', "SELECT memshard.get('m', '$key_on_n2')"),
	qr/^08001 could not connect to node "n2"/,
	'a mapping with the wrong password cannot reach node 2');
my $health =
  "SELECT state || '|' || coalesce(last_error, '<null>') || '|' || CASE WHEN last_error_at IS NULL THEN 'f' ELSE 't' END "
  . "FROM memshard.nodes WHERE server = 'n2'";
like(outcome($n1, 'frank', $health),
	qr/^ok unreachable\|could not connect to node "n2": .*password authentication failed for user "memshard_link"\|t$/,
	'the role that ran into the error sees it');
is(outcome($n1, 'erin', $health), 'ok unreachable|<null>|t',
	"another plain role sees the state and when, not the error");
like(outcome($n1, 'mon', $health),
	qr/^ok unreachable\|could not connect to node "n2": .*memshard_link.*\|t$/,
	'a member of pg_monitor sees the error');
like($n1->safe_psql('postgres', $health),
	qr/^unreachable\|could not connect to node "n2": .*memshard_link.*\|t$/,
	'a superuser sees the error');

# a success clears it for everyone
is(outcome($n1, 'erin', "SELECT memshard.get('m', '$key_on_n2')"),
	'ok erin was here', 'a plain role reaches node 2 again');
is(outcome($n1, 'frank', $health), 'ok active|<null>|f',
	'and the error is gone');

# --- the README's grants for a cache administrator are enough ---
# (the block under "To let a role administer maps", run on every node for
# a role its mappings name on every node, itself)
my $readme = slurp_file('README.md');
my ($grants) = $readme =~ /To let a role administer maps.*?```sql\n(.*?)```/s;
like($grants, qr/GRANT EXECUTE ON FUNCTION memshard\.create_map/,
	"the README's grants for a cache administrator");
for my $node (@nodes)
{
	require_password($node, 'cache_admin');
	$node->safe_psql('postgres',
		"SET log_statement = 'none'; CREATE ROLE cache_admin LOGIN PASSWORD 'ca-pw';\n"
		  . $grants);
}
$n1->safe_psql('postgres', q{SET log_statement = 'none';
CREATE USER MAPPING FOR cache_admin SERVER n1 OPTIONS (user 'cache_admin', password 'ca-pw');
CREATE USER MAPPING FOR cache_admin SERVER n2 OPTIONS (user 'cache_admin', password 'ca-pw');
});
is(outcome($n1, 'cache_admin',
		"SELECT memshard.create_map('admin_m', nodes => ARRAY['n1', 'n2'], replicas => 2) > 0",
		'ca-pw'),
	'ok t', 'with them, a cache administrator creates a map over the nodes');
is(outcome($n1, 'cache_admin', "SELECT memshard.set('admin_m', 'k', 'v')", 'ca-pw'),
	'ok t', 'writes to it (both copies)');
is(outcome($n1, 'cache_admin', "SELECT memshard.flush('admin_m')", 'ca-pw'),
	'ok 2', 'flushes it on both nodes');
is(outcome($n1, 'cache_admin', "SELECT memshard.drop_map('admin_m')", 'ca-pw'),
	'ok t', 'and drops it');
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.maps WHERE name = 'admin_m'"),
	'0', 'on every node');

$_->stop for @nodes;
done_testing();
