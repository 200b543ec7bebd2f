# The table cache is linearizable for readers that start after a commit
# (issue 14, guarantees 1 and 7): one session commits UPDATEs of a counter
# through a second connection (dblink, so COMMIT has returned when the call
# does) and right after each one reads the row with get_row, which must
# show the value just committed.  Meanwhile two pgbench clients hammer
# get_row on the same keys through a cache far too small for them (a map
# quota of a few dozen rows for 64 keys): items are evicted and refilled all
# the time, and fills race the writer's commits.  Thousands of rounds, not
# one stale read.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $keys = 64;
my $seconds = 15;

my $node = PostgreSQL::Test::Cluster->new('tc_linear');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_memshard'
pg_memshard.memory = 8MB
pg_memshard.partitions = 2
pg_memshard.tablecache_marks = 1024
});
$node->start;

$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_memshard;
CREATE EXTENSION dblink;
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, pad text NOT NULL);
INSERT INTO counters SELECT i, 0, repeat('x', 400) FROM generate_series(1, $keys) i;
SELECT memshard.cache_table('counters', max_memory => 16384);
});

# the readers: random keys, as fast as they can
my $script = "\\set k random(1, $keys)\nSELECT memshard.get_row(NULL::counters, :k);\n";
my $script_file = $node->basedir . '/hammer.sql';
open my $fh, '>', $script_file or die "could not write $script_file: $!";
print $fh $script;
close $fh;
my ($out, $err) = ('', '');
my $hammer = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '2', '-j', '2', '-T', $seconds + 2,
		'-f', $script_file, '-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \$out, '2>', \$err);

# the writer and checker: one round is an UPDATE committed by the other
# connection, then get_row of that key
my $connstr = sprintf('host=%s port=%d dbname=postgres', $node->host, $node->port);
my $result = $node->safe_psql('postgres', qq{
CREATE TABLE outcome (rounds int, stale int, first_stale text);
DO \$\$
DECLARE
    k int;
    committed bigint;
    seen bigint;
    rounds int := 0;
    stale int := 0;
    first_stale text;
    deadline timestamptz := clock_timestamp() + interval '$seconds seconds';
BEGIN
    PERFORM dblink_connect('writer', '$connstr');
    WHILE clock_timestamp() < deadline LOOP
        k := 1 + (random() * ($keys - 1))::int;
        SELECT w.n INTO committed
          FROM dblink('writer', format('UPDATE counters SET n = n + 1 WHERE id = %s RETURNING n', k))
               AS w(n bigint);
        seen := (memshard.get_row(NULL::counters, k)).n;
        IF seen IS DISTINCT FROM committed THEN
            stale := stale + 1;
            first_stale := coalesce(first_stale,
                                    format('key %s: committed %s, get_row %s', k, committed, seen));
        END IF;
        rounds := rounds + 1;
    END LOOP;
    PERFORM dblink_disconnect('writer');
    INSERT INTO outcome VALUES (rounds, stale, first_stale);
END
\$\$;
SELECT rounds, stale, coalesce(first_stale, '') FROM outcome;
});
my $hammer_ok = $hammer->finish;

my ($rounds, $stale, $first) = split /\|/, $result;
note "rounds: $rounds, stale reads: $stale";
cmp_ok($rounds, '>=', 1000, 'thousands of commit-then-read rounds');
is($stale, 0, 'no get_row after a COMMIT returned the old row') or diag $first;
ok($hammer_ok, 'the readers ran without error') or diag $err;

# the readers really raced the writer on a cache that evicts
my ($hits, $misses, $fills, $refused, $items) = split /\|/,
  $node->safe_psql('postgres',
	"SELECT hits, misses, fills, fills_refused, items FROM memshard.cached_tables");
note "hits $hits, misses $misses, fills $fills, fills refused $refused, items $items";
cmp_ok($hits, '>', 0, 'reads were served from the cache');
cmp_ok($fills, '>', $rounds, 'rows were filled again and again (evictions and invalidations)');
cmp_ok($items, '<', $keys, 'the cache holds fewer rows than the readers use');

# and the cache agrees with the table at the end
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM counters c WHERE memshard.get_row(NULL::counters, c.id) IS DISTINCT FROM c"),
	0, 'every row read through the cache equals the table');

$node->stop;
done_testing();
