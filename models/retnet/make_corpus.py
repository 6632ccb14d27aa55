"""Builds the RetNet training corpus from offline material, deterministically (seeded, sorted inputs).

Takes: the maskbench-dev JSON Schema corpus under $TOLLGATE_DATA_DIR (default ../shared relative to the repo) and
English prose that Debian packages install on this machine (/usr/share/common-licenses, README/copyright/text files
under /usr/share/doc, info manuals, Python's pydoc topics and standard-library docstrings).
Gives: models/retnet/work/corpus/{train,val}.jsonl (one {"text": ...} document per line, JSON and prose shuffled
together), plus manifest.json with counts, sizes and SHA-256 of both files.

JSON documents are (a) valid test instances from maskbench-dev, serialised with json.dumps default separators
and, for a seeded subset, with indent=2, and (b) instances generated from the schemas by a small seeded random
generator, kept only when python3-jsonschema validates them.  Prose is split into paragraphs, junk paragraphs
(mostly non-letters, tables, very short) are dropped, and paragraphs are de-duplicated globally.

Which prose files exist depends on the installed packages, so the files actually read are recorded (path and
SHA-256, in order) in models/retnet/corpus_sources.json; when that file exists it is used instead of scanning, and
a missing or changed file is an error - the corpus then rebuilds byte for byte.  --rescan scans afresh.

Usage: /usr/bin/python3 models/retnet/make_corpus.py [--out DIR] [--seed 1234] [--gen-per-schema 10] [--rescan]
"""
import argparse
import ast
import glob
import gzip
import hashlib
import json
import os
import random
import re
import string
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def data_dir() -> str:
    return os.environ.get("TOLLGATE_DATA_DIR") or os.path.abspath(os.path.join(REPO, "..", "shared"))


# ----------------------------------------------------------------------------------------------------------------
# prose
# ----------------------------------------------------------------------------------------------------------------

MAX_FILE_BYTES = 400_000


def read_text(path: str) -> str:
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read(4 * MAX_FILE_BYTES)
        else:
            if os.path.getsize(path) > 4 * MAX_FILE_BYTES:
                return ""
            with open(path, "rb") as f:
                raw = f.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    if b"\x00" in raw[:4096]:
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


_WS = re.compile(r"[ \t]+")


def clean_paragraph(p: str) -> str | None:
    lines = [ln.rstrip() for ln in p.replace("\r", "").split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        return None
    # drop decoration lines (----, ====, ****) and control characters
    lines = [ln for ln in lines if not re.fullmatch(r"\s*[-=*_#~+.:|]{3,}\s*", ln)]
    if not lines:
        return None
    text = "\n".join(lines)
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
    text = text.replace("\x7f", "")
    # info-manual and troff artefacts
    text = text.replace("\x1f", "")
    # Debian machine-readable copyright stanzas ("Files: ...", "Copyright: ...", "License: ...") are not prose
    fields = sum(bool(re.match(r"\s*[A-Z][A-Za-z-]*:\s", ln)) for ln in lines)
    if fields * 3 >= len(lines):
        return None
    letters = sum(ch.isalpha() for ch in text)
    n = len(text)
    if n < 40 or letters / n < 0.6:
        return None
    words = text.split()
    if len(words) < 8:
        return None
    # mostly prose: average word length sane and few very long tokens (hashes, URLs lists, base64)
    if sum(len(w) > 30 for w in words) > max(1, len(words) // 20):
        return None
    if max(len(ln) for ln in lines) > 400:
        return None
    return text


def paragraphs(text: str):
    for p in re.split(r"\n\s*\n", text):
        c = clean_paragraph(p)
        if c:
            yield c


def group_paragraphs(paras, target=1500):
    """Join consecutive paragraphs of one source into documents of about `target` characters."""
    doc = []
    size = 0
    for p in paras:
        doc.append(p)
        size += len(p)
        if size >= target:
            yield "\n\n".join(doc)
            doc, size = [], 0
    if doc:
        yield "\n\n".join(doc)


def docstrings_of(path: str):
    try:
        with open(path, "r", encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            d = ast.get_docstring(node, clean=True)
            if d and len(d) > 80:
                yield d


def pydoc_topics(path: str):
    ns: dict = {}
    try:
        with open(path, encoding="utf-8") as f:
            exec(compile(f.read(), path, "exec"), ns)  # a plain dict literal assignment
    except Exception:  # noqa: BLE001 - optional source
        return
    for key in sorted(ns.get("topics", {})):
        yield ns["topics"][key]


# share of the prose budget each source category may take (in this order; all are de-duplicated together)
PROSE_SHARES = (("licenses", 1.0), ("pydoc", 1.0), ("docstrings", 0.3), ("info", 0.15), ("docs", 1.0))


def source_files(category: str, exclude_doc_dirs=()) -> list:
    """Discovers the files of one prose category on this machine, in a deterministic order."""
    if category == "licenses":
        return [p for p in sorted(glob.glob("/usr/share/common-licenses/*")) if os.path.isfile(p)]
    if category == "pydoc":
        cands = sorted(glob.glob("/usr/lib/python3*/pydoc_data/topics.py"))
        return cands[-1:]
    if category == "info":
        return sorted(glob.glob("/usr/share/info/*.info*.gz"))
    if category == "docstrings":
        return [p for p in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True))
                if not any(x in p for x in ("/test/", "/tests/", "/idlelib/", "/lib2to3/"))]
    assert category == "docs"
    excluded = tuple(f"/usr/share/doc/{d}/" for d in exclude_doc_dirs)
    docfiles = []
    for p in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
        if not os.path.isfile(p) or os.path.islink(p) or p.startswith(excluded):
            continue
        low = os.path.basename(p).lower()
        stem = low[:-3] if low.endswith(".gz") else low
        if (stem.startswith(("readme", "news", "faq", "copyright", "authors", "thanks", "todo", "bugs"))
                or stem.endswith((".txt", ".md", ".rst"))) and "changelog" not in stem:
            docfiles.append(p)
    return docfiles


def source_texts(category: str, path: str):
    if category == "pydoc":
        yield from pydoc_topics(path)
    elif category == "docstrings":
        yield "\n\n".join(docstrings_of(path))
    else:
        yield read_text(path)


def file_sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_prose(max_chars: int, files_by_category: dict):
    """Returns (documents, chars per category, the files actually consumed per category as [path, sha256])."""
    seen = set()
    docs = []
    stats = {}
    used_files = {}
    total = 0
    for category, share in PROSE_SHARES:
        budget = min(int(max_chars * share), max_chars - total)
        used = 0
        used_files[category] = []
        for path in files_by_category.get(category, []):
            if used >= budget:
                break
            used_files[category].append([path, file_sha256(path)])
            for text in source_texts(category, path):
                if not text:
                    continue
                fresh = []
                for p in paragraphs(text):
                    key = hashlib.sha1(_WS.sub(" ", p.lower()).strip().encode()).digest()
                    if key in seen:
                        continue
                    seen.add(key)
                    fresh.append(p)
                for d in group_paragraphs(fresh):
                    docs.append(d)
                    used += len(d)
        stats[category] = used
        total += used
    return docs, stats, used_files


# ----------------------------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------------------------

WORDS = ("alpha beta gamma delta north south river stone cloud paper green blue red orange apple lemon table "
         "window server client request response value index order user account admin guest report invoice "
         "project task item status active pending done error warning info debug main release config default "
         "local remote primary secondary east west summer winter city street garden market station library "
         "engine module package service network storage memory cache thread signal record field column").split()
FIRST = "Alice Bob Carol David Emma Frank Grace Henry Irene Jack Karen Liam Maria Noah Olivia Paul Rosa Sam".split()
LAST = "Smith Jones Brown Garcia Miller Davis Wilson Moore Taylor Clark Lewis Walker Young King Scott".split()
TLDS = ["com", "org", "net", "io", "dev"]


class Gen:
    """A small seeded generator of instances for simple JSON Schemas (best effort; results are validated)."""

    def __init__(self, rng: random.Random, root: dict):
        self.r = rng
        self.root = root

    def resolve(self, ref: str):
        if not ref.startswith("#"):
            return None
        node = self.root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node

    def word(self):
        return self.r.choice(WORDS)

    def string(self, s: dict, name: str = ""):
        r = self.r
        fmt = s.get("format")
        if fmt == "date-time":
            return (f"20{r.randint(10, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                    f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z")
        if fmt == "date":
            return f"20{r.randint(10, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        if fmt == "time":
            return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        if fmt == "email":
            return f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}@{self.word()}.{r.choice(TLDS)}"
        if fmt in ("uri", "url", "uri-reference", "iri"):
            return f"https://{self.word()}.{r.choice(TLDS)}/{self.word()}/{r.randint(1, 999)}"
        if fmt in ("hostname", "idn-hostname"):
            return f"{self.word()}.{self.word()}.{r.choice(TLDS)}"
        if fmt == "ipv4":
            return ".".join(str(r.randint(0, 255)) for _ in range(4))
        if fmt == "uuid":
            h = "".join(r.choice("0123456789abcdef") for _ in range(32))
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        lo = int(s.get("minLength", 0))
        hi = int(s.get("maxLength", max(lo, 60)))
        low = name.lower()
        if "name" in low and hi >= 12:
            v = f"{r.choice(FIRST)} {r.choice(LAST)}" if "user" not in low else r.choice(FIRST).lower()
        elif ("id" in low or "key" in low) and hi >= 8:
            v = "".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(r.randint(6, 12)))
        else:
            n = r.randint(1, 4)
            v = " ".join(self.word() for _ in range(n))
            if r.random() < 0.3:
                v = v.capitalize()
        if len(v) > hi:
            v = v[:hi].rsplit(" ", 1)[0] if " " in v[:hi] else v[:hi]
        while len(v) < lo:
            v += r.choice(string.ascii_lowercase)
        return v

    def number(self, s: dict, integer: bool):
        r = self.r
        lo = s.get("minimum", s.get("exclusiveMinimum", 0 if r.random() < 0.8 else -1000))
        hi = s.get("maximum", s.get("exclusiveMaximum", lo + r.choice([10, 100, 1000, 100000])))
        if not isinstance(lo, (int, float)) or isinstance(lo, bool):
            lo = 0
        if not isinstance(hi, (int, float)) or isinstance(hi, bool) or hi < lo:
            hi = lo + 100
        if integer:
            return r.randint(int(lo) + (1 if "exclusiveMinimum" in s else 0),
                             max(int(lo) + 1, int(hi) - (1 if "exclusiveMaximum" in s else 0)))
        v = r.uniform(lo, hi)
        return round(v, r.choice([0, 1, 2, 2, 3, 4])) if r.random() < 0.9 else v

    def gen(self, s, depth: int = 0, name: str = ""):
        r = self.r
        if s is True or s is None or s == {}:
            return r.choice([self.word(), r.randint(0, 100), True, None]) if depth < 6 else None
        if s is False or not isinstance(s, dict) or depth > 12:
            raise ValueError("cannot generate")
        if "$ref" in s:
            t = self.resolve(s["$ref"])
            if t is None:
                raise ValueError("unresolvable $ref")
            return self.gen(t, depth + 1, name)
        if "const" in s:
            return s["const"]
        if "enum" in s and s["enum"]:
            return r.choice(s["enum"])
        for key in ("oneOf", "anyOf"):
            if key in s and s[key]:
                return self.gen(r.choice(s[key]), depth + 1, name)
        if "allOf" in s and s["allOf"]:
            merged = {k: v for k, v in s.items() if k != "allOf"}
            for sub in s["allOf"]:
                if isinstance(sub, dict):
                    if "$ref" in sub:
                        sub = self.resolve(sub["$ref"]) or {}
                    for k, v in sub.items():
                        if k == "properties" and isinstance(v, dict):
                            merged.setdefault("properties", {})
                            merged["properties"] = {**merged["properties"], **v}
                        elif k == "required" and isinstance(v, list):
                            merged["required"] = list(merged.get("required", [])) + v
                        else:
                            merged.setdefault(k, v)
            return self.gen(merged, depth + 1, name)
        t = s.get("type")
        if isinstance(t, list):
            t = r.choice(t) if t else None
        if t is None:
            if "properties" in s:
                t = "object"
            elif "items" in s:
                t = "array"
            else:
                t = r.choice(["string", "integer", "boolean"])
        if t == "object":
            props = s.get("properties", {}) or {}
            req = [k for k in s.get("required", []) if isinstance(k, str)]
            out = {}
            for k in props:
                if k in req or r.random() < 0.6:
                    out[k] = self.gen(props[k], depth + 1, k)
            for k in req:
                if k not in out:
                    out[k] = self.gen(props.get(k, True), depth + 1, k)
            ap = s.get("additionalProperties", None)
            if not props and isinstance(ap, dict) and depth < 8:
                for _ in range(r.randint(1, 3)):
                    out[self.word()] = self.gen(ap, depth + 1)
            return out
        if t == "array":
            items = s.get("items", {})
            if isinstance(items, list):  # tuple form (draft 4-7)
                return [self.gen(it, depth + 1) for it in items]
            prefix = s.get("prefixItems")
            lo = int(s.get("minItems", 0))
            hi = int(s.get("maxItems", max(lo, 4)))
            n = r.randint(lo, max(lo, min(hi, lo + 4)))
            out = [self.gen(it, depth + 1) for it in prefix] if isinstance(prefix, list) else []
            while len(out) < n:
                out.append(self.gen(items, depth + 1, name))
            if s.get("uniqueItems"):
                uniq = []
                for v in out:
                    if v not in uniq:
                        uniq.append(v)
                out = uniq
            return out
        if t == "string":
            return self.string(s, name)
        if t == "integer":
            return self.number(s, True)
        if t == "number":
            return self.number(s, False)
        if t == "boolean":
            return r.random() < 0.5
        if t == "null":
            return None
        raise ValueError(f"unknown type {t!r}")


def build_json(seed: int, gen_per_schema: int):
    import jsonschema  # python3-jsonschema

    warnings.filterwarnings("ignore")
    rng = random.Random(seed)
    files = sorted(glob.glob(os.path.join(data_dir(), "corpora", "maskbench-dev", "*.json")))
    if not files:
        raise SystemExit(f"make_corpus: no maskbench-dev schemas under {data_dir()} (set TOLLGATE_DATA_DIR)")
    docs = []
    stats = {"schemas": len(files), "valid_tests": 0, "generated_tried": 0, "generated_kept": 0}
    seen = set()

    def add(obj):
        compact = json.dumps(obj)
        if compact in seen or len(compact) > 20000:
            return
        seen.add(compact)
        docs.append(json.dumps(obj, indent=2) if rng.random() < 0.3 else compact)

    for path in files:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for t in d.get("tests", []):
            if t.get("valid") is True:
                stats["valid_tests"] += 1
                add(t["data"])
        schema = d.get("schema")
        try:
            cls = jsonschema.validators.validator_for(schema)
            validator = cls(schema)
        except Exception:  # noqa: BLE001 - unusable schema
            continue
        g = Gen(random.Random(rng.randrange(1 << 30)), schema if isinstance(schema, dict) else {})
        for _ in range(gen_per_schema):
            stats["generated_tried"] += 1
            try:
                inst = g.gen(schema)
                ok = validator.is_valid(inst)
            except Exception:  # noqa: BLE001 - generator/validator limits (recursion, bad refs, ...)
                continue
            if ok:
                stats["generated_kept"] += 1
                add(inst)
    return docs, stats


# ----------------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "work", "corpus"))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--gen-per-schema", type=int, default=10)
    ap.add_argument("--max-prose-mb", type=float, default=13.0)
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument("--sources", default=os.path.join(HERE, "corpus_sources.json"),
                    help="recorded prose file list; used when present (exact rebuild), written otherwise")
    ap.add_argument("--rescan", action="store_true", help="rediscover prose files and rewrite --sources")
    ap.add_argument("--exclude-doc-dir", action="append", default=[],
                    help="skip /usr/share/doc/NAME/ when scanning (repeatable)")
    args = ap.parse_args()
    sys.setrecursionlimit(10000)

    json_docs, stats = build_json(args.seed, args.gen_per_schema)
    if args.rescan or not os.path.exists(args.sources):
        files = {c: source_files(c, args.exclude_doc_dir) for c, _ in PROSE_SHARES}
    else:  # rebuild exactly from the recorded file list
        with open(args.sources, encoding="utf-8") as f:
            recorded = json.load(f)
        files = {}
        for c, items in recorded["files"].items():
            for path, sha in items:
                if not os.path.exists(path) or file_sha256(path) != sha:
                    raise SystemExit(f"make_corpus: recorded source {path} is missing or changed; "
                                     f"run with --rescan to rebuild from what this machine has")
            files[c] = [path for path, _ in items]
    prose_docs, prose_stats, used_files = build_prose(int(args.max_prose_mb * 1e6), files)
    if args.rescan or not os.path.exists(args.sources):
        with open(args.sources, "w", encoding="utf-8") as f:
            json.dump({"comment": "prose files make_corpus.py read, in order, with SHA-256", "files": used_files},
                      f, indent=0)
            f.write("\n")
    docs = [("json", d) for d in json_docs] + [("prose", d) for d in prose_docs]
    rng = random.Random(args.seed + 1)
    rng.shuffle(docs)
    n_val = max(1, int(len(docs) * args.val_fraction))
    splits = {"val": docs[:n_val], "train": docs[n_val:]}

    os.makedirs(args.out, exist_ok=True)
    manifest = {"seed": args.seed, "json": stats, "prose_chars_by_source": prose_stats, "documents": {}, "chars": {}, "sha256": {}}
    for name, items in splits.items():
        path = os.path.join(args.out, f"{name}.jsonl")
        h = hashlib.sha256()
        with open(path, "w", encoding="utf-8") as f:
            for kind, text in items:
                line = json.dumps({"kind": kind, "text": text}, ensure_ascii=False) + "\n"
                f.write(line)
                h.update(line.encode("utf-8"))
        manifest["documents"][name] = {k: sum(1 for kk, _ in items if kk == k) for k in ("json", "prose")}
        manifest["chars"][name] = {k: sum(len(t) for kk, t in items if kk == k) for k in ("json", "prose")}
        manifest["sha256"][name] = h.hexdigest()
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
