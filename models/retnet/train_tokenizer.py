"""Trains the RetNet's byte-level BPE tokenizer and writes it as a Hugging Face tokenizer.json.

Takes the training split made by make_corpus.py (models/retnet/work/corpus/train.jsonl).  Pre-tokenizes with the
GPT-2 style Split regex (python3-regex for \\p{L}/\\p{N}), maps bytes to the GPT-2 byte<->unicode alphabet, counts
pre-token frequencies and learns merges with an incremental pair-count algorithm (pair -> words index + lazy max
heap), until the vocabulary has --vocab-size tokens (id 0 = <|endoftext|>, ids 1..256 = the byte alphabet).
Gives models/retnet/tokenizer.json + tokenizer_config.json.  Also provides ByteLevelBPE, a small encoder/decoder
for such files, used by train.py/sample.py and the tests.

Usage: /usr/bin/python3 models/retnet/train_tokenizer.py [--corpus FILE] [--out DIR] [--vocab-size 4096]
"""
import argparse
import collections
import heapq
import json
import os
import time

import regex

HERE = os.path.dirname(os.path.abspath(__file__))

SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = "<|endoftext|>"
_SPLIT_RE = regex.compile(SPLIT_PATTERN)


def bytes_to_unicode() -> dict:
    """GPT-2's reversible map from the 256 byte values to printable unicode characters."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    mapping = {}
    extra = 0
    for b in range(256):
        if b in keep:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {v: k for k, v in BYTE_ENCODER.items()}


def pretokenize(text: str) -> list:
    """Split regex with behavior Isolated (every character belongs to some piece), then byte-level mapping."""
    pieces = []
    last = 0
    for m in _SPLIT_RE.finditer(text):
        if m.start() > last:  # Isolated keeps the gaps too (cannot happen with this pattern, kept for safety)
            pieces.append(text[last:m.start()])
        pieces.append(m.group(0))
        last = m.end()
    if last < len(text):
        pieces.append(text[last:])
    return ["".join(BYTE_ENCODER[b] for b in p.encode("utf-8")) for p in pieces]


# ----------------------------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------------------------

def train_bpe(word_counts: dict, vocab_size: int, min_frequency: int = 2, log=print):
    """Learns merges.  word_counts: byte-level-mapped pre-token -> count.  Returns (vocab dict, merges list)."""
    alphabet = [BYTE_ENCODER[b] for b in range(256)]
    alphabet.sort()  # ids 1..256 in code-point order of the mapped characters
    id_of = {EOT: 0}
    tokens = [EOT]
    for ch in alphabet:
        id_of[ch] = len(tokens)
        tokens.append(ch)

    keys = sorted(word_counts)  # deterministic word order
    words = [[id_of[ch] for ch in w] for w in keys]
    freqs = [word_counts[w] for w in keys]

    pair_counts = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for wi, (sym, f) in enumerate(zip(words, freqs)):
        for a, b in zip(sym, sym[1:]):
            pair_counts[(a, b)] += f
            where[(a, b)].add(wi)

    # heap entries: (-count, left string, right string, pair); ties broken by the token strings
    heap = [(-c, tokens[p[0]], tokens[p[1]], p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    merges = []
    t0 = time.time()
    while len(tokens) < vocab_size and heap:
        negc, _, _, pair = heapq.heappop(heap)
        cur = pair_counts.get(pair, 0)
        if cur != -negc:  # stale entry
            if cur > 0:
                heapq.heappush(heap, (-cur, tokens[pair[0]], tokens[pair[1]], pair))
            continue
        if cur < min_frequency:
            break
        a, b = pair
        new_id = len(tokens)
        tokens.append(tokens[a] + tokens[b])
        merges.append((tokens[a], tokens[b]))
        changed = set()
        for wi in sorted(where.pop(pair, ())):
            sym = words[wi]
            f = freqs[wi]
            # does the word still contain the pair? (the index is lazily maintained)
            if not any(sym[i] == a and sym[i + 1] == b for i in range(len(sym) - 1)):
                continue
            for p in zip(sym, sym[1:]):
                pair_counts[p] -= f
                changed.add(p)
            out = []
            i = 0
            n = len(sym)
            while i < n:
                if i + 1 < n and sym[i] == a and sym[i + 1] == b:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            words[wi] = out
            for p in zip(out, out[1:]):
                pair_counts[p] += f
                where[p].add(wi)
                changed.add(p)
        pair_counts.pop(pair, None)
        changed.discard(pair)
        for p in changed:
            c = pair_counts.get(p, 0)
            if c > 0:
                heapq.heappush(heap, (-c, tokens[p[0]], tokens[p[1]], p))
            elif p in pair_counts:
                del pair_counts[p]
        if len(merges) % 500 == 0:
            log(f"  {len(merges)} merges, last {tokens[-1]!r} (count {cur}), {time.time() - t0:.1f}s")
    vocab = {t: i for i, t in enumerate(tokens)}
    return vocab, merges


def tokenizer_json(vocab: dict, merges: list) -> dict:
    model_vocab = {t: i for t, i in vocab.items() if t != EOT}
    model_vocab = dict(sorted(model_vocab.items(), key=lambda kv: kv[1]))
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": vocab[EOT], "content": EOT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": model_vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tokenizer_config() -> dict:
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {"0": {"content": EOT, "lstrip": False, "normalized": False, "rstrip": False,
                                       "single_word": False, "special": True}},
        "bos_token": EOT,
        "eos_token": EOT,
        "unk_token": None,
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 4096,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


# ----------------------------------------------------------------------------------------------------------------
# encoder / decoder
# ----------------------------------------------------------------------------------------------------------------

class ByteLevelBPE:
    """Encoder/decoder for the tokenizer.json written above (merge-rank BPE per pre-token, special tokens split
    out first)."""

    def __init__(self, path: str):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        m = d["model"]
        self.vocab = dict(m["vocab"])
        self.specials = {}
        for t in d.get("added_tokens", []):
            self.vocab[t["content"]] = t["id"]
            self.specials[t["content"]] = t["id"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        merges = [tuple(x.split(" ")) if isinstance(x, str) else tuple(x) for x in m["merges"]]
        self.ranks = {p: r for r, p in enumerate(merges)}
        self.eot_id = self.specials.get(EOT, 0)
        self._cache = {}
        self._special_re = regex.compile("|".join(regex.escape(s) for s in sorted(self.specials, key=len,
                                                                                     reverse=True)))

    def __len__(self):
        return len(self.id_to_token)

    def _bpe(self, piece: str) -> list:
        hit = self._cache.get(piece)
        if hit is not None:
            return hit
        sym = list(piece)
        while len(sym) > 1:
            best = None
            best_rank = None
            for i in range(len(sym) - 1):
                r = self.ranks.get((sym[i], sym[i + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = i, r
            if best is None:
                break
            merged = sym[best] + sym[best + 1]
            # merge every occurrence of this pair, left to right
            a, b = sym[best], sym[best + 1]
            out = []
            i = 0
            while i < len(sym):
                if i + 1 < len(sym) and sym[i] == a and sym[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            sym = out
        ids = [self.vocab[s] for s in sym]
        if len(self._cache) < 200000:
            self._cache[piece] = ids
        return ids

    def encode_ordinary(self, text: str) -> list:
        ids = []
        for p in pretokenize(text):
            ids.extend(self._bpe(p))
        return ids

    def encode(self, text: str) -> list:
        ids = []
        last = 0
        if self.specials:
            for m in self._special_re.finditer(text):
                ids.extend(self.encode_ordinary(text[last:m.start()]))
                ids.append(self.specials[m.group(0)])
                last = m.end()
        ids.extend(self.encode_ordinary(text[last:]))
        return ids

    def decode(self, ids) -> str:
        out = bytearray()
        for i in ids:
            t = self.id_to_token[int(i)]
            if t in self.specials:
                out.extend(t.encode("utf-8"))
            else:
                out.extend(BYTE_DECODER[ch] for ch in t)
        return out.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------------------------

def iter_texts(path: str):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["text"]


def main() -> None:
    ap = argparse.ArgumentParser(description="train the RetNet byte-level BPE tokenizer")
    ap.add_argument("--corpus", default=os.path.join(HERE, "work", "corpus", "train.jsonl"))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--vocab-size", type=int, default=4096)
    args = ap.parse_args()

    t0 = time.time()
    counts = collections.Counter()
    for text in iter_texts(args.corpus):
        counts.update(pretokenize(text))
    print(f"{sum(counts.values())} pre-tokens, {len(counts)} distinct ({time.time() - t0:.1f}s)")
    vocab, merges = train_bpe(counts, args.vocab_size)
    print(f"vocab {len(vocab)}, {len(merges)} merges ({time.time() - t0:.1f}s)")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}/tokenizer.json and tokenizer_config.json")


if __name__ == "__main__":
    main()
