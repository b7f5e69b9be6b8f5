#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Run the test suites, then one closing line with the totals.
#
#   tests/run.sh             every suite (make check)
#   tests/run.sh --e2e       all but the unit tests and the kernel matrix (make e2e)
#   tests/run.sh --list [--e2e]   name them, one a line, and run nothing
#   tests/run.sh SUITE...    these only (tests/docs.sh tests/e2e-doctor.sh)
#
# The list of suites is here and nowhere else: the Makefile asks for it.
set -u
cd "$(dirname "$0")/.."

# In the order they run: the cheap ones first, the kernel matrix last.
SUITES="build/unit_tests tests/docs.sh tests/install.sh tests/e2e-options.sh tests/e2e-output.sh tests/e2e-files.sh
	tests/e2e-leaks.sh tests/e2e-reachable.sh tests/e2e-holds.sh tests/e2e-unwind.sh tests/e2e-stacks.sh tests/e2e-gc.sh
	tests/e2e-allocators.sh tests/e2e-probes.sh tests/e2e-sampling-go.sh tests/e2e-allocs-c.sh tests/e2e-top.sh tests/e2e-tools.sh
	tests/e2e-reclaim.sh tests/e2e-stall-stacks.sh tests/e2e-kmem.sh tests/fuzz.sh tests/e2e-doctor.sh
	tests/e2e-compat.sh tests/deb.sh tests/kernels.sh"
# What make e2e runs: neither the unit tests nor the kernel matrix.
E2E_SUITES=$(printf '%s\n' $SUITES | grep -vx -e build/unit_tests -e tests/kernels.sh)

list=
case "${1:-}" in
--list) list=1; shift ;;
esac
case "${1:-}" in
--e2e) set -- $E2E_SUITES ;;
"") set -- $SUITES ;;
-*) echo "usage: tests/run.sh [--list] [--e2e | SUITE...]" >&2; exit 2 ;;
esac
if [ -n "$list" ]; then
	printf '%s\n' "$@"
	exit 0
fi

passed=0
failed=0
status=0
# A tool that renames a file over its output path (issue 14: -o /dev/null)
# turns /dev/null into a regular file, and every later test that redirects
# to it, or daemonizes (tmux), fails for no reason of its own: say so.
devnull_ok() {
	if [ ! -c /dev/null ]; then
		echo "check: /dev/null is not a character device $1" \
			"(restore it: rm /dev/null; mknod -m 666 /dev/null c 1 3)" >&2
		return 1
	fi
}
devnull_ok "before the tests" || exit 1
mkdir -p build
for suite in "$@"; do
	case "$suite" in
	*/*) ;;
	*.sh) [ -e "tests/$suite" ] && suite=tests/$suite || suite=./$suite ;;
	*) [ -e "tests/$suite.sh" ] && suite=tests/$suite.sh || suite=./$suite ;;
	esac
	"$suite" 2>&1 | tee build/last-suite.log
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed$' build/last-suite.log | tail -n 1)
	if [ -z "$line" ]; then
		echo "check: $suite printed no result line" >&2
		status=1
		continue
	fi
	set -- $line
	passed=$((passed + $2))
	failed=$((failed + $4))
done
devnull_ok "after the tests: one of them replaced it" || status=1
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && exit $status
exit 1
