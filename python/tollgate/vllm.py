"""tollgate.vllm — a structured-output backend with the shape of vLLM's (v1) backends.

Takes: a request's structured-output type and spec as vLLM's scheduler hands them over
(``compile_grammar(request_type, grammar_spec)``: json, json_object, regex, grammar (GBNF or Lark),
choice), and the TokenizerInfo of the model's tokenizer with the model's vocabulary size. Gives: a
grammar object per request with the methods vLLM's StructuredOutputManager and scheduler call —
``accept_tokens(request_id, tokens)``, ``validate_tokens(tokens)``, ``rollback(n)``,
``fill_bitmask(bitmask, batch_index)``, ``is_terminated()``, ``reset()`` — and the backend's
``allocate_token_bitmask(max_num_seqs)`` and ``destroy()``.

Compilation goes through the Compiler's compiled-grammar cache and ``compile_async``, structural tags
(tool calls) too (kind 'tool_calls'): ``compile_grammar``
returns at once; ``grammar.is_ready()`` says, without blocking, whether the compilation has finished,
so a scheduler keeps stepping the other requests meanwhile (vLLM checks readiness before it schedules a
structured request). The first call that needs the automaton on a grammar that is not ready waits for
it. A grammar that does not compile raises tollgate.GrammarError from that call (and ``is_ready()`` is
True: the request can be failed). vLLM itself is not needed (nor imported); docs/serving.md shows how
a vLLM build would register it. The matcher keeps ``max_rollback_tokens`` tokens of history, the bound
of ``rollback`` (speculative decoding rolls back at most the draft length).
"""
import enum
import json
import threading
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import BatchMatcher, CompiledGrammar, Compiler, Matcher, TokenizerInfo, bitmask_words

__all__ = ["StructuredOutputOptions", "TollgateBackend", "TollgateGrammar"]


class StructuredOutputOptions(enum.Enum):
    """vLLM's request types (vllm.v1.structured_output.backend_types.StructuredOutputOptions)."""

    JSON = "json"
    JSON_OBJECT = "json_object"
    REGEX = "regex"
    GRAMMAR = "grammar"
    CHOICE = "choice"
    STRUCTURAL_TAG = "structural_tag"


def _request_kind(request_type: Any) -> StructuredOutputOptions:
    """vLLM's enum member (matched by name), ours, or its name/value as a string."""
    if isinstance(request_type, StructuredOutputOptions):
        return request_type
    name = getattr(request_type, "name", request_type)
    if isinstance(name, str):
        for option in StructuredOutputOptions:
            if name.lower() in (option.name.lower(), option.value):
                return option
    raise ValueError(f"unknown structured output request type {request_type!r}; expected one of "
                     f"{[o.value for o in StructuredOutputOptions]}")


_REGEX_SPECIAL = set("\\.^$|?*+()[]{}/")


def _regex_literal(text: str) -> str:
    """`text` as a regex that matches exactly it (tollgate's regex dialect)."""
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)


def _tool_call_args(grammar_spec: str) -> Dict[str, Any]:
    """vLLM's structural tag ({"structures": [{"begin", "schema", "end"}...], "triggers": [...]}) as
    Compiler.compile_tool_calls arguments."""
    spec = json.loads(grammar_spec)
    if not isinstance(spec, dict) or not isinstance(spec.get("structures"), list) or not spec["structures"]:
        raise ValueError('a structural_tag request needs {"structures": [{"begin", "schema", "end"}, ...], '
                         '"triggers": [...]}')
    tags = [(s["begin"], s.get("schema", {"type": "object"}), s.get("end", "")) for s in spec["structures"]]
    return {"tags": tags, "triggers": list(spec.get("triggers") or [])}


def _choice_regex(grammar_spec: Union[str, Sequence[str]]) -> str:
    choices = json.loads(grammar_spec) if isinstance(grammar_spec, str) else list(grammar_spec)
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise ValueError("a choice request needs a non-empty JSON list of strings, e.g. '[\"yes\", \"no\"]'")
    return "(" + "|".join(_regex_literal(c) for c in choices) + ")"


class TollgateGrammar:
    """One request's grammar state (vLLM's StructuredOutputGrammar): a Matcher over a compiled grammar
    that may still be compiling. Not thread-safe per object (vLLM drives each from one thread)."""

    def __init__(self, future: Any, max_rollback_tokens: int, request_type: StructuredOutputOptions,
                 grammar_spec: str, max_tokens: Optional[int] = None) -> None:
        self.request_type = request_type
        self.max_tokens = max_tokens
        self.grammar_spec = grammar_spec
        self.num_processed_tokens = 0
        self._future = future
        self._max_rollback = max_rollback_tokens
        self._matcher: Optional[Matcher] = None
        self._terminated = False

    # -- readiness (the scheduler's non-blocking check) --
    def is_ready(self) -> bool:
        """True once the grammar has compiled (or failed to: the next call raises GrammarError). Never blocks."""
        return self._matcher is not None or self._future.done()

    def wait(self, timeout: Optional[float] = None) -> None:
        """Block until the grammar is compiled (TimeoutError after `timeout` s; GrammarError if it does not compile)."""
        self._get(timeout)

    def cancel(self) -> None:
        """The request went away before its grammar compiled: stop the compilation unless others wait on it."""
        if self._matcher is None:
            self._future.cancel()

    @property
    def compiled_grammar(self) -> CompiledGrammar:
        """The CompiledGrammar (waits for it)."""
        return self._get().compiled_grammar

    @property
    def matcher(self) -> Matcher:
        """The underlying tollgate.Matcher (waits for the grammar)."""
        return self._get()

    def _get(self, timeout: Optional[float] = None) -> Matcher:
        if self._matcher is None:
            m = Matcher(self._future.result(timeout), max_rollback_tokens=self._max_rollback)
            if self.max_tokens is not None:
                # max_tokens counts the EOS token, the budget does not. A grammar whose shortest output is
                # longer gets its shortest outputs (Matcher.set_token_budget refuses less).
                shortest = m.shortest_completion_bytes()
                m.set_token_budget(max(self.max_tokens - 1, shortest, 0))
            self._matcher = m
        return self._matcher

    # -- vLLM's StructuredOutputGrammar --
    def accept_tokens(self, request_id: str, tokens: Sequence[int]) -> bool:
        """Advance by `tokens` (the step's accepted draft tokens and the sampled one). False, and the
        tokens before the refused one stay accepted, when one is refused or the grammar had terminated."""
        if self._terminated:
            return False
        m = self._get()
        for t in tokens:
            if not m.accept_token(int(t)):
                self._terminated = m.is_terminated()
                return False
            self.num_processed_tokens += 1
        self._terminated = m.is_terminated()
        return True

    def validate_tokens(self, tokens: Sequence[int]) -> List[int]:
        """The longest prefix of `tokens` the grammar accepts from here; the state is unchanged (the
        scheduler truncates a speculative draft to it)."""
        if self._terminated:
            return []
        tokens = [int(t) for t in tokens]
        return tokens[: self._get().validate_tokens(tokens)]

    def rollback(self, num_tokens: int) -> None:
        """Undo the last `num_tokens` accepted tokens (at most max_rollback_tokens)."""
        if num_tokens <= 0:
            return
        m = self._get()
        m.rollback(num_tokens)
        self.num_processed_tokens -= num_tokens
        self._terminated = m.is_terminated()

    def fill_bitmask(self, bitmask: Any, batch_index: int) -> None:
        """Write the allowed next tokens into row `batch_index` of `bitmask` (int32, a torch CPU tensor or a
        numpy array, ceil(vocab_size / 32) words per row). A terminated grammar allows only EOS."""
        self._get().fill_next_token_bitmask(bitmask, batch_index)

    def is_terminated(self) -> bool:
        """True once an EOS token was accepted."""
        return self._terminated

    def reset(self) -> None:
        """Back to the start (no tokens accepted)."""
        self._get().reset()
        self.num_processed_tokens = 0
        self._terminated = False


class TollgateBackend:
    """A structured-output backend with vLLM's v1 shape (StructuredOutputBackend).

    TollgateBackend(vllm_config=None, tokenizer=None, vocab_size=None, *, tokenizer_info=None,
    compiler=None, any_whitespace=True, max_rollback_tokens=64, threads=1):
    tokenizer is a TokenizerInfo or the path of a tokenizer.json (or its directory); vocab_size is the
    model's (the logits' width, which may exceed the tokenizer's: the bitmask rows cover it). A
    compiler (made for the same TokenizerInfo) may be given to share its compiled-grammar cache (and
    its Redis level) between backends;
    otherwise one is made with `threads` compile threads. any_whitespace=False compiles JSON Schemas
    without whitespace (vLLM's disable-any-whitespace). vllm_config is accepted and ignored.
    """

    def __init__(self, vllm_config: Any = None, tokenizer: Any = None, vocab_size: Optional[int] = None, *,
                 tokenizer_info: Optional[TokenizerInfo] = None, compiler: Optional[Compiler] = None,
                 any_whitespace: bool = True, max_rollback_tokens: int = 64, threads: int = 1) -> None:
        self.vllm_config = vllm_config
        if tokenizer_info is not None or isinstance(tokenizer, TokenizerInfo):
            tok = tokenizer_info if tokenizer_info is not None else tokenizer
        elif isinstance(tokenizer, str):
            tok = TokenizerInfo.from_file(tokenizer, vocab_size=vocab_size or 0)
        else:
            raise ValueError("TollgateBackend needs tokenizer_info= (a TokenizerInfo) or tokenizer= (a TokenizerInfo "
                             "or the path of a tokenizer.json)")
        if vocab_size is not None and tok.vocab_size != vocab_size:
            raise ValueError(f"the tokenizer covers {tok.vocab_size} ids but the model's vocab_size is {vocab_size}: "
                             f"load it with TokenizerInfo.from_file(path, vocab_size={vocab_size})")
        self.tokenizer_info: TokenizerInfo = tok
        self.vocab_size: int = tok.vocab_size
        self.compiler: Compiler = compiler if compiler is not None else Compiler(tok, threads=threads)
        self.any_whitespace = any_whitespace
        self.max_rollback_tokens = max_rollback_tokens
        self._pending: List[TollgateGrammar] = []
        self._lock = threading.Lock()

    def compile_grammar(self, request_type: Any, grammar_spec: str, max_tokens: Optional[int] = None) -> TollgateGrammar:
        """Start compiling a request's grammar (through the compiled-grammar cache, on another thread) and
        return its grammar object at once. request_type: vLLM's StructuredOutputOptions (or its name):
        json (a JSON Schema), json_object (any JSON object), regex, grammar (GBNF, or Lark when it has no
        '::='), choice (a JSON list of strings), structural_tag (vLLM's {"structures": [{"begin", "schema",
        "end"}], "triggers": [...]}: tool calls inside free text). Raises ValueError for an unknown type or a
        malformed choice list or structural tag; grammar errors are raised by the grammar object once compiled (GrammarError).
        max_tokens (an extension; vLLM's SamplingParams.max_tokens, the EOS token counted): the masks then keep
        only tokens after which the grammar can still be completed in time (Matcher.set_token_budget), so a
        request that runs to max_tokens ends with a complete output; validate_tokens honours it too."""
        kind = _request_kind(request_type)
        ws = "flexible" if self.any_whitespace else "compact"
        c = self.compiler
        if kind is StructuredOutputOptions.JSON:
            future = c.compile_async(grammar_spec, "json_schema", whitespace=ws)
        elif kind is StructuredOutputOptions.JSON_OBJECT:
            future = c.compile_async('{"type": "object"}', "json_schema", whitespace=ws)
        elif kind is StructuredOutputOptions.REGEX:
            future = c.compile_async(grammar_spec, "regex")
        elif kind is StructuredOutputOptions.GRAMMAR:
            future = c.compile_async(grammar_spec, "gbnf" if "::=" in grammar_spec else "lark")
        elif kind is StructuredOutputOptions.CHOICE:
            future = c.compile_async(_choice_regex(grammar_spec), "regex")
        else:  # STRUCTURAL_TAG: tool calls inside free text
            future = c.compile_async(_tool_call_args(grammar_spec), "tool_calls", whitespace=ws)
        grammar = TollgateGrammar(future, self.max_rollback_tokens, kind, grammar_spec, max_tokens)
        with self._lock:
            self._pending = [g for g in self._pending if not g.is_ready()] + [grammar]
        return grammar

    def allocate_token_bitmask(self, max_num_seqs: int) -> Any:
        """An int32 bitmask of shape (max_num_seqs, ceil(vocab_size / 32)), every token allowed: a torch
        tensor when torch is installed (as vLLM expects), else a numpy array."""
        words = bitmask_words(self.vocab_size)
        try:
            import torch
        except ImportError:  # pragma: no cover - torch is installed on the project's machines
            return np.full((max_num_seqs, words), -1, dtype=np.int32)
        return torch.full((max_num_seqs, words), -1, dtype=torch.int32)

    def fill_bitmasks(self, grammars: Sequence[TollgateGrammar], bitmask: Any, indices: Sequence[int]) -> None:
        """Fill the rows `indices` of `bitmask` for `grammars` at once on the process-wide BatchMatcher pool
        (the GIL released): the batched form of calling fill_bitmask per request."""
        if len(grammars) != len(indices):
            raise ValueError(f"{len(grammars)} grammars for {len(indices)} rows")
        array = bitmask.numpy() if hasattr(bitmask, "numpy") else bitmask  # a CPU tensor shares its memory
        BatchMatcher.fill_next_token_bitmask([g.matcher for g in grammars], array, list(indices))

    def destroy(self) -> None:
        """Cancel the compilations still pending (they stop unless another request waits on the same grammar)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for g in pending:
            g.cancel()

    def stats(self) -> Dict[str, int]:
        """The compiled-grammar cache's counters (Compiler.cache_stats)."""
        return dict(self.compiler.cache_stats())
