"""Compiler(generation_bytes=...): the Earley generation budget (engine/cfg_backend.hpp) from Python.
With a 1-byte budget every new matcher starts a fresh generation; its masks along maskbench-dev
documents equal those of a grammar with the default budget, and forks made before the switch keep
working. A negative budget is refused."""
import numpy as np
import pytest

import tollgate
from test_batch_api import maskbench_docs, own_mask as mask


def test_masks_equal_with_a_tiny_generation_budget(llama3, shared):
    tiny = tollgate.Compiler(llama3, generation_bytes=1).builtin_json()
    default = tollgate.Compiler(llama3).builtin_json()
    vocab = llama3.vocab_size
    ds = maskbench_docs(shared, 8, stride=23)
    assert len(ds) == 8
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
    assert steps > 150


def test_negative_generation_budget_is_refused(llama3):
    with pytest.raises(TypeError):
        tollgate.Compiler(llama3, generation_bytes=-1)
