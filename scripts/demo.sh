#!/bin/sh
# make demo: trace the bundled leaky program from its first instruction and
# show where its memory leaks. build/leaky leaks exactly 13 blocks,
# 1156488 bytes, from seven functions named leak_*; see tests/workloads/leaky.c.
set -eu
cd "$(dirname "$0")/.."
echo "\$ ./memlens leaks -- build/leaky"
exec ./memlens leaks --top 8 -- build/leaky
