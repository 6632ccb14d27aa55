# Type stubs of the tollgate package (python/tollgate/__init__.py); the names are kept equal to the module's
# by python/tests/test_python_package.py, and python3 -m mypy --strict checks an example against them.
import pathlib
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._core import (
    BatchMatcher as BatchMatcher,
    CompiledGrammar as CompiledGrammar,
    CompileWarning as CompileWarning,
    Compiler as Compiler,
    Encoder as Encoder,
    GrammarError as GrammarError,
    GrammarFuture as GrammarFuture,
    LeadingSpace as LeadingSpace,
    Matcher as Matcher,
    RetNet as RetNet,
    RetNetState as RetNetState,
    TokenizerInfo as TokenizerInfo,
    TollgateError as TollgateError,
    apply_token_bitmask_inplace as apply_token_bitmask_inplace,
)

__all__: List[str]

def bitmask_words(vocab_size: int) -> int: ...
def allocate_token_bitmask(batch_size: int, vocab_size: int) -> npt.NDArray[np.int32]: ...
def default_model_dir() -> str: ...
def data_dir() -> Optional[pathlib.Path]: ...
def tokenizer_path(name: str) -> Optional[pathlib.Path]: ...
def user_cache_dir() -> pathlib.Path: ...
def tool_call_tags(tools: Sequence[Dict[str, Any]], style: str = ...) -> Tuple[List[Tuple[str, Dict[str, Any], str]], List[str]]: ...

@dataclass
class GenerationResult:
    text: str
    token_ids: List[int]
    stop_reason: str
    grammar_accepting: bool
    stats: Dict[str, Union[int, float]] = ...

def generate(prompt: str = ..., *, regex: Optional[str] = ..., grammar: Optional[str] = ...,
             grammar_format: str = ..., json: bool = ..., json_schema: Optional[Union[str, bytes, bool, Dict[str, Any]]] = ...,
             schema_options: Optional[Dict[str, Any]] = ..., model_dir: Optional[str] = ..., max_tokens: int = ...,
             temperature: float = ..., top_p: float = ..., top_k: int = ..., seed: int = ...,
             jump_forward: bool = ..., length_budget: bool = ...) -> GenerationResult: ...
