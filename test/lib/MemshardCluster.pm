# Nodes for the multi-node TAP tests: PostgreSQL::Test::Cluster instances
# with pg_memshard preloaded, and the cluster set-up every such test does
# (the same servers and user mappings on every node, the node itself
# included, as the README's "Setting up a cluster" says).
package MemshardCluster;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(start_nodes server_sql require_password peer_role_sql
  start_cluster prepared_changes has_map same_metadata hold_change);

# start_nodes(PREFIX, COUNT, EXTRA_CONF): COUNT started nodes named PREFIX1
# .. PREFIXn, with the library preloaded, prepared transactions enabled (the
# metadata is changed by two-phase commit) and EXTRA_CONF appended.
sub start_nodes
{
	my ($prefix, $count, $extra_conf) = @_;
	my @nodes;

	for my $i (1 .. $count)
	{
		my $node = PostgreSQL::Test::Cluster->new("$prefix$i");
		$node->init;
		$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
max_prepared_transactions = 10
} . ($extra_conf // ''));
		$node->start;
		push @nodes, $node;
	}
	return @nodes;
}

# server_sql(NODES, MAPPING_OPTIONS): SQL creating servers n1 .. nN for the
# nodes and a user mapping for the current user on each (MAPPING_OPTIONS,
# e.g. "OPTIONS (password 'x')", is appended to every mapping).
sub server_sql
{
	my ($nodes, $mapping_options) = @_;
	my $sql = '';

	for my $i (1 .. scalar @$nodes)
	{
		my $node = $nodes->[ $i - 1 ];
		$sql .= sprintf(
			"CREATE SERVER n%d FOREIGN DATA WRAPPER memshard OPTIONS (host '%s', port '%d', dbname 'postgres');\n"
			  . "CREATE USER MAPPING FOR CURRENT_USER SERVER n%d%s;\n",
			$i, $node->host, $node->port, $i,
			$mapping_options ? " $mapping_options" : '');
	}
	return $sql;
}

# require_password(NODE, ROLE...): the node asks the roles for a password
# (scram-sha-256 on its Unix socket), as a non-superuser's user mapping
# needs (README, "Setting up a cluster"); other roles keep trust.
sub require_password
{
	my ($node, @roles) = @_;
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $lines = join('', map { "local all $_ scram-sha-256\n" } @roles);

	# the first matching line counts: ours go before the framework's
	my $old = slurp_file($hba);
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh $lines . $old;
	close $fh;
	$node->reload;
	return;
}

# peer_role_sql(ROLE, PASSWORD, FUNCTION...): SQL making ROLE a role that
# nodes log in as to reach this one: LOGIN with the password, a member of
# memshard_peer (which may run the peer_* functions of the data calls), and
# granted EXECUTE on each FUNCTION (e.g. 'memshard.peer_flush(text)' for
# the role an admin's mapping names).
sub peer_role_sql
{
	my ($role, $password, @functions) = @_;
	my $sql = "SET log_statement = 'none';\n"
	  . "CREATE ROLE $role LOGIN PASSWORD '$password';\n"
	  . "RESET log_statement;\n"
	  . "GRANT memshard_peer TO $role;\n";

	$sql .= "GRANT EXECUTE ON FUNCTION $_ TO $role;\n" for @functions;
	return $sql;
}

# start_cluster(PREFIX, COUNT, EXTRA_CONF): start_nodes, then the extension,
# the servers and mappings on every node, and add_node of every node (from
# the first): a cluster of COUNT nodes n1 .. nN, ready for maps.
sub start_cluster
{
	my @nodes = start_nodes(@_);
	my $servers = server_sql(\@nodes);

	$_->safe_psql('postgres', "CREATE EXTENSION pg_memshard;\n$servers")
	  for @nodes;
	$nodes[0]->safe_psql('postgres',
		'SELECT '
		  . join(', ', map { "memshard.add_node('n$_')" } 1 .. scalar @nodes));
	return @nodes;
}

# the metadata changes prepared on a node and not finished
sub prepared_changes
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'memshard%'");
}

# 1 if the node has the map, else 0
sub has_map
{
	my ($node, $map) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM memshard.maps WHERE name = '$map'");
}

# tests: every node has the first node's metadata, nothing left prepared
sub same_metadata
{
	my ($what, @nodes) = @_;
	my @digests = map {
		$_->safe_psql('postgres',
			'SELECT md5(memshard.metadata_snapshot()::text)')
	} @nodes;

	is(join(' ', @digests), join(' ', ($digests[0]) x scalar @nodes),
		"$what: every node has the same metadata");
	is(join(',', map { $_->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts') } @nodes),
		join(',', (0) x scalar @nodes), "$what: nothing prepared anywhere");
}

# hold_change(COORDINATOR, KEY, SQL, PEERS): run the change SQL on the
# coordinator in a background session that stops once every node has
# prepared its part (pg_memshard.test_hold_after_prepare, held by advisory
# lock KEY in another session), and wait until the PEERS hold their part.
# Returns the holding session (pg_advisory_unlock(KEY) lets the change go
# on) and the change's session (its output ends with "done").
sub hold_change
{
	my ($coordinator, $key, $sql, @peers) = @_;
	my $holder = $coordinator->background_psql('postgres');
	my $change = $coordinator->background_psql('postgres', on_error_stop => 0);

	$holder->query_safe("SELECT pg_advisory_lock($key)");
	$change->query_safe("SET pg_memshard.test_hold_after_prepare = $key");
	$change->query_until(qr/started/, "\\echo started\n$sql;\n\\echo done\n");
	for my $node (@peers)
	{
		$node->poll_query_until('postgres',
			"SELECT count(*) = 1 FROM pg_prepared_xacts WHERE gid LIKE 'memshard%'")
		  or die 'no part prepared on ' . $node->name;
	}
	return ($holder, $change);
}

1;
