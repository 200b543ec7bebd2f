# The linearizability check of the table cache's TAP tests (070, 072): on
# a node with dblink and a cached table counters (id int PRIMARY KEY, n
# bigint), one session commits UPDATEs of n through a second connection
# (dblink: the commit is done when the call returns) and right after each
# one reads the row with get_row, while two pgbench clients hammer get_row
# on the same keys.  Counts the rounds and the reads that did not see the
# value just committed.
package TablecacheRace;

use strict;
use warnings;
use Exporter 'import';
use IPC::Run;

our @EXPORT = qw(commit_then_read);

# commit_then_read(NODE, KEYS, SECONDS): (rounds, stale reads, the first
# stale read described or '', whether the readers ran without error, their
# stderr)
sub commit_then_read
{
	my ($node, $keys, $seconds) = @_;

	my $script_file = $node->basedir . '/hammer.sql';
	open my $fh, '>', $script_file or die "could not write $script_file: $!";
	print $fh "\\set k random(1, $keys)\nSELECT memshard.get_row(NULL::counters, :k::int);\n";
	close $fh;
	my ($out, $err) = ('', '');
	my $hammer = IPC::Run::start(
		[
			'pgbench', '-n', '-c', '2', '-j', '2', '-T', $seconds + 2,
			'-f', $script_file, '-h', $node->host, '-p', $node->port, 'postgres'
		],
		'>', \$out, '2>', \$err);

	my $connstr = sprintf('host=%s port=%d dbname=postgres', $node->host, $node->port);
	my $result = $node->safe_psql('postgres', qq{
CREATE TEMP TABLE outcome (rounds int, stale int, first_stale text);
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
	my ($rounds, $stale, $first) = split /\|/, $result, -1;
	return ($rounds, $stale, $first, $hammer_ok, $err);
}

1;
