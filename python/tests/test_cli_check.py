"""`tollgate check / match / sample / explain / compile` as grammar writers run them.

Golden cases: every input under tests/cli/cases (NAME.gbnf, .lark, .ebnf, .regex, .json) is run with
the command line in NAME.args (default `check --color never --no-progress {file}`), from that folder,
and its exit code, stdout and stderr must equal NAME.EXT.expected exactly (DFA state counts aside). TOLLGATE_UPDATE_GOLDEN=1
rewrites the .expected files (review the diff before committing).
Also: exit codes, JSON positions agreeing with the text output, several files in one run, every
diagnostic code of docs/diagnostics.md having a case, and the grammars of ../shared/corpora/gbnf and
tests/data/lark checking clean with `sample` strings that `match` accepts."""
import json
import os
import pathlib
import re
import shlex
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
try:  # the binary next to the built Python package (build/tollgate), as test_cli.py finds it
    import tollgate

    CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"
except ImportError:
    CLI = REPO / "build" / "tollgate"
CASES = REPO / "tests" / "cli" / "cases"
pytestmark = pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
INPUT_EXT = (".gbnf", ".lark", ".ebnf", ".regex", ".json")


def env():
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    return e


def run(*args, cwd=None, stdin=None):
    p = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                       input=stdin, env=env())
    return p.returncode, p.stdout, p.stderr


def case_files():
    return sorted(p for p in CASES.iterdir() if p.suffix in INPUT_EXT)


def render(rc, out, err):
    # automaton sizes change with the compiler's internals, not with the diagnostics: not compared
    out = re.sub(r"\(\d+ DFA states\)", "(N DFA states)", out)
    return f"exit {rc}\n--- stdout\n{out}--- stderr\n{err}"


@pytest.mark.parametrize("case", case_files(), ids=lambda p: p.name)
def test_golden(case):
    args_file = case.with_suffix(".args")
    line = args_file.read_text().strip() if args_file.exists() else "check --color never --no-progress {file}"
    args = [a.replace("{file}", case.name) for a in shlex.split(line)]
    got = render(*run(*args, cwd=CASES))
    expected = case.parent / (case.name + ".expected")
    if os.environ.get("TOLLGATE_UPDATE_GOLDEN") == "1":
        expected.write_text(got)
    assert expected.exists(), f"no {expected.name}: run with TOLLGATE_UPDATE_GOLDEN=1 and review it"
    assert got == expected.read_text()


def test_at_least_forty_cases_and_every_code_documented_has_one():
    cases = case_files()
    assert len(cases) >= 40
    doc = (REPO / "docs" / "diagnostics.md").read_text()
    documented = set(re.findall(r"^## (TG\d{3})", doc, re.M))
    in_header = set(re.findall(r'"(TG\d{3})"', (REPO / "grammar" / "diagnostic_codes.hpp").read_text()))
    assert documented == in_header, "docs/diagnostics.md and grammar/diagnostic_codes.hpp disagree"
    seen = set()
    for c in cases:
        seen |= set(re.findall(r"\[(TG\d{3})\]", (c.parent / (c.name + ".expected")).read_text()))
        seen |= set(re.findall(r'"code": "(TG\d{3})"', (c.parent / (c.name + ".expected")).read_text()))
    # TG004 (unreadable file) and TG503 (token replay, needs a tokenizer) are tested below
    missing = documented - seen - {"TG004", "TG503"}
    assert not missing, f"codes without a golden case: {sorted(missing)}"


def test_exit_codes(tmp_path):
    assert run("check", str(CASES / "ok_clean.gbnf"))[0] == 0
    assert run("check", str(CASES / "tg102_unused.gbnf"))[0] == 0  # warnings only
    assert run("check", "--werror", str(CASES / "tg102_unused.gbnf"))[0] == 1
    assert run("check", str(CASES / "tg101_undefined.gbnf"))[0] == 1
    rc, out, err = run("check", str(tmp_path / "missing.gbnf"))
    assert rc == 2 and "cannot read" in err
    rc, out, err = run("check", "--format", "json", str(tmp_path / "missing.gbnf"))
    assert rc == 2 and json.loads(out)[0]["code"] == "TG004"
    assert run("check")[0] == 2  # nothing to check: usage
    assert run("check", "--bogus", str(CASES / "ok_clean.gbnf"))[0] == 2
    assert run("check", "--dialect", "cobol", str(CASES / "ok_clean.gbnf"))[0] == 2
    # an I/O error wins over errors in other files
    assert run("check", str(CASES / "tg101_undefined.gbnf"), str(tmp_path / "nope.lark"))[0] == 2
    # match: 0 accepted, 1 refused, 2 usage
    assert run("match", str(CASES / "match_ok.gbnf"), "-s", "[1]")[0] == 0
    assert run("match", str(CASES / "match_ok.gbnf"), "-s", "[1")[0] == 1
    assert run("match", str(CASES / "match_ok.gbnf"))[0] == 2


def test_empty_regex_and_stdin():
    rc, out, err = run("check", "--regex", "")
    assert rc == 0 and out.startswith("ok: <regex> compiles")
    assert run("match", "--regex", "", "-s", "")[0] == 0
    assert run("match", "--regex", "", "-s", "a")[0] == 1
    rc, out, err = run("check", "--dialect", "lark", "-", stdin='start: "a"\n')
    assert rc == 0 and "ok: <stdin> compiles" in out
    rc, out, err = run("match", str(CASES / "match_ok.gbnf"), "-", stdin="[4,5]")
    assert rc == 0 and "<stdin>: accepted" in out


def text_positions(err):
    return [(m.group(1), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
            for m in re.finditer(r"^(\S+?):(\d+):(\d+): (error|warning|note): .*\[(TG\d+)\]$", err, re.M)]


def test_json_positions_match_the_text_output():
    files = [c.name for c in case_files() if not c.with_suffix(".args").exists()]
    rc_t, _, err = run("check", "--color", "never", "--no-progress", *files, cwd=CASES)
    rc_j, out, _ = run("check", "--format", "json", "--no-progress", *files, cwd=CASES)
    assert rc_t == rc_j == 1
    ds = json.loads(out)
    from_json = [(d["file"], d["line"], d["col"], d["severity"], d["code"]) for d in ds if d["line"] > 0]
    assert len(from_json) >= 40
    assert from_json == text_positions(err)
    for d in ds:
        assert set(d) >= {"file", "line", "col", "end_line", "end_col", "severity", "code", "message"}
        if d["file"].endswith(".json") and d["code"].startswith("TG3"):
            assert d["pointer"].startswith("/")
    # several files in one run: each is reported, and the summary counts them
    assert f"{len(files)} files checked:" in err
    # the spans: what the text output underlines (^~~~ under the source line) is JSON's col..end_col
    underlined = text_spans(err)
    with_caret = [d for d in ds if d["line"] > 0 and (d["file"], d["line"], d["col"]) in underlined]
    assert len(with_caret) >= 40
    longer = 0
    for d in with_caret:
        first, width, line_len = underlined[(d["file"], d["line"], d["col"])]
        assert first == d["col"], d
        assert (d["end_line"], d["end_col"]) >= (d["line"], d["col"] + 1), d
        if d["end_line"] == d["line"]:
            assert width == d["end_col"] - d["col"], d
        else:  # a span over several lines is underlined to the end of its first line
            assert width == line_len - d["col"] + 1, d
        longer += width > 1
    assert longer >= 30, "most diagnostics are about more than one character"


def text_spans(err):
    """(file, line, col) -> (column of the caret, width of ^~~~, length of the source line) from the text output."""
    out = {}
    lines = err.splitlines()
    for i, header in enumerate(lines):
        m = re.match(r"^(\S+?):(\d+):(\d+): (error|warning|note): ", header)
        if not m or i + 2 >= len(lines) or not re.fullmatch(r"  *\^~*", lines[i + 2]):
            continue
        source, caret = lines[i + 1][2:], lines[i + 2][2:]
        out[(m.group(1), int(m.group(2)), int(m.group(3)))] = (caret.index("^") + 1, len(caret.strip()), len(source))
    return out


def test_match_reports_position_offset_and_expected():
    rc, out, err = run("match", "--color", "never", str(CASES / "match_ok.gbnf"), "-s", "[1,2;")
    assert rc == 1
    assert "<string>:1:5: error: rejected at byte 4: ';' is not allowed here [TG501]" in out
    assert '<string>:1:5: note: expected one of: "," [0-9] "]"' in out
    # line:col on a later line, with the byte offset
    rc, out, err = run("match", "--color", "never", "--regex", "(a\n)*b", "-s", "a\na\nc")
    assert rc == 1
    assert "<string>:3:1: error: rejected at byte 4: 'c' is not allowed here [TG501]" in out
    assert '<string>:3:1: note: expected one of: "a\\n" "b"' in out
    rc, out, err = run("match", "--format", "json", "--regex", "(a\n)*b", "-s", "a\na\nc")
    d = json.loads(out)
    assert (d[0]["line"], d[0]["col"], d[0]["code"]) == (3, 1, "TG501") and d[1]["severity"] == "note"
    # the list of expected continuations is bounded
    rc, out, err = run("match", "--color", "never", "--regex", "[a-z]*|[0-9]|-|_|:|;|!|#|%|&|=|@", "-s", "~")
    note = [line for line in out.splitlines() if "note: expected" in line][0]
    assert "more)" in note and len(note) < 200


def test_match_a_lexeme_over_the_dfa_budget_stops_at_its_byte(tmp_path):
    # The pattern's automaton needs 2^12 states. Built on first use (the default), the budget is hit
    # at the byte that first needs it: a positioned TG003, not a refusal; `check` reports it too.
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "required": ["k"], "additionalProperties": False,
                                  "properties": {"k": {"type": "string", "pattern": "^[ab]*a[ab]{11}$"}}}))
    rc, out, err = run("match", "--color", "never", "--max-states", "1000", str(schema), "-s", '{"k": "aaaa"}')
    assert rc == 1
    assert "<string>:1:5: error: stopped at byte 4: regex too complex: its DFA needs more than 1000 states" in out
    assert "[TG003]" in out and "TG501" not in out
    rc, out, err = run("check", "--color", "never", "--max-states", "1000", str(schema))
    assert rc == 1 and "TG003" in out + err
    rc, out, err = run("match", "--color", "never", str(schema), "-s", '{"k": "aaaaaaaaaaaaa"}')
    assert rc == 0, out + err


def test_match_token_replay_names_the_refused_token(shared):
    g = CASES / "match_ok.gbnf"
    rc, out, err = run("match", "--color", "never", str(g), "-s", "[12,34]", "--tokenizer", "llama3")
    assert rc == 0, out + err
    rc, out, err = run("match", "--color", "never", str(g), "-s", "[12, 34]", "--tokenizer", "llama3")
    assert rc == 1
    m = re.search(r"error: token #(\d+) \(id (\d+), \"( 34|34| )\"\) is refused at byte (\d+); (\d+) of (\d+) tokens "
                  r"are allowed there \[TG503\]", out)
    assert m, out
    assert int(m.group(4)) == 4 and 0 < int(m.group(5)) < int(m.group(6))


def test_compile_prints_each_phase(shared):
    lark = str(REPO / "tests/data/lark/json.lark")
    rc, out, err = run("compile", lark, "--tokenizer", "llama3", "--threads", "1", "--eager-index")
    assert rc == 0, err
    phases = re.findall(r"^  (\S.*?)\s+([\d.]+) ms   (\d+) (\w[\w ]*)$", out, re.M)
    assert [p[0] for p in phases] == ["tokenizer load", "parse", "check", "cfg", "lexeme automata", "token index"]
    sizes = {p[0]: (int(p[2]), p[3]) for p in phases}
    assert sizes["tokenizer load"] == (128256, "tokens")
    assert sizes["parse"][1] == "rules" and sizes["parse"][0] >= 5
    assert sizes["cfg"][1] == "productions" and sizes["cfg"][0] > 0
    assert sizes["lexeme automata"][1] == "states"
    stats = json.loads(run("compile", lark, "--tokenizer", "llama3", "--threads", "1", "--eager-index",
                           "--format", "json")[1])
    assert stats["dfa_states"] == sizes["lexeme automata"][0]  # the lexeme automata's states are the DFA states
    for key in ("lexemes:", "DFA states:", "distinct masks:", "index memory:", "compile total:"):
        assert key in out
    # the JSON phases: the same names, and every phase's time within the total
    assert [p["name"] for p in stats["phases"]] == [p[0] for p in phases]
    assert sum(p["ms"] for p in stats["phases"][1:]) <= stats["total_ms"] * 1.01 + 0.1
    assert stats["phases"][-1]["size"] > 0  # eager: index entries
    # lazy (the default): the index phase only sets up its slots
    stats = json.loads(run("compile", lark, "--tokenizer", "llama3", "--format", "json")[1])
    assert stats["phases"][-1]["name"] == "token index (lazy)"
    rc, out, err = run("compile", "--regex", "[a-z]+", "--tokenizer", "llama3", "--format", "json")
    stats = json.loads(out)
    assert stats["lexemes"] == 1 and stats["dfa_states"] == 2 and stats["total_ms"] >= stats["parse_ms"]
    assert [(p["name"], p["unit"]) for p in stats["phases"]] == [
        ("tokenizer load", "tokens"), ("parse", "bytes"), ("automaton", "states"), ("token index", "distinct masks")]
    assert stats["phases"][2]["size"] == 2 and stats["phases"][3]["size"] == stats["distinct_masks"]


def test_explain_grammar_regex_and_schema():
    rc, out, err = run("explain", str(CASES / "ok_clean.lark"))
    assert rc == 0
    assert 'start ::= WORD ( "," WORD )*    # start' in out
    assert "3 lexemes" in out and "L1 = [a-z]+" in out and "L0 (ignored) = \" \"" in out
    rc, out, err = run("explain", "--regex", "(ab|cd)+e?")
    assert rc == 0
    assert "DFA:          " in out and "transition classes out of the start state: 2" in out
    assert '[a] -> state' in out and '"ab"' in out and '"cd"' in out
    rc, out, err = run("explain", str(CASES / "ok_schema.json"))
    assert rc == 0 and "::=" in out
    rc, out, err = run("explain", str(CASES / "tg101_undefined.gbnf"))
    assert rc == 1 and "[TG101]" in err


def corpus_grammars():
    from conftest import data_dir

    out = sorted((REPO / "tests" / "data" / "lark").glob("*.lark"))
    d = data_dir()
    if d is not None:
        out += sorted((d / "corpora" / "gbnf").glob("*.gbnf"))
    return out


@pytest.mark.parametrize("grammar", corpus_grammars(), ids=lambda p: p.name)
def test_corpus_grammars_check_clean_and_samples_match(grammar):
    rc, out, err = run("check", "--color", "never", str(grammar))
    assert rc == 0, err
    assert ": error:" not in err
    rc, out, err = run("sample", str(grammar), "-n", "4", "--seed", "3", "--max-bytes", "120", "--format", "json")
    assert rc == 0, err
    samples = json.loads(out)
    assert len(samples) == 4
    args = ["match", str(grammar)]
    for s in samples:
        args += ["-s", s]
    rc, out, err = run(*args)
    assert rc == 0, out + err
    assert out.count(": accepted") == 4


def test_corpus_gbnf_present(corpora):
    assert len(list((corpora / "gbnf").glob("*.gbnf"))) >= 5


def test_sample_is_deterministic_bounded_and_matches():
    a = run("sample", "--regex", "[a-z]{2,5}-[0-9]{1,3}", "-n", "20", "--seed", "9", "--raw")
    b = run("sample", "--regex", "[a-z]{2,5}-[0-9]{1,3}", "-n", "20", "--seed", "9", "--raw")
    assert a == b and a[0] == 0
    lines = a[1].splitlines()
    assert len(lines) == 20 and all(re.fullmatch(r"[a-z]{2,5}-[0-9]{1,3}", s) for s in lines)
    assert len(set(lines)) > 5
    rc, out, err = run("sample", str(CASES / "ok_schema.json"), "-n", "5", "--format", "json", "--max-bytes", "60")
    assert rc == 0
    for s in json.loads(out):
        assert len(s.encode()) <= 60
        v = json.loads(s)
        assert 0 <= v["n"] <= 9


def test_bash_completion_knows_every_option():
    # every long option of each grammar subcommand's --help is offered by scripts/tollgate-completion.bash
    script = REPO / "scripts" / "tollgate-completion.bash"
    for sub in ("check", "match", "compile", "explain", "sample"):
        rc, out, err = run(sub, "--help")
        assert rc == 0 and "Examples:" in out
        options = {m.group(1) for m in re.finditer(r"^\s+(?:-\w,)?(--[a-z][a-z-]*)", out, re.M)}
        assert "--no-progress" in options and "--format" in options
        shell = f'source "{script}"; COMP_WORDS=(tollgate {sub} --); COMP_CWORD=2; _tollgate; echo "${{COMPREPLY[@]}}"'
        offered = set(subprocess.run(["bash", "-c", shell], capture_output=True, text=True).stdout.split())
        assert options <= offered, f"{sub}: not completed: {sorted(options - offered)}"
