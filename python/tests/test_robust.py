"""Robustness from Python: bitmasks of the wrong size, dtype, layout or writability are a
ValueError/TypeError naming the problem (never a write out of bounds), and `tollgate match` streams
a large stdin through the matcher without holding it (its peak RSS stays far below the input)."""
import pathlib
import subprocess

import numpy as np
import pytest

import tollgate

CLI = pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"


def tiny():
    return tollgate.TokenizerInfo.from_tokens(
        [b"a", b"b", b"ab", b"<eos>"], eos_ids=[3], vocab_size=70, special_ids=[3]
    )


def test_bitmask_of_wrong_size_dtype_or_layout_is_refused():
    m = tollgate.Matcher(tollgate.Compiler(tiny()).compile_regex("(a|b)+"))
    words = tollgate.bitmask_words(70)  # 3
    bad = [
        np.zeros(words - 1, dtype=np.int32),                 # too short
        np.zeros(words + 1, dtype=np.int32),                 # too long
        np.zeros((2, words - 1), dtype=np.int32),            # rows too short
        np.zeros((1, 1, words), dtype=np.int32),             # 3-D
        np.zeros(words, dtype=np.int64),                     # wrong dtype, same element count
        np.zeros(words, dtype=np.float32),                   # float of the right itemsize
        np.zeros(words * 2, dtype=np.int16),                 # right bytes, wrong dtype
        np.zeros((words, 2), dtype=np.int32).T,              # not C-contiguous
        np.zeros((2, words * 2), dtype=np.int32)[:, ::2],    # strided rows
    ]
    for arr in bad:
        with pytest.raises((ValueError, TypeError)):
            m.fill_next_token_bitmask(arr)
    ro = np.zeros(words, dtype=np.int32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        m.fill_next_token_bitmask(ro)
    for row in (-1, 2, 1 << 40):
        with pytest.raises((ValueError, OverflowError, TypeError)):
            m.fill_next_token_bitmask(tollgate.allocate_token_bitmask(2, 70), row)
    # The right one works, and writes exactly its row.
    bm = np.full((2, words), -1, dtype=np.int32)
    m.fill_next_token_bitmask(bm, 1)
    assert (bm[0] == -1).all()
    assert bm[1, 0] == 0b111 and (bm[1, 1:] == 0).all()  # a, b, ab
    torch = pytest.importorskip("torch")
    with pytest.raises((ValueError, TypeError)):
        m.fill_next_token_bitmask(torch.zeros(words, dtype=torch.int64))


@pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
def test_match_streams_stdin_without_loading_it():
    size = 256 << 20  # 256 MiB through a pipe
    proc = subprocess.Popen([str(CLI), "match", "--regex", "[a-z]*\n?", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunk = b"abcdefgh" * (1 << 17)  # 1 MiB
    for _ in range(size // len(chunk)):
        proc.stdin.write(chunk)
    proc.stdin.flush()
    # Still running (stdin open): its peak RSS so far, with all but the pipe's last bytes consumed.
    status = pathlib.Path(f"/proc/{proc.pid}/status").read_text()
    peak_kib = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1])
    proc.stdin.close()
    out = proc.stdout.read().decode()
    assert proc.wait(timeout=600) == 0, out + proc.stderr.read().decode()
    assert f"accepted ({size} bytes)" in out
    assert peak_kib < 128 << 10, f"peak RSS {peak_kib >> 10} MiB for a {size >> 20} MiB input"


@pytest.mark.skipif(not CLI.exists(), reason="build/tollgate not built")
def test_match_stream_reports_the_refused_byte_with_line_and_column(tmp_path):
    f = tmp_path / "big.txt"
    line = b"abc" * 30000 + b"\n"  # lines longer than one 64 KiB chunk
    f.write_bytes(line * 5 + b"abcX" + b"abc" * 10)
    p = subprocess.run([str(CLI), "match", "--regex", "([a-z]*\n)*[a-z]*", str(f)], capture_output=True, text=True)
    assert p.returncode == 1
    assert f"rejected at byte {len(line) * 5 + 3}" in p.stdout
    assert f"{f}:6:4" in p.stdout
