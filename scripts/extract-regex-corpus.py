#!/usr/bin/python3
"""Builds tests/data/regex_corpus.json: the regex corpus for the parser and RE2 differential tests.

Takes: every `pattern` string and `patternProperties` key in the schemas of
../shared/corpora/maskbench-dev/*.json and ../shared/corpora/jsts/tests/**/*.json, plus the
hand-written regexes below. Gives: a JSON list of {"regex": ..., "source": ...} (deduplicated;
the first source wins). Run from the repository root: /usr/bin/python3 scripts/extract-regex-corpus.py
"""
import glob
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("TOLLGATE_DATA_DIR", os.path.join(ROOT, "..", "shared"))

# Hand-written: every feature of the syntax (docs/regex.md), Unicode classes, nesting, counted
# repetition, alternation. Some are meant to be rejected by RE2 or by us; the tests decide.
HAND = [
    # literals and escapes
    r"abc", r"a.c", r"\.", r"\*\+\?", r"\(\)\[\]\{\}", r"\\", r"\/", r"\-", r"a\|b", r"\^\$",
    r"\n", r"\t\r", r"\f\v", r"\x41\x42", r"\x{263A}", r"\x{1F600}+", r"\u00e9", r"\u00E9t\u00e9",
    r"\uD83D\uDE00", r"\u{1F600}", r"\u{41}\u{42}", r"\cA\cz", r"\0", r"caf\u00e9|cafe",
    r"\"quoted\"", r"\#\%\&\~", r"\@\!\,\:", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e+",
    "\U0001F600|\U0001F64F", "[\u00e0-\u00ff]+", "\u0394\u03b5\u03bb\u03c4\u03b1",
    # dot, classes
    r".", r"..", r".*", r".+x", r"[abc]", r"[a-z]", r"[^a-z]", r"[a-zA-Z0-9_]", r"[]a]", r"[^]a]",
    r"[a-]", r"[-a]", r"[a\-z]", r"[\]]", r"[\\]", r"[.*+?]", r"[\d]", r"[\D]", r"[\w\s]",
    r"[^\W]", r"[\S]+", r"[\x00-\x1f]", r"[\u0400-\u04FF]+", r"[\x{1F600}-\x{1F64F}]",
    r"[[:alpha:]]+", r"[[:digit:][:upper:]]", r"[[:^space:]]+", r"[[:xdigit:]]{4}", r"[[:punct:]]",
    r"[a-c[]", r"[\^x]", r"[x^]", r"[\[\]]", r"[|]", r"[(){}]",
    # perl classes
    r"\d+", r"\D\D", r"\w+", r"\W", r"\s*", r"\S+", r"\d{3}-\d{4}", r"\w+@\w+\.\w+",
    # unicode properties and scripts
    r"\p{L}+", r"\p{Lu}\p{Ll}*", r"\p{Lt}", r"\p{Lm}", r"\p{Lo}", r"\p{M}", r"\p{Mn}", r"\p{N}",
    r"\p{Nd}+", r"\p{Nl}", r"\p{No}", r"\p{P}", r"\p{Pd}", r"\p{Ps}\p{Pe}", r"\p{S}", r"\p{Sm}",
    r"\p{Sc}", r"\p{Z}", r"\p{Zs}", r"\p{C}", r"\p{Cc}", r"\p{Cf}", r"\p{Co}", r"\pL", r"\pN+",
    r"\PL", r"\P{L}", r"\p{^L}", r"\p{Greek}+", r"\p{Latin}", r"\p{Han}+", r"\p{Cyrillic}",
    r"\p{Arabic}", r"\p{Hebrew}", r"\p{Hiragana}|\p{Katakana}", r"\p{Thai}", r"\p{Devanagari}",
    r"\P{Greek}", r"[\p{L}\p{N}]+", r"[^\p{L}]", r"[\p{Greek}\d]", r"\p{Letter}", r"\p{Uppercase_Letter}",
    r"\p{Lowercase_Letter}+", r"\p{Decimal_Number}", r"\p{Punctuation}", r"\p{script=Greek}",
    r"\p{sc=Latin}", r"\p{gc=Lu}", r"\p{Any}", r"[\p{Lu}--]",
    # groups and alternation
    r"(a)", r"(?:a|b)", r"(?<name>a+)", r"(?P<word>\w+)", r"(a|b|c)", r"a|", r"|a", r"a||b", r"()",
    r"(?:)", r"((a)|(b))+", r"(a(b(c(d))))", r"(?:ab|cd)*ef", r"(?:(?:a|b)(?:c|d)){2}",
    r"(foo|foobar)(bar)?", r"(red|green|blue)-(light|dark)?", r"x(?:y|z(?:w|v))*",
    # quantifiers
    r"a*", r"a+", r"a?", r"a{3}", r"a{2,}", r"a{2,4}", r"a{0}", r"a{0,0}b", r"a{1,1}", r"a*?",
    r"a+?", r"a??", r"a{2,4}?", r"a{3}?", r"(ab){2}", r"(a|b){3,5}", r"(?:a{2}){3}", r"a{1000}",
    r"(?:ab){10,20}", r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", r"a{", r"a{,5}", r"a{x}", r"{", r"}", r"a}",
    r"x{2}y{0,1}z{1,}",
    # flags
    r"(?i)abc", r"(?i)[a-z]+", r"(?i:A)b", r"a(?i)b", r"(?i)k", r"(?i)\x{212A}", r"(?i)stra\u00dfe",
    r"(?i)\p{Lu}", r"(?i)[^a]", r"(?s).", r"(?s:.)+", r"(?is)a.b", r"(?i-s:a.)", r"(?m)^a$",
    r"(?i)(?:hello|world)", r"(?i)\u00c9t\u00c9", r"(?i)\p{Greek}", r"(?i)[k-m]",
    # anchors
    r"^abc", r"abc$", r"^abc$", r"^$", r"^", r"$", r"^a|b$", r"^(a|b)$", r"(^a|^b)c", r"a(b$|c$)",
    r"^(?:foo|bar)+$", r"^\d+(\.\d+)?$", r"(^x)?y", r"^^a", r"a$$",
    # realistic
    r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}",
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    r"https?://[\w.-]+(?::\d+)?(?:/[\w./%-]*)?", r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?",
    r"\"([^\"\\\x00-\x1f]|\\[\"\\/bfnrt]|\\u[0-9a-fA-F]{4})*\"", r"(true|false|null)",
    r"#[0-9a-fA-F]{6}", r"\+?[1-9]\d{1,14}", r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", r"\p{Lu}\p{Ll}+(?: \p{Lu}\p{Ll}+)*",
    r"(?:[01]\d|2[0-3]):[0-5]\d", r"[\p{L}\p{M}' -]{1,64}", r"v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?",
    r"(alpha|beta|gamma|delta|epsilon|zeta|eta|theta|iota|kappa)+", r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*",
    r"\s*[,;]\s*", r"(?:\w+\s+){0,9}\w+", r"[^\s@]+@[^\s@]+", r"(\d+)(?:px|em|%)",
    # malformed or unsupported (the tests expect errors here)
    r"(ab", r"ab)", r"*a", r"a**", r"a*+", r"[z-a]", r"[abc", r"\q", r"a{3,2}", r"a{1001}",
    r"\p{Nope}", r"(?=a)b", r"(?!a)b", r"(?<=a)b", r"(?<!a)b", r"(a)\1", r"\k<n>", r"\bword\b",
    r"a\Bb", r"\Aabc", r"abc\z", r"(?>a+)", r"a^b", r"a$b", r"(?x)a b", r"\uD800", r"(?<1>a)",
]


def collect(obj, source, out):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "pattern" and isinstance(v, str):
                out.append((v, source))
            if k == "patternProperties" and isinstance(v, dict):
                for key in v:
                    out.append((key, source))
            collect(v, source, out)
    elif isinstance(obj, list):
        for v in obj:
            collect(v, source, out)


def main():
    found = []
    corpora = os.path.join(DATA, "corpora")
    for path in sorted(glob.glob(os.path.join(corpora, "maskbench-dev", "*.json"))):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        collect(doc.get("schema", {}), "maskbench-dev/" + os.path.basename(path), found)
    for path in sorted(glob.glob(os.path.join(corpora, "jsts", "tests", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        groups = doc if isinstance(doc, list) else [doc]
        rel = os.path.relpath(path, corpora)
        for g in groups:
            if isinstance(g, dict) and "schema" in g:
                collect(g["schema"], rel, found)
    for r in HAND:
        found.append((r, "hand"))
    seen = set()
    out = []
    for regex, source in found:
        if regex in seen:
            continue
        seen.add(regex)
        out.append({"regex": regex, "source": source})
    dest = os.path.join(ROOT, "tests", "data", "regex_corpus.json")
    with open(dest, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")
    hand = sum(1 for e in out if e["source"] == "hand")
    print(f"{len(out)} regexes ({hand} hand-written) -> {os.path.relpath(dest, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
