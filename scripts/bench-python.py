#!/usr/bin/env python3
"""Python API benchmark — takes the built package (PYTHONPATH=build/python) and the Llama-3 tokenizer
($TOLLGATE_DATA_DIR/tokenizers/llama3); gives, on stdout, the Python-level cost of one decoding step's
fill_next_token_bitmask + apply_token_bitmask_inplace beyond the C++ work itself (128,256-token vocabulary,
numpy and torch CPU logits), and how 8 Python threads filling masks for different matchers compare with one
thread doing the same work.

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench-python.py [--rounds 21] [--steps 2000]

The overhead is median(Python step) - median(C++ step), each the thread's CPU time over --steps steps in one
round divided by --steps (CPU time, not wall time: the machines are shared), rounds interleaved so that load
changes hit both alike; the C++ step is tollgate._core._native_step_seconds (the same fill + apply in a C++ loop).
Threads are compared in wall time, medians of the rounds: warm (the built-in JSON grammar, index entries already
computed: quick fills) and cold (eight MaskBench schemas freshly compiled with no index cache, so fills compute
token index entries as they go, as a server meeting new schemas does), beside a control (hashlib on large
buffers, which releases the GIL) that shows how much parallelism the machine offers at that moment; beside the
wall times, the process CPU time and voluntary context switches per fill (a thread waiting for the GIL sleeps,
so switches count GIL hand-overs, which on a loaded machine wall times hide).
"""
import argparse
import hashlib
import json
import os
import resource
import statistics
import threading
import time

import numpy as np

import tollgate
from tollgate import _core


def step_overhead(matcher, bitmask, logits, rounds, steps):
    fill = matcher.fill_next_token_bitmask
    apply = tollgate.apply_token_bitmask_inplace
    py, native = [], []
    for _ in range(rounds):
        t0 = time.thread_time()
        for _ in range(steps):
            fill(bitmask)
            apply(logits, bitmask)
        py.append((time.thread_time() - t0) / steps)
        native.append(_core._native_step_seconds(matcher, bitmask, logits, steps))
    p, n = statistics.median(py), statistics.median(native)
    return p, n, p - n


def maskbench_jobs(data):
    """Eight (schema, tokens) pairs of MaskBench documents that are JSON objects."""
    folder = os.path.join(data, "corpora", "maskbench-dev")
    jobs = []
    for f in sorted(os.listdir(folder))[::53]:
        with open(os.path.join(folder, f)) as fh:
            doc = json.load(fh)
        tests = [t for t in doc["tests"] if t["valid"] and isinstance(t["data"], dict)]
        if tests and len(tests[0]["tokens_llama3"]) >= 40:
            jobs.append((doc["schema"], tests[0]["tokens_llama3"][:80]))
        if len(jobs) == 8:
            break
    return jobs


def switches():
    """Voluntary context switches of this process so far: a thread that waits for the GIL sleeps, so on a busy
    machine, where wall times mislead, these count the GIL hand-overs."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def time_jobs(grammars, jobs, bitmask, threaded, repeats=1, stats=None):
    """Wall time of replaying every job `repeats` times, on this thread or on one started (and waiting at a
    barrier, so that starting threads is not timed) per job. stats, a list: gets (process CPU seconds,
    voluntary context switches) of the timed part."""
    def replay(i):
        for _ in range(repeats):
            m = tollgate.Matcher(grammars[i])
            for t in jobs[i][1]:
                m.fill_next_token_bitmask(bitmask, i)
                if not m.accept_token(t):
                    break

    if not threaded:
        t0, c0, s0 = time.perf_counter(), time.process_time(), switches()
        for i in range(len(jobs)):
            replay(i)
        if stats is not None:
            stats.append((time.process_time() - c0, switches() - s0))
        return time.perf_counter() - t0
    barrier = threading.Barrier(len(jobs) + 1)

    def worker(i):
        barrier.wait()
        replay(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    barrier.wait()
    t0, c0, s0 = time.perf_counter(), time.process_time(), switches()
    for t in threads:
        t.join()
    if stats is not None:
        stats.append((time.process_time() - c0, switches() - s0))
    return time.perf_counter() - t0


def thread_scaling(tok, data, rounds):
    jobs = maskbench_jobs(data)
    bitmask = tollgate.allocate_token_bitmask(len(jobs), tok.vocab_size)
    fills = sum(len(t) for _, t in jobs)
    warm = [tollgate.Compiler(tok).builtin_json()] * len(jobs)
    time_jobs(warm, jobs, bitmask, False)  # computes the index entries these documents need

    def fresh():
        compiler = tollgate.Compiler(tok, cache_bytes=0)
        return [compiler.compile_json_schema(schema, lenient=True) for schema, _ in jobs]

    out, cost = {}, {}
    s1, s8 = [], []
    one = [time_jobs(warm, jobs, bitmask, False, 20, s1) for _ in range(rounds)]
    eight = [time_jobs(warm, jobs, bitmask, True, 20, s8) for _ in range(rounds)]
    name = "warm: built-in JSON, each document 20 times"
    out[name] = (statistics.median(one), statistics.median(eight))
    cost[name] = (s1, s8, 20 * fills)
    one, eight, s1, s8 = [], [], [], []
    for _ in range(max(1, rounds // 2)):
        one.append(time_jobs(fresh(), jobs, bitmask, False, 1, s1))
        eight.append(time_jobs(fresh(), jobs, bitmask, True, 1, s8))
    name = "cold: fresh schemas, no index cache"
    out[name] = (statistics.median(one), statistics.median(eight))
    cost[name] = (s1, s8, fills)
    # Control: what the machine gives any GIL-releasing work right now (hashlib hashes large buffers without
    # the GIL), the same 8 jobs on one thread and on 8.
    blob = b"x" * (4 << 20)
    hashes = [lambda: hashlib.sha256(blob).digest()] * 8
    one, eight = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for h in hashes:
            h()
        one.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=h) for h in hashes]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eight.append(time.perf_counter() - t0)
    out["control: hashlib.sha256 of 4 MiB, 8 times"] = (statistics.median(one), statistics.median(eight))
    return out, cost, fills


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    data = os.environ.get("TOLLGATE_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    tok = tollgate.TokenizerInfo.from_tokenizer_json(os.path.join(data, "tokenizers", "llama3"))
    compiler = tollgate.Compiler(tok)
    matcher = tollgate.Matcher(compiler.compile_regex(r"\d{4}-\d{2}-\d{2}"))
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; vocabulary {tok.vocab_size}; {args.rounds} rounds x {args.steps} steps")
    print("| logits | bitmask | Python step (µs) | C++ step (µs) | overhead (µs) |")
    print("|---|---|---|---|---|")
    cases = [("numpy float32", "numpy", lambda: np.zeros(tok.vocab_size, np.float32))]
    try:
        import torch

        cases += [("torch float32", "numpy", lambda: torch.zeros(tok.vocab_size)),
                  ("torch bfloat16", "numpy", lambda: torch.zeros(tok.vocab_size, dtype=torch.bfloat16)),
                  ("torch float32", "torch", lambda: torch.zeros(tok.vocab_size))]
    except ImportError:
        torch = None
    for name, bitmask_kind, make in cases:
        bitmask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
        if bitmask_kind == "torch":
            bitmask = torch.from_numpy(bitmask)
        p, n, o = step_overhead(matcher, bitmask, make(), args.rounds, args.steps)
        print(f"| {name} | {bitmask_kind} int32 | {p * 1e6:.2f} | {n * 1e6:.2f} | {o * 1e6:.2f} |")
    scaling, cost, fills = thread_scaling(tok, data, max(3, args.rounds // 3))
    print(f"\n8 matchers replaying 8 MaskBench documents ({fills} mask fills in all), wall time:\n")
    print("| work | one thread (ms) | 8 threads (ms) | speed-up |")
    print("|---|---|---|---|")
    for name, (one, eight) in scaling.items():
        print(f"| {name} | {one * 1e3:.1f} | {eight * 1e3:.1f} | {one / eight:.2f}x |")
    print("\nThe same runs, process CPU time and voluntary context switches per fill (medians):\n")
    print("| work | CPU µs/fill, one thread | CPU µs/fill, 8 threads | switches/fill, one thread | switches/fill, 8 threads |")
    print("|---|---|---|---|---|")
    for name, (s1, s8, n) in cost.items():
        cpu = [statistics.median(c for c, _ in s) / n * 1e6 for s in (s1, s8)]
        sw = [statistics.median(w for _, w in s) / n for s in (s1, s8)]
        print(f"| {name} | {cpu[0]:.2f} | {cpu[1]:.2f} | {sw[0]:.3f} | {sw[1]:.3f} |")


if __name__ == "__main__":
    main()
