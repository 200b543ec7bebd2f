# Warm restart after a clean shutdown (issue 11): 100,000 items of mixed
# sizes (large ones chained over several pages among them), some with TTLs
# of a few seconds, some in a map with eviction 'none' and a quota.  After a
# fast and then a smart restart, every unexpired item is back with its
# exact value, those that expired while the server was down are gone, items
# keep their absolute expiry, map options still hold, a get right after the
# start sees the items (it waits for the load), the dump file is gone once
# loaded, and memshard.restart_stats, memshard.stats and metrics() add up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);

my $node = PostgreSQL::Test::Cluster->new('warm');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 128MB
});
$node->start;
my $dump = $node->data_dir . '/pg_memshard/cache.dump';

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('plain');
SELECT memshard.create_map('brief', default_ttl => '5 s');
SELECT memshard.create_map('timed');
SELECT memshard.create_map('pinned', eviction => 'none', max_memory => 2000000);
-- the value of item i of a map: deterministic, of the given length
CREATE FUNCTION val(i int, len int) RETURNS text LANGUAGE sql IMMUTABLE
RETURN substr(repeat(md5(i::text), len / 32 + 1), 1, len);
});

# 100,000 items: 84,000 small, 9,880 of 1..4kB, 120 large (64..260kB),
# 5,000 that expire 5 s after they are set, 1,000 after 20 s
my %fill = (
	plain_small => "SELECT count(memshard.set('plain', 's' || i, val(i, 1 + i * 37 % 400))) FROM generate_series(1, 84000) i",
	plain_mid => "SELECT count(memshard.set('plain', 'm' || i, val(i, 1000 + i * 131 % 3000))) FROM generate_series(1, 9880) i",
	plain_large => "SELECT count(memshard.set('plain', 'l' || i, val(i, 64000 + i * 1601 % 200000))) FROM generate_series(1, 120) i",
);
for my $part (sort keys %fill)
{
	ok($node->safe_psql('postgres', $fill{$part}) > 0, "fill $part");
}
is( $node->safe_psql('postgres',
		"SELECT count(memshard.set('timed', 't' || i, val(i, 20), interval '20 s')) FROM generate_series(1, 1000) i"),
	'1000', 'fill timed (a 20 s TTL)');
my $timed_set_at = time;
is( $node->safe_psql('postgres',
		"SELECT count(memshard.set('pinned', 'p' || i, val(i, 900))) FROM generate_series(1, 2000) i"),
	'2000', 'fill the pinned map (eviction none, 2MB quota)');
is($node->safe_psql('postgres', 'SELECT items, evictions FROM memshard.stats'),
	'97000|0', '97,000 items, nothing evicted');

# a digest of every non-expiring item of the maps, read with get
my $digest_sql = q{
SELECT md5(string_agg(coalesce(v, '<miss>'), ',' ORDER BY k))
  FROM (SELECT 's' || i AS k, memshard.get('plain', 's' || i) AS v FROM generate_series(1, 84000) i
        UNION ALL SELECT 'm' || i, memshard.get('plain', 'm' || i) FROM generate_series(1, 9880) i
        UNION ALL SELECT 'l' || i, memshard.get('plain', 'l' || i) FROM generate_series(1, 120) i
        UNION ALL SELECT 'p' || i, memshard.get('pinned', 'p' || i) FROM generate_series(1, 2000) i) x};
my $expected_digest = $node->safe_psql('postgres', q{
SELECT md5(string_agg(v, ',' ORDER BY k))
  FROM (SELECT 's' || i AS k, val(i, 1 + i * 37 % 400) AS v FROM generate_series(1, 84000) i
        UNION ALL SELECT 'm' || i, val(i, 1000 + i * 131 % 3000) FROM generate_series(1, 9880) i
        UNION ALL SELECT 'l' || i, val(i, 64000 + i * 1601 % 200000) FROM generate_series(1, 120) i
        UNION ALL SELECT 'p' || i, val(i, 900) FROM generate_series(1, 2000) i) x});
is($node->safe_psql('postgres', $digest_sql), $expected_digest, 'every value as set');
my $map_items_before = $node->safe_psql('postgres',
	"SELECT string_agg(map || '=' || items, ',' ORDER BY map) FROM memshard.map_stats WHERE map <> 'brief'");

# the brief items last: they must still live at the dump, however long the
# fill and the digest took on a loaded machine
my $brief_set_at = time;
ok( $node->safe_psql('postgres',
		"SELECT count(memshard.set('brief', 'b' || i, val(i, 50))) FROM generate_series(1, 5000) i") > 0,
	'fill brief (a 5 s TTL)');
is($node->safe_psql('postgres', 'SELECT items, evictions FROM memshard.stats'),
	'102000|0', '102,000 items, nothing evicted');

# --- fast shutdown: the dump is written; once 5 s are up the brief items are stale ---
my $log_offset = -s $node->logfile;
$node->stop('fast');
ok(-f $dump, 'a fast shutdown wrote the dump');
like(slurp_file($node->logfile, $log_offset),
	qr/pg_memshard: wrote 102000 items \(\d+ bytes of keys and values\) of the cache to "pg_memshard\/cache.dump" in [\d.]+ s/,
	'the dump is logged with its count and time');
my $brief_left = 5.5 - (time - $brief_set_at);
sleep($brief_left) if $brief_left > 0;
$log_offset = -s $node->logfile;
$node->start;

# the first call after the start waits for the load: it sees the item
is($node->safe_psql('postgres', "SELECT memshard.get('plain', 'l120')"),
	$node->safe_psql('postgres', 'SELECT val(120, 64000 + 120 * 1601 % 200000)'),
	'a get right after the start finds its item (it waited for the load)');
is($node->safe_psql('postgres', $digest_sql), $expected_digest,
	'after a fast restart every item is back with its exact value');
is($node->safe_psql('postgres',
		"SELECT count(memshard.get('brief', 'b' || i)) FROM generate_series(1, 5000) i"),
	'0', 'the items that expired while the server was down are gone');
is($node->safe_psql('postgres',
		"SELECT count(memshard.get('timed', 't' || i) = val(i, 20)) FROM generate_series(1, 1000) i"),
	'1000', 'items with a TTL still to run are back');
is( $node->safe_psql('postgres',
		"SELECT string_agg(map || '=' || items, ',' ORDER BY map) FROM memshard.map_stats WHERE map <> 'brief'"),
	$map_items_before, 'map_stats count the same items per map');
is( $node->safe_psql('postgres', q{
SELECT mode, state, dump_items, items_loaded, skipped_expired, skipped_dropped_map,
       skipped_not_held, skipped_no_room, skipped_newer, skipped_failed,
       items_loaded + skipped_expired + skipped_dropped_map + skipped_not_held
         + skipped_no_room + skipped_newer + skipped_failed = dump_items,
       items_loaded = (SELECT items FROM memshard.stats),
       bytes_loaded = (SELECT payload_bytes FROM memshard.stats),
       load_seconds > 0 AND load_seconds < 60, dump_seconds >= 0,
       dump_written_at < load_started
  FROM memshard.restart_stats}),
	'warm|loaded|102000|97000|5000|0|0|0|0|0|t|t|t|t|t|t',
	'restart_stats: loaded, skipped and dumped add up, and match memshard.stats');
is($node->safe_psql('postgres', 'SELECT evictions FROM memshard.stats'),
	'0', 'the load evicted nothing');
my $log = slurp_file($node->logfile, $log_offset);
like($log, qr/pg_memshard: loaded 97000 of 102000 items of the cache dump in [\d.]+ s/,
	'the load is logged with its counts and time');
like($log, qr/Left out: 5000 expired, 0 of dropped maps/, 'with what it left out');
ok(!-e $dump && !-e "$dump.load", 'the dump file is removed once loaded');
like( $node->safe_psql('postgres', 'SELECT memshard.metrics()'),
	qr/pg_memshard_restart_items_loaded 97000\n.*pg_memshard_restart_items_skipped\{reason="expired"\} 5000\n/s,
	'metrics() shows the load');

# options of the maps hold: the pinned map still refuses past its quota
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT count(memshard.set('pinned', 'q' || i, val(i, 900))) FROM generate_series(1, 200) i");
like($err, qr/Map "pinned" is limited to 2000000 bytes \(max_memory\)/,
	"the pinned map's quota still holds after the load");
my $pinned_items = $node->safe_psql('postgres', "SELECT items FROM memshard.map_stats WHERE map = 'pinned'");
cmp_ok($pinned_items, '<', 2200, 'the sets past the quota were refused');
is($node->safe_psql('postgres',
		"SELECT count(memshard.get('pinned', 'p' || i)) FROM generate_series(1, 2000) i"),
	'2000', 'and its items were not evicted');

# absolute expiry: the 20 s items die 20 s after they were set, not after the start
my $left = 20.5 - (time - $timed_set_at);
sleep($left) if $left > 0;
is($node->safe_psql('postgres',
		"SELECT count(memshard.get('timed', 't' || i)) FROM generate_series(1, 1000) i"),
	'0', 'items keep their absolute expiry across the restart');

# --- smart shutdown: the same again ---
$node->stop('smart');
ok(-f $dump, 'a smart shutdown wrote the dump');
$node->start;
is($node->safe_psql('postgres', $digest_sql), $expected_digest,
	'after a smart restart every item is back with its exact value');
my $kept = 94000 + $pinned_items;
is( $node->safe_psql('postgres',
		'SELECT state, dump_items, items_loaded, items_loaded = (SELECT items FROM memshard.stats) FROM memshard.restart_stats'),
	"loaded|$kept|$kept|t", 'restart_stats after the smart restart');

$node->stop;
done_testing();
