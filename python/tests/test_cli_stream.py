"""`tollgate match` streams its input (issue 12's limits): a file or stdin far larger than the memory it
may use goes through the matcher in 64 KiB chunks, with a peak RSS far below the input's size, and a
refusal just past a chunk border is reported at its exact line:column and byte offset with the
expected continuations."""
import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
try:  # the binary next to the built Python package (build/tollgate), as test_cli.py finds it
    import tollgate

    CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"
except ImportError:
    CLI = REPO / "build" / "tollgate"
pytestmark = pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
CHUNK = 1 << 16
JSON_GBNF = REPO / "tests" / "cli" / "cases" / "match_ok.gbnf"  # root ::= "[" [0-9]+ ("," [0-9]+)* "]"
JSON_LARK = REPO / "tests" / "data" / "lark" / "json.lark"  # the JSON grammar of Lark's documentation


def sanitized():
    data = CLI.read_bytes()
    return b"__asan_init" in data or b"__ubsan_handle" in data or b"__tsan_init" in data


# Runs the CLI in a child of a small Python process that writes the input into its stdin (generated
# block by block, never held whole) and reports the CLI's peak RSS (getrusage of its only child).
DRIVER = r"""
import resource, subprocess, sys
cli, size, block, args = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode().decode("unicode_escape").encode("latin-1"), sys.argv[4:]
p = subprocess.Popen([cli, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
block = block * max(1, (1 << 16) // len(block))
written = 0
try:
    while written + len(block) <= size:
        p.stdin.write(block)
        written += len(block)
    p.stdin.close()
except BrokenPipeError:
    pass
out = p.stdout.read()
rc = p.wait()
print(rc, written, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.flush()
sys.stderr.write(out.decode())
"""


def stream(size, block, *args):
    p = subprocess.run([sys.executable, "-c", DRIVER, str(CLI), str(size), block, *args], capture_output=True,
                       text=True, timeout=600)
    rc, written, peak_kib = (int(x) for x in p.stdout.split())
    return rc, written, peak_kib, p.stderr


@pytest.mark.skipif(sanitized(), reason="sanitizer build: hundreds of MB through an instrumented matcher take "
                    "minutes, and the shadow memory makes the RSS bound meaningless")
def test_a_large_stdin_streams_with_bounded_memory():
    size = 384 << 20
    # a regex (DFA matcher): 384 MiB of lines
    rc, written, peak_kib, out = stream(size, r"abcdefghijklmno\n", "match", "--regex", "([a-z]+\n)*", "-")
    assert rc == 0, out
    assert f"<stdin>: accepted ({written} bytes)" in out
    assert written >= 380 << 20
    assert peak_kib < 64 << 10, f"peak RSS {peak_kib >> 10} MiB for a {written >> 20} MiB input"


def json_records(n):
    """A JSON array of n records (objects with strings, numbers, arrays, literals), one per line."""
    rows = (json.dumps({"id": i, "name": f"item {i}", "tags": ["a", "b\u00e9"], "score": i * 0.25, "ok": i % 2 == 0,
                        "none": None, "nested": {"depth": [1, {"x": -i}]}}) for i in range(n))
    return "[\n" + ",\n".join(rows) + "\n]\n"


def test_a_large_json_document_streams_with_bounded_memory(tmp_path):
    # ~16 MiB of JSON through the Lark JSON grammar (context-free matcher), from a file
    f = tmp_path / "big.json"
    f.write_text(json_records(120_000))
    size = f.stat().st_size
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(p.stdout + p.stderr)")
    p = subprocess.run([sys.executable, "-c", code, str(CLI), "match", str(JSON_LARK), str(f)], capture_output=True,
                       text=True, timeout=600)
    head, out = p.stdout.split("\n", 1)
    rc, peak_kib = (int(x) for x in head.split())
    assert rc == 0, out
    assert size > 12 << 20 and f"big.json: accepted ({size} bytes)" in out
    assert peak_kib < 48 << 10, f"peak RSS {peak_kib >> 10} MiB for a {size >> 20} MiB input"


def test_a_json_refusal_just_past_a_chunk_border_names_what_is_expected():
    text = json_records(3000)
    bad = text.index(",\n", CHUNK)  # the first record separator past the first chunk border
    assert bad - CHUNK < 200
    data = (text[:bad] + ";" + text[bad + 1:]).encode()
    p = subprocess.run([str(CLI), "match", "--color", "never", str(JSON_LARK), "-"], input=data, capture_output=True,
                       timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 1
    line_no = text.count("\n", 0, bad) + 1
    col = bad - text.rindex("\n", 0, bad)
    assert f"<stdin>:{line_no}:{col}: error: rejected at byte {bad}: ';' is not allowed here [TG501]" in out, out
    note = [line for line in out.splitlines() if "note: expected" in line]
    assert note and note[0].startswith(f"<stdin>:{line_no}:{col}: note: expected one of:"), out
    assert '","' in note[0] and '"]"' in note[0], note


@pytest.mark.parametrize("border", [1, 3])
def test_a_refusal_just_past_a_chunk_border_is_exact(border):
    # lines of "abc…\n" (32 bytes each, so line starts fall on chunk borders); one bad byte 1 byte past
    # the `border`-th 64 KiB border (so the chunk before it is accepted whole, and the refused chunk
    # begins just before it)
    line = b"abcdefghijklmnopqrstuvwxyzabcde\n"
    data = bytearray(line * ((border * CHUNK) // len(line) + 10))
    bad = border * CHUNK + 1
    data[bad] = ord("#")
    p = subprocess.run([str(CLI), "match", "--color", "never", "--regex", "([a-z]+\n)*", "-"], input=bytes(data),
                       capture_output=True, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 1
    line_no, col = bad // len(line) + 1, bad % len(line) + 1
    assert f"<stdin>:{line_no}:{col}: error: rejected at byte {bad}: '#' is not allowed here [TG501]" in out
    assert f"<stdin>:{line_no}:{col}: note: expected one of: [a-z]" in out or \
        f"<stdin>:{line_no}:{col}: note: expected" in out
    # the source line and the caret under the refused byte
    shown = "  " + "a" + "#" + "cdefghijklmnopqrstuvwxyzabcde"
    assert shown in out and "\n   ^\n" in out + "\n"
    # the same input given as a file, and as JSON
    p2 = subprocess.run([str(CLI), "match", "--format", "json", "--regex", "([a-z]+\n)*", "-"], input=bytes(data),
                        capture_output=True, timeout=60)
    d = json.loads(p2.stdout)
    assert (d[0]["line"], d[0]["col"], d[0]["end_line"], d[0]["end_col"], d[0]["code"]) == (line_no, col, line_no,
                                                                                             col + 1, "TG501")


def test_an_input_that_ends_early_past_several_chunks():
    # [1,1,...,1 without "]": TG502 at the end, on line 1 at the column after the last byte
    body = b"[" + b"1," * (3 * CHUNK) + b"1"
    p = subprocess.run([str(CLI), "match", "--color", "never", str(JSON_GBNF), "-"], input=body, capture_output=True,
                       timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 1
    assert f"<stdin>:1:{len(body) + 1}: error: the input ends early (after {len(body)} bytes" in out
    assert "[TG502]" in out
