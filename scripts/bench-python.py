#!/usr/bin/env python3
"""Python API benchmark — takes the built package (PYTHONPATH=build/python) and the Llama-3 tokenizer
($TOLLGATE_DATA_DIR/tokenizers/llama3); gives, on stdout, the Python-level cost of one decoding step's
fill_next_token_bitmask + apply_token_bitmask_inplace beyond the C++ work itself (128,256-token vocabulary,
numpy and torch CPU logits), and how 8 Python threads filling masks for different matchers compare with one
thread doing the same work.

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench-python.py [--rounds 21] [--steps 2000]

The overhead is median(Python step) - median(C++ step), each a mean over --steps steps in one round, rounds
interleaved so that load changes hit both alike; the C++ step is tollgate._core._native_step_seconds (the same
fill + apply calls in a C++ loop).
"""
import argparse
import json
import os
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
        t0 = time.perf_counter()
        for _ in range(steps):
            fill(bitmask)
            apply(logits, bitmask)
        py.append((time.perf_counter() - t0) / steps)
        native.append(_core._native_step_seconds(matcher, bitmask, logits, steps))
    p, n = statistics.median(py), statistics.median(native)
    return p, n, p - n


def thread_scaling(compiler, tok, data, rounds):
    """8 matchers (the built-in JSON grammar, one MaskBench document each) replaying their tokens with a mask
    fill per token: all 8 jobs on one thread vs one thread per job."""
    files = sorted((os.path.join(data, "corpora", "maskbench-dev", f) for f in
                    os.listdir(os.path.join(data, "corpora", "maskbench-dev"))))[::53]
    jobs = []
    for f in files:
        with open(f) as fh:
            tests = [t for t in json.load(fh)["tests"] if t["valid"] and isinstance(t["data"], dict)]
        if tests and len(tests[0]["tokens_llama3"]) >= 40:
            jobs.append(tests[0]["tokens_llama3"])
        if len(jobs) == 8:
            break
    grammar = compiler.builtin_json()
    bitmask = tollgate.allocate_token_bitmask(8, tok.vocab_size)

    def replay(i):
        m = tollgate.Matcher(grammar)
        for t in jobs[i]:
            m.fill_next_token_bitmask(bitmask, i)
            m.accept_token(t)

    for i in range(8):
        replay(i)  # warm the lazy token index
    one, eight = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(8):
            replay(i)
        one.append(time.perf_counter() - t0)
        threads = [threading.Thread(target=replay, args=(i,)) for i in range(8)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eight.append(time.perf_counter() - t0)
    return statistics.median(one), statistics.median(eight), sum(len(j) for j in jobs)


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
    one, eight, fills = thread_scaling(compiler, tok, data, max(3, args.rounds // 3))
    print(f"\n8 matchers (built-in JSON, MaskBench documents), {fills} mask fills in all: one thread "
          f"{one * 1e3:.1f} ms, 8 threads {eight * 1e3:.1f} ms, speed-up {one / eight:.2f}x")


if __name__ == "__main__":
    main()
