# Read stress (issue 12): readers never see a torn or foreign value.
#
# A small cache (4MB, pages of 4kB, 2 partitions, an lru map) and one
# pgbench run of 4 clients for a bounded time, each transaction either a
# writer's (sets of changing sizes, 1 B to 20 kB, and deletes, enough to
# force evictions, chunk reuse and page moves between classes: the sizes
# swing between small and large every 4 seconds) or a reader's (get,
# get_bytea, mget of 20 keys).  Every value carries its key, its seed and its
# padding length, and an md5 of the three; it is padded with a letter the
# seed picks.  A reader recomputes the value from what it claims and raises
# an ERROR unless it is exactly that (or NULL): a torn value, one of another
# key, or a piece of a freed chunk would fail.  Readers count what they
# checked in a table; the test asserts the checks ran over real values, the
# stress did evict and move pages, and pgbench finished without an error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = 30;
my $keys = 2000;
my $mget_keys = 20;

my $node = PostgreSQL::Test::Cluster->new('read_stress');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\n"
	  . "pg_memshard.memory = 4MB\n"
	  . "pg_memshard.partitions = 2\n");
$node->start;

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('st', eviction => 'lru');

-- the value a writer sets for key k: everything it claims, checksummed
CREATE FUNCTION stress_value(k text, s int, pad int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT k || ':' || s || ':' || pad || ':' || md5(k || ':' || s || ':' || pad)
        || ':' || repeat(chr(97 + s % 26), pad)
$$;

-- 0 for NULL, 1 for a value set for k, an ERROR for anything else
CREATE FUNCTION stress_check(k text, v text) RETURNS int
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    f text[];
BEGIN
    IF v IS NULL THEN
        RETURN 0;
    END IF;
    f := regexp_match(v, '^([^:]*):([0-9]{1,9}):([0-9]{1,5}):');
    IF f IS NULL OR f[1] IS DISTINCT FROM k
       OR v IS DISTINCT FROM stress_value(k, f[2]::int, f[3]::int) THEN
        RAISE EXCEPTION 'torn or foreign value for key %: % bytes: %',
            k, length(v), left(v, 80);
    END IF;
    RETURN 1;
END
$$;

-- what readers checked: values verified, NULLs, rows returned
CREATE UNLOGGED TABLE seen (kind text, ok int, nulls int, nrows int);
});

# the checker itself rejects a foreign value and a torn one
for my $bad ("stress_value('r2', 7, 30)", "left(stress_value('r1', 7, 30), 60)",
	"stress_value('r1', 7, 30) || 'x'")
{
	my ($rc, $out, $err) = $node->psql('postgres', "SELECT stress_check('r1', $bad)");
	like($err, qr/torn or foreign value for key r1/, "the check rejects $bad");
}
is($node->safe_psql('postgres', "SELECT stress_check('r1', stress_value('r1', 7, 30))"),
	1, 'the check accepts a value set for the key');

my $writer = qq{\\set k random(1, $keys)
\\set s random(1, 999999999)
\\set p random(1, 100)
\\set small random(0, 200)
\\set big random_exponential(0, 20000, 3.0)
\\if :p <= 10
SELECT memshard.delete('st', 'r' || :k);
\\else
SELECT memshard.set('st', 'r' || :k, stress_value('r' || :k, :s,
    CASE WHEN (extract(epoch FROM clock_timestamp())::int / 4) % 2 = 0
         THEN :small ELSE :big END));
\\endif
};

my $reader = qq{\\set k random(1, $keys)
\\set m random(1, 3)
\\if :m = 1
INSERT INTO seen SELECT 'get', sum(c), count(*) - sum(c), count(*)
  FROM (SELECT stress_check('r' || :k, memshard.get('st', 'r' || :k)) c) s;
\\elif :m = 2
INSERT INTO seen SELECT 'get_bytea', sum(c), count(*) - sum(c), count(*)
  FROM (SELECT stress_check('r' || :k,
          convert_from(memshard.get_bytea('st', 'r' || :k), 'UTF8')) c) s;
\\else
INSERT INTO seen SELECT 'mget', sum(stress_check(key, value)),
       count(*) FILTER (WHERE value IS NULL), count(*)
  FROM memshard.mget('st', ARRAY(SELECT 'r' || ((:k + 97 * i) % $keys + 1)
                                  FROM generate_series(0, $mget_keys - 1) i));
\\endif
};

$node->pgbench(
	"-n -c 4 -j 2 -T $seconds",
	0,
	[qr{processed: \d+}],
	[qr{^$}],
	'writers and readers ran without an error (no torn or foreign value)',
	{ '015_writer.sql@2' => $writer, '015_reader.sql@3' => $reader });

# the checks ran, over real values
my %seen = map { my ($kind, @v) = split /\|/; ($kind => \@v) } split /\n/,
  $node->safe_psql('postgres',
	"SELECT kind, count(*), sum(ok), sum(nulls), sum(nrows) FROM seen GROUP BY kind");
for my $kind (qw(get get_bytea mget))
{
	my ($statements, $ok, $nulls, $rows) = @{ $seen{$kind} // [ 0, 0, 0, 0 ] };
	note "$kind: $statements statements, $ok values verified, $nulls NULL";
	cmp_ok($ok, '>', 100, "$kind: more than 100 values verified");
	is($rows, $statements * ($kind eq 'mget' ? $mget_keys : 1),
		"$kind: every statement returned its rows");
}

# the stress did what it is for
my ($evictions, $sets, $deletes) = split /\|/,
  $node->safe_psql('postgres',
	'SELECT evictions, sets, deletes FROM memshard.map_stats WHERE map = $$st$$');
my $moved = $node->safe_psql('postgres',
	'SELECT sum(pages_moved_in) FROM memshard.slab_stats');
note "sets $sets, deletes $deletes, evictions $evictions, pages moved $moved";
# where the build reads optimistically, how often readers met a writer
if ($node->safe_psql('postgres', "SELECT to_regclass('memshard.read_path_stats') IS NOT NULL") eq 't')
{
	note 'optimistic reads: retries and fallbacks ',
	  $node->safe_psql('postgres', 'SELECT retries, fallbacks FROM memshard.read_path_stats');
}
cmp_ok($evictions, '>', 0, 'the cache evicted');
cmp_ok($moved, '>', 0, 'pages moved between classes');
cmp_ok($sets, '>', 5 * $keys, 'chunks were reused: many more sets than keys');

# quiet now: every key holds NULL or a value set for it
is( $node->safe_psql('postgres',
		"SELECT count(*) FILTER (WHERE stress_check(key, value) >= 0)
		   FROM memshard.mget('st', ARRAY(SELECT 'r' || i FROM generate_series(1, $keys) i))"),
	$keys,
	'every key holds nothing or a value set for it');

$node->stop;
done_testing();
