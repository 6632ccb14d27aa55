#!/usr/bin/python3
"""Plots `tollgate bench maskbench --out` results: the per-mask time (TBM) and time-to-first-mask (TTFM)
distributions as CDFs on a log x-axis, one line per results file. With --tail, the fraction of masks
(schemas) at or above each time instead, on a log y-axis as well: the slowest thousandth and the
maximum, which the CDF squeezes into its top edge.

Takes: one or more LABEL=PATH (or PATH: the label is the file's stem) JSONL files.
Gives: a PNG with two panels (default docs/maskbench-cdf.png).

    /usr/bin/python3 scripts/plot-maskbench.py tollgate=results.jsonl other=theirs.jsonl -o docs/maskbench-cdf.png
    /usr/bin/python3 scripts/plot-maskbench.py --tail tollgate=results.jsonl -o docs/maskbench-tail.png
"""
import argparse
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(path):
    """Per-mask µs, per-schema TTFM µs, and counts of schemas / compiled ones."""
    tbm, ttfm, schemas = [], [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            schemas += 1
            if "ttfm_us" in j:
                ttfm.append(j["ttfm_us"])
                tbm.extend(j["mask_us"])
    return np.asarray(tbm, dtype=float), np.asarray(ttfm, dtype=float), schemas


def fmt_us(us):
    return f"{us / 1000:.3g} ms" if us >= 1000 else f"{us:.3g} µs"


def cdf(ax, values, label, tail=False):
    if values.size == 0:
        ax.plot([], [], label=f"{label} (no data)")
        return
    v = np.sort(np.maximum(values, 1e-3))  # a log axis needs positive values
    if tail:
        # the fraction at or above each value: 1 at the fastest, 1/n at the slowest
        y = (v.size - np.arange(v.size)) / v.size
        p999 = np.percentile(v, 99.9)
        ax.step(v, y, where="pre", label=f"{label}: p99.9 {fmt_us(p999)}, max {fmt_us(v[-1])}")
        return
    y = np.arange(1, v.size + 1) / v.size
    p50, p99 = np.percentile(v, [50, 99])
    ax.step(v, y, where="post", label=f"{label}: p50 {fmt_us(p50)}, p99 {fmt_us(p99)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="LABEL=PATH or PATH of a `bench maskbench --out` JSONL file")
    ap.add_argument("-o", "--output", default="docs/maskbench-cdf.png", help="PNG to write")
    ap.add_argument("--title", default="MaskBench replay", help="figure title")
    ap.add_argument("--tail", action="store_true", help="plot the fraction at or above each time, log-log (the slow end)")
    args = ap.parse_args()

    fig, (ax_tbm, ax_ttfm) = plt.subplots(1, 2, figsize=(12, 4.8))
    for spec in args.results:
        label, sep, path = spec.partition("=")
        if not sep:
            label, path = pathlib.Path(spec).stem, spec
        try:
            tbm, ttfm, schemas = load(path)
        except (OSError, ValueError) as e:
            sys.exit(f"plot-maskbench: cannot read {path}: {e}")
        cdf(ax_tbm, tbm, f"{label} ({tbm.size:,} masks)", args.tail)
        cdf(ax_ttfm, ttfm, f"{label} ({ttfm.size:,}/{schemas:,} schemas)", args.tail)
    for ax, what in ((ax_tbm, "time per mask, TBM (µs)"), (ax_ttfm, "time to first mask, TTFM (µs)")):
        ax.set_xscale("log")
        ax.set_xlabel(what)
        if args.tail:
            ax.set_yscale("log")
            ax.set_ylabel("fraction ≥ x")
            ax.set_ylim(top=1.0)
        else:
            ax.set_ylabel("fraction ≤ x")
            ax.set_ylim(0, 1.0)
        ax.grid(True, which="major", alpha=0.4)
        ax.grid(True, which="minor", alpha=0.12)
        ax.legend(loc="lower left" if args.tail else "lower right", fontsize=8)
    ax_tbm.set_title("mask fill, every token")
    ax_ttfm.set_title("compile + first mask, per schema")
    fig.suptitle(args.title)
    fig.tight_layout()
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
