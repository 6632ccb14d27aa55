"""Unconstrained sampling from the reference RetNet (PyTorch), for the model card.

Takes models/retnet/model.safetensors + tokenizer.json and prompts.  Each prompt is prefixed with <|endoftext|>
(the BOS), prefilled with the chunkwise form, then continued token by token with the recurrent form, greedily
(--temperature 0) or by temperature/top-k sampling (seeded).  Generation stops at <|endoftext|> or --max-tokens.
Gives the samples on stdout (or as JSON with --json).  Also computes validation loss on a corpus split with
--eval FILE.jsonl.
Usage: /usr/bin/python3 models/retnet/sample.py [--prompt TEXT ...] [--temperature 0.8] [--seed 0]
"""
import argparse
import json
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import retnet  # noqa: E402
from train_tokenizer import ByteLevelBPE  # noqa: E402

DEFAULT_PROMPTS = ["", '{"name": "', '{\n  "id": ', "The program", "This library is free software;"]


@torch.no_grad()
def generate(model, tok, prompt: str, max_tokens: int, temperature: float, top_k: int, gen: torch.Generator):
    ids = [model.cfg.bos_id] + tok.encode(prompt)
    logits, state = model.forward_chunkwise(torch.tensor([ids]), chunk=64, return_state=True)
    last = logits[0, -1]
    out = []
    for _ in range(max_tokens):
        if temperature <= 0:
            nxt = int(torch.argmax(last))
        else:
            lo = last / temperature
            if top_k > 0:
                kth = torch.topk(lo, top_k).values[-1]
                lo = torch.where(lo < kth, torch.full_like(lo, -math.inf), lo)
            nxt = int(torch.multinomial(torch.softmax(lo, -1), 1, generator=gen))
        if nxt == model.cfg.eos_id:
            break
        out.append(nxt)
        step_logits, state = model.step(torch.tensor([nxt]), state)
        last = step_logits[0]
    return tok.decode(out)


@torch.no_grad()
def eval_loss(model, tok, path: str, seq_len: int = 256) -> float:
    ids = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            ids.append(tok.eot_id)
            ids.extend(tok.encode_ordinary(json.loads(line)["text"]))
    ids.append(tok.eot_id)
    total, count = 0.0, 0
    for s in range(0, len(ids) - 1, seq_len):
        x = torch.tensor([ids[s:s + seq_len + 1]])
        if x.shape[1] < 2:
            break
        lo = model(x[:, :-1])
        total += torch.nn.functional.cross_entropy(lo[0], x[0, 1:], reduction="sum").item()
        count += x.shape[1] - 1
    return total / count


def main() -> None:
    ap = argparse.ArgumentParser(description="sample from the reference RetNet")
    ap.add_argument("--model", default=os.path.join(HERE, "model.safetensors"))
    ap.add_argument("--tokenizer", default=os.path.join(HERE, "tokenizer.json"))
    ap.add_argument("--prompt", action="append", help="prompt text (repeatable); default: a fixed set")
    ap.add_argument("--max-tokens", type=int, default=80)
    ap.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    ap.add_argument("--top-k", type=int, default=40)
    ap.add_argument("--samples", type=int, default=1, help="samples per prompt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval", help="a corpus .jsonl file to report the loss on")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = retnet.load_model(args.model).eval()
    tok = ByteLevelBPE(args.tokenizer)
    gen = torch.Generator().manual_seed(args.seed)
    results = []
    if args.eval:
        loss = eval_loss(model, tok, args.eval)
        results.append({"eval": args.eval, "loss": loss, "ppl": math.exp(loss)})
        if not args.json:
            print(f"loss on {args.eval}: {loss:.4f} nats/token (perplexity {math.exp(loss):.1f})")
    for prompt in args.prompt or DEFAULT_PROMPTS:
        for _ in range(args.samples):
            text = generate(model, tok, prompt, args.max_tokens, args.temperature, args.top_k, gen)
            results.append({"prompt": prompt, "temperature": args.temperature, "completion": text})
            if not args.json:
                print(f"--- prompt {prompt!r} (temperature {args.temperature})\n{prompt}{text}\n")
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
