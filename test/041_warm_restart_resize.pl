# Warm restart into a cache of another shape (issue 11): the dump is a list
# of items, not a memory image.  Another pg_memshard.partitions: everything
# loads.  Half the memory: no error, the cache fills up to its budget
# without evicting, what did not fit is counted, and the most recently used
# items are the ones that get in.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('resize');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 32MB
pg_memshard.partitions = 16
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('m');
SELECT memshard.create_map('small', eviction => 'none');
});

# no eviction yet: 60,000 items of 1..400 bytes, 200 in a map that never evicts
$node->safe_psql('postgres', q{
SELECT count(memshard.set('m', 'k' || i, repeat(chr(65 + i % 26), 1 + i * 37 % 400))) FROM generate_series(1, 60000) i;
SELECT count(memshard.set('small', 'n' || i, 'v' || i)) FROM generate_series(1, 200) i;
});
my $digest_sql = q{
SELECT md5(string_agg(coalesce(memshard.get('m', 'k' || i), '-'), ',' ORDER BY i))
       || md5(string_agg(coalesce(memshard.get('small', 'n' || i), '-'), ',' ORDER BY i))
  FROM generate_series(1, 60000) i};
my $digest = $node->safe_psql('postgres', $digest_sql);
is($node->safe_psql('postgres', 'SELECT items, evictions FROM memshard.stats'),
	'60200|0', 'filled without evictions');

# --- another partition count: the same items come back ---
$node->append_conf('postgresql.conf', "pg_memshard.partitions = 4\n");
$node->restart;
is($node->safe_psql('postgres', 'SHOW pg_memshard.partitions'), '4', 'now 4 partitions');
is($node->safe_psql('postgres', $digest_sql), $digest,
	'with another partition count every item is back');
is($node->safe_psql('postgres', 'SELECT state, items_loaded, skipped_no_room FROM memshard.restart_stats'),
	'loaded|60200|0', 'all loaded');

# --- a cache past its budget, then half the memory ---
# 60,000 more items of 300 bytes push the first ones out (CLOCK); then the
# keys of a set 'hot' are read, so that they are the most recently used
$node->safe_psql('postgres',
	"SELECT count(memshard.set('m', 'x' || i, repeat('x', 300))) FROM generate_series(1, 60000) i");
my $hot = q{(SELECT 'x' || i AS k FROM generate_series(1, 60000, 10) i) h};
my $hot_before = $node->safe_psql('postgres',
	"SELECT count(memshard.get('m', h.k)) FROM $hot");
cmp_ok($node->safe_psql('postgres', 'SELECT evictions FROM memshard.stats'), '>', 0,
	'the cache evicted to take them');
my $items_before = $node->safe_psql('postgres', 'SELECT items FROM memshard.stats');

my $log_offset = -s $node->logfile;
$node->append_conf('postgresql.conf', "pg_memshard.memory = 16MB\n");
$node->restart;
is($node->safe_psql('postgres', 'SELECT memory_budget FROM memshard.stats'),
	16 * 1024 * 1024, 'restarted with half the memory');
$node->poll_query_until('postgres', "SELECT state = 'loaded' FROM memshard.restart_stats")
  or die 'the load did not end';
my ($dumped, $loaded, $no_room, $adds_up, $matches) = split /\|/, $node->safe_psql('postgres', q{
SELECT dump_items, items_loaded, skipped_no_room,
       items_loaded + skipped_expired + skipped_dropped_map + skipped_not_held
         + skipped_no_room + skipped_newer + skipped_failed = dump_items,
       items_loaded = (SELECT items FROM memshard.stats)
  FROM memshard.restart_stats});
is($dumped, $items_before, 'the dump held every item');
cmp_ok($no_room, '>', 0, 'some items did not fit: counted in skipped_no_room');
cmp_ok($loaded, '>', $dumped * 0.3, 'and many did');
is("$adds_up|$matches", 't|t', 'the counts add up and match memshard.stats');
is($node->safe_psql('postgres', 'SELECT evictions FROM memshard.stats'),
	'0', 'the load filled the cache without evicting');
cmp_ok($node->safe_psql('postgres', 'SELECT pages_free FROM memshard.stats'), '<=', 1,
	'up to its budget');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/ERROR|FATAL|PANIC/, 'no error at the start');
like($log, qr/pg_memshard: loaded $loaded of $dumped items .*\n.*DETAIL:  Left out: 0 expired, 0 of dropped maps, 0 of shards not held here, $no_room for lack of room/,
	'the load logs what did not fit');

# the recently used items were loaded first: they got in at a higher rate
my $hot_after = $node->safe_psql('postgres', "SELECT count(memshard.get('m', h.k)) FROM $hot");
my $hot_rate = $hot_after / $hot_before;
my $rate = $loaded / $dumped;
cmp_ok($hot_rate, '>', $rate + 0.1,
	sprintf('recently read items came back more often (%.2f) than items overall (%.2f)',
		$hot_rate, $rate));
is($node->safe_psql('postgres', "SELECT count(memshard.get('small', 'n' || i)) FROM generate_series(1, 200) i"),
	'200', "the eviction 'none' map's items came back");

# and the cache works as usual afterwards (a set evicts)
is($node->safe_psql('postgres',
		"SELECT count(memshard.set('m', 'y' || i, repeat('y', 300))) FROM generate_series(1, 5000) i"),
	'5000', 'sets work on the full cache');

$node->stop;
done_testing();
