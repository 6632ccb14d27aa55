#!/usr/bin/python3
"""Where slow masks go: sums the context-free back-end's debug events by kind over the mask fills
of a `TOLLGATE_CFG_DEBUG=1 TOLLGATE_CFG_DEBUG_US=N` run (fsm/cfg_debug.hpp), per band of fill time.

Takes: the stderr of such a run (a file, or - for stdin). Every event line (index entry, boundary
miss, lexeme automaton, reference map, unique filter) printed before a "fill X µs" line belongs to
that fill. Gives: per band, the fills, their µs, and the share of each kind (CPU time). Index entries
and boundary walks may build lexeme automata and reference maps inside them (those are counted in
both); "rest" is the fill less entries, boundary walks and the unique filter (the parser's steps,
the union of entries, cache lookups, and events under the threshold).

    TOLLGATE_CFG_DEBUG=1 TOLLGATE_CFG_DEBUG_US=5 build/tollgate bench maskbench DIR --tokenizer T --warm \\
        --out /dev/null 2> debug.log
    /usr/bin/python3 scripts/cfg-debug-breakdown.py debug.log
"""
import re
import sys

BANDS = [(50, 100), (100, 500), (500, 2000), (2000, float("inf"))]
KINDS = ["index entry", "boundary walk", "unique filter", "lexeme automaton", "reference map", "rest"]
PATTERNS = [
    ("index entry", re.compile(r"^index entry ([\d.]+) µs")),
    ("boundary walk", re.compile(r"^boundary miss .*: ([\d.]+) µs, \d+ uncertain checked in ([\d.]+) µs")),
    ("unique filter", re.compile(r"^unique filter ([\d.]+) µs")),
    ("lexeme automaton", re.compile(r"^lexeme automaton ([\d.]+) ms")),
    ("reference map", re.compile(r"^reference map ([\d.]+) µs")),
]
FILL = re.compile(r"^fill ([\d.]+) µs")


def main():
    src = sys.stdin if len(sys.argv) < 2 or sys.argv[1] == "-" else open(sys.argv[1], encoding="utf-8", errors="replace")
    bands = {b: {"fills": 0, "us": 0.0, **{k: 0.0 for k in KINDS}} for b in BANDS}
    pending = {k: 0.0 for k in KINDS}
    for line in src:
        m = FILL.match(line)
        if m:
            us = float(m.group(1))
            for b in BANDS:
                if b[0] <= us < b[1]:
                    acc = bands[b]
                    acc["fills"] += 1
                    acc["us"] += us
                    for k in KINDS[:-1]:
                        acc[k] += pending[k]
                    acc["rest"] += max(0.0, us - pending["index entry"] - pending["boundary walk"] - pending["unique filter"])
            pending = {k: 0.0 for k in KINDS}
            continue
        for kind, pat in PATTERNS:
            m = pat.match(line)
            if m:
                v = sum(float(g) for g in m.groups())
                pending[kind] += v * 1000 if kind == "lexeme automaton" else v
                break
    print(f"{'fill µs':>12} {'fills':>7} {'µs':>10} " + " ".join(f"{k:>16}" for k in KINDS))
    for b in BANDS:
        acc = bands[b]
        if not acc["fills"]:
            continue
        name = f"{b[0]}-{b[1] if b[1] != float('inf') else ''}"
        shares = " ".join(f"{100 * acc[k] / acc['us']:15.1f}%" for k in KINDS)
        print(f"{name:>12} {acc['fills']:7d} {acc['us']:10.0f} {shares}")


if __name__ == "__main__":
    main()
