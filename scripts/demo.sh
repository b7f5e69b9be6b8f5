#!/bin/sh
# make demo: trace the bundled leaky program from its first instruction and
# show where its memory leaks. build/leaky leaks exactly 12 blocks,
# 1148296 bytes, from six functions named leak_*; see tests/workloads/leaky.c.
set -eu
cd "$(dirname "$0")/.."
echo "\$ ./memlens leaks -- build/leaky"
exec ./memlens leaks --top 8 -- build/leaky
