"""Tests for the PyTorch RetNet reference (models/retnet/retnet.py): the parallel, recurrent and chunkwise forms
agree, the math matches the contract's formulas written out naively, and the hand-written safetensors
reader/writer round-trips and produces the documented byte layout."""
import json
import math
import os
import struct
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "models", "retnet"))
import retnet  # noqa: E402


def rel_err(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return (torch.linalg.norm(a - b) / torch.linalg.norm(b)).item()


def make_model(seed=0, tie=False, vocab=61, d=24, layers=2, heads=3, ffn=40):
    cfg = retnet.RetNetConfig(vocab_size=vocab, d_model=d, n_layers=layers, n_heads=heads, d_ffn=ffn,
                              tie_embeddings=tie)
    m = retnet.RetNet(cfg)
    m.init_weights(seed=seed, std=0.3)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-trivial norm weights so that they are exercised
        for name, p in m.named_parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=g))
    return m.double().eval()


@pytest.fixture(scope="module")
def model():
    return make_model()


@pytest.fixture(scope="module")
def ids():
    g = torch.Generator().manual_seed(7)
    return torch.randint(0, 61, (2, 41), generator=g)


def test_recurrent_matches_parallel(model, ids):
    with torch.no_grad():
        par = model(ids)
        rec = model.forward_recurrent(ids)
    assert par.shape == (2, 41, 61)
    assert rel_err(rec, par) < 1e-5
    # per position too, so an early-position error cannot hide behind a large norm
    for t in range(ids.shape[1]):
        assert rel_err(rec[:, t], par[:, t]) < 1e-5


@pytest.mark.parametrize("chunk", [1, 3, 7, 16, 64])
def test_chunkwise_matches_parallel(model, ids, chunk):
    with torch.no_grad():
        par = model(ids)
        ch = model.forward_chunkwise(ids, chunk)
    for t in range(ids.shape[1]):
        assert rel_err(ch[:, t], par[:, t]) < 1e-5, (chunk, t)


def test_chunkwise_state_continues_with_recurrent_steps(model, ids):
    with torch.no_grad():
        par = model(ids)
        head, state = model.forward_chunkwise(ids[:, :20], 6, return_state=True)
        assert state.pos == 20
        outs = [head]
        for t in range(20, 30):
            lo, state = model.step(ids[:, t], state)
            outs.append(lo[:, None])
        tail = model.forward_chunkwise(ids[:, 30:], 4, state=state)
        outs.append(tail)
    assert rel_err(torch.cat(outs, dim=1), par) < 1e-5


def test_tied_head_and_single_sequence(ids):
    m = make_model(seed=3, tie=True)
    assert m.head is None
    assert "head.weight" not in m.state_dict()
    with torch.no_grad():
        one = m(ids[0])
        both = m(ids)
        rec = m.forward_recurrent(ids[0])
    assert one.shape == (41, 61)
    assert rel_err(one, both[0]) < 1e-12
    assert rel_err(rec, one) < 1e-5


def test_causality(model, ids):
    """Changing a later token never changes earlier logits."""
    changed = ids.clone()
    changed[:, 25] = (changed[:, 25] + 1) % 61
    with torch.no_grad():
        a = model(ids)
        b = model(changed)
    assert torch.allclose(a[:, :25], b[:, :25], rtol=0, atol=1e-12)
    assert not torch.allclose(a[:, 25], b[:, 25])


def naive_retention(ret, x):
    """The contract's retention written out with Python loops, for one sequence x [T, d] (float64)."""
    H, dk = ret.n_heads, ret.dk
    T = x.shape[0]
    q = (x @ ret.q.weight.t()).view(T, H, dk)
    k = (x @ ret.k.weight.t()).view(T, H, dk) / math.sqrt(dk)
    v = (x @ ret.v.weight.t()).view(T, H, dk)
    g = x @ ret.g.weight.t()

    def rot(vec, n):
        out = vec.clone()
        for i in range(dk // 2):
            th = 1.0 / 10000 ** (i / (dk / 2))
            c, s = math.cos(n * th), math.sin(n * th)
            a, b = vec[2 * i].item(), vec[2 * i + 1].item()
            out[2 * i] = a * c - b * s
            out[2 * i + 1] = a * s + b * c
        return out

    heads = []
    for h in range(H):
        gamma = 1 - 2 ** (-5 - h)
        rows = []
        for n in range(T):
            qn = rot(q[n, h], n)
            acc = torch.zeros(dk, dtype=torch.float64)
            for m in range(n + 1):
                acc += gamma ** (n - m) * torch.dot(qn, rot(k[m, h], m)) * v[m, h]
            acc = acc / math.sqrt((1 - gamma ** (n + 1)) / (1 - gamma))
            w = ret.gn.weight[h * dk:(h + 1) * dk]
            acc = acc / torch.sqrt(acc.pow(2).mean() + ret.cfg.norm_eps) * w
            rows.append(acc)
        heads.append(torch.stack(rows))
    o = torch.cat(heads, dim=1)
    return (torch.nn.functional.silu(g) * o) @ ret.o.weight.t()


def test_retention_matches_naive_formula(model):
    g = torch.Generator().manual_seed(11)
    x = torch.randn(9, 24, generator=g, dtype=torch.float64)
    ret = model.layers[1].retention
    with torch.no_grad():
        fast = ret.forward_parallel(x[None])[0]
        slow = naive_retention(ret, x)
    assert rel_err(fast, slow) < 1e-10


def test_rotation_is_relative(model):
    """q_n . k_m after rotation depends only on n - m."""
    g = torch.Generator().manual_seed(5)
    q = torch.randn(1, 8, dtype=torch.float64, generator=g)
    k = torch.randn(1, 8, dtype=torch.float64, generator=g)
    d1 = (retnet._rotate(q, torch.tensor([10])) * retnet._rotate(k, torch.tensor([7]))).sum()
    d2 = (retnet._rotate(q, torch.tensor([103])) * retnet._rotate(k, torch.tensor([100]))).sum()
    d0 = (q * k).sum()
    assert abs(d1.item() - d2.item()) < 1e-10
    assert abs(d1.item() - d0.item()) > 1e-6


def test_safetensors_roundtrip(tmp_path):
    g = np.random.default_rng(0)
    tensors = {
        "a.weight": g.standard_normal((3, 5)).astype(np.float32),
        "b": g.standard_normal((7,)).astype(np.float64),
        "ids": np.arange(37, dtype=np.int32),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    md = {"format": "x", "n": "3"}
    p = tmp_path / "t.safetensors"
    retnet.save_safetensors(str(p), tensors, md)
    back, md2 = retnet.load_safetensors(str(p))
    assert md2 == md
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert np.array_equal(back[k], v)

    raw = p.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    assert (8 + hlen) % 8 == 0
    header = json.loads(raw[8:8 + hlen])
    assert header["__metadata__"] == md
    assert header["ids"]["dtype"] == "I32" and header["ids"]["shape"] == [37]
    b, e = header["ids"]["data_offsets"]
    assert np.array_equal(np.frombuffer(raw[8 + hlen + b:8 + hlen + e], dtype="<i4"), tensors["ids"])
    assert 8 + hlen + max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__") == len(raw)


def test_safetensors_rejects_corrupt(tmp_path):
    p = tmp_path / "bad.safetensors"
    retnet.save_safetensors(str(p), {"x": np.ones(4, np.float32)})
    raw = p.read_bytes()
    p.write_bytes(raw[:-4])
    with pytest.raises(ValueError):
        retnet.load_safetensors(str(p))
    p.write_bytes(struct.pack("<Q", 10 ** 9) + raw[8:])
    with pytest.raises(ValueError):
        retnet.load_safetensors(str(p))


def test_model_roundtrip(tmp_path, ids):
    for tie in (False, True):
        m = make_model(seed=2, tie=tie).float()
        p = tmp_path / f"m{tie}.safetensors"
        retnet.save_model(m, str(p))
        tensors, md = retnet.load_safetensors(str(p))
        assert md["format"] == "tollgate-retnet-v1"
        assert md["tie_embeddings"] == ("1" if tie else "0")
        assert ("head.weight" in tensors) == (not tie)
        assert all(v.dtype == np.float32 for v in tensors.values())
        assert tensors["layers.1.retention.gn.weight"].shape == (24,)
        assert tensors["layers.0.ffn.w2.weight"].shape == (24, 40)
        m2 = retnet.load_model(str(p))
        with torch.no_grad():
            assert torch.equal(m(ids), m2(ids))


def test_load_model_rejects_wrong_tensors(tmp_path):
    m = make_model(seed=2).float()
    t = m.export_tensors()
    del t["layers.0.ffn.w1.weight"]
    p = tmp_path / "bad.safetensors"
    retnet.save_safetensors(str(p), t, m.cfg.to_metadata())
    with pytest.raises(ValueError, match="missing"):
        retnet.load_model(str(p))


def test_committed_golden_vectors_match_reference(tmp_path):
    """tests/data/retnet/*.safetensors are what make_golden.py produces, and the reference reproduces them."""
    data = os.path.join(REPO, "tests", "data", "retnet")
    model_path = os.path.join(data, "golden_model.safetensors")
    io_path = os.path.join(data, "golden_io.safetensors")
    tensors, md = retnet.load_safetensors(model_path)
    assert md["vocab_size"] == "64" and md["d_model"] == "32" and md["n_layers"] == "2"
    assert md["n_heads"] == "2" and md["d_ffn"] == "48" and md["tie_embeddings"] == "0"
    io, _ = retnet.load_safetensors(io_path)
    assert io["input_ids"].dtype == np.int32 and io["input_ids"].shape == (37,)
    assert io["logits"].dtype == np.float32 and io["logits"].shape == (37, 64)
    m = retnet.load_model(model_path, dtype=torch.float64).eval()
    ids = torch.from_numpy(io["input_ids"].astype(np.int64))
    with torch.no_grad():
        for out in (m(ids), m.forward_recurrent(ids), m.forward_chunkwise(ids, 5)):
            assert rel_err(out, io["logits"]) < 1e-6
    # float32 evaluation (what the C++ model does) stays well inside the contract's 1e-4
    m32 = retnet.load_model(model_path, dtype=torch.float32).eval()
    with torch.no_grad():
        for out in (m32(ids), m32.forward_recurrent(ids), m32.forward_chunkwise(ids, 5)):
            assert rel_err(out, io["logits"]) < 1e-5
            assert np.abs(out.numpy() - io["logits"]).max() < 1e-4
    # regenerating gives byte-identical files
    import subprocess
    subprocess.run([sys.executable, os.path.join(REPO, "models", "retnet", "make_golden.py"), "--out",
                    str(tmp_path)], check=True, capture_output=True)
    for name in ("golden_model.safetensors", "golden_io.safetensors"):
        with open(os.path.join(data, name), "rb") as a, open(tmp_path / name, "rb") as b:
            assert a.read() == b.read(), name
