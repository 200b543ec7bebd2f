# Nodes of a cluster: FOREIGN DATA WRAPPER memshard and its validator,
# add_node / remove_node, the nodes view, metadata reaching every node or
# none (two-phase commit), and the security rules for non-superusers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_nodes('n', 3, "pg_memshard.memory = 16MB\n");

# the same servers and user mappings on every node, the node itself included
my $servers = server_sql(\@nodes);
for my $node (@nodes)
{
	$node->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n$servers");
}
my ($n1, $n2, $n3) = @nodes;
$n1->safe_psql('postgres', "CREATE ROLE alice LOGIN; GRANT USAGE ON SCHEMA memshard TO alice");

# --- the validator ---
my ($ret, $out, $err) = $n1->psql('postgres',
	"CREATE SERVER bad FOREIGN DATA WRAPPER memshard OPTIONS (colour 'red')");
like($err, qr/invalid option "colour"/, 'unknown server option rejected');
like($err, qr/HINT:  Valid options in this context are: .*host.*port/,
	'hint lists the valid server options');
($ret, $out, $err) = $n1->psql('postgres',
	"CREATE SERVER bad FOREIGN DATA WRAPPER memshard OPTIONS (password 'x')");
like($err, qr/invalid option "password"/, 'password is not a server option');
($ret, $out, $err) = $n1->psql('postgres',
	"CREATE USER MAPPING FOR alice SERVER n1 OPTIONS (host 'x')");
like($err, qr/invalid option "host".*\n.*Valid options in this context are: user, password/,
	'host is not a user mapping option');
$n1->safe_psql('postgres',
	"CREATE SERVER ok FOREIGN DATA WRAPPER memshard OPTIONS (host 'h', port '1', dbname 'd', connect_timeout '2', sslmode 'disable'); DROP SERVER ok");
pass('libpq options accepted on a server');

# --- add_node from node 1, in one statement ---
is( $n1->safe_psql('postgres',
		"SELECT memshard.add_node('n1'), memshard.add_node('n2'), memshard.add_node('n3')"),
	'1|2|3',
	'add_node returns node ids');

for my $i (1 .. 3)
{
	my $node = $nodes[ $i - 1 ];
	is( $node->safe_psql('postgres',
			"SELECT string_agg(format('%s:%s:%s:%s', id, server, is_local, state), ' ' ORDER BY id) FROM memshard.nodes"
		),
		join(' ',
			map { "$_:n$_:" . ($_ == $i ? 't' : 'f') . ':active' }
			  (1 .. 3)),
		"node $i knows all nodes and recognises itself");
}
is( $n3->safe_psql('postgres',
		"SELECT port FROM memshard.nodes WHERE server = 'n2'"),
	$n2->port, 'nodes view shows the port');
is($n2->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'),
	'0', 'no prepared transaction left behind');

($ret, $out, $err) = $n2->psql('postgres', "SELECT memshard.add_node('n3')");
like($err, qr/node "n3" is already in the cluster/, 'adding a node twice fails');

# a second server object reaching an existing node
$n1->safe_psql('postgres', sprintf(
	"CREATE SERVER n2bis FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'postgres'); CREATE USER MAPPING FOR CURRENT_USER SERVER n2bis",
	$n2->host, $n2->port));
($ret, $out, $err) = $n1->psql('postgres', "SELECT memshard.add_node('n2bis')");
like($err, qr/server "n2bis" reaches node "n2", which is already in the cluster/,
	'the same node under another server name is refused');

# a database without pg_memshard
$n3->safe_psql('postgres', 'CREATE DATABASE plain');
$n1->safe_psql('postgres', sprintf(
	"CREATE SERVER plain FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'plain'); CREATE USER MAPPING FOR CURRENT_USER SERVER plain",
	$n3->host, $n3->port));
($ret, $out, $err) = $n1->psql('postgres', "SELECT memshard.add_node('plain')");
like($err, qr/node "plain" does not run pg_memshard/, 'node without the extension is refused');

# a database of another encoding
$n3->safe_psql('postgres', "CREATE DATABASE latin TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'");
$n3->safe_psql('latin', 'CREATE EXTENSION pg_memshard');
$n1->safe_psql('postgres', sprintf(
	"CREATE SERVER latin FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'latin'); CREATE USER MAPPING FOR CURRENT_USER SERVER latin",
	$n3->host, $n3->port));
($ret, $out, $err) = $n1->psql('postgres', "SELECT memshard.add_node('latin')");
like($err, qr/node "latin" uses encoding LATIN1, this node uses \w+/, 'a node of another encoding is refused');

# --- remove_node reaches everyone; then add it back from another node ---
$n2->safe_psql('postgres', "SELECT memshard.remove_node('n3')");
is($n1->safe_psql('postgres', "SELECT string_agg(server, ',' ORDER BY id) FROM memshard.nodes"),
	'n1,n2', 'removal seen on node 1');
is($n3->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'0', 'the removed node forgot the cluster');
is($n2->safe_psql('postgres', "SELECT memshard.add_node('n3')"), '3',
	'the removed node can be added back');
is($n3->safe_psql('postgres', "SELECT string_agg(server || is_local, ',' ORDER BY id) FROM memshard.nodes"),
	'n1false,n2false,n3true', 'and it knows the cluster again');
($ret, $out, $err) = $n1->psql('postgres', "SELECT memshard.remove_node('n1')");
like($err, qr/cannot remove node "n1" from itself/, 'a node does not remove itself');

# --- a node down: the change fails naming it, and no node changed ---
$n1->safe_psql('postgres', sprintf(
	"CREATE SERVER n4 FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'postgres'); CREATE USER MAPPING FOR CURRENT_USER SERVER n4",
	$n3->host, $n3->port));
$n3->stop;
($ret, $out, $err) = $n1->psql('postgres',
	"SET pg_memshard.connect_timeout = '1s'; SELECT memshard.remove_node('n2')");
like($err, qr/could not connect to node "n3"/, 'change fails naming the node that is down');
is($n1->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'3', 'node 1 unchanged');
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'3', 'node 2 unchanged');
is($n2->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'),
	'0', 'node 2 has nothing prepared');
like($n1->safe_psql('postgres', "SELECT state || ' ' || last_error FROM memshard.nodes WHERE server = 'n3'"),
	qr/^unreachable could not connect to node "n3"/,
	'nodes view shows the unreachable node and its error to another session');
$n3->start;
is($n3->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'3', 'node 3 unchanged');

# --- a change in a transaction that rolls back leaves nothing anywhere ---
$n1->safe_psql('postgres', "BEGIN; SELECT memshard.remove_node('n2'); ROLLBACK;");
is($n2->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'3', 'rolled back change not applied on node 2');
is($n3->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'),
	'0', 'nor left prepared on node 3');

# --- a savepoint rolled back over a change dooms the transaction ---
($ret, $out, $err) = $n1->psql('postgres',
	"BEGIN; SAVEPOINT a; SELECT memshard.remove_node('n2'); ROLLBACK TO a; COMMIT;");
like($err, qr/rolled back to a savepoint/, 'savepoint over a change refused at commit');
is($n3->safe_psql('postgres', "SELECT count(*) FROM memshard.nodes"),
	'3', 'and nothing changed');

# --- an in-doubt change is finished by recovery ---
# prepare on node 2 by hand a change coordinated by node 1 whose record
# committed: recover_metadata() must commit it
# gids are memshard_<system identifier, unsigned>_<database oid>_<xid>_<node>
my $gid = $n1->safe_psql('postgres', q{
	SELECT format('memshard_%s_%s_100_2',
		CASE WHEN i.system_identifier < 0
			THEN i.system_identifier::numeric + 18446744073709551616
			ELSE i.system_identifier END,
		d.oid)
	FROM memshard.peer_identity() i, pg_database d WHERE d.datname = 'postgres'});
$n2->safe_psql('postgres', "BEGIN; CREATE TABLE in_doubt (); PREPARE TRANSACTION '$gid';");
$n1->safe_psql('postgres', "INSERT INTO memshard.metadata_transactions (gid, node_id) VALUES ('$gid', 2)");
is($n1->safe_psql('postgres', 'SELECT memshard.recover_metadata()'), '1',
	'recovery finished one in-doubt change');
is($n2->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'in_doubt'"),
	'1', 'it was committed, as its record said');
is($n1->safe_psql('postgres', 'SELECT count(*) FROM memshard.metadata_transactions'),
	'0', 'and its record is gone, as are those of finished changes');

# --- security ---
$n1->safe_psql('postgres', "CREATE USER MAPPING FOR alice SERVER n2; CREATE USER MAPPING FOR alice SERVER n3");
($ret, $out, $err) = $n1->psql('postgres', "SET ROLE alice; SELECT memshard.add_node('n2')");
like($err, qr/permission denied for function add_node/, 'add_node is not for everyone');
$n1->safe_psql('postgres', "GRANT EXECUTE ON FUNCTION memshard.recover_metadata() TO alice; GRANT SELECT, DELETE ON memshard.metadata_transactions TO alice");
($ret, $out, $err) = $n1->psql('postgres',
	"SET ROLE alice; SELECT memshard.recover_metadata()");
like($err, qr/password is required.*\n.*Non-superusers must provide a password/,
	'a non-superuser without a password in the user mapping cannot connect');
# (the test framework logs every statement: not this one, which is ours)
$n1->safe_psql('postgres', "SET log_statement = 'none'; ALTER USER MAPPING FOR alice SERVER n2 OPTIONS (ADD password 'secret-pw'); ALTER USER MAPPING FOR alice SERVER n3 OPTIONS (ADD password 'secret-pw')");
my $everything = $n1->safe_psql('postgres', "SELECT * FROM memshard.nodes; SELECT * FROM memshard.node_catalog");
unlike($everything, qr/secret-pw/, 'the password is not in the nodes view');
($ret, $out, $err) = $n1->psql('postgres', "SET ROLE alice; SELECT memshard.recover_metadata()");
like($err, qr/password is required.*\n.*does not request a password/,
	'a password the node does not ask for does not count');
my $log = slurp_file($n1->logfile) . slurp_file($n2->logfile);
unlike($log, qr/secret-pw/, 'the password is in no log line');

$_->stop for @nodes;
done_testing();
