"""The package as a user's tools see it: the type stubs (.pyi) name exactly what the module has and pass
`mypy --strict` on an example, every public name has a docstring, and the examples of docs/python.md run."""
import ast
import inspect
import os
import pathlib
import re
import subprocess
import sys

import pytest

import tollgate
import tollgate.hf
from tollgate import _core

ROOT = pathlib.Path(__file__).resolve().parents[2]
PKG = pathlib.Path(tollgate.__file__).parent


def stub_names(path):
    """{name: set of member names} of the top-level classes and functions of a .pyi file ("" = module)."""
    tree = ast.parse(path.read_text())
    out = {"": set()}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out[""].add(node.name)
        if isinstance(node, ast.ClassDef):
            out[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        if isinstance(node, ast.ImportFrom):
            out[""] |= {a.asname or a.name for a in node.names if a.asname}
    return out


def public(names):
    return {n for n in names if not n.startswith("_") or n in ("__init__", "__call__")}


def runtime_members(cls):
    return {n for n in dir(cls) if n in cls.__dict__ or any(n in b.__dict__ for b in cls.__mro__[1:-1]
                                                            if b.__module__.startswith("tollgate"))}


def test_stubs_name_what_the_module_has():
    core = stub_names(PKG / "_core.pyi")
    assert core[""] - {"ArrayLike"} == {n for n in dir(_core) if not n.startswith("__")}
    for cls in [getattr(_core, n) for n in dir(_core) if isinstance(getattr(_core, n), type)]:
        if issubclass(cls, Exception):
            continue
        have = public(runtime_members(cls)) - {"__init__"} - {n for n in cls.__dict__ if n.startswith("__")}
        stub = public(core[cls.__name__]) - {"__init__", "__call__", "__int__", "name", "value"}
        if cls is _core.LeadingSpace:
            assert "KEEP: LeadingSpace" in (PKG / "_core.pyi").read_text() and {"KEEP", "STRIP"} <= set(dir(cls))
            continue
        assert stub == have, cls.__name__
    pkg = stub_names(PKG / "__init__.pyi")
    assert set(tollgate.__all__) <= pkg[""], set(tollgate.__all__) - pkg[""]
    hf = stub_names(PKG / "hf.pyi")
    assert public(hf["LogitsProcessor"]) == public(
        {n for n in tollgate.hf.LogitsProcessor.__dict__ if callable(tollgate.hf.LogitsProcessor.__dict__[n])})


def test_every_public_name_has_a_docstring():
    def documented(obj):
        doc = inspect.getdoc(obj) or ""
        lines = [l for l in doc.splitlines() if l.strip()]
        # pybind11 puts the signature first ("name(self: ..., ...) -> T"); a docstring must say more.
        lines = [l for l in lines if not re.match(r"^\w+\(.*\)( -> .*)?$", l) and l.strip() != "Overloaded function."]
        return bool(lines)

    missing = []
    names = list(tollgate.__all__) + ["hf"]
    for name in names:
        obj = getattr(tollgate, name)
        if not documented(obj):
            missing.append(name)
        if isinstance(obj, type):
            for member, value in vars(obj).items():
                if member.startswith("_") and member not in ("__init__", "__call__"):
                    continue
                if member in ("__init__",) and isinstance(value, type(object.__init__)):
                    continue
                if isinstance(value, (int, str, tuple, list, dict)) or obj is tollgate.LeadingSpace:
                    continue  # constants, and the members pybind11 gives every enum
                if obj.__module__ == "tollgate" and member in getattr(obj, "__dataclass_fields__", {}):
                    continue
                if not documented(getattr(obj, member)) and not documented(value):
                    missing.append(f"{name}.{member}")
    for member in ("__init__", "__call__", "reset", "is_terminated"):
        if not documented(getattr(tollgate.hf.LogitsProcessor, member)):
            missing.append(f"hf.LogitsProcessor.{member}")
    assert not missing, missing


EXAMPLE = '''
import numpy as np
import tollgate
import tollgate.hf

def first_allowed(path: str) -> list[int]:
    tok = tollgate.TokenizerInfo.from_tokenizer_json(path)
    compiler = tollgate.Compiler(tok, threads=2, cache_bytes=1 << 20)
    compiled = compiler.compile_json_schema({"type": "integer"})
    matcher = tollgate.Matcher(compiled)
    bitmask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
    matcher.fill_next_token_bitmask(bitmask, index=0)
    logits = np.zeros(tok.vocab_size, dtype=np.float32)
    tollgate.apply_token_bitmask_inplace(logits, bitmask[0])
    ok: bool = matcher.accept_token(int(np.argmax(logits))) and not matcher.is_terminated()
    forced: str = matcher.find_jump_forward_string()
    matcher.rollback(1)
    fork: tollgate.Matcher = matcher.fork()
    states: int = compiled.num_states + compiled.memory_size + len(compiled.warnings)
    processor = tollgate.hf.LogitsProcessor([compiled], tok)
    print(ok, forced, fork, states, processor, tok.fingerprint)
    try:
        compiler.compile_grammar("root ::= (", format="gbnf")
    except tollgate.GrammarError as e:
        print(e.line, e.column, e.message)
    tags, triggers = tollgate.tool_call_tags([{"name": "f", "parameters": {"type": "object"}}])
    calls: tollgate.CompiledGrammar = compiler.compile_tool_calls(tags, triggers=triggers, at_most_one=True)
    print(calls.num_states)
    return [int(i) for i in np.nonzero(np.isfinite(logits))[0]]
'''


def test_stubs_pass_mypy_strict(tmp_path):
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy is not installed (python3-mypy, scripts/install-deps.sh)")
    example = tmp_path / "example.py"
    example.write_text(EXAMPLE)
    bad = tmp_path / "bad.py"
    bad.write_text("import tollgate\nm: tollgate.Matcher = tollgate.Matcher(3)\nx: int = m.find_jump_forward_string()\n")
    env = dict(os.environ, MYPYPATH=str(PKG.parent))
    args = [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(tmp_path / "cache")]
    good = subprocess.run(args + [str(example)], capture_output=True, text=True, env=env, timeout=300)
    assert good.returncode == 0, good.stdout + good.stderr
    # The stubs do constrain: wrong argument and result types are reported.
    wrong = subprocess.run(args + [str(bad)], capture_output=True, text=True, env=env, timeout=300)
    assert wrong.returncode == 1 and "arg-type" in wrong.stdout and "assignment" in wrong.stdout, wrong.stdout


def test_docs_python_examples_run(shared, monkeypatch, tmp_path):
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(shared))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_python"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
