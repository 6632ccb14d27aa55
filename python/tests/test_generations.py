"""Compiler(generation_bytes=...): the Earley generation budget (engine/cfg_backend.hpp) from Python.
With a 1-byte budget every new matcher starts a fresh generation; its masks along maskbench-dev
documents equal those of a grammar with the default budget, and forks made before the switch keep
working. A negative budget is refused."""
import json

import numpy as np
import pytest

import tollgate
from conftest import corpus_path


def docs(shared, n):
    out = []
    for f in sorted(corpus_path(shared, "maskbench-dev").glob("*.json"))[::23]:
        for t in json.loads(f.read_text())["tests"]:
            if t.get("valid") and "tokens_llama3" in t:
                out.append(t["tokens_llama3"])
                break
        if len(out) == n:
            break
    return out


def mask(m, vocab):
    bm = tollgate.allocate_token_bitmask(1, vocab)
    m.fill_next_token_bitmask(bm)
    return bm[0].copy()


def test_masks_equal_with_a_tiny_generation_budget(llama3, shared):
    tiny = tollgate.Compiler(llama3, generation_bytes=1).builtin_json()
    default = tollgate.Compiler(llama3).builtin_json()
    vocab = llama3.vocab_size
    ds = docs(shared, 6)
    assert len(ds) == 6
    steps = 0
    first = tollgate.Matcher(tiny)
    assert first.accept_token(ds[0][0])
    fork = first.fork()
    for d in ds:
        a, b = tollgate.Matcher(tiny), tollgate.Matcher(default)  # a: a fresh generation each
        for tok in d:
            assert np.array_equal(mask(a, vocab), mask(b, vocab))
            assert a.accept_token(tok) and b.accept_token(tok)
            steps += 1
    # The first generation, still held by the matcher and its fork, after many switches.
    ref = tollgate.Matcher(default)
    assert ref.accept_token(ds[0][0])
    for tok in ds[0][1:]:
        assert np.array_equal(mask(fork, vocab), mask(ref, vocab))
        assert fork.accept_token(tok) and ref.accept_token(tok)
    assert fork.is_accepting()
    assert steps > 200


def test_negative_generation_budget_is_refused(llama3):
    with pytest.raises(TypeError):
        tollgate.Compiler(llama3, generation_bytes=-1)
