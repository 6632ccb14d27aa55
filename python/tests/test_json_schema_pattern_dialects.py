"""`pattern`'s \\d \\w \\s and \\D \\W \\S read as what ECMA-262 and Python's re both match (grammar/regex_parser.cpp,
perl_escape; docs/json_schema.md). JSON Schema says ECMA-262, python-jsonschema (MaskBench's labeller) matches
with Python's re, and the two read these escapes apart: ECMA's \\s holds U+FEFF, Python's U+001C-U+001F and
U+0085; Python's \\d and \\w hold every Unicode digit and letter (and its `.` takes \\r U+2028 U+2029, its `$` a
final \\n). A string the grammar accepts must match under both (and one under `not` match under neither):
checked against Python's re here, and against node's RegExp where node is installed, over the code points
where they differ and plain ASCII, alone and inside words."""
import json
import re
import shutil
import subprocess

import pytest

import tollgate

PATTERNS = [r"^\s+$", r"^\S+$", r"^\d+$", r"^\D+$", r"^\w+$", r"^\W+$", r"^[^\s]+$", r"^[^\S]+$",
            r"^[\s\d]+$", r"^[^\d\w]+$", r"^a\s*b$", r"^[a-z]\W[a-z]$", r"\s", r"\D\d", r"^(?!\s)\S*$",
            r"^[\w\W]+$", r"^[\s\S]$", r"^[^\s\S]*$", r"^a.b$", r"^.$", r"a$"]
# where the dialects differ (white space, Unicode digits, letters, marks, numbers), then ASCII
CODE_POINTS = ([0x0A, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F,
                0x205F, 0x3000, 0xFEFF, 0x660, 0x669, 0x966, 0xFF10, 0xB2, 0xBD, 0x2160, 0xE9, 0x3A9, 0x4E2D,
                0x301, 0x5D0, 0x1F600, 0x378]
               + [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x30, 0x39, 0x41, 0x5F, 0x61, 0x7A, 0x2D, 0x21, 0x7E])


def _strings():
    out = [""]
    for cp in CODE_POINTS:
        c = chr(cp)
        out += [c, c * 2, "a" + c + "b", c + "1", "1" + c, "a" + c]
    return out


STRINGS = _strings()


def _node_matches(pattern, strings):
    """ECMA-262's verdicts (node's RegExp with the u flag), or None without node."""
    node = shutil.which("node")
    if not node:
        return None
    script = ("const [p, ss] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "const r = new RegExp(p, 'u'); process.stdout.write(JSON.stringify(ss.map(s => r.test(s))));")
    out = subprocess.run([node, "-e", script], input=json.dumps([pattern, strings]), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def compiler(llama3):
    return tollgate.Compiler(llama3)


def _accepts(grammar, s):
    m = tollgate.Matcher(grammar)
    return m.accept_string(json.dumps(s, ensure_ascii=False)) and m.is_accepting()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_accepted_strings_match_in_both_dialects(compiler, pattern):
    grammar = compiler.compile_json_schema({"type": "string", "pattern": pattern})
    negated = compiler.compile_json_schema({"type": "string", "not": {"pattern": pattern}})
    ecma = _node_matches(pattern, STRINGS)
    accepted = refused_ascii = 0
    for k, s in enumerate(STRINGS):
        py = re.search(pattern, s) is not None
        both = py if ecma is None else py and ecma[k]
        either = py if ecma is None else py or ecma[k]
        if _accepts(grammar, s):
            accepted += 1
            assert both, f"{pattern!r} accepted {s!r}, which Python's re or ECMA-262 does not match"
        elif s.isascii() and both:
            refused_ascii += 1  # the dialects agree on ASCII: nothing there may be lost
        if _accepts(negated, s):
            assert not either, f"not {pattern!r} accepted {s!r}, which Python's re or ECMA-262 matches"
        elif s.isascii() and not either:
            refused_ascii += 1
    assert refused_ascii == 0, f"{pattern!r}: {refused_ascii} ASCII strings both dialects agree on refused"
    assert accepted > 0


def test_the_strings_the_dialects_disagree_on_are_refused(compiler):
    """The two that the generated-instances sweep met: U+FEFF in a \\s (gradle-enterprise's secret pattern), and
    a letter outside ASCII in a \\W."""
    ws = compiler.compile_json_schema({"type": "string", "pattern": r"^a\s*b$"})
    assert _accepts(ws, "a \u3000b") and not _accepts(ws, "a\ufeffb")
    assert not _accepts(compiler.compile_json_schema({"type": "string", "pattern": r"^\W$"}), "\xe9")
    assert not _accepts(compiler.compile_json_schema({"type": "string", "pattern": r"^\D$"}), "\u0663")
    assert not _accepts(compiler.compile_json_schema({"type": "string", "pattern": r"^\S$"}), "\x1c")
    # patternProperties pick keys as ECMA-262 does: "é" is not \w there, so additionalProperties decides it
    keys = compiler.compile_json_schema({"type": "object", "patternProperties": {r"^\w+$": {"type": "integer"}},
                                         "additionalProperties": {"type": "string"}})
    assert _accepts(keys, {"ab": 1}) and _accepts(keys, {"\xe9": "x"}) and not _accepts(keys, {"ab": "x"})
