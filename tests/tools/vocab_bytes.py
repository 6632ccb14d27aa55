#!/usr/bin/env python3
"""Independent reference for TokenizerInfo: token id -> exact bytes, straight from tokenizer.json.

Takes: the path of a tokenizer.json (tokenizer_config.json beside it is read when present).
Gives (stdout): a JSON header line {"num_tokens", "eos", "specials"}, then one line per id:
"<id> <hex bytes or -> <flags>", flags = s (special), p (padding: id not defined), - otherwise.

It interprets the tokenizer.json `decoder` chain generically, decoder by decoder, the way the Hugging Face
`tokenizers` decoders transform a single token (Replace, ByteFallback, ByteLevel, Fuse, Metaspace, Strip),
keeping byte-fallback bytes as raw bytes instead of turning invalid UTF-8 into U+FFFD. It shares no code
with the C++ loader; tests/cpp/vocabulary_test.cpp runs it and compares every id.
"""
import json
import os
import re
import sys


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


UNICODE_TO_BYTE = {c: b for b, c in bytes_to_unicode().items()}
BYTE_TOKEN = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def flatten(section, key):
    if not section:
        return []
    if section.get("type") == "Sequence":
        out = []
        for s in section.get(key, []):
            out.extend(flatten(s, key))
        return out
    return [section]


def decode_single(text, decoders):
    """A token is a list of pieces: str (still text) or bytes (final)."""
    pieces = [text]
    for d in decoders:
        t = d["type"]
        if t == "Replace":
            pat = d["pattern"].get("String")
            if pat is None:
                raise SystemExit("Replace with a regex pattern is not modelled")
            pieces = [p.replace(pat, d["content"]) if isinstance(p, str) else p for p in pieces]
        elif t == "ByteFallback":
            out = []
            for p in pieces:
                m = BYTE_TOKEN.match(p) if isinstance(p, str) else None
                out.append(bytes([int(m.group(1), 16)]) if m else p)
            pieces = out
        elif t == "ByteLevel":
            out = []
            for p in pieces:
                if isinstance(p, str):
                    out.append(b"".join(bytes([UNICODE_TO_BYTE[ch]]) if ch in UNICODE_TO_BYTE
                                        else ch.encode("utf-8") for ch in p))
                else:
                    out.append(p)
            pieces = out
        elif t == "Metaspace":
            rep = d.get("replacement", "\u2581")
            pieces = [p.replace(rep, " ") if isinstance(p, str) else p for p in pieces]
        elif t in ("Fuse", "Strip"):
            # Fuse joins tokens; Strip removes characters at the start/end of the whole text
            # (the leading-space policy), neither changes one token's own bytes.
            pass
        else:
            raise SystemExit(f"decoder {t} not modelled")
    return b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in pieces)


def main(path):
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    config = {}
    cpath = os.path.join(os.path.dirname(path), "tokenizer_config.json")
    if os.path.exists(cpath):
        with open(cpath, encoding="utf-8") as f:
            config = json.load(f)
    model = tok["model"]
    vocab = model["vocab"]
    if isinstance(vocab, list):  # Unigram
        vocab = {piece: i for i, (piece, _score) in enumerate(vocab)}
    id_to_text = {i: s for s, i in vocab.items()}
    added = {a["id"]: a for a in tok.get("added_tokens") or []}
    num_tokens = max(list(id_to_text) + list(added)) + 1
    decoders = flatten(tok.get("decoder"), "decoders")

    eos = config.get("eos_token")
    if isinstance(eos, dict):
        eos = eos.get("content")
    eos_ids = [i for i, a in added.items() if a["content"] == eos] or \
        ([vocab[eos]] if eos in vocab else [])
    unk = model.get("unk_token")

    out = sys.stdout
    out.write(json.dumps({"num_tokens": num_tokens, "eos": eos_ids}) + "\n")
    lines = []
    for i in range(num_tokens):
        if i in added:
            a = added[i]
            data = a["content"].encode("utf-8")
            flag = "s" if a["special"] or i in eos_ids else "-"
        elif i in id_to_text:
            text = id_to_text[i]
            data = decode_single(text, decoders)
            flag = "s" if (text == unk or i in eos_ids) else "-"
        else:
            data = b""
            flag = "p"
        lines.append(f"{i} {data.hex() if data else '-'} {flag}\n")
    out.write("".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
