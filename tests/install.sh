#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make install and make uninstall into a DESTDIR of the test's own; the
# man pages they install rendered by man(1) without a single warning;
# the bash completion they install sourced and called as bash calls it.
# Needs ./memlens, go-md2man, man-db; root for the process ids of a pid
# namespace of its own (unshare). No BPF.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

dest=$tmp/dest
want_files=$(printf '%s\n' /usr/sbin/memlens /usr/share/bash-completion/completions/memlens \
	/usr/share/man/man8/memlens.8 $(./memlens --help | awk '/^Commands:/ { on = 1; next }
		on && /^$/ { exit } on { print "/usr/share/man/man8/memlens-" $1 ".8" }') | sort)
cmds=$(./memlens --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')

installed() {
	(cd "$dest" 2>/dev/null && find . ! -type d | sed 's/^\.//' | sort)
}

# --- make install ------------------------------------------------------

make -s install DESTDIR="$dest" PREFIX=/usr >"$tmp/install.log" 2>&1
check_eq "make install: exit 0" 0 $?
check_eq "make install DESTDIR PREFIX=/usr: the binary, a man page each, the completion" \
	"$want_files" "$(installed)"
check_eq "make install: modes 755 and 644" "755 644" \
	"$(stat -c %a "$dest/usr/sbin/memlens" "$dest/usr/share/man/man8/memlens.8" | xargs)"
check_eq "make install: the binary runs" "memlens 0.1" "$("$dest/usr/sbin/memlens" --version)"

# --- man pages ---------------------------------------------------------

# help_options: the options a --help text lists (as tests/docs.sh reads them).
help_options() {
	grep -E '^[[:space:]]+-' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

for page in memlens $(printf 'memlens-%s\n' $cmds); do
	file=$dest/usr/share/man/man8/$page.8
	[ -f "$file" ] || { not_ok "$page(8): not installed"; continue; }
	for width in 80 120; do
		warn=$(MANWIDTH=$width man --warnings -l "$file" 2>&1 >/dev/null)
		check_eq "$page(8): man --warnings -l at $width columns: no warning" "" "$warn"
	done
	if [ "$page" = memlens ]; then
		summary="eBPF memory allocation tracer"
	else
		summary=$(./memlens --help | awk -v c="${page#memlens-}" '$1 == c { $1 = ""; sub(/^ +/, ""); print }')
	fi
	check_eq "$page(8): lexgrog reads its NAME" "$file: \"$page - $summary\"" "$(lexgrog "$file" 2>&1)"
	text=$(MANWIDTH=200 man -l "$file" 2>/dev/null)
	if [ "$page" = memlens ]; then
		missing=$(for c in $cmds; do grep -q "memlens-$c(8)" <<<"$text" || echo "memlens-$c(8)"; done)
		check_eq "memlens(8): names every command's page" "" "$missing"
		continue
	fi
	missing=$(for o in $(./memlens "${page#memlens-}" --help | help_options); do
		grep -qe "$o" <<<"$text" || echo "$o"; done | xargs)
	check_eq "$page(8): every option of its --help" "" "$missing"
	check "$page(8): sections NAME, SYNOPSIS, OPTIONS, EXIT STATUS" \
		test "$(grep -cxE 'NAME|SYNOPSIS|OPTIONS|EXIT STATUS' <<<"$text")" -eq 4
done

# --- bash completion ---------------------------------------------------

completion=$dest/usr/share/bash-completion/completions/memlens
bin=$dest/usr/sbin/memlens
# candidates WORD...: the candidates _memlens offers for the last word, sorted.
candidates() {
	(
		. "$completion" || exit 1
		COMP_WORDS=("$bin" "$@")
		COMP_CWORD=$#
		_memlens
		printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | xargs
	)
}

check_eq "completion: the commands" \
	"--help --version $(printf '%s\n' $cmds | LC_ALL=C sort | xargs)" "$(candidates "")"
check_eq "completion: top --r" "--reclaim --rows" "$(candidates top --r)"
for c in $cmds; do
	check_eq "completion: $c -: every option its --help lists" \
		"$("$bin" "$c" --help | grep -E '^[[:space:]]+-' |
			grep -oE -- '(^[[:space:]]+-[A-Za-z0-9],|--[a-z][a-z0-9-]*)' |
			sed -e 's/^[[:space:]]*//' -e 's/,$//' -e 's/, .*//' | LC_ALL=C sort -u | xargs)" \
		"$(candidates "$c" -)"
done
check_eq "completion: top -n takes a number: nothing offered" "" "$(candidates top -n "")"
mkdir "$tmp/files" && touch "$tmp/files/a.mlr" "$tmp/files/b.txt"
check_eq "completion: record -o FILE: files" "a.mlr" "$(cd "$tmp/files" && candidates record -o a)"
check_eq "completion: report RECORDING: files" "a.mlr b.txt" "$(cd "$tmp/files" && candidates report "")"
check_eq "completion: after --, the command to start" "unshare" "$(candidates leaks -- unshar | xargs -n 1 | sort -u | xargs)"
# Process ids and command names in a pid namespace of our own, _memlens
# called in its first process (pid 1, bash) beside sleep (2) and no
# other: no subshell of ours stays alive while it lists /proc.
ns=$(completion=$completion bin=$bin unshare -p -f --mount-proc bash -c '
	. "$completion"
	sleep 60 &
	for w in "leaks -p _" "top -v -p 2" "hist -c _" "kmem -c sl"; do
		set -- $w
		COMP_WORDS=("$bin" "$@")
		COMP_WORDS[$#]=${COMP_WORDS[$#]#_}
		COMP_CWORD=$#
		_memlens
		got+=("${COMPREPLY[*]}")
	done
	kill $!
	for g in "${got[@]}"; do
		printf "%s\n" $g | LC_ALL=C sort | paste -sd " "
	done | paste -sd "|"' 2>&1)
check_eq "completion: -p, -c in a pid namespace: its pids and command names" \
	"1 2|2|bash sleep|sleep" "$ns"

# --- make uninstall ----------------------------------------------------

make -s uninstall DESTDIR="$dest" PREFIX=/usr >"$tmp/uninstall.log" 2>&1
check_eq "make uninstall: exit 0" 0 $?
check_eq "make uninstall: every file install put there removed" "" "$(installed)"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
