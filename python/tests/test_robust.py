"""Robustness from Python: bitmasks of the wrong size, dtype, layout or writability are a
ValueError/TypeError naming the problem (never a write out of bounds)."""

import numpy as np
import pytest

import tollgate



def tiny():
    return tollgate.TokenizerInfo.from_tokens(
        [b"a", b"b", b"ab", b"<eos>"], eos_ids=[3], vocab_size=70, special_ids=[3]
    )


def test_bitmask_of_wrong_size_dtype_or_layout_is_refused():
    m = tollgate.Matcher(tollgate.Compiler(tiny()).compile_regex("(a|b)+"))
    words = tollgate.bitmask_words(70)  # 3
    bad = [
        np.zeros(words - 1, dtype=np.int32),                 # too short
        np.zeros(words + 1, dtype=np.int32),                 # too long
        np.zeros((2, words - 1), dtype=np.int32),            # rows too short
        np.zeros((1, 1, words), dtype=np.int32),             # 3-D
        np.zeros(words, dtype=np.int64),                     # wrong dtype, same element count
        np.zeros(words, dtype=np.float32),                   # float of the right itemsize
        np.zeros(words * 2, dtype=np.int16),                 # right bytes, wrong dtype
        np.zeros((words, 2), dtype=np.int32).T,              # not C-contiguous
        np.zeros((2, words * 2), dtype=np.int32)[:, ::2],    # strided rows
    ]
    for arr in bad:
        with pytest.raises((ValueError, TypeError)):
            m.fill_next_token_bitmask(arr)
    ro = np.zeros(words, dtype=np.int32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        m.fill_next_token_bitmask(ro)
    for row in (-1, 2, 1 << 40):
        with pytest.raises((ValueError, OverflowError, TypeError)):
            m.fill_next_token_bitmask(tollgate.allocate_token_bitmask(2, 70), row)
    # The right one works, and writes exactly its row.
    bm = np.full((2, words), -1, dtype=np.int32)
    m.fill_next_token_bitmask(bm, 1)
    assert (bm[0] == -1).all()
    assert bm[1, 0] == 0b111 and (bm[1, 1:] == 0).all()  # a, b, ab
    torch = pytest.importorskip("torch")
    with pytest.raises((ValueError, TypeError)):
        m.fill_next_token_bitmask(torch.zeros(words, dtype=torch.int64))


