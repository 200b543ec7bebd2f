# The library refuses SQL objects of an extension version it cannot serve
# (src/api/ext_version.c): it serves 1.0 and 1.1.  An extension script of an
# unknown version ("9.9", as a newer package would bring) is refused by
# CREATE EXTENSION and ALTER EXTENSION UPDATE, which roll back; a database
# whose pg_extension.extversion is unknown (faked here as a superuser) gets
# a clear error from the data and map functions, with a HINT that fits.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('version_refusal');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_memshard'\npg_memshard.memory = 8MB\n");
$node->start;

# an update script to a version this library does not know, in the private
# installation's extension folder, removed again at the end
my $fake_script = $node->config_data('--sharedir')
  . '/extension/pg_memshard--1.1--9.9.sql';
END { unlink $fake_script if defined $fake_script; }
open(my $fh, '>', $fake_script) or die "cannot write $fake_script: $!";
print $fh "-- a version from the future: no objects\n";
close $fh;

# psql with SQLSTATEs shown; returns (exit code, stderr)
sub try_sql
{
	my ($db, $sql) = @_;
	my ($ret, $stdout, $stderr) =
	  $node->psql($db, "\\set VERBOSITY verbose\n$sql");
	return ($ret, $stderr);
}

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pg_memshard;
SELECT memshard.create_map('m');
SELECT memshard.set('m', 'k', 'v');
});
is($node->safe_psql('postgres', "SELECT memshard.get('m', 'k')"),
	'v', 'version 1.1 is served');

# ALTER EXTENSION UPDATE to an unknown version fails and rolls back
my ($ret, $err) =
  try_sql('postgres', "ALTER EXTENSION pg_memshard UPDATE TO '9.9'");
isnt($ret, 0, 'ALTER EXTENSION UPDATE TO an unserved version fails');
like(
	$err,
	qr/ERROR:\s+55000: pg_memshard library 1\.1 cannot serve extension version "9\.9"/,
	'the error names both versions, SQLSTATE 55000');
like($err, qr/DETAIL:\s+This library serves the SQL objects of extension versions 1\.0, 1\.1/,
	'the detail lists the served versions');
like($err, qr/HINT:\s+Install the pg_memshard library of version "9\.9" and restart the server/,
	'the hint says to install the matching library');
is( $node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.1', 'the failed update left version 1.1');
is($node->safe_psql('postgres', "SELECT memshard.get('m', 'k')"),
	'v', 'and the cache still answers');

# an extversion the library does not know, faked by a superuser: every new
# session's first data or map call fails
$node->safe_psql('postgres',
	"UPDATE pg_extension SET extversion = '9.9' WHERE extname = 'pg_memshard'");
my @refused = (
	"SELECT memshard.get('m', 'k')",
	"SELECT memshard.set('m', 'k', 'w')",
	"SELECT * FROM memshard.mget('m', ARRAY['k'])",
	"SELECT memshard.create_map('other')",
	"SELECT memshard.drop_map('m')");
for my $sql (@refused)
{
	($ret, $err) = try_sql('postgres', $sql);
	isnt($ret, 0, "refused with extversion 9.9: $sql");
	like($err,
		qr/ERROR:\s+55000: pg_memshard library 1\.1 cannot serve extension version "9\.9"/,
		"clear error: $sql");
}
is($node->safe_psql('postgres', 'SELECT memshard.version()'),
	'1.1', 'memshard.version() still tells which library is loaded');
is($node->safe_psql('postgres', 'SELECT name FROM memshard.maps'),
	'm', 'the refused drop_map left the map');

# an older version than the library serves: the hint is to update
$node->safe_psql('postgres',
	"UPDATE pg_extension SET extversion = '0.9' WHERE extname = 'pg_memshard'");
($ret, $err) = try_sql('postgres', "SELECT memshard.get('m', 'k')");
like($err, qr/cannot serve extension version "0\.9".*HINT:\s+Run ALTER EXTENSION pg_memshard UPDATE/s,
	'an older version gets the hint to ALTER EXTENSION UPDATE');

# back to a served version: new sessions work again
$node->safe_psql('postgres',
	"UPDATE pg_extension SET extversion = '1.1' WHERE extname = 'pg_memshard'");
is($node->safe_psql('postgres', "SELECT memshard.get('m', 'k')"),
	'v', 'served again once extversion is 1.1');

# version 1.0 is served too, and updates to 1.1
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql(
	'old', q{
CREATE EXTENSION pg_memshard VERSION '1.0';
SELECT memshard.create_map('m');
SELECT memshard.set('m', 'k', 'one');
});
is($node->safe_psql('old', "SELECT memshard.get('m', 'k')"),
	'one', 'version 1.0 is served');
$node->safe_psql('old', 'ALTER EXTENSION pg_memshard UPDATE');
is( $node->safe_psql('old',
		"SELECT extversion FROM pg_extension WHERE extname = 'pg_memshard'"),
	'1.1', 'ALTER EXTENSION UPDATE reaches 1.1');
is($node->safe_psql('old', "SELECT memshard.get('m', 'k')"),
	'one', 'and is served');

# CREATE EXTENSION of an unserved version fails and leaves nothing
$node->safe_psql('postgres', 'CREATE DATABASE future');
($ret, $err) =
  try_sql('future', "CREATE EXTENSION pg_memshard VERSION '9.9'");
isnt($ret, 0, 'CREATE EXTENSION of an unserved version fails');
like($err, qr/cannot serve extension version "9\.9"/, 'with the same error');
is( $node->safe_psql('future',
		"SELECT count(*) FROM pg_extension WHERE extname = 'pg_memshard'"),
	'0', 'and no extension is left');

$node->stop;
done_testing();
