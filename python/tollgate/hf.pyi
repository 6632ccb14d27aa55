# Type stubs of tollgate.hf (hf.py).
from typing import Any, List, Optional, Sequence, Union

from . import CompiledGrammar, Matcher, TokenizerInfo

class LogitsProcessor:
    compiled_grammars: List[CompiledGrammar]
    tokenizer_info: TokenizerInfo
    matchers: List[Matcher]
    def __init__(self, compiled_grammars: Union[CompiledGrammar, Sequence[CompiledGrammar]],
                 tokenizer_info: TokenizerInfo) -> None: ...
    def reset(self) -> None: ...
    def __call__(self, input_ids: Any, scores: Any) -> Any: ...
    def is_terminated(self, row: Optional[int] = ...) -> bool: ...
