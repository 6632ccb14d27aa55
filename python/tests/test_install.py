"""The pip route as a user takes it: a virtual environment made with --system-site-packages on Debian's
/usr/bin/python3, `pip install --no-build-isolation .` of this source tree (no index, nothing
downloaded), then the installed package — not the source tree — imported from another folder,
compiling a regex, filling a mask and generating with the model it ships. The extension is built
in the test suite's CMake build tree (TOLLGATE_CMAKE_BUILD_DIR, see setup.py), so the test costs a
venv and a pip install, not a second build of the library."""
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def build_dir():
    d = os.environ.get("TOLLGATE_BINARY_DIR")
    p = pathlib.Path(d) if d else ROOT / "build"
    return p if (p / "CMakeCache.txt").is_file() else None


def test_pip_install_into_a_venv_then_import_and_compile(tmp_path):
    bdir = build_dir()
    if bdir is None:
        pytest.skip("no configured CMake build tree (set TOLLGATE_BINARY_DIR)")
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(venv)], check=True,
                   capture_output=True, timeout=120)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env["TOLLGATE_CMAKE_BUILD_DIR"] = str(bdir)
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-build-isolation", "--no-index", "--no-deps",
                        str(ROOT)], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr

    check = textwrap.dedent("""
        import json, os, sys
        import numpy as np
        import tollgate
        model_dir = tollgate.default_model_dir()
        tok = tollgate.TokenizerInfo.from_file(os.path.join(model_dir, "tokenizer.json"))
        compiled = tollgate.Compiler(tok).compile_regex(r"[0-9]{4}-[0-9]{2}")
        m = tollgate.Matcher(compiled)
        bitmask = tollgate.allocate_token_bitmask(1, tok.vocab_size)
        m.fill_next_token_bitmask(bitmask)
        bits = np.unpackbits(bitmask.view(np.uint8), bitorder="little")[: tok.vocab_size]
        digits = all(tok.token_bytes(int(i)).isdigit() for i in np.flatnonzero(bits))
        r = tollgate.generate("", regex=r"[0-9]{4}-[0-9]{2}", max_tokens=16, seed=0)
        print(json.dumps({"file": tollgate.__file__, "model_dir": model_dir, "allowed": int(bits.sum()), "digits": digits,
                          "text": r.text, "accepting": r.grammar_accepting}))
    """)
    out = subprocess.run([str(py), "-c", check], env={k: v for k, v in env.items() if k != "TOLLGATE_CMAKE_BUILD_DIR"},
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    res = json.loads(out.stdout.strip().splitlines()[-1])
    site = pathlib.Path(res["file"]).resolve()
    assert str(site).startswith(str(venv.resolve())), site  # the installed copy, not the source tree
    assert pathlib.Path(res["model_dir"]).resolve().is_relative_to(venv.resolve())
    assert res["allowed"] > 0 and res["digits"]  # the first step allows digit tokens only
    assert res["accepting"] and len(res["text"]) == 7 and res["text"][4] == "-" and res["text"].replace("-", "").isdigit()
