# Fuzzing the RESP parser: random and mutated requests, huge and negative
# lengths, half requests left hanging, floods never read, for a bounded
# time, unauthenticated and authenticated.  Afterwards the server answers
# PING, the workers are the same processes (none crashed or exited), SQL
# still works and the log shows no crash.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RespNode;

my $node = RespNode::start('resp_fuzz', "pg_memshard.resp_workers = 2\n");
my $port = $node->{resp_port};
$node->safe_psql('postgres', "CREATE ROLE fuzzer LOGIN SUPERUSER PASSWORD 'fz'");
my $workers_sql = "SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity "
  . "WHERE backend_type = 'pg_memshard resp worker'";
my $before = $node->safe_psql('postgres', $workers_sql);
like($before, qr/^\d+,\d+$/, 'two RESP workers run');

my ($rc, $out) = RespNode::run_py('fuzz.py', $port, 12, 1);
is($rc, 0, 'unauthenticated fuzzing: PING answers afterwards') or diag $out;
note $out;
($rc, $out) = RespNode::run_py('fuzz.py', $port, 12, 2, 'fuzzer', 'fz');
is($rc, 0, 'authenticated fuzzing: PING answers afterwards') or diag $out;
note $out;

is($node->safe_psql('postgres', $workers_sql), $before, 'the same worker processes serve');
is($node->safe_psql('postgres', "SELECT memshard.set('redis', 'after', 'fuzz')"), 't',
	'SQL works on the map');
is(`redis-cli -p $port --user fuzzer --pass fz --no-auth-warning GET after`, "fuzz\n",
	'RESP reads what SQL set');
$node->stop('fast');
unlike(slurp_file($node->logfile), qr/terminated by signal|PANIC|TRAP/, 'no crash in the log');
done_testing();
