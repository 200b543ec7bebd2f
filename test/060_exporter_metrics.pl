# Prometheus, for real: memshard.metrics() passes promtool; a real
# prometheus-postgres-exporter with contrib/prometheus/queries.yaml, on
# loopback, reports the same figures as memshard.stats after a known
# workload; a real Prometheus server scrapes that exporter and answers a
# query for a pg_memshard series, and every query of the Grafana dashboard.
#
# The exporter and Prometheus listen on 127.0.0.1 only, on free ports, keep
# their files in a temporary folder, and are stopped at the end (and killed
# if the test dies).  Every wait has a deadline.
use strict;
use warnings;
use FindBin;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $topdir = "$FindBin::RealBin/..";
my $queries_file = "$topdir/contrib/prometheus/queries.yaml";
my $dashboard_file = "$topdir/contrib/prometheus/grafana-dashboard.json";

for my $program ('promtool', 'prometheus', 'prometheus-postgres-exporter', 'curl')
{
	my $found = grep { -x "$_/$program" } split /:/, $ENV{PATH};
	BAIL_OUT("$program is not installed (scripts/install-deps.sh installs it)")
	  unless $found;
}

my @servers;    # harnesses to stop at the end, whatever happens
END { $_->kill_kill for grep { $_->pumpable } @servers; }

# ---- helpers ----

# run a command with a time limit; returns (exit code, stdout and stderr)
sub run_bounded
{
	my ($cmd, $stdin, $seconds) = @_;
	my $out = '';
	my $ok = eval {
		IPC::Run::run($cmd, '<', \$stdin, '>&', \$out,
			IPC::Run::timeout($seconds // 20));
		1;
	};
	return (-1, "timed out or failed: $@") unless $ok;
	return ($? >> 8, $out);
}

sub http_get
{
	my ($url) = @_;
	my ($rc, $body) =
	  run_bounded([ 'curl', '-sS', '--max-time', '5', '-g', $url ], '', 10);
	return $rc == 0 ? $body : undef;
}

# repeat $probe (returns a true value when done) until it succeeds or
# $seconds pass
sub wait_for
{
	my ($seconds, $probe) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		my $result = $probe->();
		return $result if $result;
		select(undef, undef, undef, 0.25);
	}
	return undef;
}

# series of an exposition text: { "name{labels}" => value }; labels as written
sub parse_exposition
{
	my ($text) = @_;
	my %series;
	for my $line (split /\n/, $text)
	{
		next if $line =~ /^#/ || $line eq '';
		$series{$1} = $2 if $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/;
	}
	return \%series;
}

# value of the one series of $name whose labels contain every "k=\"v\"" given
sub series_value
{
	my ($series, $name, @labels) = @_;
	my @found = grep {
		my $key = $_;
		($key eq $name || index($key, "$name\{") == 0)
		  && !grep { index($key, $_) < 0 } @labels
	} keys %$series;
	return undef unless @found == 1;
	return $series->{ $found[0] } + 0;
}

sub metric_names
{
	my ($series) = @_;
	my %names = map { (/^([^{]+)/)[0] => 1 } keys %$series;
	return \%names;
}

sub promtool_check
{
	my ($text, $what) = @_;
	my ($rc, $out) = run_bounded([ 'promtool', 'check', 'metrics' ], $text);
	is($rc, 0, "promtool check metrics accepts $what");
	is($out, '', "promtool has no complaint about $what");
}

# ---- a node and a known workload ----

my $node = PostgreSQL::Test::Cluster->new('obs');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 32MB\n");
$node->start;

my $sets = 300;
my $hits = 150;
my $misses = 50;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION pg_memshard;
	SELECT memshard.create_map('sessions', max_memory => 8388608);
	SELECT memshard.create_map(E'we"ird\\\\map');
	SELECT memshard.stats_reset();
	SELECT count(memshard.set('sessions', 'user:' || g, repeat('s', 50 + g % 100)))
	  FROM generate_series(1, $sets) g;
	SELECT count(memshard.get('sessions', 'user:' || g)) FROM generate_series(1, $hits) g;
	SELECT count(memshard.get('sessions', 'nobody:' || g)) FROM generate_series(1, $misses) g;
	SELECT memshard.set(E'we"ird\\\\map', 'k', 'v');
});
my ($stat_items, $stat_hits, $stat_misses, $stat_sets, $stat_used) =
  split /\|/,
  $node->safe_psql('postgres',
	'SELECT items, hits, misses, sets, memory_used FROM memshard.stats');
is("$stat_items $stat_hits $stat_misses $stat_sets",
	($sets + 1) . " $hits $misses " . ($sets + 1),
	'memshard.stats counted the workload');

# ---- metrics() ----

my $metrics_text = $node->safe_psql('postgres', 'SELECT memshard.metrics()') . "\n";
promtool_check($metrics_text, 'memshard.metrics()');
my $own = parse_exposition($metrics_text);
is(series_value($own, 'pg_memshard_hits_total'), $hits, 'metrics() hits');
is(series_value($own, 'pg_memshard_map_items', 'map="we\"ird\\\\map"'),
	1, 'metrics() escapes quotes and backslashes in a map name');

# a database whose name holds a newline and quotes: every escape at once
my $odd_db = "obs\n\"db\"";
$node->safe_psql('postgres', qq{CREATE DATABASE "obs\n""db"""});
$node->safe_psql(
	$odd_db, q{
	CREATE EXTENSION pg_memshard;
	SELECT memshard.create_map('m');
	SELECT memshard.set('m', 'k', 'v');
});
my $odd_text = $node->safe_psql($odd_db, 'SELECT memshard.metrics()') . "\n";
promtool_check($odd_text, 'metrics() of a database named with a newline and quotes');
like(
	$odd_text,
	qr/^pg_memshard_map_items\{database="obs\\n\\"db\\"",map="m"\} 1$/m,
	'the database label is escaped (newline and quotes)');

# ---- the exporter ----

# the instance's figures now (the other database's item included)
($stat_items, $stat_hits, $stat_misses, $stat_sets, $stat_used) =
  split /\|/,
  $node->safe_psql('postgres',
	'SELECT items, hits, misses, sets, memory_used FROM memshard.stats');

my $tmp = PostgreSQL::Test::Utils::tempdir('obs_prometheus');
my $exporter_port = PostgreSQL::Test::Cluster::get_free_port();
my $user = getpwuid($<);
my $dsn = sprintf('host=%s port=%d user=%s dbname=postgres sslmode=disable',
	$node->host, $node->port, $user);
{
	local $ENV{DATA_SOURCE_NAME} = $dsn;
	push @servers,
	  IPC::Run::start(
		[
			'prometheus-postgres-exporter',
			"--web.listen-address=127.0.0.1:$exporter_port",
			"--extend.query-path=$queries_file",
			'--disable-default-metrics', '--disable-settings-metrics',
			'--no-collector.database', '--no-collector.bgwriter'
		],
		'<', \undef, '>', "$tmp/exporter.log", '2>&1');
}
my $exporter_url = "http://127.0.0.1:$exporter_port/metrics";
my $scrape = wait_for(30,
	sub { my $b = http_get($exporter_url); $b && $b =~ /^pg_memshard_items/m ? $b : undef });
ok($scrape, 'the exporter serves pg_memshard series')
  or diag(slurp_file("$tmp/exporter.log"));
$scrape //= '';
my $exported = parse_exposition($scrape);

is(series_value($exported, 'pg_exporter_user_queries_load_error'),
	0, 'the exporter loaded the queries file');
is(series_value($exported, 'pg_exporter_last_scrape_error'),
	0, 'every query of the file ran');
is(series_value($exported, 'pg_memshard_items'), $stat_items, 'exporter: items match memshard.stats');
is(series_value($exported, 'pg_memshard_hits_total'), $stat_hits, 'exporter: hits after the gets');
is(series_value($exported, 'pg_memshard_misses_total'), $stat_misses, 'exporter: misses');
is(series_value($exported, 'pg_memshard_sets_total'), $stat_sets, 'exporter: sets');
is(series_value($exported, 'pg_memshard_memory_used_bytes'),
	$stat_used, 'exporter: memory used');
is(series_value($exported, 'pg_memshard_map_items', 'map="sessions"', 'database="postgres"'),
	$sets, 'exporter: items of a map, labelled by database and map');
is(series_value($exported, 'pg_memshard_map_hits_total', 'map="sessions"'),
	$hits, 'exporter: hits of a map');
is(series_value($exported, 'pg_memshard_map_max_memory_bytes', 'map="sessions"'),
	8388608, 'exporter: quota of a map');
is(series_value($exported, 'pg_memshard_map_items', 'map="we\"ird\\\\map"'),
	1, 'exporter: a map name with quotes and a backslash');
my $partition_items = 0;
$partition_items += $exported->{$_}
  for grep { /^pg_memshard_partition_items\{/ } keys %$exported;
is($partition_items, $stat_items, 'exporter: partitions add up to the items');
my $skew = $node->safe_psql('postgres',
	q{SELECT shard_max_mean_ratio FROM memshard.read_skew('sessions')});
my $exported_skew = series_value($exported, 'pg_memshard_skew_shard_max_mean_ratio',
	'map="sessions"', 'node="local"');
ok(defined $exported_skew && abs($exported_skew - $skew) < 1e-9,
	"exporter: shard skew of a map ($skew)");

# the exporter's names are metrics()'s names
my $exported_names = metric_names($exported);
my @missing = grep { !$exported_names->{$_} } sort keys %{ metric_names($own) };
is_deeply(\@missing, [], 'every series family of metrics() comes from the exporter too');
promtool_check($scrape, 'the exporter\'s output');

# ---- a Prometheus server scraping the exporter ----

my $prometheus_port = PostgreSQL::Test::Cluster::get_free_port();
open my $config, '>', "$tmp/prometheus.yml" or die $!;
print $config <<"EOF";
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pg_memshard
    static_configs:
      - targets: ['127.0.0.1:$exporter_port']
EOF
close $config;
push @servers,
  IPC::Run::start(
	[
		'prometheus', "--config.file=$tmp/prometheus.yml",
		"--storage.tsdb.path=$tmp/tsdb",
		"--web.listen-address=127.0.0.1:$prometheus_port",
		'--log.level=warn'
	],
	'<', \undef, '>', "$tmp/prometheus.log", '2>&1');

sub prometheus_query
{
	my ($expr) = @_;
	my ($rc, $body) = run_bounded(
		[
			'curl', '-sS', '--max-time', '5', '-G',
			"http://127.0.0.1:$prometheus_port/api/v1/query",
			'--data-urlencode', "query=$expr"
		],
		'', 10);
	return undef if $rc != 0;
	my $answer = eval { decode_json($body) };
	return $answer;
}

# the first scrapes take a few seconds after start-up
my $answer = wait_for(
	90,
	sub {
		my $a = prometheus_query('pg_memshard_hits_total');
		$a && $a->{status} eq 'success' && @{ $a->{data}{result} } ? $a : undef;
	});
ok($answer, 'Prometheus scraped the exporter')
  or diag(slurp_file("$tmp/prometheus.log"));
is($answer && $answer->{data}{result}[0]{value}[1],
	$hits, 'Prometheus answers pg_memshard_hits_total with the hits counted');
$answer = prometheus_query('pg_memshard_map_items{map="sessions",database="postgres"}');
is($answer && $answer->{data}{result}[0]{value}[1],
	$sets, 'Prometheus answers the items of a map');

# every query of the dashboard is valid PromQL, and the plain ones have data
my $dashboard = decode_json(slurp_file($dashboard_file));
my @exprs = map { map { $_->{expr} } @{ $_->{targets} } } @{ $dashboard->{panels} };
ok(@exprs >= 10, 'the dashboard has its panels');
for my $expr (@exprs)
{
	(my $query = $expr) =~ s/\$instance/.*/g;
	my $a = prometheus_query($query);
	ok($a && $a->{status} eq 'success', "dashboard query runs: $expr")
	  or diag(explain($a));
	# rates need two scrapes of a change; a lone node has no node_up
	next if $expr =~ /rate\(|node_up/;
	ok($a && @{ $a->{data}{result} }, "dashboard query has data: $expr");
}

$_->kill_kill for @servers;
@servers = ();
$node->stop;
done_testing();
