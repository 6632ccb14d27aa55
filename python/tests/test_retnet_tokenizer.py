"""Tests for the RetNet tokenizer tooling (models/retnet/train_tokenizer.py) and the committed tokenizer.json:
the incremental BPE trainer learns the same merges as a naive re-count-everything trainer, the pre-tokenizer
follows the contract's Split regex, and the shipped 4096-token tokenizer.json is well-formed, round-trips text,
and (when node and @lenml/tokenizers are available) encodes exactly like the transformers.js implementation."""
import collections
import json
import os
import shutil
import subprocess
import sys

import pytest

regex = pytest.importorskip("regex")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL_DIR = os.path.join(REPO, "models", "retnet")
sys.path.insert(0, MODEL_DIR)
import train_tokenizer as tt  # noqa: E402

TOK_PATH = os.path.join(MODEL_DIR, "tokenizer.json")

SAMPLES = [
    "Hello world",
    "It's a test, isn't it? We'll see 12345 items; they're 'quoted'.",
    '{"name": "Alice", "age": 42, "tags": ["a", "b"], "ok": true, "x": null}',
    '{\n  "nested": {\n    "deep": [1, 2.5, -3e10]\n  }\n}',
    "  leading   spaces\n\n\ttabs\r\nand trailing   ",
    "héllo wörld ñ 日本語 😀 emoji Ωmega ١٢٣",
    "a<|endoftext|>b<|endoftext|>",
    "",
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software",
]


def naive_bpe(word_counts, vocab_size):
    """Reference trainer: recount all pairs after every merge; same tie-break (count, then strings)."""
    alphabet = sorted(tt.BYTE_ENCODER[b] for b in range(256))
    n_tokens = 1 + len(alphabet)
    words = {w: list(w) for w in word_counts}
    merges = []
    while n_tokens < vocab_size:
        pc = collections.Counter()
        for w, sym in words.items():
            for p in zip(sym, sym[1:]):
                pc[p] += word_counts[w]
        if not pc:
            break
        best = min(pc, key=lambda p: (-pc[p], p[0], p[1]))
        if pc[best] < 2:
            break
        merges.append(best)
        n_tokens += 1
        for w, sym in words.items():
            out, i = [], 0
            while i < len(sym):
                if i + 1 < len(sym) and (sym[i], sym[i + 1]) == best:
                    out.append(sym[i] + sym[i + 1])
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            words[w] = out
    return merges


def unmap(piece):
    return bytes(tt.BYTE_DECODER[c] for c in piece).decode("utf-8")


def test_pretokenize_follows_split_regex():
    text = "It's  12 apples,\n\n and  more!? x"
    pieces = tt.pretokenize(text)
    decoded = [unmap(p) for p in pieces]
    assert decoded == ["It", "'s", " ", " 12", " apples", ",", "\n\n", " and", " ", " more", "!?", " x"]
    assert "".join(decoded) == text
    # unicode letters/numbers are grouped by category, not by ASCII
    assert [unmap(p) for p in tt.pretokenize("ñandú ٣٤")] == ["ñandú", " ٣٤"]


def test_byte_map_is_a_bijection_onto_printables():
    m = tt.bytes_to_unicode()
    assert len(m) == 256 and len(set(m.values())) == 256
    assert m[ord(" ")] == "Ġ" and m[ord("\n")] == "Ċ" and m[ord("A")] == "A"
    assert all(not c.isspace() for c in m.values())


def test_incremental_trainer_matches_naive_trainer():
    text = open(os.path.join(REPO, "LICENSE"), encoding="utf-8").read()[:6000]
    text += ' {"id": 1, "name": "x"} {"id": 2, "name": "yy"} ' * 5
    counts = collections.Counter(tt.pretokenize(text))
    vocab, merges = tt.train_bpe(counts, 257 + 150, log=lambda *_: None)
    ref = naive_bpe(counts, 257 + 150)
    assert merges == ref
    assert len(vocab) == 257 + len(merges)
    assert vocab[tt.EOT] == 0


@pytest.fixture(scope="module")
def tok():
    return tt.ByteLevelBPE(TOK_PATH)


def test_tokenizer_json_structure():
    d = json.load(open(TOK_PATH, encoding="utf-8"))
    m = d["model"]
    assert m["type"] == "BPE"
    assert all(isinstance(x, str) and x.count(" ") == 1 for x in m["merges"])
    ids = sorted(list(m["vocab"].values()) + [t["id"] for t in d["added_tokens"]])
    assert ids == list(range(4096))
    assert d["added_tokens"] == [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                                  "rstrip": False, "normalized": False, "special": True}]
    pre = d["pre_tokenizer"]
    assert pre["type"] == "Sequence"
    split, bl = pre["pretokenizers"]
    assert split["type"] == "Split" and split["behavior"] == "Isolated"
    assert split["pattern"]["Regex"] == tt.SPLIT_PATTERN
    assert bl["type"] == "ByteLevel" and bl["add_prefix_space"] is False and bl["use_regex"] is False
    assert d["decoder"]["type"] == "ByteLevel"
    # every merge result is in the vocabulary, every merge input too
    for x in m["merges"]:
        a, b = x.split(" ")
        assert a in m["vocab"] and b in m["vocab"] and a + b in m["vocab"]
    cfg = json.load(open(os.path.join(MODEL_DIR, "tokenizer_config.json"), encoding="utf-8"))
    assert cfg["eos_token"] == "<|endoftext|>"


def test_roundtrip_and_compression(tok):
    for s in SAMPLES:
        assert tok.decode(tok.encode(s)) == s
    assert tok.encode("a<|endoftext|>b") == tok.encode("a") + [0] + tok.encode("b")
    # a trained tokenizer compresses typical text well below one token per byte
    text = SAMPLES[1] + SAMPLES[2] + SAMPLES[8]
    assert len(tok.encode(text)) < 0.45 * len(text.encode("utf-8"))
    # common JSON and English pieces became single tokens
    assert len(tok.encode('{"')) == 1 and len(tok.encode(" the")) == 1


def find_lenml():
    node = shutil.which("node")
    if not node:
        return None, "node not installed"
    for base in filter(None, [os.environ.get("TOLLGATE_NODE_MODULES"), os.path.join(REPO, "node_modules"),
                              os.path.join(MODEL_DIR, "node_modules")]):
        if os.path.isdir(os.path.join(base, "@lenml", "tokenizers")):
            return base, None
    return None, ("@lenml/tokenizers not installed (npm install @lenml/tokenizers@3.7.2 in a directory and "
                  "point TOLLGATE_NODE_MODULES at its node_modules)")


def test_matches_lenml_tokenizers(tok, tmp_path):
    base, why = find_lenml()
    if base is None:
        pytest.skip(why)
    texts = list(SAMPLES)
    val = os.path.join(MODEL_DIR, "work", "corpus", "val.jsonl")
    if os.path.exists(val):
        with open(val, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for _, line in zip(range(150), f)]
    p = tmp_path / "texts.json"
    p.write_text(json.dumps(texts), encoding="utf-8")
    out = subprocess.run(["node", os.path.join(MODEL_DIR, "encode_with_lenml.mjs"), MODEL_DIR, str(p)],
                         env={**os.environ, "NODE_PATH": base}, capture_output=True, text=True, check=True)
    theirs = json.loads(out.stdout)
    assert len(theirs) == len(texts)
    for t, r in zip(texts, theirs):
        assert r["ids"] == tok.encode(t), t[:80]
        assert r["decoded"] == t
