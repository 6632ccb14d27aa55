"""Colour and the progress bar of `tollgate check` as a user sees them in a real terminal (tmux), and
their absence when the output is piped or NO_COLOR is set. tmux runs on a private socket, with a
fixed-size window, and is killed at the end."""
import os
import pathlib
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

    def run(command):
        """Types `command` into the terminal; returns the screen (with colour escapes) once it ends."""
        tmux("send-keys", "-t", "t", "clear", "Enter")
        mark = f"END{next(marks)}"
        tmux("send-keys", "-t", "t", f"{command}; echo {mark}-$?", "Enter")
        deadline = time.time() + 60
        while time.time() < deadline:
            screen = tmux("capture-pane", "-t", "t", "-p", "-e", "-J").stdout
            if f"{mark}-" in screen.replace(f"echo {mark}", ""):
                return screen
            time.sleep(0.1)
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
