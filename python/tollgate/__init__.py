"""tollgate — grammars compiled to per-step token masks for constrained decoding.

    import numpy as np, tollgate
    tok = tollgate.TokenizerInfo.from_file("../shared/tokenizers/llama3")
    compiled = tollgate.Compiler(tok).compile_regex(r"\\d{4}-\\d{2}-\\d{2}")
    matcher = tollgate.Matcher(compiled)
    bitmask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
    matcher.fill_next_token_bitmask(bitmask)
    tollgate.apply_token_bitmask_inplace(logits, bitmask)

Run with Debian's /usr/bin/python3 (python3-numpy); the module is built into build/python.
"""
import numpy as _np

from ._core import (  # noqa: F401
    CompiledGrammar,
    Compiler,
    LeadingSpace,
    Matcher,
    TokenizerInfo,
    TollgateError,
)
from ._core import apply_token_bitmask_inplace as _apply_inplace

__all__ = [
    "CompiledGrammar",
    "Compiler",
    "LeadingSpace",
    "Matcher",
    "TokenizerInfo",
    "TollgateError",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "bitmask_words",
]


def bitmask_words(vocab_size: int) -> int:
    """int32 words per bitmask row: ceil(vocab_size / 32)."""
    return (int(vocab_size) + 31) // 32


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> _np.ndarray:
    """A (batch_size, ceil(vocab_size/32)) int32 bitmask with every token allowed."""
    return _np.full((int(batch_size), bitmask_words(vocab_size)), -1, dtype=_np.int32)


def apply_token_bitmask_inplace(logits, bitmask, vocab_size: int = 0):
    """Set disallowed logits to -inf in place. logits: float32 numpy array (V,) or (B, V)."""
    if not isinstance(logits, _np.ndarray) or logits.dtype != _np.float32:
        raise TypeError("logits must be a float32 numpy array")
    if not logits.flags.c_contiguous:
        raise ValueError("logits must be C-contiguous")
    _apply_inplace(logits, _np.ascontiguousarray(bitmask, dtype=_np.int32), int(vocab_size))
    return logits
