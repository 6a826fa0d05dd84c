#!/usr/bin/env python3
"""Stand-in for OpenWrt's jsonfilter (not packaged for Debian), for the router tests.

Covers the part of its interface the dyn53 scripts use: the JSON from `-s STRING`, `-i FILE`
or stdin, and `-e EXPR` paths made of `@`, `.name`, `['name']`, `["name"]`, `[N]` and `[*]`.
Like jsonfilter it prints each match on its own line (strings bare, other values as JSON)
and exits 1 when nothing matched or the input is not JSON.
"""
import json
import re
import sys

STEP = re.compile(r"""\.([A-Za-z_][A-Za-z0-9_]*)|\[(?:'([^']*)'|"([^"]*)"|(\d+)|(\*))\]""")


def steps(expr):
    if not expr.startswith("@"):
        raise ValueError(f"unsupported expression {expr!r}")
    rest, out = expr[1:], []
    while rest:
        m = STEP.match(rest)
        if not m:
            raise ValueError(f"unsupported expression {expr!r}")
        name = m.group(1) or m.group(2) or m.group(3)
        if name is not None:
            out.append(("key", name))
        elif m.group(4) is not None:
            out.append(("index", int(m.group(4))))
        else:
            out.append(("all", None))
        rest = rest[m.end():]
    return out


def select(values, step):
    kind, arg = step
    for v in values:
        if kind == "key" and isinstance(v, dict) and arg in v:
            yield v[arg]
        elif kind == "index" and isinstance(v, list) and arg < len(v):
            yield v[arg]
        elif kind == "all":
            yield from (v if isinstance(v, list) else v.values() if isinstance(v, dict) else [])


def main(argv):
    text, exprs, args = None, [], iter(argv)
    for a in args:
        if a == "-s":
            text = next(args)
        elif a == "-i":
            with open(next(args)) as f:
                text = f.read()
        elif a == "-e":
            exprs.append(next(args))
        else:
            print(f"jsonfilter stand-in: unsupported option {a}", file=sys.stderr)
            return 1
    if text is None:
        text = sys.stdin.read()
    try:
        doc = json.loads(text)
    except ValueError:
        print("Failed to parse input data", file=sys.stderr)
        return 1
    found = False
    for e in exprs:
        values = [doc]
        for s in steps(e):
            values = list(select(values, s))
        for v in values:
            found = True
            print(v if isinstance(v, str) else json.dumps(v))
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
