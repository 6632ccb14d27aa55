"""Colour and the progress bars of `tollgate check` (files) and `tollgate compile` (the phases of one large
compile) as a user sees them in a real terminal (tmux), and their absence when the output is piped or
NO_COLOR is set. tmux runs on a private socket, with a
fixed-size window, and is killed at the end."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
try:
    import tollgate

    CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"
except ImportError:
    CLI = REPO / "build" / "tollgate"
CASES = REPO / "tests" / "cli" / "cases"
FILES = "tg101_undefined.gbnf tg102_unused.gbnf ok_clean.gbnf"

pytestmark = [
    pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built"),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (scripts/install-deps.sh)"),
]


@pytest.fixture()
def term():
    sock = "tollgate-test-" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TMUX")}
    env["TERM"] = "xterm-256color"

    def tmux(*args):
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, env=env, timeout=30)

    tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "-c", str(CASES), "sh")
    marks = iter(range(1000))

    def run(command, watch=None):
        """Types `command` into the terminal; returns the screen (with colour escapes) once it ends. With
        `watch`, also returns the screens seen while it ran (every 50 ms) that contain `watch`."""
        tmux("send-keys", "-t", "t", "clear", "Enter")
        mark = f"END{next(marks)}"
        tmux("send-keys", "-t", "t", f"{command}; echo {mark}-$?", "Enter")
        deadline = time.time() + 120
        seen = []
        while time.time() < deadline:
            screen = tmux("capture-pane", "-t", "t", "-p", "-e", "-J").stdout
            if f"{mark}-" in screen.replace(f"echo {mark}", ""):
                return (screen, seen) if watch else screen
            if watch and watch in screen.replace(command, ""):
                seen.append(screen)
            time.sleep(0.05)
        raise AssertionError("the command did not finish in the terminal:\n" + screen)

    yield run
    tmux("kill-server")


def has_color(screen, text):
    return any(text in line and "\x1b[" in line for line in screen.splitlines())


def test_colour_and_progress_in_a_terminal(term):
    screen = term(f"{CLI} check {FILES}")
    assert "tg101_undefined.gbnf:2:16:" in screen
    assert has_color(screen, "error") and has_color(screen, "warning")
    assert "[##############################] 3/3 files  checked" in screen
    assert "END0-1" in screen


def test_none_when_piped(term):
    screen = term(f"{CLI} check {FILES} 2>&1 | cat")
    assert "tg101_undefined.gbnf:2:16: error: undefined rule 'itme' [TG101]" in screen
    assert not has_color(screen, "error") and not has_color(screen, "warning")
    assert "3/3 files" not in screen and "####" not in screen
    assert "3 files checked: 1 error, 1 warning" in screen


def test_no_color_env_and_flags(term):
    screen = term(f"NO_COLOR=1 {CLI} check {FILES}")
    assert "error: undefined rule" in screen and not has_color(screen, "error")
    assert "3/3 files" in screen  # NO_COLOR is about colour only
    screen = term(f"{CLI} check --color never --no-progress {FILES}")
    assert not has_color(screen, "error") and "3/3 files" not in screen
    screen = term(f"{CLI} check --color always {FILES} 2>&1 | cat")
    assert has_color(screen, "error")


def test_compile_progress_in_a_terminal_and_not_when_piped(term, corpora, tmp_path):
    # a schema whose lexeme automata take a good part of its compile, so the 50 ms samples see that
    # phase's bar move: MaskBench's largest (Kubernetes kb_1161, 587 required properties) six times over
    # under renamed keys (alone its ~61,000 lexeme DFA states take ~0.1 s since values and separators
    # are lexemes of their own: copies with the same keys would share them; six with others take ~0.5 s)
    case = json.loads((corpora / "maskbench-dev/Kubernetes---kb_1161_Normalized.json").read_text())

    def renamed(node, tag):
        if isinstance(node, list):
            return [renamed(x, tag) for x in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for k, v in node.items():
            if k in ("properties", "definitions") and isinstance(v, dict):
                out[k] = {tag + name: renamed(sub, tag) for name, sub in v.items()}
            elif k == "required" and isinstance(v, list):
                out[k] = [tag + name for name in v]
            elif k == "$ref" and isinstance(v, str) and v.startswith("#/definitions/"):
                out[k] = "#/definitions/" + tag + v[len("#/definitions/"):]
            else:
                out[k] = renamed(v, tag)
        return out

    copies = [renamed(case["schema"], f"c{i}_") for i in range(6)]
    big = {"definitions": {}, "type": "object", "properties": {}}
    for i, c in enumerate(copies):
        big["definitions"].update(c.pop("definitions", {}))
        big["properties"][f"copy{i}"] = c
    schema = tmp_path / "kb.json"
    schema.write_text(json.dumps(big))
    # every lexeme built in the compile (by default those of the first mask and of its first 2 ms)
    cmd = f"{CLI} compile {schema} --tokenizer llama3 --eager-automata-states 18446744073709551615"
    screen, during = term(cmd, watch="compiling:")
    assert during, "no progress was drawn while the compile ran:\n" + screen
    bars = [line for s in during for line in s.splitlines() if "compiling:" in line]
    # each phase as it runs, with its time; the lexeme automata with a bar and their count so far:
    # "…/kb.json: [##########....................] compiling: lexeme automata  812/2431  (1.6 s)"
    assert all(re.search(r"kb\.json: .*compiling: .*\(\d+\.\d s\)", b) for b in bars), bars
    phases = {re.search(r"compiling: ([a-z ()]+?)(  \d|  \()", b).group(1) for b in bars}
    assert phases & {"schema to grammar", "cfg", "lexeme automata", "tokenizer load"}, bars
    counted = [tuple(map(int, m.groups())) for b in bars for m in [re.search(r"\] compiling: lexeme automata  (\d+)/(\d+)", b)] if m]
    assert counted, bars  # the lexemes over about a second and a half, sampled every 50 ms
    assert all(d <= t for d, t in counted) and counted == sorted(counted)  # it only moves forward
    # erased once done: the phases table is all that is left
    assert "compiling:" not in screen and "  lexeme automata" in screen and "END0-0" in screen
    screen, during = term(cmd + " 2>&1 | cat", watch="compiling:")
    assert not during and "compiling:" not in screen and "  lexeme automata" in screen
    screen, during = term(cmd + " --no-progress", watch="compiling:")
    assert not during and "END2-0" in screen
    # check of one large file shows its compile the same way (against the byte vocabulary), then its verdict
    # (any phase's line: its lexeme automata take ~0.15 s here, and under a loaded `ctest -j2` the 50 ms samples
    # have met only the phase after them)
    screen, during = term(f"{CLI} check {schema}", watch="compiling:")
    assert during and any(re.search(r"kb\.json: .*compiling: [a-z ()]+  (\d+/\d+  )?\(\d+\.\d s\)", line)
                          for s in during for line in s.splitlines()), during
    assert "compiling:" not in screen and "ok: " in screen and "END3-0" in screen
