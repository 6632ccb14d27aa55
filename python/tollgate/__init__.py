"""tollgate — grammars compiled to per-step token masks for constrained decoding.

    import numpy as np, tollgate
    tok = tollgate.TokenizerInfo.from_tokenizer_json("../shared/tokenizers/llama3")
    compiler = tollgate.Compiler(tok)
    compiled = compiler.compile_regex(r"\\d{4}-\\d{2}-\\d{2}")
    # or compile_grammar(gbnf_text), builtin_json(), compile_json_schema({"type": "object", ...})
    matcher = tollgate.Matcher(compiled)
    bitmask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
    matcher.fill_next_token_bitmask(bitmask)
    tollgate.apply_token_bitmask_inplace(logits, bitmask)   # numpy or torch CPU, float32/16, bfloat16
    matcher.accept_token(next_token_id)

With transformers: tollgate.hf.LogitsProcessor. See docs/python.md. Run with Debian's /usr/bin/python3.
"""
import numpy as _np

from ._core import (  # noqa: F401
    BatchMatcher,
    CompiledGrammar,
    CompileWarning,
    Compiler,
    GrammarError,
    GrammarFuture,
    LeadingSpace,
    Matcher,
    TokenizerInfo,
    TollgateError,
    apply_token_bitmask_inplace,
)
from ._data import data_dir, tokenizer_path, user_cache_dir  # noqa: F401  (where the tokenizers are)
from .tool_calls import tool_call_tags  # noqa: F401  (tags for Compiler.compile_tool_calls)

__all__ = [
    "BatchMatcher",
    "CompiledGrammar",
    "CompileWarning",
    "Compiler",
    "GrammarError",
    "GrammarFuture",
    "LeadingSpace",
    "Matcher",
    "TokenizerInfo",
    "TollgateError",
    "allocate_token_bitmask",
    "apply_token_bitmask_inplace",
    "bitmask_words",
    "data_dir",
    "tokenizer_path",
    "tool_call_tags",
    "user_cache_dir",
]


def bitmask_words(vocab_size: int) -> int:
    """int32 words per bitmask row: ceil(vocab_size / 32)."""
    return (int(vocab_size) + 31) // 32


def allocate_token_bitmask(batch_size: int, vocab_size: int) -> _np.ndarray:
    """A numpy int32 array of shape (batch_size, ceil(vocab_size / 32)) with every token allowed.

    Fill its rows with Matcher.fill_next_token_bitmask(bitmask, row) and apply it with
    apply_token_bitmask_inplace; torch.from_numpy(bitmask) shares its memory when a tensor is needed."""
    if int(batch_size) < 1 or int(vocab_size) < 1:
        raise ValueError(f"allocate_token_bitmask needs batch_size >= 1 and vocab_size >= 1, "
                         f"got ({batch_size}, {vocab_size})")
    return _np.full((int(batch_size), bitmask_words(vocab_size)), -1, dtype=_np.int32)




# ---------------------------------------------------------------------------------------------
# The reference RetNet and constrained generation.
import functools as _functools
import os as _os
from dataclasses import dataclass as _dataclass, field as _field

from ._core import Encoder, RetNet, RetNetState  # noqa: E402,F401
from ._core import _generate

__all__ += ["Encoder", "RetNet", "RetNetState", "GenerationResult", "generate", "default_model_dir"]


def default_model_dir() -> str:
    """$TOLLGATE_MODEL_DIR, else models/retnet of the source tree this package was built from."""
    env = _os.environ.get("TOLLGATE_MODEL_DIR")
    if env:
        return env
    from . import _paths

    return _paths.MODEL_DIR


@_functools.lru_cache(maxsize=4)
def _load(model_dir: str):
    model = RetNet.load(_os.path.join(model_dir, "model.safetensors"))
    encoder = Encoder(_os.path.join(model_dir, "tokenizer.json"))
    return model, encoder, Compiler(encoder.tokenizer_info)


@_dataclass
class GenerationResult:
    """What generate() gives: the text, its token ids, why it stopped ("eos", "max_tokens",
    "grammar_complete", "no_allowed_token"), whether the text is a complete match of the constraint,
    and timing statistics."""

    text: str
    token_ids: list
    stop_reason: str
    grammar_accepting: bool
    stats: dict = _field(default_factory=dict)


def generate(prompt: str = "", *, regex: str = None, grammar: str = None, grammar_format: str = "gbnf",
             json: bool = False, json_schema=None, schema_options: dict = None, model_dir: str = None,
             max_tokens: int = 256, temperature: float = 1.0, top_p: float = 1.0, top_k: int = 0, seed: int = 0,
             jump_forward: bool = True, length_budget: bool = True) -> GenerationResult:
    """Generate text with the reference RetNet, optionally constrained by one of: a regex, a grammar
    text (GBNF/Lark/EBNF, grammar_format), the built-in JSON grammar (json=True) or a JSON Schema
    (json_schema=, JSON text or a dict; schema_options= are keyword arguments of
    Compiler.compile_json_schema, e.g. {"whitespace": "compact"}).

    The text is a complete match of the constraint when result.grammar_accepting is true (always so
    when stop_reason is "eos"). With length_budget (the default) the matcher is told how many of
    max_tokens are left (Matcher.set_token_budget), so a constrained output is complete even when
    it stops at max_tokens; a constraint whose shortest match is longer than max_tokens bytes raises
    ValueError before anything is generated. With length_budget=False a "max_tokens" stop may leave
    an unfinished prefix."""
    given = [name for name, x in (("regex=", regex), ("grammar=", grammar), ("json=True", json or None),
                                  ("json_schema=", json_schema)) if x is not None]
    if len(given) > 1:
        raise ValueError("give at most one of regex=, grammar=, json=True, json_schema= (got " +
                         ", ".join(given) + ")")
    if schema_options is not None and json_schema is None:
        raise ValueError("schema_options= needs json_schema=")
    model, encoder, compiler = _load(model_dir or default_model_dir())
    compiled = None
    if regex is not None:
        compiled = compiler.compile_regex(regex)
    elif grammar is not None:
        compiled = compiler.compile_grammar(grammar, grammar_format)
    elif json:
        compiled = compiler.builtin_json()
    elif json_schema is not None:
        compiled = compiler.compile_json_schema(json_schema, **(schema_options or {}))
    out = _generate(model, encoder, compiled, prompt, max_tokens, temperature, top_p, top_k, seed, jump_forward,
                    length_budget)
    if out["stop_reason"] == "budget_too_small":
        shortest = out["shortest_bytes"]
        raise ValueError("the constraint matches no string" if shortest < 0 else
                         f"the constraint's shortest match is {shortest} bytes, longer than max_tokens={max_tokens}; "
                         "raise max_tokens or pass length_budget=False")
    return GenerationResult(text=out["text"].decode("utf-8", errors="replace"), token_ids=list(out["token_ids"]),
                            stop_reason=out["stop_reason"], grammar_accepting=out["grammar_accepting"],
                            stats=dict(out["stats"]))
