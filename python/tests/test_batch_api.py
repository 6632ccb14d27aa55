"""BatchMatcher and speculative decoding from Python: batch rows equal each matcher's own mask
(with an instance's pool, the class-level default pool, and explicit indices), and do not depend
on the thread count; validate_tokens and draft masks leave the state unchanged; fork and rollback.
Data: MaskBench-dev documents (Llama-3 token ids) through the built-in JSON grammar."""
import json

import numpy as np
import pytest

import tollgate
from conftest import corpus_path


def maskbench_docs(shared, n, stride=9):
    files = sorted(corpus_path(shared, "maskbench-dev").glob("*.json"))
    docs = []
    for f in files[::stride]:
        for t in json.loads(f.read_text())["tests"]:
            if t.get("valid") and "tokens_llama3" in t:
                docs.append(t["tokens_llama3"])
                break
        if len(docs) == n:
            break
    return docs


def own_mask(m, vocab):
    bm = tollgate.allocate_token_bitmask(1, vocab)
    m.fill_next_token_bitmask(bm)
    return bm[0].copy()


@pytest.fixture(scope="module")
def grammar(llama3):
    return tollgate.Compiler(llama3, mask_cache_bytes=8 << 20, boundary_cache_bytes=8 << 20,
                             walk_cache_bytes=4 << 20).builtin_json()


def test_batch_rows_equal_own_masks(llama3, shared, grammar):
    docs = [d for d in maskbench_docs(shared, 200) if len(d) >= 30][:12]
    assert len(docs) == 12
    vocab = llama3.vocab_size
    results = []
    for threads in (1, 2):
        pool = tollgate.BatchMatcher(threads=threads)
        assert pool.threads == threads
        ms = [tollgate.Matcher(grammar) for _ in docs]
        bm = tollgate.allocate_token_bitmask(len(docs), vocab)
        rows = []
        for step in range(30):
            pool.fill_next_token_bitmask(ms, bm)
            rows.append(bm.copy())
            for i in (0, 5, 11):
                assert np.array_equal(bm[i], own_mask(ms[i], vocab))
            for m, d in zip(ms, docs):
                assert m.accept_token(d[step])
        results.append(rows)
    assert all(np.array_equal(a, b) for a, b in zip(results[0], results[1]))
    # On the class: the process-wide pool; explicit row indices (reversed).
    a, b = tollgate.Matcher(grammar), tollgate.Matcher(grammar)
    assert a.accept_token(docs[0][0])
    bm = tollgate.allocate_token_bitmask(2, vocab)
    tollgate.BatchMatcher.fill_next_token_bitmask([a, b], bm, [1, 0])
    assert np.array_equal(bm[0], own_mask(b, vocab))
    assert np.array_equal(bm[1], own_mask(a, vocab))
    with pytest.raises(tollgate.TollgateError):
        tollgate.BatchMatcher.fill_next_token_bitmask([a, b], tollgate.allocate_token_bitmask(1, vocab))


def test_speculative(llama3, shared, grammar):
    vocab = llama3.vocab_size
    doc = next(d for d in maskbench_docs(shared, 400, 1) if len(d) >= 80)
    m = tollgate.Matcher(grammar, max_rollback_tokens=64)
    assert m.validate_tokens(doc) == len(doc)
    assert m.num_accepted == 0
    for t in doc[:10]:
        assert m.accept_token(t)
    draft = doc[10:18]
    rows = tollgate.allocate_token_bitmask(9, vocab)
    assert m.fill_next_token_bitmask_draft(draft, rows) == 8
    assert m.num_accepted == 10
    seq = m.fork()
    for i in range(9):
        assert np.array_equal(rows[i], own_mask(seq, vocab))
        if i < 8:
            assert seq.accept_token(draft[i])
    # Accept the whole draft, the verifier keeps 3: roll back 5; then a 32-token rollback.
    for t in draft:
        assert m.accept_token(t)
    m.rollback(5)
    ref = tollgate.Matcher(grammar)
    for t in doc[:13]:
        assert ref.accept_token(t)
    assert np.array_equal(own_mask(m, vocab), own_mask(ref, vocab))
    for t in doc[13:45]:
        assert m.accept_token(t)
    m.rollback(32)
    assert np.array_equal(own_mask(m, vocab), own_mask(ref, vocab))
