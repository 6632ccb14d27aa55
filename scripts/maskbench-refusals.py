#!/usr/bin/python3
"""The schemas a MaskBench run refused, grouped by the keyword (or budget) that refused them.

Reads the JSONL that `tollgate bench maskbench --out FILE` writes and prints a Markdown section:
per cause, the number of schemas and each schema's file name with the JSON pointer of the keyword.
Usage: scripts/maskbench-refusals.py results.jsonl [> section.md]
"""
import collections
import json
import re
import sys


def cause(message):
    m = re.search(r"keyword '([^']+)' cannot be compiled exactly: (.*?) \(the option", message)
    if m:
        return f"`{m.group(1)}`: {m.group(2)}"
    if "DFA memory budget" in message or "DFA state budget" in message or "limit exceeded" in message:
        return "a budget (max_dfa_memory / max_dfa_states): " + re.sub(r"[0-9][0-9.]*", "N", message.split(":", 1)[-1]).strip()[:90]
    if "accepts no JSON value" in message:
        return "an empty language (the schema accepts no JSON value)"
    return message.split(" (at ")[0][:120]


def pointer(message):
    m = re.search(r"\(at (/[^)]*|#[^)]*)\)", message)
    return m.group(1) if m else ""


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    groups = collections.defaultdict(list)
    total = 0
    with open(sys.argv[1]) as f:
        for line in f:
            row = json.loads(line)
            if "compile_error" not in row:
                continue
            total += 1
            groups[cause(row["compile_error"])].append((row["id"], pointer(row["compile_error"])))
    print(f"{total} schemas refused, by cause (the first keyword that refused each):\n")
    print("| cause | schemas | files (JSON pointer of the keyword) |")
    print("|---|---:|---|")
    for c, rows in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        files = ", ".join(f"{i.removesuffix('.json')} (`{p}`)" if p else i.removesuffix(".json") for i, p in sorted(rows))
        print(f"| {c} | {len(rows)} | {files} |")


if __name__ == "__main__":
    main()
