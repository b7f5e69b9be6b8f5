#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The documentation against the tree (tests/README.md says what and why):
# - README.md is an entry page: at most 300 lines;
# - every file `git ls-files` lists is named in README.md's "## Layout"
#   section. The entries are the first word of each line of its code block
#   that does not start with a blank; an entry ending in "/" covers every
#   file under it, and user/NAME.c also covers user/NAME.h. An entry that
#   names no tracked file (a file renamed or removed) fails too;
# - every relative link of README.md, doc/*.md, tests/README.md and
#   bench/README.md points to a file that exists and, with #anchor, to one
#   of its headings (GitHub's anchors: lower case, punctuation dropped,
#   blanks to "-");
# - every option `./memlens CMD --help` prints, for each command
#   `./memlens --help` lists, is in doc/memlens-CMD.md, and the page's
#   Options block is the help's option lines, word for word.
# Needs ./memlens (make memlens) and git. No root, no BPF.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }

MAX_README_LINES=300
lines=$(wc -l <README.md)
if [ "$lines" -le "$MAX_README_LINES" ]; then
	ok "README.md has $lines lines (at most $MAX_README_LINES)"
else
	fail "README.md has $lines lines, more than $MAX_README_LINES: move text to doc/, tests/README.md or bench/README.md"
fi

# --- Layout ------------------------------------------------------------

# The entries of the Layout section's code block, one a line.
layout_entries() {
	awk '/^## /{ in_sec = ($0 == "## Layout") ; next }
	     in_sec && /^```/ { in_code = !in_code; next }
	     in_sec && in_code && /^[^ \t]/ { print $1 }' README.md
}

# Whether a tracked file is named by an entry, as the header comment says.
covered() {
	local f=$1 e
	while read -r e; do
		[ "$e" = "$f" ] && return 0
		case "$e" in
		*/) case "$f" in "$e"*) return 0 ;; esac ;;
		*.c) [ "${e%.c}.h" = "$f" ] && return 0 ;;
		esac
	done <<<"$entries"
	return 1
}

entries=$(layout_entries)
if [ -z "$entries" ]; then
	fail "README.md has no \"## Layout\" section with a code block of entries"
elif ! files=$(git ls-files 2>/dev/null) || [ -z "$files" ]; then
	fail "git ls-files lists nothing: run this in the git tree"
else
	missing=
	while read -r f; do
		covered "$f" || missing="$missing $f"
	done <<<"$files"
	if [ -z "$missing" ]; then
		ok "every tracked file is named in README.md's Layout section"
	else
		fail "not named in README.md's Layout section (add a line \"PATH  what it is\"):"
		printf '  %s\n' $missing
	fi
	stale=
	while read -r e; do
		case "$e" in
		*/) printf '%s\n' "$files" | grep -q "^$e" || stale="$stale $e" ;;
		*) printf '%s\n' "$files" | grep -qxF "$e" || stale="$stale $e" ;;
		esac
	done <<<"$entries"
	if [ -z "$stale" ]; then
		ok "every entry of README.md's Layout section names tracked files"
	else
		fail "README.md's Layout section names what git does not track (renamed? removed?):"
		printf '  %s\n' $stale
	fi
fi

# --- Links -------------------------------------------------------------

# The anchors of a Markdown file's headings, one a line (code blocks skipped).
anchors() {
	awk '/^```/ { code = !code; next } !code && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
		sed -e 's/.*/\L&/' -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}

# Inline links [text](target), outside code blocks; no URLs, no mail.
links() {
	awk '/^```/ { code = !code; next } !code' "$1" |
		grep -oE '\]\([^)]+\)' | sed -e 's/^](//' -e 's/)$//' -e 's/ .*//' |
		grep -vE '^[a-z]+:'
}

for md in README.md doc/*.md tests/README.md bench/README.md; do
	if [ ! -f "$md" ]; then
		fail "$md is missing"
		continue
	fi
	bad=
	while read -r link; do
		[ -n "$link" ] || continue
		path=${link%%#*}
		anchor=
		case "$link" in *'#'*) anchor=${link#*#} ;; esac
		if [ -z "$path" ]; then
			target=$md
		else
			target=$(dirname "$md")/$path
		fi
		if [ ! -e "$target" ]; then
			bad+="$link: no such file"$'\n'
		elif [ -n "$anchor" ] && [ -f "$target" ] &&
		     ! anchors "$target" | grep -qxF "$anchor"; then
			bad+="$link: no such heading"$'\n'
		fi
	done < <(links "$md")
	if [ -z "$bad" ]; then
		ok "$md: every relative link resolves"
	else
		fail "$md: broken links:"
		printf '%s' "$bad" | sed 's/^/  /'
	fi
done

# --- Options -----------------------------------------------------------

# The options a help text lists: long ones and the short ones that begin
# an option line.
help_options() {
	grep -E '^[[:space:]]+-' | grep -oE '(^[[:space:]]+-[A-Za-z0-9],|--[a-z][a-z0-9-]*)' |
		sed -e 's/^[[:space:]]*//' -e 's/,$//' | sort -u
}

# The option lines of a help text: from the first to the blank line after.
help_block() {
	awk '!on && /^ +-/ { on = 1 } on && /^$/ { exit } on { print }'
}

# The first code block of PAGE's "## Options" section.
doc_options_block() {
	awk '/^## / { sec = ($0 == "## Options"); next }
	     sec && /^```/ { if (code) exit; code = 1; next }
	     sec && code { print }' "$1"
}

if [ ! -x ./memlens ]; then
	fail "./memlens is not built (make memlens): options not checked"
else
	cmds=$(./memlens --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
					on { print $1 }')
	[ -n "$cmds" ] || fail "./memlens --help lists no commands"
	for cmd in $cmds; do
		page=doc/memlens-$cmd.md
		if [ ! -f "$page" ]; then
			fail "memlens $cmd has no page $page"
			continue
		fi
		if ! help=$(./memlens "$cmd" --help 2>&1); then
			fail "./memlens $cmd --help failed: $(printf '%s' "$help" | head -n 1)"
			continue
		fi
		undocumented=
		for opt in $(printf '%s\n' "$help" | help_options); do
			grep -qE -- "(^|[^A-Za-z0-9-])$opt([^A-Za-z0-9-]|\$)" "$page" ||
				undocumented="$undocumented $opt"
		done
		if [ -z "$undocumented" ]; then
			ok "$page has every option of memlens $cmd --help"
		else
			fail "$page lacks options that memlens $cmd --help prints:$undocumented"
		fi
		# Its Options block is the help's option lines, word for word.
		want=$(printf '%s\n' "$help" | help_block)
		have=$(doc_options_block "$page")
		if [ "$want" = "$have" ]; then
			ok "$page: its Options block is memlens $cmd --help's"
		else
			fail "$page: its Options block differs from memlens $cmd --help's:
$(diff <(printf '%s\n' "$have") <(printf '%s\n' "$want") | sed 's/^/    /')"
		fi
	done
fi

echo "docs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
