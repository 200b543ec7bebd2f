# Dumps that are refused, and items that are left out (issue 11).  A dump
# with a flipped byte, a truncated one, one of another format or library
# version, of another cluster, or no dump at all: refused with a LOG line
# saying why, the server up with an empty cache.  Items of a map dropped
# while the library was not loaded, of a map id used again after the
# extension was dropped and created, or of a database without the
# extension any more: left out and counted.  Two databases load together.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('refused');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 16MB
});
$node->start;
my $dump = $node->data_dir . '/pg_memshard/cache.dump';

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('a');
SELECT memshard.create_map('b');
});
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('a');
});

sub fill
{
	$node->safe_psql('postgres', q{
SELECT count(memshard.set('a', 'k' || i, 'a' || i)) FROM generate_series(1, 3000) i;
SELECT count(memshard.set('b', 'k' || i, 'b' || i)) FROM generate_series(1, 2000) i;
});
	$node->safe_psql('other',
		"SELECT count(memshard.set('a', 'k' || i, 'other' || i)) FROM generate_series(1, 1000) i");
}

sub wait_loaded
{
	$node->poll_query_until('postgres', "SELECT state <> 'loading' FROM memshard.restart_stats")
	  or die 'the load did not end';
}

# --- two databases, both loaded ---
fill();
$node->restart;
wait_loaded();
is( $node->safe_psql('postgres', q{
SELECT state, dump_items, items_loaded,
       (SELECT count(memshard.get('a', 'k' || i) = 'a' || i) FROM generate_series(1, 3000) i),
       (SELECT count(memshard.get('b', 'k' || i) = 'b' || i) FROM generate_series(1, 2000) i)
  FROM memshard.restart_stats}),
	'loaded|6000|6000|3000|2000', 'two databases: every item loaded');
is($node->safe_psql('other',
		"SELECT count(memshard.get('a', 'k' || i) = 'other' || i) FROM generate_series(1, 1000) i"),
	'1000', "and the other database's map 'a' has its own items");

# --- damaged or foreign dumps ---
sub patch_dump
{
	my ($offset, $bytes) = @_;
	open(my $fh, '+<:raw', $dump) or die "open: $!";
	seek($fh, $offset, 0);
	print $fh $bytes;
	close $fh;
}

sub truncate_dump
{
	my ($length) = @_;
	truncate($dump, $length) or die "truncate: $!";
}

sub refused
{
	my ($name, $damage, $reason) = @_;

	$node->stop;
	ok(-f $dump, "$name: a dump was written");
	$damage->();
	my $log_offset = -s $node->logfile;
	$node->start;
	wait_loaded();
	like(slurp_file($node->logfile, $log_offset),
		qr/LOG:  pg_memshard: cache dump "pg_memshard\/cache.dump" not loaded: \Q$reason\E\n.*DETAIL:  The server starts with an empty cache./,
		"$name: refused with a LOG line");
	is( $node->safe_psql('postgres',
			"SELECT state, detail, items_loaded, (SELECT items FROM memshard.stats) FROM memshard.restart_stats"),
		"empty|dump refused: $reason|0|0", "$name: the cache starts empty");
	ok(!-e $dump && !-e "$dump.load", "$name: the dump is removed");
	is($node->safe_psql('postgres', "SELECT memshard.set('a', 'x', 'y'), memshard.get('a', 'x')"),
		't|y', "$name: the server and the cache work");
	fill();
}

my $size;
refused('a flipped byte', sub {
	$size = -s $dump;
	open(my $fh, '+<:raw', $dump) or die "open: $!";
	seek($fh, int($size / 2), 0);
	read($fh, my $byte, 1);
	seek($fh, int($size / 2), 0);
	print $fh chr(ord($byte) ^ 0x20);
	close $fh;
}, 'its checksum does not match: the file is corrupt');
refused('a truncated dump', sub { truncate_dump(int((-s $dump) * 0.7)) }, 'it is truncated');
refused('a dump cut just before its checksum', sub { truncate_dump((-s $dump) - 2) },
	'it is truncated (no checksum)');
refused('bytes after the checksum', sub {
	open(my $fh, '>>:raw', $dump) or die "open: $!";
	print $fh 'x';
	close $fh;
}, 'bytes follow its checksum: the file is corrupt');
refused('another library version', sub { patch_dump(16, "9.9\0") },
	'it was written by pg_memshard 9.9, this is 1.0');
refused('another format version', sub { patch_dump(8, pack('L', 99)) },
	'it has format version 99, this library reads version 1');
refused('another cluster', sub { patch_dump(32, pack('Q', 12345)) },
	'it was written by another database cluster (system identifier 12345, this one '
	  . $node->safe_psql('postgres', 'SELECT system_identifier FROM pg_control_system()') . ')');
refused('not a dump', sub {
	open(my $fh, '>:raw', $dump) or die "open: $!";
	print $fh 'x' x 200;
	close $fh;
}, 'it is not a pg_memshard cache dump');

# --- catalogs changed while the library was not loaded ---
# start with no library, change the catalogs, stop, start with it again
sub without_library
{
	my ($dbname, $sql) = @_;

	$node->stop;
	ok(-f $dump, 'a dump was written');
	$node->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
	$node->start;
	$node->safe_psql($dbname, $sql);
	$node->stop;
	ok(-f $dump, 'a start without the library leaves the dump alone');
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pg_memshard'\n");
	$node->start;
}

without_library('postgres', "SELECT memshard.drop_map('b')");
wait_loaded();
is( $node->safe_psql('postgres',
		"SELECT state, items_loaded, skipped_dropped_map, (SELECT count(memshard.get('a', 'k' || i)) FROM generate_series(1, 3000) i) FROM memshard.restart_stats"),
	'loaded|4001|2000|3000', "a map dropped since: its 2000 items are left out, the others loaded");
$node->safe_psql('postgres', "SELECT memshard.create_map('b')");
fill();

# the extension dropped and created again: map id 1 is used again, by a new map
without_library('postgres', q{
DROP EXTENSION pg_memshard;
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('a2');
});
wait_loaded();
is( $node->safe_psql('postgres',
		"SELECT (SELECT id FROM memshard.maps WHERE name = 'a2'), items_loaded, skipped_dropped_map FROM memshard.restart_stats"),
	'1|1000|5001', 'a map id used again by a map created after the dump: its old items are left out');
is($node->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'a2'"),
	'0', 'the new map is empty');
is($node->safe_psql('other', "SELECT count(memshard.get('a', 'k' || i)) FROM generate_series(1, 1000) i"),
	'1000', 'the other database still loaded');

# a database whose extension is gone
without_library('other', 'DROP EXTENSION pg_memshard');
wait_loaded();
like( $node->safe_psql('postgres', 'SELECT skipped_dropped_map FROM memshard.restart_stats'),
	qr/^1000$/, "a database without the extension: its items are left out");

$node->stop;
done_testing();
