#!/usr/bin/perl
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# gen-man.pl doc/memlens-CMD.md VERSION: the page as a man page of
# section 8, on stdout, through go-md2man. The doc page stays the one
# source: its "# memlens CMD" title becomes NAME, with the summary
# memlens --help gives (from user/memlens.c); its "## " sections are the
# man page's; links become their text, a command's page memlens-CMD(8).
use strict;
use warnings;

my ($md, $version) = @ARGV;
die "usage: gen-man.pl PAGE.md VERSION\n" unless defined $version;
(my $name = $md) =~ s{^.*/|\.md$}{}g;
(my $cmd = $name) =~ s/^memlens-//;

sub slurp {
	my ($path) = @_;
	open(my $f, '<', $path) or die "gen-man: $path: $!\n";
	local $/;
	return <$f>;
}

my $summary = 'eBPF memory allocation tracer';
if ($name ne 'memlens') {
	($summary) = slurp('user/memlens.c') =~ /\{ "\Q$cmd\E", cmd_\w+, [^,]+, "(.*)" \},/;
	die "gen-man: no summary of $cmd in user/memlens.c\n" unless defined $summary;
}
# The same date from one build to the next: the page's last commit, else its mtime.
my $date = `git log -1 --format=%cs -- '$md' 2>/dev/null`;
chomp $date;
if ($date eq '') {
	my @t = gmtime((stat $md)[9]);
	$date = sprintf('%04d-%02d-%02d', $t[5] + 1900, $t[4] + 1, $t[3]);
}

my $text = slurp($md);
$text =~ s/\A# .*\n//;
$text =~ s/\[([^\]]+)\]\([^)\s]+\)/$1/g;	# links, also across lines, to their text
$text =~ s/\bmemlens-([a-z]+)\.md\b/memlens-$1(8)/g;
$text =~ s/^## (.*)$/'# ' . uc($1)/gem;
$text =~ s/^### /## /gm;
$text = sprintf(qq{%% %s 8 "%s" "memlens %s" "System Administration"\n\n# NAME\n%s \\- %s\n\n%s},
		uc($name), $date, $version, $name, $summary, $text);

my $tmp = "/tmp/gen-man.$$";
open(my $in, '>', "$tmp.md") or die "gen-man: $tmp.md: $!\n";
print $in $text;
close($in);
system('go-md2man', '-in', "$tmp.md", '-out', "$tmp.8") == 0 or die "gen-man: go-md2man failed\n";
my $man = slurp("$tmp.8");
unlink("$tmp.md", "$tmp.8");

# A code line starting with "." or "'" is text, not a request.
$man =~ s/^([.'])(?![A-Za-z\\])/\\&$1/gm;
# Every table cell a text block, so that a wide table wraps within the
# line instead of overflowing it.
$man =~ s{^(\.TS\n.*?\.\n)(.*?)^\.TE$}{table($1, $2)}gsme;
# Left-adjusted: justified narrow table columns cannot be adjusted.
$man =~ s/^(\.TH .*\n)/$1.ad l\n/m;
# tbl(1) for the tables: the first line tells man(1) to run it.
print "'\\\" t\n", $man;

sub table {
	my ($head, $body) = @_;
	# go-md2man ends a text block with a newline, even before a tab.
	$body =~ s/^T\}\n\t/T}\t/gm;
	$body =~ s/\G(T\{\n.*?\nT\}|[^\t\n]*)([\t\n])/text_block($1) . $2/gse;
	# Columns as wide as the line allows, shared out: no word overflows one.
	$head =~ s/\bl\b/lx/g;
	return "$head$body.TE";
}

sub text_block {
	my ($c) = @_;
	$c =~ s/^T\{\n(.*)\nT\}$/$1/s;
	# Long identifiers may break after "_" and "." (\: breaks, unseen).
	$c =~ s/(?<=[a-z0-9])([_.])(?=[a-z])/$1\\:/g;
	return "T{\n$c\nT}";
}
