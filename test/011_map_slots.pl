# Statistics never take map slots (issue 9, part 3).  With more maps than
# pg_memshard.max_maps, reading memshard.map_stats, metrics() and
# memory_report() works and shows the maps that hold nothing as zero, and it
# leaves every slot free for the maps that do get used, in this database and
# in others.  Before the fix, map_stats attached every map it listed: the
# view failed with 53400 and then sets in another database did too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $max_maps = 16;
my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\n"
	  . "pg_memshard.memory = 16MB\npg_memshard.max_maps = $max_maps\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, 'CREATE EXTENSION pg_memshard');
}

# more maps than slots, one of them holding items
$node->safe_psql(
	'postgres', qq{
SELECT memshard.create_map('m' || i) FROM generate_series(1, $max_maps + 8) i;
SELECT memshard.set('m1', 'k' || i, 'v' || i) FROM generate_series(1, 10) i;
});

my ($rc, $out, $err) = $node->psql('postgres',
	q{SELECT count(*), sum(items), count(*) FILTER (WHERE items > 0)
	    FROM memshard.map_stats});
is($rc, 0, 'map_stats with more maps than max_maps succeeds')
  or diag($err);
is($out, ($max_maps + 8) . '|10|1',
	'map_stats lists every map, the unattached ones with no items');

# reading it again (and again) still leaves the slots alone
$node->safe_psql('postgres', 'SELECT count(*) FROM memshard.map_stats')
  for 1 .. 3;

($rc, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) > 0 FROM memshard.metrics()});
is($rc, 0, 'metrics() succeeds') or diag($err);
is($out, 't', 'metrics() returns series');

($rc, $out, $err) = $node->psql('postgres',
	q{SELECT count(*) > 0 FROM memshard.memory_report()});
is($rc, 0, 'memory_report() succeeds') or diag($err);

# the free slots are still free: max_maps - 1 more maps can be used, in
# this database and in the other one
my $free = $max_maps - 1;
my $here = int($free / 2);
my $there = $free - $here;
$node->safe_psql('other',
	qq{SELECT memshard.create_map('o' || i) FROM generate_series(1, $there) i});
($rc, $out, $err) = $node->psql('other',
	qq{SELECT bool_and(memshard.set('o' || i, 'k', 'v'))
	     FROM generate_series(1, $there) i});
is($rc, 0, 'sets in another database find free slots') or diag($err);
is($out, 't', 'every set in the other database stored its item');

($rc, $out, $err) = $node->psql('postgres',
	qq{SELECT bool_and(memshard.set('m' || i, 'k', 'v'))
	     FROM generate_series(2, $here + 1) i});
is($rc, 0, 'sets into unattached maps of this database find slots')
  or diag($err);

# now every slot is in use: one more map really is over the limit
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT memshard.set('m' || (current_setting('pg_memshard.max_maps')::int + 8), 'k', 'v')});
like($err, qr/too many maps in use/, 'a set past max_maps used maps fails');

# and the views still work, counting what each map holds
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT sum(items), count(*) FILTER (WHERE items > 0) FROM memshard.map_stats});
is($rc, 0, 'map_stats still works with every slot in use') or diag($err);
is($out, (10 + $here) . '|' . (1 + $here), 'map_stats counts the items held');
($rc, $out, $err) = $node->psql('other', q{SELECT sum(items) FROM memshard.map_stats});
is($out, $there, 'the other database sees its own items only');

# dropping a map that never had a slot takes none either
$node->safe_psql('postgres', q{SELECT memshard.drop_map('m20')});
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT memshard.get('m1', 'k1')});
is($out, 'v1', 'items of attached maps are untouched');

$node->stop;
done_testing();
