"""Checks the shipped reference model (models/retnet/model.safetensors) against the contract: metadata, tensor
set, float32, size; that it matches its tokenizer; and that it actually learned something (its loss on held-out
style text is far below the uniform ln(4096) and its recurrent and parallel forms agree on it)."""
import json
import math
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("regex")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.path.join(REPO, "models", "retnet")
sys.path.insert(0, MODEL_DIR)
import retnet  # noqa: E402
from train_tokenizer import ByteLevelBPE  # noqa: E402

MODEL = os.path.join(MODEL_DIR, "model.safetensors")

TEXTS = [
    '{"name": "Alice Smith", "email": "alice.smith@example.com", "age": 34, "active": true}',
    "This program is free software; you can redistribute it and/or modify it under the terms of the GNU "
    "General Public License as published by the Free Software Foundation; either version 2 of the License.",
]


@pytest.fixture(scope="module")
def model():
    if not os.path.exists(MODEL):
        pytest.fail("models/retnet/model.safetensors is missing (run models/retnet/train.py)")
    return retnet.load_model(MODEL).eval()


def test_file_follows_contract():
    tensors, md = retnet.load_safetensors(MODEL)
    assert set(md) >= {"format", "vocab_size", "d_model", "n_layers", "n_heads", "d_ffn", "norm_eps",
                       "tie_embeddings", "bos_id", "eos_id"}
    assert all(isinstance(v, str) for v in md.values())
    assert md["format"] == "tollgate-retnet-v1" and md["tie_embeddings"] == "1" and float(md["norm_eps"]) == 1e-6
    assert md["bos_id"] == md["eos_id"] == "0"
    assert "head.weight" not in tensors
    assert all(v.dtype == np.float32 for v in tensors.values())
    assert all(np.isfinite(v).all() for v in tensors.values())
    n = sum(v.size for v in tensors.values())
    assert 4_000_000 < n < 5_000_000
    assert os.path.getsize(MODEL) <= 25 * 1024 * 1024
    tok = json.load(open(os.path.join(MODEL_DIR, "tokenizer.json"), encoding="utf-8"))
    assert int(md["vocab_size"]) == len(tok["model"]["vocab"]) + len(tok["added_tokens"])


def test_model_has_learned(model):
    tok = ByteLevelBPE(os.path.join(MODEL_DIR, "tokenizer.json"))
    for text in TEXTS:
        ids = torch.tensor([0] + tok.encode(text))
        with torch.no_grad():
            par = model(ids)
            rec = model.forward_recurrent(ids)
        loss = torch.nn.functional.cross_entropy(par[:-1], ids[1:]).item()
        assert loss < 0.75 * math.log(4096), (text[:30], loss)
        assert (torch.linalg.norm(rec - par) / torch.linalg.norm(par)).item() < 1e-4
