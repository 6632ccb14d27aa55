#!/usr/bin/env python3
"""Benchmarks of the compiled-grammar cache and blobs (docs/benchmarks.md, "Serving").

Takes: the data dir (corpora/gbnf, corpora/maskbench-dev, tokenizers/llama3) and the built Python
module (PYTHONPATH=build/python). Gives, on stdout: the ten slowest-to-compile grammars of the GBNF
corpus and the MaskBench-dev schemas (every --stride-th file) with their compile time (median of
--repeat fresh compiles, one thread, no cache), blob size and load time (median of --repeat
deserialize calls), and their ratio; the latency of a cache hit; how long cancel() takes to end a
slow compilation.

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench-serving.py --data /work/shared
"""
import argparse
import json
import pathlib
import statistics
import time

import tollgate


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/work/shared")
    ap.add_argument("--stride", type=int, default=1, help="every n-th MaskBench-dev schema")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--top", type=int, default=10)
    a = ap.parse_args()
    data = pathlib.Path(a.data)
    tok = tollgate.TokenizerInfo.from_file(str(data / "tokenizers" / "llama3"))

    def fresh():
        return tollgate.Compiler(tok, threads=1, grammar_cache_bytes=0, cache_bytes=0)

    jobs = []  # (name, compile function of a Compiler)
    for p in sorted((data / "corpora" / "gbnf").glob("*.gbnf")):
        text = p.read_text()
        jobs.append((p.name, lambda c, t=text: c.compile_grammar(t, "gbnf")))
    files = sorted((data / "corpora" / "maskbench-dev").glob("*.json"))[:: a.stride]
    for p in files:
        schema = json.loads(p.read_text())["schema"]
        jobs.append((p.name, lambda c, s=json.dumps(schema): c.compile_json_schema(s, lenient=True)))

    # One pass to find the slowest.
    t_sweep = time.perf_counter()
    timed = []
    for name, fn in jobs:
        c = fresh()
        t0 = time.perf_counter()
        try:
            fn(c)
        except tollgate.TollgateError:
            continue
        timed.append(((time.perf_counter() - t0) * 1e3, name, fn))
    timed.sort(key=lambda x: -x[0])
    print(f"swept {len(jobs)} grammars ({len(timed)} compiled) in {time.perf_counter() - t_sweep:.1f} s")

    print("| grammar | compile (ms) | blob (KiB) | load (ms) | compile / load |")
    print("|---|---:|---:|---:|---:|")
    ratios = []
    for _, name, fn in timed[: a.top]:
        compile_ms = median_ms(lambda: fn(fresh()), a.repeat)
        g = fn(fresh())
        blob = g.serialize()
        load_ms = median_ms(lambda: tollgate.CompiledGrammar.deserialize(blob, tok), max(a.repeat, 5))
        ratios.append(compile_ms / load_ms)
        print(f"| {name} | {compile_ms:.1f} | {len(blob) / 1024:.0f} | {load_ms:.2f} | {compile_ms / load_ms:.0f}x |")
    print(f"ratio compile/load: min {min(ratios):.0f}x, median {statistics.median(ratios):.0f}x")

    # Cache hit latency: the slowest grammar again through a warm Compiler.
    _, name, fn = timed[0]
    c = tollgate.Compiler(tok)
    fn(c)
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        fn(c)
    hit_us = (time.perf_counter() - t0) / n * 1e6
    print(f"cache hit ({name}, from Python, incl. binding overhead): {hit_us:.1f} us per call; stats {c.cache_stats()}")

    # Cancel latency: start the slowest compile, cancel after 20 ms, time until result() raises.
    c = tollgate.Compiler(tok, threads=1, grammar_cache_bytes=0, cache_bytes=0)
    fut = None
    src = next(p for p in files if p.name == name) if name.endswith(".json") else None
    if src is not None:
        fut = c.compile_async(json.loads(src.read_text())["schema"], "json_schema", lenient=True)
    else:
        fut = c.compile_async((data / "corpora" / "gbnf" / name).read_text(), "gbnf")
    time.sleep(0.02)
    t0 = time.perf_counter()
    fut.cancel()
    try:
        fut.result()
        print("cancel: the compile finished first")
    except tollgate.TollgateError as e:
        print(f"cancel -> result() raised '{e.kind}' after {(time.perf_counter() - t0) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
