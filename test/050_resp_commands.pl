# The Redis protocol front end: every command against redis-server byte for
# byte (RESP2, RESP3, inline), redis-py and redis-cli as clients, AUTH as a
# role with a SCRAM password, a role without EXECUTE refused, keys shared
# with SQL, and reload of a reloadable setting.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use RespNode;

my $node = RespNode::start('resp_cmds', "pg_memshard.resp_workers = 2\n");
my $port = $node->{resp_port};

$node->safe_psql('postgres', q{
CREATE ROLE resp_user LOGIN PASSWORD 'resp secret';
CREATE ROLE resp_noexec LOGIN PASSWORD 'noexec secret';
REVOKE EXECUTE ON FUNCTION memshard.get(text, text), memshard.set(text, text, text, interval),
	memshard.mget(text, text[]), memshard.mset(text, text[], text[], interval),
	memshard.delete(text, text), memshard.incr(text, text, bigint, interval),
	memshard.touch(text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION memshard.get(text, text), memshard.set(text, text, text, interval),
	memshard.mget(text, text[]), memshard.mset(text, text[], text[], interval),
	memshard.delete(text, text), memshard.incr(text, text, bigint, interval),
	memshard.touch(text, text, interval), memshard.flush(text) TO resp_user;
});
like($node->safe_psql('postgres', "SELECT rolpassword FROM pg_authid WHERE rolname = 'resp_user'"),
	qr/^SCRAM-SHA-256/, 'the role has a SCRAM password');

# byte-for-byte with redis-server
my ($rport, $redis) = RespNode::start_redis();
my ($rc, $out) = RespNode::run_py('compare.py', $port, $rport, 'resp_user', 'resp secret');
is($rc, 0, 'every reply equals redis-server\'s byte for byte') or diag $out;
like($out, qr/(\d+) replies compared, 0 differ/, 'replies compared');
$redis->kill_kill;

# redis-py, with SQL on the other side
$node->safe_psql('postgres', "SELECT memshard.set('redis', 'sql_key', 'from sql')");
($rc, $out) = RespNode::run_py('client_check.py', $port, 'resp_user', 'resp secret',
	'resp_noexec', 'noexec secret');
is($rc, 0, 'redis-py: every command, RESP2 and RESP3, pipelines, AUTH, permissions')
  or diag $out;
is($node->safe_psql('postgres', "SELECT memshard.get('redis', 'resp_key')"),
	'from resp', 'a key set over RESP is read by memshard.get');

# redis-cli
my $cli = "redis-cli -p $port --user resp_user --pass 'resp secret' --no-auth-warning";
is(`$cli SET cli_key "cli value"`, "OK\n", 'redis-cli SET');
is(`$cli GET cli_key`, "cli value\n", 'redis-cli GET');
like(`redis-cli -p $port GET cli_key`, qr/NOAUTH Authentication required/,
	'redis-cli without AUTH gets NOAUTH');
like(`$cli --no-raw MGET cli_key nokey`, qr/1\) "cli value"\n2\) \(nil\)/, 'redis-cli MGET');

# a reloadable setting: the request size limit
$node->safe_psql('postgres', "ALTER SYSTEM SET pg_memshard.resp_max_request_size = 2048");
$node->reload;
sleep 1;
my $big = 'x' x 4096;
like(`$cli SET big $big 2>&1`, qr/Protocol error: invalid bulk length/,
	'after pg_reload_conf() a request over the new limit is refused');
is(`$cli PING`, "PONG\n", 'the server answers afterwards');
$node->safe_psql('postgres', "ALTER SYSTEM RESET pg_memshard.resp_max_request_size");
$node->reload;

# clean stop, then start again
$node->stop('fast');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated|server process .* exited/,
	'no worker crashed');
$node->start;
ok(RespNode::wait_resp($port), 'the workers listen again after a restart');
$node->stop('smart');

done_testing();
