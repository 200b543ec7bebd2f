# Range maps move too: the shard of a range moves to another node, keys on
# its bounds and beside them stay routed right, on every node.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my @nodes = start_cluster('rm', 3,
	"pg_memshard.memory = 16MB\nlog_statement = none\npg_memshard.restart = cold\n");
my ($n1, $n2, $n3) = @nodes;

# four ranges over nodes 1 and 2: [-inf, g) [g, p) [p, t) [t, +inf)
$n1->safe_psql('postgres', q{
SELECT memshard.create_map('rg', method => 'range', bounds => ARRAY['g', 'p', 't'],
                           nodes => ARRAY['n1', 'n2']);
SELECT memshard.set('rg', k, 'v:' || k)
  FROM unnest(ARRAY['a', 'f', 'fzzz', 'g', 'g0', 'o', 'ozz', 'p', 'p0', 's', 'szz', 't', 'u', 'zz']) k;
});
is($n1->safe_psql('postgres', "SELECT node FROM memshard.shards WHERE map = 'rg' AND shard = 1"),
	'n2', 'range [g, p) lives on node 2');

is($n3->safe_psql('postgres', "SELECT memshard.move_shard('rg', 1, 'n3')"), '4',
	'the move of range [g, p) copies its 4 keys');
is($n2->safe_psql('postgres', "SELECT node FROM memshard.shards WHERE map = 'rg' AND shard = 1"),
	'n3', 'range [g, p) lives on node 3 now');
is($n3->safe_psql('postgres', "SELECT string_agg(shard || ':' || items, ',' ORDER BY shard) FROM memshard.local_shard_stats('rg')"),
	'0:0,1:4,2:0,3:0', 'node 3 holds exactly that range');

my $all = q{SELECT string_agg(k || '=' || coalesce(memshard.get('rg', k), 'NULL') || '@' || memshard.node_for('rg', k), ' ' ORDER BY k)
  FROM unnest(ARRAY['a', 'f', 'fzzz', 'g', 'g0', 'o', 'ozz', 'p', 'p0', 's', 'szz', 't', 'u', 'zz']) k};
my $expected = 'a=v:a@n1 f=v:f@n1 fzzz=v:fzzz@n1 g=v:g@n3 g0=v:g0@n3 o=v:o@n3 ozz=v:ozz@n3 '
  . 'p=v:p@n1 p0=v:p0@n1 s=v:s@n1 szz=v:szz@n1 t=v:t@n2 u=v:u@n2 zz=v:zz@n2';
is($_->safe_psql('postgres', $all), $expected,
	'every key, on a bound or beside it, reads back where it belongs (from ' . $_->name . ')')
  for @nodes;

# writes after the move go to node 3; the bound 'p' stays with [p, t)
$n2->safe_psql('postgres', "SELECT memshard.set('rg', 'g', 'new'), memshard.set('rg', 'p', 'newp')");
is($n3->safe_psql('postgres', "SELECT items FROM memshard.local_shard_stats('rg') WHERE shard = 1"),
	'4', 'a write on the bound g lands on node 3');
is($n1->safe_psql('postgres', "SELECT memshard.get('rg', 'g') || ',' || memshard.get('rg', 'p')"),
	'new,newp', 'and reads back');
is($n2->safe_psql('postgres', "SELECT coalesce(sum(items), 0) FROM memshard.local_shard_stats('rg') WHERE shard = 1"),
	'0', 'node 2 freed its copy of the range');
same_metadata('after the range move', @nodes);

done_testing();
