import numpy as np
import pytest

import tollgate


def tiny():
    return tollgate.TokenizerInfo.from_tokens(
        [b"a", b"b", b"ab", b"ba", b"c", b"abc", b"<eos>"], eos_ids=[6], vocab_size=40, special_ids=[6]
    )


def allowed(bitmask, vocab):
    bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[:vocab]
    return list(np.nonzero(bits)[0])


def test_mask_accept_rollback_on_tiny_vocab():
    tok = tiny()
    compiled = tollgate.Compiler(tok).compile_regex("(ab)+c")
    m = tollgate.Matcher(compiled)
    bm = tollgate.allocate_token_bitmask(2, tok.vocab_size)
    assert bm.shape == (2, 2) and bm.dtype == np.int32
    m.fill_next_token_bitmask(bm, 1)
    assert allowed(bm[1], 40) == [0, 2, 5]
    assert not m.accept_token(1)
    assert m.accept_token(5)  # "abc"
    assert m.is_accepting()
    m.fill_next_token_bitmask(bm, 0)
    assert allowed(bm[0], 40) == [6]
    assert m.accept_token(6) and m.is_terminated()
    m.rollback(2)
    assert m.num_accepted == 0
    assert m.jump_forward() == b"ab"  # (ab)+c forces "ab" first
    assert m.accept_bytes(b"ab")
    assert m.jump_forward() == b""
    m.reset()
    assert m.accept_string("ababc") and m.is_accepting()


def test_apply_token_bitmask_inplace_numpy():
    vocab = 100
    logits = np.arange(vocab, dtype=np.float32)
    bm = np.zeros(tollgate.bitmask_words(vocab), dtype=np.int32)
    bm[0] = 0b1011
    tollgate.apply_token_bitmask_inplace(logits, bm)
    assert logits[0] == 0 and logits[1] == 1 and logits[3] == 3
    assert np.isneginf(logits[2]) and np.isneginf(logits[4:]).all()
    batch = np.ones((2, vocab), dtype=np.float32)
    bm2 = tollgate.allocate_token_bitmask(2, vocab)
    bm2[1, :] = 0
    tollgate.apply_token_bitmask_inplace(batch, bm2)
    assert (batch[0] == 1).all() and np.isneginf(batch[1]).all()
    with pytest.raises(ValueError):  # float64
        tollgate.apply_token_bitmask_inplace(np.zeros(vocab), bm)


def test_bad_regex_raises_value_error_with_position():
    compiler = tollgate.Compiler(tiny())
    with pytest.raises(ValueError) as info:
        compiler.compile_regex("ab(c")
    err = info.value
    assert isinstance(err, tollgate.TollgateError)
    assert err.column >= 1
    assert "^" in str(err)
    with pytest.raises(tollgate.TollgateError) as info:
        compiler.compile_regex(r"(a)\1")
    assert "backreference" in str(info.value).lower()


def test_bad_bitmask_shapes_raise():
    tok = tiny()
    m = tollgate.Matcher(tollgate.Compiler(tok).compile_regex("a+"))
    with pytest.raises(ValueError):
        m.fill_next_token_bitmask(np.zeros((1, 5), dtype=np.int32))
    with pytest.raises(ValueError):
        m.fill_next_token_bitmask(np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError):
        m.fill_next_token_bitmask(tollgate.allocate_token_bitmask(1, 40), 3)


def test_llama3_date_regex(llama3):
    compiled = tollgate.Compiler(llama3).compile_regex(r"\d{4}-\d{2}-\d{2}")
    assert compiled.stats["dfa_states"] == 11
    m = tollgate.Matcher(compiled)
    bm = tollgate.allocate_token_bitmask(1, llama3.vocab_size)
    m.fill_next_token_bitmask(bm)
    ids = allowed(bm[0], llama3.vocab_size)
    # Llama-3 has every 1-3 digit number as a token; the first step allows exactly those.
    assert len(ids) == 1110
    assert all(llama3.token_bytes(i).isdigit() for i in ids)
    logits = np.zeros(llama3.vocab_size, dtype=np.float32)
    tollgate.apply_token_bitmask_inplace(logits, bm)
    assert np.isfinite(logits).sum() == 1110
