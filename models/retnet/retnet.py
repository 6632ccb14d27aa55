"""PyTorch reference of the tollgate RetNet (see /work/retnet-contract.md, mirrored in docs/retnet.md).

Takes a RetNetConfig (or a safetensors file written by save_model) and gives a torch.nn.Module with three
equivalent forms of the forward pass: parallel (training), recurrent (one token per step, O(1) state) and
chunkwise (blocks of B tokens with a carried state).  Also a hand-written safetensors reader/writer
(8-byte little-endian header length, JSON header, raw little-endian tensors) - no `safetensors` package.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT = "tollgate-retnet-v1"

# --------------------------------------------------------------------------------------------------------------
# safetensors (hand-written)
# --------------------------------------------------------------------------------------------------------------

_NP_TO_ST = {
    np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<f2"): "F16",
    np.dtype("<i4"): "I32", np.dtype("<i8"): "I64", np.dtype("<i2"): "I16", np.dtype("i1"): "I8",
    np.dtype("u1"): "U8", np.dtype("<u2"): "U16", np.dtype("<u4"): "U32", np.dtype("<u8"): "U64",
    np.dtype("bool"): "BOOL",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def _to_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().contiguous().numpy()
    a = np.asarray(t)
    if a.dtype.kind in "fiu" and a.dtype.itemsize > 1:
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return a if a.flags.c_contiguous else a.copy(order="C")


def save_safetensors(path: str, tensors: dict, metadata: dict | None = None) -> None:
    """Write `tensors` (name -> torch.Tensor / np.ndarray) to `path` in safetensors format.

    Tensors are stored in sorted name order, back to back; the JSON header is padded with spaces so that the
    data section starts at an 8-byte aligned offset.  Metadata values must be strings.
    """
    header: dict = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"safetensors metadata must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    arrays = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("tensor name __metadata__ is reserved")
        a = _to_numpy(tensors[name])
        if a.dtype not in _NP_TO_ST:
            raise TypeError(f"unsupported dtype {a.dtype} for tensor {name}")
        raw = a.tobytes(order="C")
        header[name] = {"dtype": _NP_TO_ST[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        arrays.append(raw)
        offset += len(raw)
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for raw in arrays:
            f.write(raw)


def load_safetensors(path: str) -> tuple[dict, dict]:
    """Read a safetensors file; returns (name -> np.ndarray, metadata dict)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} exceeds file size {len(blob)}")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    metadata = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = _ST_TO_NP.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        shape = tuple(int(s) for s in info["shape"])
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= b <= e <= len(data)) or e - b != n * dt.itemsize:
            raise ValueError(f"{path}: tensor {name} has inconsistent offsets {b}..{e} for shape {shape}")
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(shape).copy()
    return out, metadata


# --------------------------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------------------------

@dataclass
class RetNetConfig:
    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ffn: int = 688
    norm_eps: float = 1e-6
    tie_embeddings: bool = True
    bos_id: int = 0
    eos_id: int = 0

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def validate(self) -> None:
        if self.d_model % self.n_heads or self.head_dim % 2:
            raise ValueError("d_model must be a multiple of n_heads and the head dim must be even")

    def to_metadata(self) -> dict:
        return {
            "format": FORMAT, "vocab_size": str(self.vocab_size), "d_model": str(self.d_model),
            "n_layers": str(self.n_layers), "n_heads": str(self.n_heads), "d_ffn": str(self.d_ffn),
            "norm_eps": repr(float(self.norm_eps)), "tie_embeddings": "1" if self.tie_embeddings else "0",
            "bos_id": str(self.bos_id), "eos_id": str(self.eos_id),
        }

    @classmethod
    def from_metadata(cls, md: dict) -> "RetNetConfig":
        if md.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file (format={md.get('format')!r})")
        return cls(vocab_size=int(md["vocab_size"]), d_model=int(md["d_model"]), n_layers=int(md["n_layers"]),
                   n_heads=int(md["n_heads"]), d_ffn=int(md["d_ffn"]), norm_eps=float(md["norm_eps"]),
                   tie_embeddings=md["tie_embeddings"] == "1", bos_id=int(md["bos_id"]),
                   eos_id=int(md["eos_id"]))


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


def _rotate(x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs (2i, 2i+1) of the last dim by angle pos*theta_i.  x: [..., T, dk], pos: [T]."""
    dk = x.shape[-1]
    half = dk // 2
    i = torch.arange(half, dtype=torch.float64)
    theta = 1.0 / torch.pow(torch.tensor(10000.0, dtype=torch.float64), i / half)
    ang = pos.to(torch.float64)[:, None] * theta[None, :]           # [T, half]
    cos = torch.cos(ang).to(x.dtype)
    sin = torch.sin(ang).to(x.dtype)
    a = x[..., 0::2]
    b = x[..., 1::2]
    ra = a * cos - b * sin
    rb = a * sin + b * cos
    return torch.stack((ra, rb), dim=-1).flatten(-2)


class MultiScaleRetention(nn.Module):
    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        d = cfg.d_model
        self.cfg = cfg
        self.n_heads = cfg.n_heads
        self.dk = cfg.head_dim
        self.q = nn.Linear(d, d, bias=False)
        self.k = nn.Linear(d, d, bias=False)
        self.v = nn.Linear(d, d, bias=False)
        self.g = nn.Linear(d, d, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gn = RMSNorm(d, cfg.norm_eps)
        # log(gamma_h), gamma_h = 1 - 2^(-5-h); a plain float64 tensor (not a buffer, so .to(float32) keeps it
        # exact), cast at the point of use
        self.log_gamma = torch.tensor([math.log1p(-(2.0 ** (-5 - h))) for h in range(cfg.n_heads)],
                                      dtype=torch.float64)

    # -- shared pieces ------------------------------------------------------------------------------------------
    def _qkvg(self, x: torch.Tensor, pos: torch.Tensor):
        """x: [B, T, d] -> q, k, v: [B, H, T, dk] (rotated, k scaled), g: [B, T, d]."""
        B, T, _ = x.shape
        H, dk = self.n_heads, self.dk
        q = self.q(x).view(B, T, H, dk).transpose(1, 2)
        k = (self.k(x) * dk ** -0.5).view(B, T, H, dk).transpose(1, 2)
        v = self.v(x).view(B, T, H, dk).transpose(1, 2)
        q = _rotate(q, pos)
        k = _rotate(k, pos)
        return q, k, v, self.g(x)

    def _finish(self, o: torch.Tensor, g: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """o: [B, H, T, dk] unscaled retention output -> layer output [B, T, d]."""
        B, H, T, dk = o.shape
        lg = self.log_gamma                                               # [H], float64
        p1 = pos.to(torch.float64) + 1.0                                  # [T]
        gamma_pow = torch.exp(p1[None, :] * lg[:, None])                  # gamma^(n+1), [H, T]
        one_minus_gamma = -torch.expm1(lg)                                # 1 - gamma, [H]
        denom = torch.sqrt((1.0 - gamma_pow) / one_minus_gamma[:, None])  # [H, T]
        o = o / denom.to(o.dtype)[None, :, :, None]
        w = self.gn.weight.view(H, dk)[None, :, None, :]
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.cfg.norm_eps) * w
        o = o.transpose(1, 2).reshape(B, T, H * dk)
        return self.o(F.silu(g) * o)

    def _decay_mask(self, T: int, dtype) -> torch.Tensor:
        n = torch.arange(T, dtype=torch.float64)
        diff = n[:, None] - n[None, :]                                    # n - m
        lg = self.log_gamma.to(torch.float64)
        D = torch.exp(diff[None, :, :].clamp(min=0) * lg[:, None, None])
        D = D * (diff >= 0)[None, :, :]
        return D.to(dtype)                                                # [H, T, T]

    # -- forms --------------------------------------------------------------------------------------------------
    def forward_parallel(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        B, T, _ = x.shape
        pos = torch.arange(start, start + T)
        q, k, v, g = self._qkvg(x, pos)
        D = self._decay_mask(T, x.dtype)
        att = (q @ k.transpose(-1, -2)) * D[None]
        o = att @ v
        return self._finish(o, g, pos)

    def forward_recurrent(self, x: torch.Tensor, state: torch.Tensor | None, pos: int):
        """x: [B, 1, d]; state: [B, H, dk, dv] or None (zeros); pos: position of this token."""
        B = x.shape[0]
        p = torch.tensor([pos])
        q, k, v, g = self._qkvg(x, p)                                     # [B, H, 1, dk]
        if state is None:
            state = x.new_zeros(B, self.n_heads, self.dk, self.dk)
        gamma = torch.exp(self.log_gamma).to(x.dtype)[None, :, None, None]
        state = gamma * state + k.transpose(-1, -2) @ v                   # [B, H, dk, dv]
        o = q @ state                                                     # [B, H, 1, dv]
        return self._finish(o, g, p), state

    def forward_chunkwise(self, x: torch.Tensor, chunk: int, state: torch.Tensor | None = None, start: int = 0):
        """Process x [B, T, d] in chunks of `chunk` tokens (last may be shorter); returns (y, state)."""
        if chunk < 1:
            raise ValueError("chunk size must be >= 1")
        B, T, _ = x.shape
        H, dk = self.n_heads, self.dk
        lg = self.log_gamma.to(torch.float64)
        R = state if state is not None else x.new_zeros(B, H, dk, dk)
        outs = []
        for s in range(0, T, chunk):
            xc = x[:, s:s + chunk]
            L = xc.shape[1]
            pos = torch.arange(start + s, start + s + L)
            q, k, v, g = self._qkvg(xc, pos)
            D = self._decay_mask(L, x.dtype)
            inner = ((q @ k.transpose(-1, -2)) * D[None]) @ v             # [B, H, L, dv]
            j = torch.arange(L, dtype=torch.float64)
            cross_decay = torch.exp((j[None, :] + 1.0) * lg[:, None]).to(x.dtype)      # gamma^(j+1), [H, L]
            cross = (q @ R) * cross_decay[None, :, :, None]
            outs.append(self._finish(inner + cross, g, pos))
            kv_decay = torch.exp((L - 1.0 - j)[None, :] * lg[:, None]).to(x.dtype)     # gamma^(L-1-j)
            chunk_gamma = torch.exp(L * lg).to(x.dtype)[None, :, None, None]          # gamma^L
            R = chunk_gamma * R + (k * kv_decay[None, :, :, None]).transpose(-1, -2) @ v
        return torch.cat(outs, dim=1), R


class FFN(nn.Module):
    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        self.w1 = nn.Linear(cfg.d_model, cfg.d_ffn, bias=False)
        self.w3 = nn.Linear(cfg.d_model, cfg.d_ffn, bias=False)
        self.w2 = nn.Linear(cfg.d_ffn, cfg.d_model, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Layer(nn.Module):
    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        self.norm1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.retention = MultiScaleRetention(cfg)
        self.norm2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.ffn = FFN(cfg)


@dataclass
class RecurrentState:
    """Per-layer retention states [B, H, dk, dv] and the position of the next token."""
    layers: list = field(default_factory=list)
    pos: int = 0


class RetNet(nn.Module):
    def __init__(self, cfg: RetNetConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList([Layer(cfg) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def init_weights(self, seed: int | None = None, std: float = 0.02) -> None:
        """Deterministic initialisation: normal(0, std) for matrices, small scale on output projections."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        depth_scale = 1.0 / math.sqrt(2.0 * self.cfg.n_layers)
        for name, p in self.named_parameters():
            with torch.no_grad():
                if p.dim() == 1:
                    p.fill_(1.0)
                else:
                    s = std * (depth_scale if name.endswith(("o.weight", "w2.weight")) else 1.0)
                    p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * s)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        w = self.embed.weight if self.head is None else self.head.weight
        return x @ w.t()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Parallel form.  ids: [B, T] or [T] -> logits [B, T, V] (or [T, V])."""
        squeeze = ids.dim() == 1
        if squeeze:
            ids = ids[None]
        x = self.embed(ids)
        for layer in self.layers:
            h = x + layer.retention.forward_parallel(layer.norm1(x))
            x = h + layer.ffn(layer.norm2(h))
        out = self._logits(x)
        return out[0] if squeeze else out

    forward_parallel = forward

    def step(self, ids: torch.Tensor, state: RecurrentState | None = None):
        """Recurrent form: one token per sequence.  ids: [B] -> (logits [B, V], new state)."""
        if state is None:
            state = RecurrentState([None] * self.cfg.n_layers, 0)
        x = self.embed(ids)[:, None, :]
        new_layers = []
        for layer, S in zip(self.layers, state.layers):
            r, S = layer.retention.forward_recurrent(layer.norm1(x), S, state.pos)
            h = x + r
            x = h + layer.ffn(layer.norm2(h))
            new_layers.append(S)
        return self._logits(x)[:, 0, :], RecurrentState(new_layers, state.pos + 1)

    def forward_recurrent(self, ids: torch.Tensor) -> torch.Tensor:
        """Run the recurrent form over a whole sequence.  ids: [B, T] or [T] -> logits like forward()."""
        squeeze = ids.dim() == 1
        if squeeze:
            ids = ids[None]
        state = None
        outs = []
        for t in range(ids.shape[1]):
            lo, state = self.step(ids[:, t], state)
            outs.append(lo)
        out = torch.stack(outs, dim=1)
        return out[0] if squeeze else out

    def forward_chunkwise(self, ids: torch.Tensor, chunk: int, state: RecurrentState | None = None,
                          return_state: bool = False):
        """Chunkwise form.  ids: [B, T] or [T]; the returned state continues with step() or another call."""
        squeeze = ids.dim() == 1
        if squeeze:
            ids = ids[None]
        if state is None:
            state = RecurrentState([None] * self.cfg.n_layers, 0)
        x = self.embed(ids)
        new_layers = []
        for layer, S in zip(self.layers, state.layers):
            r, S = layer.retention.forward_chunkwise(layer.norm1(x), chunk, S, state.pos)
            h = x + r
            x = h + layer.ffn(layer.norm2(h))
            new_layers.append(S)
        out = self._logits(x)
        out = out[0] if squeeze else out
        if return_state:
            return out, RecurrentState(new_layers, state.pos + ids.shape[1])
        return out

    # -- (de)serialisation ----------------------------------------------------------------------------------------
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def export_tensors(self) -> dict:
        return {k: v.detach().to(torch.float32).contiguous() for k, v in self.state_dict().items()}


def save_model(model: RetNet, path: str, extra_metadata: dict | None = None) -> None:
    md = model.cfg.to_metadata()
    if extra_metadata:
        md.update({k: str(v) for k, v in extra_metadata.items()})
    save_safetensors(path, model.export_tensors(), md)


def load_model(path: str, dtype=torch.float32) -> RetNet:
    tensors, md = load_safetensors(path)
    cfg = RetNetConfig.from_metadata(md)
    model = RetNet(cfg)
    expected = set(model.state_dict().keys())
    got = set(tensors.keys())
    if expected != got:
        raise ValueError(f"{path}: tensor set mismatch; missing {sorted(expected - got)}, "
                         f"unexpected {sorted(got - expected)}")
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    for k, v in model.state_dict().items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ValueError(f"{path}: tensor {k} has shape {tuple(sd[k].shape)}, expected {tuple(v.shape)}")
    model.load_state_dict(sd)
    return model.to(dtype)
