"""The `tollgate` command line as grammar writers use it: check / match / compile on regexes and
grammars, their exit codes (0 ok, 1 refused or invalid) and their positioned messages.
Runs the binary next to the built Python package (build/tollgate)."""
import pathlib
import subprocess

import pytest

import tollgate

REPO = pathlib.Path(__file__).resolve().parents[2]
CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"
pytestmark = pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")


def run(*args):
    p = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_check_a_lark_grammar_ok_with_warnings():
    rc, out, err = run("check", "--grammar", str(REPO / "tests/data/lark/json.lark"))
    assert rc == 0
    assert out.startswith("ok: ") and "compiles" in out
    assert "json.lark:7:28: warning: alias ignored" in err


def test_check_reports_file_line_column_and_caret(tmp_path):
    bad = tmp_path / "bad.gbnf"
    bad.write_text('root ::= ("a" | "b"\n')
    rc, out, err = run("check", "--grammar", str(bad))
    assert rc == 1
    assert f"{bad}:2:1: error: expected ')', found end of input" in err
    bad = tmp_path / "bad.lark"
    bad.write_text('start: "a" [ "b"\n')
    rc, out, err = run("check", "--grammar", str(bad))
    assert rc == 1
    assert "error: expected ']'" in err and "boost" not in err
    rc, out, err = run("check", "--regex", "a(")
    assert rc == 1
    assert "missing ')'" in err and "^" in err


def test_match_exit_codes_and_rejection_position():
    json_lark = str(REPO / "tests/data/lark/json.lark")
    rc, out, err = run("match", "--grammar", json_lark, "-s", '{"a": [1, 2]}')
    assert rc == 0 and "accepted" in out
    rc, out, err = run("match", "--grammar", json_lark, "-s", '{"a": [1, 2]}', "-s", '{"a": }')
    assert rc == 1
    # results, accepted or not, are the command's output (stdout); errors of the tool go to stderr
    assert "<string>:1:7: error: rejected at byte 6: '}' is not allowed here" in out


def test_match_follows_lark_terminal_semantics(tmp_path):
    g = tmp_path / "words.lark"
    g.write_text('start: WORD WORD\nWORD: /[a-z]+/\nCOMMENT: /#[^\\n]*/\n%ignore COMMENT\n%ignore " "\n')
    assert run("match", "--grammar", str(g), "-s", "ab #c\nd")[0] == 1  # newline is not ignored here
    assert run("match", "--grammar", str(g), "-s", "ab cd #comment")[0] == 0
    # the comment runs to the end of the line: it cannot stop before "d"
    assert run("match", "--grammar", str(g), "-s", "ab #c d")[0] == 1


def test_budgets_refuse_an_exploding_regex_with_the_option_to_raise():
    for cmd in ("check", "match"):
        args = [cmd, "--regex", "(a|b)*a(a|b){20}", "--max-memory", "1"]
        if cmd == "match":
            args += ["-s", "ab"]
        rc, out, err = run(*args)
        assert rc == 1
        assert "max_dfa_memory" in err
    rc, out, err = run("check", "--regex", "(a|b)*a(a|b){8}", "--max-memory", "1")
    assert rc == 0


def test_demo_walks_the_schema_and_generates_under_it(shared):
    import json

    import jsonschema

    p = subprocess.run([str(CLI), "demo"], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "TOLLGATE_DATA_DIR": str(shared)})
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "== a JSON Schema, token by token over llama3" in out
    assert "valid under the schema, matched in full: yes" in out
    # the walk's table: one row per token, EOS last, every token allowed
    rows = [line.split() for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) > 20 and rows[-1][1] == "<eos>" and "REJECTED" not in out
    assert all(int(r[-3]) >= 1 for r in rows)
    assert "== a regex, the same walk in one line ==" in out
    # the generation part: the last document printed is valid under the built-in schema
    assert "valid under the schema: yes" in out
    schema = json.loads(out[out.index("{"):out.index("compiled:")])
    doc = [line for line in out.splitlines() if line.startswith("seed ")][-1].split(None, 2)[2]
    jsonschema.validate(json.loads(doc), schema)
