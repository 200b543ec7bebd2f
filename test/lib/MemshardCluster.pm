# Nodes for the multi-node TAP tests: PostgreSQL::Test::Cluster instances
# with pg_memshard preloaded, and the cluster set-up every such test does
# (the same servers and user mappings on every node, the node itself
# included, as the README's "Setting up a cluster" says).
package MemshardCluster;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(start_nodes server_sql);

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

1;
