#!/usr/bin/env python3
"""Time to first mask of a FHIR-shaped schema (scripts/fhir_like_schema.py: ~1,100 definitions, 3.5 MB).

Takes: the Llama-3 tokenizer ($TOLLGATE_DATA_DIR/tokenizers/llama3) and the built Python module
(PYTHONPATH=build/python). Gives: per run, a fresh one-thread Compiler, compile_json_schema, a Matcher and
its first mask filled — the median of --runs runs — next to the same for a one-property object schema
(the baseline, same process). Then replays one generated document token by token (checks it is accepted).

    PYTHONPATH=build/python /usr/bin/python3 bench/fhir_ttfm.py [--runs 5]
"""
import argparse
import json
import os
import pathlib
import statistics
import sys
import time

import tollgate

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from fhir_like_schema import fhir_like_schema  # noqa: E402


def ttfm(tok, text):
    compiler = tollgate.Compiler(tok, threads=1)
    mask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
    t0 = time.perf_counter()
    g = compiler.compile_json_schema(text)
    m = tollgate.Matcher(g)
    m.fill_next_token_bitmask(mask)
    return (time.perf_counter() - t0) * 1000, g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    data = pathlib.Path(os.environ.get("TOLLGATE_DATA_DIR", ROOT.parent / "shared"))
    tok = tollgate.TokenizerInfo.from_file(str(data / "tokenizers" / "llama3"))
    schema = fhir_like_schema()
    text = json.dumps(schema)
    print(f"schema: {len(text) / 1e6:.2f} MB, {len(schema['definitions'])} definitions")
    base = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    fhir_ms, base_ms = [], []
    for _ in range(args.runs):
        ms, g = ttfm(tok, text)
        fhir_ms.append(ms)
        base_ms.append(ttfm(tok, base)[0])
    print("FHIR-like TTFM ms:", " ".join(f"{x:.0f}" for x in fhir_ms), f"median {statistics.median(fhir_ms):.0f}")
    print("baseline TTFM ms: ", " ".join(f"{x:.2f}" for x in base_ms), f"median {statistics.median(base_ms):.2f}")
    print("stats of the last compile:", g.stats)
    # a mask after a step into a resource: masks are built on demand
    m = tollgate.Matcher(g)
    mask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
    doc = '{"resourceType": "%s", "id": "x1", "text": {"status": "generated", "div": "<div/>"}}' % \
        schema["oneOf"][0]["$ref"].rsplit("/", 1)[1]
    t0 = time.perf_counter()
    ok = m.accept_string(doc) and m.is_accepting()
    m.fill_next_token_bitmask(mask)
    print(f"replay of a {len(doc)}-byte document: accepted={ok}, {(time.perf_counter() - t0) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
