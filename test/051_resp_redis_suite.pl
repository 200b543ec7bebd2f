# Redis 7's own test suite in external mode against the RESP port:
# unit/type/incr, unit/type/string and unit/expire with the skip list of
# test/resp/redis_suite_skip.txt.  The suite comes from Debian's redis
# source package, which scripts/install-deps.sh unpacks into
# /usr/local/share/pg_memshard/redis-src; without it this test skips.
# The pass counts must not fall below those the README states.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RespNode;

my $src = '/usr/local/share/pg_memshard/redis-src';
plan skip_all => "Redis's test suite is not in $src (scripts/install-deps.sh fetches it)"
  unless -f "$src/tests/test_helper.tcl";
plan skip_all => 'tclsh is not installed' unless system('command -v tclsh >/dev/null') == 0;

# loopback only: AUTH may be off, as the suite does not authenticate
my $node = RespNode::start('resp_suite',
	"pg_memshard.resp_auth = off\npg_memshard.memory = 256MB\n");
my $work = PostgreSQL::Test::Utils::tempdir();
my $out = `bash $FindBin::Bin/resp/run_redis_suite.sh $node->{resp_port} $src $work 2>&1`;
my $rc = $? >> 8;
note $out;
is($rc, 0, "Redis's tests pass (no err, no exception)") or diag $out;

my %min = ('unit/type/incr' => 21, 'unit/type/string' => 55, 'unit/expire' => 54);
for my $unit (sort keys %min)
{
	my ($ok) = $out =~ /^\Q$unit\E: (\d+) ok/m;
	cmp_ok($ok // 0, '>=', $min{$unit}, "$unit: at least $min{$unit} tests pass");
}
is(`redis-cli -p $node->{resp_port} PING`, "PONG\n", 'the server answers afterwards');
$node->stop('fast');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no worker crashed');
done_testing();
