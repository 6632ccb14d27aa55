"""Serving from Python: CompiledGrammar.serialize / deserialize, Compiler.compile_async and its
cancellation, the compiled-grammar cache and the Redis option (python/bindings/serving.cpp)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from conftest import corpus_path

import tollgate


def masks_along(compiled, tokens):
    """The mask before each token and after the last, for a matcher of `compiled`."""
    m = tollgate.Matcher(compiled)
    out = []
    bm = tollgate.allocate_token_bitmask(1, compiled.vocab_size)
    for t in tokens:
        m.fill_next_token_bitmask(bm)
        out.append(bm.copy())
        if not m.accept_token(t):
            break
    m.fill_next_token_bitmask(bm)
    out.append(bm.copy())
    return out


def maskbench_instance(shared, name):
    d = json.loads((corpus_path(shared, "maskbench-dev") / name).read_text())
    return d["schema"], [json.loads(t["tokens_llama3"]) if isinstance(t["tokens_llama3"], str) else t["tokens_llama3"]
                         for t in d["tests"] if "tokens_llama3" in t]


def test_serialize_roundtrip_gives_the_same_masks(llama3, shared):
    schema, docs = maskbench_instance(shared, "Github_easy---o10030.json")
    compiled = tollgate.Compiler(llama3).compile_json_schema(schema, lenient=True)
    blob = compiled.serialize()
    assert isinstance(blob, bytes) and blob[:8] == b"TGCGBLOB"
    loaded = tollgate.CompiledGrammar.deserialize(blob, llama3)
    assert docs
    for doc in docs:
        a, b = masks_along(compiled, doc), masks_along(loaded, doc)
        assert len(a) == len(b) > 1
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_bad_blobs_are_refused(llama3):
    blob = tollgate.Compiler(llama3).compile_regex(r"[a-z]{3}\d").serialize()
    with pytest.raises(tollgate.TollgateError, match="truncated"):
        tollgate.CompiledGrammar.deserialize(blob[: len(blob) // 2], llama3)
    flipped = bytearray(blob)
    flipped[len(blob) - 5] ^= 0x10
    with pytest.raises(tollgate.TollgateError, match="checksum"):
        tollgate.CompiledGrammar.deserialize(bytes(flipped), llama3)
    with pytest.raises(tollgate.TollgateError, match="not a tollgate compiled grammar"):
        tollgate.CompiledGrammar.deserialize(b"hello", llama3)
    other = tollgate.TokenizerInfo.from_tokens([bytes([b]) for b in range(256)] + [b"</s>"], eos_ids=[256])
    with pytest.raises(tollgate.TollgateError, match="another tokenizer"):
        tollgate.CompiledGrammar.deserialize(blob, other)


def test_compile_async_cache_and_cancel(llama3, shared):
    c = tollgate.Compiler(llama3)
    gbnf = (corpus_path(shared, "gbnf") / "c.gbnf").read_text()
    futures = [c.compile_async(gbnf, "gbnf") for _ in range(4)]
    grammars = [f.result() for f in futures]
    assert all(f.done() for f in futures)
    stats = c.cache_stats()
    assert stats["compiles"] == 1 and stats["entries"] == 1
    m = tollgate.Matcher(grammars[0])
    assert m.accept_string("int main(){")
    hit = c.compile_grammar(gbnf, "gbnf")
    assert c.cache_stats()["hits"] >= 1
    assert np.array_equal(masks_along(hit, [])[0], masks_along(grammars[0], [])[0])

    fut = c.compile_async({"type": "object", "properties": {"a": {"type": "string", "pattern": "^[a-z]{2,40}$"}}},
                          "json_schema", whitespace="compact")
    assert isinstance(fut.result(timeout=60), tollgate.CompiledGrammar)

    slow = c.compile_async("(a|b|c|d)*a(a|b|c|d){11}", "regex")
    slow.cancel()
    assert slow.cancelled
    with pytest.raises(tollgate.TollgateError) as e:
        slow.result()
    assert e.value.kind == "cancelled"
    with pytest.raises(tollgate.TollgateError, match="kind must be"):
        c.compile_async("x", "yaml")


def test_grammar_cache_bytes_option(llama3):
    off = tollgate.Compiler(llama3, grammar_cache_bytes=0)
    off.compile_regex("abc")
    off.compile_regex("abc")
    assert off.cache_stats()["compiles"] == 2
    assert off.cache_stats()["max_bytes"] == 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WORKER = r"""
import json, sys, tollgate
url, data, out = sys.argv[1], sys.argv[2], sys.argv[3]
tok = tollgate.TokenizerInfo.from_file(data + "/tokenizers/llama3")
c = tollgate.Compiler(tok, redis_url=url)
import pathlib
for p in sorted(pathlib.Path(data, "corpora", "gbnf").glob("*.gbnf"))[:6]:
    c.compile_grammar(p.read_text(), "gbnf")
json.dump(c.cache_stats(), open(out, "w"))
"""


@pytest.mark.skipif(not tollgate._core.redis_supported(), reason="built without hiredis")
def test_redis_fleet_compiles_each_grammar_once(shared, tmp_path):
    corpus_path(shared, "gbnf")  # the workers compile corpora/gbnf grammars: skip where the corpora are absent
    server = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if server is None:
        pytest.skip("redis-server not installed (scripts/install-deps.sh)")
    port = _free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.02)
        url = f"redis://127.0.0.1:{port}"
        outs = [tmp_path / f"w{i}.json" for i in range(2)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(shared), str(o)], env=env) for o in outs]
        assert all(w.wait(timeout=300) == 0 for w in workers)
        stats = [json.loads(o.read_text()) for o in outs]
        assert sum(s["compiles"] for s in stats) == 6
        assert sum(s["redis_hits"] for s in stats) == 6
        assert all(s["redis_errors"] == 0 for s in stats)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_down_compiles_locally(llama3):
    if not tollgate._core.redis_supported():
        with pytest.raises(tollgate.TollgateError, match="hiredis"):
            tollgate.Compiler(llama3, redis_url="127.0.0.1:1")
        return
    c = tollgate.Compiler(llama3, redis_url=f"127.0.0.1:{_free_port()}")
    g = c.compile_regex("[0-9]{2}")
    assert isinstance(g, tollgate.CompiledGrammar)
    assert c.cache_stats()["redis_errors"] == 1
