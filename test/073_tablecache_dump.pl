# pg_dump and restore of a database with cached tables (issue 14): the
# catalog of cached tables (an extension configuration table), the tables'
# maps and their triggers come back, and the restored cache works: reads
# are served from it and writes invalidate it.  Rows are a cache and are
# not dumped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MemshardCluster;

my ($src, $dst) = start_nodes('tcdump', 2, "pg_memshard.memory = 16MB\n");

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', q{
CREATE EXTENSION pg_memshard;
CREATE SCHEMA shop;
CREATE TABLE shop.items (sku text PRIMARY KEY, price int NOT NULL);
INSERT INTO shop.items SELECT 'sku' || i, i FROM generate_series(1, 100) i;
CREATE TABLE public.parted (id int, region text, v int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE public.parted_eu PARTITION OF public.parted FOR VALUES IN ('eu');
INSERT INTO public.parted VALUES (1, 'eu', 1);
SELECT memshard.cache_table('shop.items', ttl => '1 hour');
SELECT memshard.cache_table('public.parted', max_memory => 1048576);
SELECT count(memshard.get_row(NULL::shop.items, 'sku' || i)) FROM generate_series(1, 100) i;
});

my %queries = (
	catalog => 'SELECT relid::text, map, key_columns, ttl, max_memory, nodes FROM memshard.table_catalog ORDER BY 1',
	maps => 'SELECT name, default_ttl, max_memory FROM memshard.maps ORDER BY 1',
	triggers => q{
SELECT tgrelid::regclass::text, tgname, tgenabled, tgtype
  FROM pg_trigger WHERE tgname LIKE 'memshard%' ORDER BY 1, 2},
);
my %before = map { $_ => $src->safe_psql('app', $queries{$_}) } keys %queries;
like($before{catalog}, qr/^parted\|table:public\.parted\|\{id,region\}\|\|1048576\|\nshop\.items\|table:shop\.items\|\{sku\}\|01:00:00\|\|$/s,
	'two cached tables');

my $dump = $src->basedir . '/app.dump';
$src->command_ok([ 'pg_dump', '-Fc', '-d', $src->connstr('app'), '-f', $dump ], 'pg_dump');
$dst->safe_psql('postgres', 'CREATE DATABASE app');
$dst->command_ok([ 'pg_restore', '-d', $dst->connstr('app'), $dump ], 'pg_restore');

for my $what (sort keys %queries)
{
	is($dst->safe_psql('app', $queries{$what}), $before{$what}, "$what restored");
}

# the restored cache works
is( $dst->safe_psql('app',
		"SELECT count(*) FROM shop.items t WHERE memshard.get_row(NULL::shop.items, t.sku) IS DISTINCT FROM t"),
	'0', 'restored: rows read through the cache equal the table');
is( $dst->safe_psql('app',
		"SELECT count(*) FROM shop.items t WHERE memshard.get_row(NULL::shop.items, t.sku) IS DISTINCT FROM t"),
	'0', 'and again, from the cache');
is($dst->safe_psql('app', "SELECT items, hits > 0 FROM memshard.cached_tables WHERE \"table\" = 'shop.items'::regclass"),
	'100|t', 'the restored table is cached and served');
$dst->safe_psql('app', "UPDATE shop.items SET price = price + 1000 WHERE sku = 'sku7'");
is($dst->safe_psql('app', "SELECT (memshard.get_row(NULL::shop.items, 'sku7')).price"),
	'1007', 'a write after the restore invalidates');
$dst->safe_psql('app', "INSERT INTO public.parted VALUES (2, 'eu', 2)");
is($dst->safe_psql('app', "SELECT memshard.get_row(NULL::public.parted, ROW(2, 'eu'))"),
	'(2,eu,2)', 'the partitioned table too');

$_->stop for ($src, $dst);
done_testing();
