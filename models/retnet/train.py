"""Trains the reference RetNet on the corpus from make_corpus.py with the parallel form (CPU only).

Takes models/retnet/work/corpus/{train,val}.jsonl and models/retnet/tokenizer.json.  Each document becomes
<|endoftext|> + its tokens; documents are concatenated into one stream per split (cached as .npy under work/).
Training samples random windows of --seq-len+1 tokens (seeded), AdamW (weight decay on matrices only), linear
warm-up then cosine decay to 10% of the peak LR, gradient clipping at 1.0, torch.set_num_threads(--threads).
Gives models/retnet/model.safetensors (float32, contract metadata), models/retnet/train_log.jsonl (one JSON record
per log interval: step, tokens, elapsed seconds, lr, train loss, val loss when evaluated) and docs/retnet-loss.png.

Schedules: with --steps N the cosine runs over N optimizer steps (fully deterministic).  With --steps 0 (default)
the cosine runs over wall-clock time: progress = elapsed / (0.92 * budget), training stops at progress 1, so the
run adapts to a shared machine whose speed changes.  Either way the learning rate of every step is stored in the
final log record, and --replay-lr LOG re-runs exactly that sequence (same seeds, same data order, same LRs): the
way to retrain the shipped model exactly.
Usage: /usr/bin/python3 models/retnet/train.py [--budget-min 45] [--steps N] [--replay-lr LOG] [--smoke]
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

# Debian's torch calls the system BLAS (libblas.so.3); with libopenblas0-pthread installed that is OpenBLAS,
# whose own thread pool must not oversubscribe the two cores torch already uses.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import retnet  # noqa: E402
from train_tokenizer import ByteLevelBPE  # noqa: E402


def encode_split(tok: ByteLevelBPE, tok_path: str, corpus: str, cache_dir: str) -> np.ndarray:
    h = hashlib.sha256()
    for p in (tok_path, corpus):
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    cache = os.path.join(cache_dir, f"{os.path.basename(corpus)}.{h.hexdigest()[:16]}.npy")
    if os.path.exists(cache):
        return np.load(cache)
    ids = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            ids.append(tok.eot_id)
            ids.extend(tok.encode_ordinary(json.loads(line)["text"]))
    ids.append(tok.eot_id)
    arr = np.asarray(ids, dtype=np.int16 if len(tok) < 32768 else np.int32)
    os.makedirs(cache_dir, exist_ok=True)
    np.save(cache, arr)
    return arr


@torch.no_grad()
def evaluate(model, stream: np.ndarray, seq_len: int, max_windows: int, batch: int = 16) -> float:
    """Mean next-token loss over non-overlapping windows from the start of the stream."""
    model.eval()
    n = min(max_windows, (len(stream) - 1) // seq_len)
    total, count = 0.0, 0
    for b in range(0, n, batch):
        rows = [stream[i * seq_len:(i + 1) * seq_len + 1] for i in range(b, min(n, b + batch))]
        x = torch.from_numpy(np.stack(rows).astype(np.int64))
        logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                                                 reduction="sum")
        total += loss.item()
        count += x[:, 1:].numel()
    model.train()
    return total / max(count, 1)


def lr_at(step: int, progress: float, peak: float, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine from peak to 10% of it as progress goes 0 -> 1."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))


def plot_log(log_path: str, png_path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(line) for line in open(log_path, encoding="utf-8") if line.strip()]
    tr = [(r["tokens"] / 1e6, r["train_loss"]) for r in recs if r.get("train_loss") is not None]
    va = [(r["tokens"] / 1e6, r["val_loss"]) for r in recs if r.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if tr:
        ax.plot(*zip(*tr), label="train (interval mean)", lw=1.2)
    if va:
        ax.plot(*zip(*va), "o-", label="validation", lw=1.5, ms=3.5)
    ax.set_xlabel("training tokens (millions)")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title("tollgate reference RetNet training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(png_path), exist_ok=True)
    fig.savefig(png_path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description="train the tollgate reference RetNet")
    ap.add_argument("--corpus-dir", default=os.path.join(HERE, "work", "corpus"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "model.safetensors"))
    ap.add_argument("--log", default=os.path.join(HERE, "train_log.jsonl"))
    ap.add_argument("--plot", default=os.path.join(REPO, "docs", "retnet-loss.png"))
    ap.add_argument("--budget-min", type=float, default=45.0, help="hard wall-clock limit for the training loop")
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (0: time-based cosine over the budget)")
    ap.add_argument("--replay-lr", help="train_log.jsonl of an earlier run: reuse its per-step learning rates")
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--n-heads", type=int, default=4)
    ap.add_argument("--d-ffn", type=int, default=688)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--smoke", action="store_true", help="1-minute run writing into work/smoke/")
    args = ap.parse_args()

    if args.smoke:
        smoke = os.path.join(HERE, "work", "smoke")
        os.makedirs(smoke, exist_ok=True)
        args.out = os.path.join(smoke, "model.safetensors")
        args.log = os.path.join(smoke, "train_log.jsonl")
        args.plot = os.path.join(smoke, "loss.png")
        args.budget_min = min(args.budget_min, 1.0)
        args.eval_every = 10
        args.log_every = 5
        args.eval_windows = 8

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()

    tok = ByteLevelBPE(args.tokenizer)
    cache_dir = os.path.join(HERE, "work", "tokens")
    train_ids = encode_split(tok, args.tokenizer, os.path.join(args.corpus_dir, "train.jsonl"), cache_dir)
    val_ids = encode_split(tok, args.tokenizer, os.path.join(args.corpus_dir, "val.jsonl"), cache_dir)
    print(f"tokens: train {len(train_ids)}, val {len(val_ids)} ({time.time() - t_start:.1f}s)", flush=True)

    cfg = retnet.RetNetConfig(vocab_size=len(tok), d_model=args.d_model, n_layers=args.n_layers,
                              n_heads=args.n_heads, d_ffn=args.d_ffn, norm_eps=1e-6, tie_embeddings=True,
                              bos_id=tok.eot_id, eos_id=tok.eot_id)
    model = retnet.RetNet(cfg)
    model.init_weights(seed=args.seed, std=0.02)
    n_params = model.num_parameters()
    print(f"model: {n_params} parameters, config {cfg}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    rng = np.random.default_rng(args.seed)
    L = args.seq_len
    budget_s = args.budget_min * 60.0
    replay = None
    if args.replay_lr:
        with open(args.replay_lr, encoding="utf-8") as f:
            ends = [r for r in map(json.loads, f) if r.get("event") == "end"]
        replay = ends[-1]["lr_per_step"]
        total_steps = len(replay)
        budget_s = float("inf")
    else:
        total_steps = args.steps if args.steps > 0 else None
    time_fraction = 0.92  # of the budget for the time-based schedule; the rest is for evaluation and saving
    lr_trace = []

    log = open(args.log, "w", encoding="utf-8")

    def write(rec):
        log.write(json.dumps(rec) + "\n")
        log.flush()

    write({"event": "start", "params": n_params, "config": cfg.to_metadata(), "args": vars(args),
           "train_tokens": int(len(train_ids)), "val_tokens": int(len(val_ids)), "torch": torch.__version__})
    model.train()
    t_loop = time.time()
    step = 0
    tokens = 0
    interval_loss, interval_n = 0.0, 0
    last_val = None
    stopped_by_budget = False
    while True:
        if total_steps is not None and step >= total_steps:
            break
        if time.time() - t_loop > budget_s:
            stopped_by_budget = True
            break
        if replay is not None:
            lr = replay[step]
        elif total_steps is not None:
            lr = lr_at(step, (step - args.warmup) / max(1, total_steps - args.warmup), args.lr, args.warmup)
        else:
            progress = (time.time() - t_loop) / (time_fraction * budget_s)
            if progress >= 1.0:
                break
            lr = lr_at(step, progress, args.lr, args.warmup)
        lr_trace.append(lr)
        for gp in opt.param_groups:
            gp["lr"] = lr
        starts = rng.integers(0, len(train_ids) - L - 1, size=args.batch)
        x = torch.from_numpy(np.stack([train_ids[s:s + L + 1] for s in starts]).astype(np.int64))
        logits = model(x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += args.batch * L
        interval_loss += loss.item()
        interval_n += 1
        if step % args.log_every == 0 or step == total_steps:
            rec = {"step": step, "tokens": tokens, "elapsed_s": round(time.time() - t_loop, 1), "lr": lr,
                   "train_loss": interval_loss / interval_n, "grad_norm": float(gnorm)}
            if step % args.eval_every == 0 or step == total_steps:
                last_val = evaluate(model, val_ids, L, args.eval_windows)
                rec["val_loss"] = last_val
                retnet.save_model(model, args.out)  # checkpoint: a usable model exists at all times
            write(rec)
            print(json.dumps(rec), flush=True)
            interval_loss, interval_n = 0.0, 0

    train_time = time.time() - t_loop
    final_val = evaluate(model, val_ids, L, max_windows=8 if args.smoke else 10 ** 9)
    retnet.save_model(model, args.out)
    summary = {"event": "end", "step": step, "tokens": tokens, "train_seconds": round(train_time, 1),
               "stopped_by_budget": stopped_by_budget, "final_val_loss_full": final_val,
               "final_val_ppl": math.exp(final_val), "last_interval_val_loss": last_val,
               "lr_per_step": lr_trace}
    write(summary)
    log.close()
    print(json.dumps({k: v for k, v in summary.items() if k != "lr_per_step"}), flush=True)
    plot_log(args.log, args.plot)
    print(f"wrote {args.out}, {args.log}, {args.plot}", flush=True)


if __name__ == "__main__":
    main()
