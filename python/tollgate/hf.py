"""tollgate.hf — constrained generation with Hugging Face transformers.

Takes compiled grammars (one for the whole batch, or one per row) and the TokenizerInfo they were
compiled for; gives a LogitsProcessor for ``model.generate(..., logits_processor=[processor])``
that masks each row's scores with its own Matcher. transformers is optional: when it is installed
the class is a ``transformers.LogitsProcessor``, otherwise a plain object with the same protocol.
"""
from typing import Any, List, Optional, Sequence, Union

from . import CompiledGrammar, Matcher, TokenizerInfo, allocate_token_bitmask, apply_token_bitmask_inplace

try:  # pragma: no cover - transformers is not installable on the project's machines
    from transformers import LogitsProcessor as _Base  # type: ignore
except Exception:  # noqa: BLE001 - any import failure means: no transformers
    _Base = object

__all__ = ["LogitsProcessor"]


class LogitsProcessor(_Base):  # type: ignore[misc,valid-type]
    """A transformers logits processor that keeps every row of a batch inside its grammar.

    LogitsProcessor(compiled_grammars, tokenizer_info): compiled_grammars is one CompiledGrammar
    (used for every row) or a list with one per row. Called as transformers' generate loop does,
    ``processor(input_ids, scores) -> scores`` with input_ids a LongTensor (batch, seq) and scores a
    FloatTensor (batch, vocab): on the first call it makes one Matcher per row (the prompt is not
    fed to it); on every later call it first advances each row's matcher with that row's newest
    token, then masks the row's scores in place. A row whose matcher has terminated (its EOS was
    accepted) is left alone, whatever padding transformers appends to it. Use one processor per
    generate call (or call reset()). Raises ValueError when a row's newest token is not allowed by
    its grammar (the scores were not masked by this processor).
    """

    def __init__(self, compiled_grammars: Union[CompiledGrammar, Sequence[CompiledGrammar]],
                 tokenizer_info: TokenizerInfo) -> None:
        grammars = [compiled_grammars] if isinstance(compiled_grammars, CompiledGrammar) else list(compiled_grammars)
        if not grammars:
            raise ValueError("LogitsProcessor needs at least one compiled grammar")
        for g in grammars:
            if g.vocab_size != tokenizer_info.vocab_size:
                raise ValueError(f"a compiled grammar has vocab_size {g.vocab_size}, the tokenizer_info "
                                 f"{tokenizer_info.vocab_size}: compile the grammars for this tokenizer")
        self.compiled_grammars: List[CompiledGrammar] = grammars
        self.tokenizer_info = tokenizer_info
        self.matchers: List[Matcher] = []
        self._bitmask: Any = None
        self._started = False

    def reset(self) -> None:
        """Forget the matchers, for a new generate call."""
        self.matchers = []
        self._bitmask = None
        self._started = False

    def _start(self, batch: int) -> None:
        if len(self.compiled_grammars) == 1:
            grammars = self.compiled_grammars * batch
        elif len(self.compiled_grammars) == batch:
            grammars = self.compiled_grammars
        else:
            raise ValueError(f"{len(self.compiled_grammars)} compiled grammars for a batch of {batch} rows: "
                             f"give one grammar, or one per row")
        self.matchers = [Matcher(g) for g in grammars]
        self._bitmask = allocate_token_bitmask(batch, self.tokenizer_info.vocab_size)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        """Advance each row's matcher with its newest token (from the second call on) and mask the
        row's scores in place; returns scores."""
        batch = int(input_ids.shape[0])
        if int(scores.shape[0]) != batch:
            raise ValueError(f"scores have {int(scores.shape[0])} rows, input_ids {batch}")
        if not self._started:
            self._start(batch)
            self._started = True
        else:
            if batch != len(self.matchers):
                raise ValueError(f"the batch changed from {len(self.matchers)} to {batch} rows; "
                                 f"use a new LogitsProcessor (or reset()) per generate call")
            newest = input_ids[:, -1].tolist()
            for row, (matcher, token) in enumerate(zip(self.matchers, newest)):
                if matcher.is_terminated():
                    continue
                if not matcher.accept_token(int(token)):
                    raise ValueError(f"row {row}: token {int(token)} is not allowed by its grammar")
        live: List[int] = []
        for row, matcher in enumerate(self.matchers):
            if not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self._bitmask, row)
                live.append(row)
        if live:
            apply_token_bitmask_inplace(scores, self._bitmask, live if len(live) < batch else None)
        return scores

    def is_terminated(self, row: Optional[int] = None) -> bool:
        """Whether row `row` (or, with None, every row) has finished its grammar."""
        if row is not None:
            return self.matchers[row].is_terminated()
        return bool(self.matchers) and all(m.is_terminated() for m in self.matchers)
