"""Writes the RetNet golden vectors the C++ model is checked against.

Takes nothing (fully seeded); gives tests/data/retnet/golden_model.safetensors (random model: vocab 64, d_model 32,
2 layers, 2 heads, d_ffn 48, untied head, seed 0, float32 weights + contract metadata) and
tests/data/retnet/golden_io.safetensors (`input_ids` I32 [37], `logits` F32 [37, 64] computed by the parallel form
in float64 from the stored float32 weights).  Usage: /usr/bin/python3 models/retnet/make_golden.py [--out DIR]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import retnet  # noqa: E402

SEED = 0
T = 37


def build_model() -> retnet.RetNet:
    cfg = retnet.RetNetConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=2, d_ffn=48, norm_eps=1e-6,
                              tie_embeddings=False, bos_id=0, eos_id=0)
    m = retnet.RetNet(cfg)
    # std 0.3 (not the training init) so activations and logits are O(1) and every tensor matters
    m.init_weights(seed=SEED, std=0.3)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 1:  # RMSNorm weights: around 1 but not all ones
                p.copy_(1.0 + 0.25 * torch.randn(p.shape, generator=g))
    return m.float()


def main() -> None:
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "tests", "data", "retnet"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    m = build_model()
    model_path = os.path.join(args.out, "golden_model.safetensors")
    retnet.save_model(m, model_path)

    # reload what was written, so the logits come from exactly the stored float32 weights
    m64 = retnet.load_model(model_path, dtype=torch.float64).eval()
    g = torch.Generator().manual_seed(SEED + 2)
    ids = torch.randint(0, m64.cfg.vocab_size, (T,), generator=g)
    with torch.no_grad():
        logits = m64(ids)
        rec = m64.forward_recurrent(ids)
        chunk = m64.forward_chunkwise(ids, 8)
    for name, other in (("recurrent", rec), ("chunkwise", chunk)):
        err = (torch.linalg.norm(other - logits) / torch.linalg.norm(logits)).item()
        if err > 1e-9:
            raise SystemExit(f"make_golden: {name} form disagrees with parallel (rel err {err:.3g})")
    retnet.save_safetensors(
        os.path.join(args.out, "golden_io.safetensors"),
        {"input_ids": ids.to(torch.int32), "logits": logits.to(torch.float32)},
        {"source": "models/retnet/make_golden.py", "form": "parallel", "compute_dtype": "float64"})
    print(f"wrote {model_path} ({m.num_parameters()} params) and golden_io.safetensors; "
          f"logits std {logits.std().item():.3f}")


if __name__ == "__main__":
    main()
