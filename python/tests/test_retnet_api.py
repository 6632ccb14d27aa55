import json
import pathlib
import struct

import numpy as np
import pytest

import tollgate

ROOT = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "retnet"


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=dtype).reshape(info["shape"])
    return out


@pytest.fixture(scope="module")
def golden():
    model = tollgate.RetNet.load(str(GOLDEN / "golden_model.safetensors"))
    io = read_safetensors(GOLDEN / "golden_io.safetensors")
    return model, io["input_ids"], io["logits"]


def test_parallel_matches_pytorch_golden(golden):
    model, ids, logits = golden
    out = model.forward_parallel(ids)
    assert out.shape == logits.shape and out.dtype == np.float32
    assert np.max(np.abs(out - logits)) <= 1e-4 * max(1.0, np.max(np.abs(logits)))


def test_recurrent_and_chunkwise_agree_with_parallel(golden):
    model, ids, _ = golden
    par = model.forward_parallel(ids)
    st = model.new_state()
    for t, i in enumerate(ids):
        row = model.step(st, int(i))
        np.testing.assert_allclose(row, par[t], rtol=1e-4, atol=1e-4)
    assert st.position == len(ids)
    st2 = model.new_state()
    last = model.prefill_chunkwise(st2, ids, chunk=5)
    np.testing.assert_allclose(last, par[-1], rtol=1e-4, atol=1e-4)
    # The state has a fixed size whatever the position: O(1) memory per sequence.
    assert st.memory_bytes == model.new_state().memory_bytes


def test_snapshot_restore_gives_identical_continuations(golden):
    model, ids, _ = golden
    st = model.new_state()
    model.prefill_chunkwise(st, ids[:10])
    snap = st.snapshot()
    a = model.step(st, 3)
    model.step(st, 4)
    st.restore(snap)
    b = model.step(st, 3)
    np.testing.assert_array_equal(a, b)


def test_bad_model_file_raises(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    with pytest.raises(tollgate.TollgateError):
        tollgate.RetNet.load(str(bad))
    with pytest.raises(tollgate.TollgateError):
        tollgate.RetNet.load(str(tmp_path / "missing.safetensors"))
