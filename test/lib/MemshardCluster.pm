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

our @EXPORT = qw(start_nodes server_sql require_password peer_role_sql);

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

1;
