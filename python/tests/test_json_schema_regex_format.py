"""`format: regex` is compiled as a context-free grammar of pattern syntax (grammar/json_schema.cpp,
regex_format_rule): a subset of the patterns that ECMA-262 (with and without the u flag) and Python's
re all accept. Checked both ways: every pattern sampled from the compiled grammar compiles under
Python's re (and node's RegExp, with and without u, where node is installed), the real patterns of
maskbench-dev's schemas are almost all in the language (and each one that is, is valid), and common
mistakes are refused."""
import glob
import json
import pathlib
import re
import shutil
import subprocess
import warnings

import pytest

import tollgate
from conftest import corpus_path

SCHEMA = '{"type": "string", "format": "regex"}'
CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"


@pytest.fixture(scope="module")
def grammar(llama3):
    return tollgate.Compiler(llama3).compile_json_schema(SCHEMA)


def accepts(grammar, pattern):
    m = tollgate.Matcher(grammar)
    return m.accept_string(json.dumps(pattern, separators=(",", ":"))) and m.is_accepting()


def python_valid(p):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(p)
            return True
        except (re.error, OverflowError, RecursionError):
            return False


def test_the_subset_is_said(llama3):
    g = tollgate.Compiler(llama3).compile_json_schema(SCHEMA)
    assert any("format 'regex'" in w.message for w in g.warnings)


def test_sampled_patterns_are_valid_everywhere(tmp_path):
    schema = tmp_path / "rx.json"
    schema.write_text(SCHEMA)
    out = subprocess.run([str(CLI), "sample", str(schema), "-n", "2000", "--seed", "5", "--max-bytes", "60"],
                         capture_output=True, text=True, check=True).stdout
    # (split at "\n" only: a pattern may hold U+0085 or U+2028, which JSON leaves unescaped and
    # str.splitlines() would split at)
    patterns = [json.loads(json.loads(line)) for line in out.split("\n") if line]
    assert len(set(patterns)) > 1000
    # every construct appears: classes, ranges, counted repeats, groups, lookahead, escapes
    for piece in ["[", "-", "{", "(?:", "(?=", "(?!", "\\", "|", "^", "$"]:
        assert any(piece in p for p in patterns), piece
    assert [p for p in patterns if not python_valid(p)] == []
    node = shutil.which("node")
    if node:
        script = ("const ps = JSON.parse(require('fs').readFileSync(0, 'utf8')); const bad = [];"
                  "for (const p of ps) for (const f of ['', 'u']) { try { new RegExp(p, f) } catch (e) { bad.push([p, f]) } }"
                  "console.log(JSON.stringify(bad))")
        bad = json.loads(subprocess.run([node, "-e", script], input=json.dumps(patterns), capture_output=True,
                                        text=True, check=True).stdout)
        assert bad == []


def test_real_patterns(shared, grammar):
    pats = set()

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "pattern" and isinstance(v, str):
                    pats.add(v)
                if k == "patternProperties" and isinstance(v, dict):
                    pats.update(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    for f in glob.glob(str(corpus_path(shared, "maskbench-dev") / "*.json")):
        with open(f) as fh:
            walk(json.load(fh)["schema"])
    assert len(pats) > 500
    accepted = [p for p in pats if accepts(grammar, p)]
    assert [p for p in accepted if not python_valid(p)] == []
    # the subset leaves out little that real schemas write (629 of 650 when this was written)
    assert len(accepted) >= 0.95 * len(pats), (len(accepted), len(pats))


@pytest.mark.parametrize("pattern", [
    "^[a-z0-9_-]+$", r"^\d{4}-\d{2}-\d{2}$", "(a|b)*c?", "a{12,15}", "a{2,}", "", "a|", r"[\w.-]+@[\w.-]+",
    r"^(?:(?!foo).)*$", r"\$\{[A-Z_]+\}", "[^/]+/[^/]+", r"\u00e9\x41", "x*?y+?z??", "(?:)"])
def test_valid_patterns_accepted(grammar, pattern):
    assert python_valid(pattern)
    assert accepts(grammar, pattern)


@pytest.mark.parametrize("pattern", [
    "a{2,1}", "a{15,12}", "(a", "a)", "*a", "a**", "[z-a]", "[", "[]", "(?=a)*", "^*", "a\\", "(?<n>a)",
    "(?P<n>a)", r"\1(a)", "[9-0]", "a{,2}", r"\k<x>"])
def test_invalid_or_outside_refused(grammar, pattern):
    assert not accepts(grammar, pattern)


def test_property_names_as_patterns(llama3):
    # a map whose keys are patterns (the draft-07 meta-schema's patternProperties)
    schema = {"type": "object", "additionalProperties": {"type": "integer"}, "propertyNames": {"format": "regex"}}
    g = tollgate.Compiler(llama3).compile_json_schema(json.dumps(schema))
    for doc, ok in [({"^a+$": 1, "[0-9]{2,3}": 2}, True), ({}, True), ({"(a": 1}, False), ({"a{3,2}": 1}, False),
                    ({"a": "x"}, False)]:
        assert accepts(g, doc) == ok, doc
