#!/usr/bin/env python3
"""Collects the texts for the encoder and replay fixtures (run by scripts/make-encoder-fixtures.mjs).

Takes: the data dir (../shared) and the output path. Gives: a JSON file
{"texts": [{"kind", "source", "text"}], "replay": [{"regex_name", "regex", "text"}]}.
- kind "json": the `data` of maskbench-dev tests as Python's json.dumps (default separators, ensure_ascii);
- kind "json-unicode": the same with ensure_ascii=False, for documents holding non-ASCII text;
- kind "prose": paragraphs of /usr/share/common-licenses/* and /usr/share/doc/**/README*, changelog*.
- replay: strings that fully match the bench regexes (checked with re.fullmatch).
Deterministic: sorted inputs, a fixed random seed.
"""
import glob
import gzip
import json
import os
import random
import re
import sys

MAX_LEN = 360


def maskbench_texts(data_dir):
    plain, uni = [], []
    seen = set()
    for path in sorted(glob.glob(os.path.join(data_dir, "corpora/maskbench-dev/*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for i, test in enumerate(doc.get("tests", [])):
            if "data" not in test:
                continue
            src = f"{os.path.basename(path)}#{i}"
            t = json.dumps(test["data"])
            if 8 <= len(t) <= MAX_LEN and t not in seen:
                seen.add(t)
                plain.append({"kind": "json", "source": src, "text": t})
            u = json.dumps(test["data"], ensure_ascii=False)
            if u != t and len(u) <= MAX_LEN and u not in seen:
                seen.add(u)
                uni.append({"kind": "json-unicode", "source": src, "text": u})
    return plain, uni


def read_doc(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read(200_000)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def prose_texts():
    files = sorted(glob.glob("/usr/share/common-licenses/*"))
    files += sorted(glob.glob("/usr/share/doc/**/README*", recursive=True))
    files += sorted(glob.glob("/usr/share/doc/**/changelog*", recursive=True))
    out, seen = [], set()
    for path in files:
        if not os.path.isfile(path):
            continue
        text = read_doc(path)
        if not text:
            continue
        for para in re.split(r"\n[ \t]*\n", text):
            para = para.strip("\n")
            if 40 <= len(para) <= MAX_LEN and para not in seen:
                seen.add(para)
                out.append({"kind": "prose", "source": path, "text": para})
    return out


def pick(items, n, rng):
    if len(items) <= n:
        return items
    idx = sorted(rng.sample(range(len(items)), n))
    return [items[i] for i in idx]


# ---- replay strings: generated per regex, verified with re.fullmatch ----
WORDS40 = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
           "quebec romeo sierra tango uniform victor whiskey xray yankee zulu apple banana cherry grape lemon "
           "mango orange peach pear plum berry melon kiwi lime").split()


def gen_replay(regexes, rng):
    def digits(n):
        return "".join(rng.choice("0123456789") for _ in range(n))

    def date_time():
        s = f"{rng.randint(1900, 2099)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T" \
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        if rng.random() < 0.5:
            s += "." + digits(rng.randint(1, 6))
        s += rng.choice(["Z", f"+{rng.randint(0, 14):02d}:{rng.choice(['00', '30', '45'])}",
                         f"-{rng.randint(0, 12):02d}:00"])
        return s

    def email():
        users = ["john.doe", "a_b", "mary+news", "x%y", "support", "li.wei-99", "o.k"]
        hosts = ["example.com", "mail.example.org", "uni-bonn.de", "x.io", "sub.domain.co.uk"]
        return rng.choice(users) + str(rng.randint(0, 99)) + "@" + rng.choice(hosts)

    def uuid():
        h = "0123456789abcdef"
        parts = [8, 4, 4, 4, 12]
        return "-".join("".join(rng.choice(h) for _ in range(n)) for n in parts)

    def ipv4():
        return ".".join(str(rng.choice([rng.randint(0, 9), rng.randint(10, 99), rng.randint(100, 255)]))
                        for _ in range(4))

    def phone():
        s = "+" + str(rng.randint(1, 999))
        s += rng.choice(["", " ", "-"])
        area = digits(rng.randint(1, 4))
        s += f"({area})" if rng.random() < 0.5 else area
        for _ in range(rng.randint(2, 4)):
            s += rng.choice(["", " ", "-"]) + digits(rng.randint(2, 4))
        return s

    def words40():
        return rng.choice(WORDS40)

    def json_object6():
        sp = lambda: rng.choice(["", " "])
        names = ["Ada Lovelace", "Bob", "Zo\u00eb", "O\\\"Neil", "line\\nbreak", "x/y", "\u00c5sa"]
        tag_words = ["ops", "dev", "a b", "tab\\t", "\u00fc"]
        tags = ['"' + rng.choice(tag_words) + '"' for _ in range(rng.randint(0, 3))]
        score = rng.choice(["0", "-1.5", "42", "3.25e+2", "7E-3", "-0"])
        name = rng.choice(names)
        role = rng.choice(["admin", "user", "guest"])
        return (f'{{{sp()}"name"{sp()}:{sp()}"{name}"{sp()},{sp()}"age"{sp()}:{sp()}'
                f'{rng.randint(0, 99)}{sp()},{sp()}"role"{sp()}:{sp()}"{role}"'
                f'{sp()},{sp()}"active"{sp()}:{sp()}{rng.choice(["true", "false"])}{sp()},{sp()}"tags"{sp()}:'
                f'{sp()}[{sp()}{(sp() + "," + sp()).join(tags)}{sp()}]{sp()},{sp()}"score"{sp()}:{sp()}'
                f'{score}{sp()}}}')

    gens = {"date-time": date_time, "email": email, "uuid": uuid, "ipv4": ipv4, "phone": phone,
            "words40": words40, "json-object6": json_object6}
    out = []
    for name in ["date-time", "email", "uuid", "ipv4", "phone", "words40", "json-object6"]:
        regex = regexes[name]
        seen = set()
        tries = 0
        while len(seen) < 8 and tries < 1000:
            tries += 1
            s = gens[name]()
            if s in seen:
                continue
            if not re.fullmatch(regex, s):
                raise SystemExit(f"generated string does not match {name}: {s!r}")
            seen.add(s)
            out.append({"regex_name": name, "regex": regex, "text": s})
    return out


def main(data_dir, out_path):
    rng = random.Random(20240601)
    plain, uni = maskbench_texts(data_dir)
    prose = prose_texts()
    texts = pick(plain, 1500, rng) + pick(uni, 200, rng) + pick(prose, 1400, rng)
    with open(os.path.join(data_dir, "corpora/bench-regexes.json"), encoding="utf-8") as f:
        regexes = json.load(f)
    replay = gen_replay(regexes, rng)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "replay": replay}, f, ensure_ascii=False)
    print(f"{len(plain)} json, {len(uni)} json-unicode, {len(prose)} prose available; "
          f"{len(texts)} texts, {len(replay)} replay strings", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
