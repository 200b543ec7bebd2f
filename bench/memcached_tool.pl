#!/usr/bin/perl
# memcached_tool.pl: the few things cache_bench.sh asks of a memcached over
# its text protocol (no client library needed).
#
#   memcached_tool.pl PORT stats            print "name value" of its stats
#   memcached_tool.pl PORT load             store "key<TAB>value" lines from
#                                           stdin (COPY text format), pipelined
#   memcached_tool.pl PORT payload PREFIX N get PREFIX1..PREFIXN, print
#                                           "items <hits> payload <key+value bytes>"
use strict;
use warnings;
use IO::Socket::INET;

my ($port, $command, @args) = @ARGV;
die "usage: $0 PORT stats|load|payload PREFIX N\n" unless $port && $command;

my $sock = IO::Socket::INET->new(
	PeerAddr => '127.0.0.1',
	PeerPort => $port,
	Proto => 'tcp') or die "cannot connect to memcached on port $port: $!\n";
binmode $sock;

# read one CRLF-terminated line
sub read_line
{
	my $line = <$sock>;
	die "memcached closed the connection\n" unless defined $line;
	$line =~ s/\r\n\z//;
	return $line;
}

if ($command eq 'stats')
{
	print $sock "stats\r\n";
	while ((my $line = read_line()) ne 'END')
	{
		print "$2 $3\n" if $line =~ /^(STAT) (\S+) (.*)$/;
	}
}
elsif ($command eq 'load')
{
	# noreply: no answer to wait for, so the sets stream; "version" at the
	# end is answered only once every set before it has been processed
	my $count = 0;
	while (my $line = <STDIN>)
	{
		chomp $line;
		my ($key, $value) = split /\t/, $line, 2;
		printf $sock "set %s 0 0 %d noreply\r\n%s\r\n", $key, length($value), $value;
		$count++;
	}
	print $sock "version\r\n";
	$sock->flush;
	my $answer = read_line();
	die "unexpected answer: $answer\n" unless $answer =~ /^VERSION/;
	print "sent $count\n";
}
elsif ($command eq 'payload')
{
	my ($prefix, $n) = @args;
	my ($hits, $bytes) = (0, 0);
	my $batch = 100;
	for (my $first = 1; $first <= $n; $first += $batch)
	{
		my $last = $first + $batch - 1;
		$last = $n if $last > $n;
		print $sock 'get ' . join(' ', map { "$prefix$_" } $first .. $last) . "\r\n";
		$sock->flush;
		while ((my $line = read_line()) ne 'END')
		{
			my ($key, $len) = $line =~ /^VALUE (\S+) \d+ (\d+)/
			  or die "unexpected answer: $line\n";
			my $data;
			read($sock, $data, $len + 2) == $len + 2 or die "short read\n";
			$hits++;
			$bytes += length($key) + $len;
		}
	}
	print "items $hits payload $bytes\n";
}
else
{
	die "unknown command $command\n";
}
