"""Constrained vs unconstrained generation speed with the built-in RetNet on the demo's example
(the 6-field JSON-object regex). For each seed, a constrained run's token count fixes the length of the
unconstrained run with the same seed; tokens/s are summed over seeds, each pair measured back to back.
Run: PYTHONPATH=build/python /usr/bin/python3 bench/constrained_overhead.py [DATA_DIR]"""
import json
import pathlib
import statistics
import sys

import tollgate

data = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2] / "shared")
rx = json.loads((data / "corpora" / "bench-regexes.json").read_text())["json-object6"]
tollgate.generate("", regex=rx, max_tokens=8)  # load the model and warm up

for jf in (False, True):
    ratios, c_tok, c_s, u_tok, u_s, mask_s = [], 0, 0.0, 0, 0.0, 0.0
    for seed in range(20):
        c = tollgate.generate("", regex=rx, max_tokens=300, temperature=0.8, seed=seed, jump_forward=jf)
        n = c.stats["tokens"]
        u = tollgate.generate("", max_tokens=n, temperature=0.8, seed=seed)
        # The unconstrained run may stop early at EOS; compare per-token time.
        ratios.append((c.stats["seconds"] / n) / (u.stats["seconds"] / max(1, u.stats["tokens"])))
        c_tok += n
        c_s += c.stats["seconds"]
        u_tok += u.stats["tokens"]
        u_s += u.stats["seconds"]
        mask_s += c.stats["mask_seconds"]
    print(f"jump_forward={jf}: constrained {c_tok / c_s:.0f} tok/s, unconstrained {u_tok / u_s:.0f} tok/s, "
          f"median per-token time ratio {statistics.median(ratios):.3f}, mask time {100 * mask_s / c_s:.2f}% "
          f"of constrained time")
