#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""Check a Prometheus text exposition (stdin) against the format's rules:
each family's TYPE once, before its samples; every histogram series with
buckets in increasing le, cumulative counts, +Inf last and equal to its
_count. Exits non-zero with the first broken rule."""
import re
import sys

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LE = re.compile(r'le="([^"]*)"')


def main():
    types, series = {}, {}
    for line in sys.stdin.read().splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split()
            assert name not in types, 'TYPE twice: ' + name
            types[name] = kind
            continue
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        assert m, 'not a sample: ' + line
        name, labels, value = m.group(1), m.group(3) or '', float(m.group(4))
        family = re.sub(r'_(bucket|sum|count)$', '', name)
        assert name in types or family in types, 'no TYPE before ' + name
        if types.get(family) != 'histogram':
            continue
        key = (family, LE.sub('', labels).strip(','))
        s = series.setdefault(key, {'buckets': [], 'count': None})
        if name.endswith('_bucket'):
            le = LE.search(labels).group(1)
            s['buckets'].append((float('inf') if le == '+Inf' else float(le), value))
        elif name.endswith('_count'):
            s['count'] = value
    for key, s in series.items():
        les = [b[0] for b in s['buckets']]
        counts = [b[1] for b in s['buckets']]
        assert les and les == sorted(les) and les[-1] == float('inf'), key
        assert counts == sorted(counts), key
        assert counts[-1] == s['count'], key


if __name__ == '__main__':
    main()
