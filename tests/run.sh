#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Run every test suite (make check), then one closing line with the totals.
set -u
cd "$(dirname "$0")/.."
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
for suite in build/unit_tests tests/e2e-leaks.sh tests/e2e-unwind.sh tests/e2e-stacks.sh \
	tests/e2e-allocators.sh tests/e2e-sampling-go.sh tests/e2e-top.sh tests/e2e-reclaim.sh \
	tests/e2e-kmem.sh tests/fuzz.sh tests/e2e-doctor.sh tests/e2e-compat.sh tests/kernels.sh; do
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
