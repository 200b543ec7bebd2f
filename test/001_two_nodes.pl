# Two nodes on two ports, each with pg_memshard preloaded, both answer; and
# a node WITHOUT the library preloaded can still create the extension, with
# shared-memory functions failing cleanly.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @nodes;
for my $name ('node1', 'node2')
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 16MB\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');
	push @nodes, $node;
}

isnt($nodes[0]->port, $nodes[1]->port, 'two nodes on two ports');
for my $node (@nodes)
{
	is($node->safe_psql('postgres', 'SELECT memshard.version()'),
		'1.1', $node->name . ' answers');
	is($node->safe_psql('postgres', 'SHOW pg_memshard.memory'),
		'16MB', $node->name . ' has the library preloaded');
}

# not preloaded
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', 'CREATE EXTENSION pg_memshard');
is($plain->safe_psql('postgres', 'SELECT memshard.version()'),
	'1.1', 'pure functions work without preloading');

$_->stop for @nodes, $plain;
done_testing();
