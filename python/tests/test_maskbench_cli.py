"""`tollgate bench maskbench` on a few MaskBench-dev files and a malformed one: the JSONL has one line per
file with exactly the documented keys, the summary agrees with it, bad files and crashing or hanging
workers are recorded per file and the run goes on. The debug grammar `--grammar builtin-json` replays
through the built-in JSON grammar, which must accept every valid test.
Runs the binary build/tollgate (next to the built Python package when there is one)."""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli():
    try:
        import tollgate

        return pathlib.Path(tollgate.__file__).resolve().parents[2] / "tollgate"
    except ImportError:
        return REPO / "build" / "tollgate"


CLI = _cli()
pytestmark = pytest.mark.skipif(not CLI.exists(), reason=f"{CLI} not built")

# One or two of each kind of source, small enough to replay quickly.
PICKS = ["Github_easy", "Github_medium", "Kubernetes", "Snowplow", "Glaiveai2K", "BFCL"]


@pytest.fixture(scope="module")
def bench_dir(corpora, tmp_path_factory):
    src = corpora / "maskbench-dev"
    if not src.is_dir():
        if os.environ.get("TOLLGATE_REQUIRE_DATA") == "1":
            pytest.fail(f"test data missing: {src} (TOLLGATE_REQUIRE_DATA=1)")
        pytest.skip(f"test data missing: {src}")
    d = tmp_path_factory.mktemp("maskbench")
    names = sorted(p.name for p in src.glob("*.json"))
    for prefix in PICKS:  # the first file of each kind with a valid test (and an invalid one if it can)
        candidates = [n for n in names if n.startswith(prefix)]
        kinds = {n: {t["valid"] for t in json.loads((src / n).read_text())["tests"]} for n in candidates[:20]}
        for n in sorted(kinds, key=lambda n: (kinds[n] != {True, False}, n)):
            if True in kinds[n]:
                    shutil.copy(src / n, d / n)
                    break
    (d / "zz_malformed.json").write_text('{"schema": {"type": "object"}, "tests": [')
    (d / "zz_no_tests.json").write_text('{"schema": {"type": "object"}}')
    (d / "README.md").write_text("not a schema file: ignored\n")
    return d


@pytest.fixture(scope="module")
def tokenizer(shared):
    return str(shared / "tokenizers" / "llama3")


def run(*args, env=None):
    p = subprocess.run([str(CLI), "bench", "maskbench", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})})
    return p.returncode, p.stdout, p.stderr


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def check_line_shape(j):
    keys = set(j)
    assert isinstance(j["id"], str)
    if keys == {"id", "compile_error"}:
        assert isinstance(j["compile_error"], str) and j["compile_error"]
    elif keys == {"id", "crash"}:
        assert j["crash"] == "timeout" or re.fullmatch(r"(signal|exit) \d+", j["crash"])
    else:
        assert keys == {"id", "ttfm_us", "tests", "mask_us"}, keys
        assert isinstance(j["ttfm_us"], (int, float)) and j["ttfm_us"] >= 0
        assert all(isinstance(v, (int, float)) and v >= 0 for v in j["mask_us"])
        for t in j["tests"]:
            assert set(t) == {"valid", "tokens_ok", "eos_ok"}
            assert all(isinstance(v, bool) for v in t.values())
            assert t["tokens_ok"] or not t["eos_ok"]  # EOS is checked only after every token


def summary_numbers(out):
    def num(label):
        m = re.search(rf"^{label}:\s+(\d+)", out, re.M)
        assert m, f"no '{label}' in summary:\n{out}"
        return int(m.group(1))

    m = re.search(r"^maskbench: (\d+) schemas", out, re.M)
    assert m, out
    return {"schemas": int(m.group(1)), "passing": num("passing"), "compile_errors": num("compile errors"),
            "validation_errors": num("validation errors"), "invalidation_errors": num("invalidation errors"),
            "crashes": num("crashes"), "timeouts": num("timeouts")}


def expected_numbers(lines):
    n = {"schemas": len(lines), "passing": 0, "compile_errors": 0, "validation_errors": 0,
         "invalidation_errors": 0, "crashes": 0, "timeouts": 0}
    for j in lines:
        if "compile_error" in j:
            n["compile_errors"] += 1
        elif "crash" in j:
            n["timeouts" if j["crash"] == "timeout" else "crashes"] += 1
        else:
            accepted = [t["tokens_ok"] and t["eos_ok"] for t in j["tests"]]
            refused_valid = any(t["valid"] and not a for t, a in zip(j["tests"], accepted))
            accepted_invalid = any(not t["valid"] and a for t, a in zip(j["tests"], accepted))
            n["validation_errors"] += refused_valid
            n["invalidation_errors"] += accepted_invalid
            n["passing"] += not refused_valid and not accepted_invalid
    return n


def check_run(bench_dir, out_path, rc, out, err):
    assert rc == 0, err
    lines = read_jsonl(out_path)
    files = sorted(p.name for p in bench_dir.glob("*.json"))
    assert [j["id"] for j in lines] == files  # one line per file, in file order
    for j in lines:
        check_line_shape(j)
    by_id = {j["id"]: j for j in lines}
    assert by_id["zz_malformed.json"]["compile_error"].startswith("bad file")
    assert by_id["zz_no_tests.json"]["compile_error"].startswith("bad file")
    assert summary_numbers(out) == expected_numbers(lines)
    assert "\r[" not in err  # no progress bar when stderr is not a terminal
    return by_id


def test_schemas_jsonl_and_summary_agree(bench_dir, tokenizer, tmp_path):
    out_path = tmp_path / "r.jsonl"
    rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out_path), "--timeout", "60")
    by_id = check_run(bench_dir, out_path, rc, out, err)
    assert "grammar: JSON Schema" in out and "cold (a fresh process and Compiler per schema)" in out
    # Workers kept between schemas (--reuse-workers), one Compiler per worker (--warm), a process started
    # per schema (--exec, which loads the tokenizer itself) and a warm worker so started: the same verdicts.
    # The warm worker once more with a compiled-grammar cache (off by default: no schema repeats).
    for modes, said in ((["--reuse-workers"], "workers reused"), (["--warm"], "compiled-grammar cache off"),
                        (["--exec"], "a process started (exec) per schema"),
                        (["--warm", "--exec"], "the worker a process started (exec): it loads the tokenizer"),
                        (["--warm", "--grammar-cache-mb", "1"], "compiled-grammar cache 1 MiB")):
        other = tmp_path / ("r" + "".join(modes) + ".jsonl")
        rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(other), "--timeout", "60", *modes)
        assert rc == 0, err
        assert said in out
        assert {j["id"]: j.get("tests", j.get("compile_error")) for j in read_jsonl(other)} == \
            {i: j.get("tests", j.get("compile_error")) for i, j in by_id.items()}


def test_builtin_json_accepts_every_valid_test(bench_dir, tokenizer, tmp_path):
    out_path = tmp_path / "r.jsonl"
    rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out_path), "--grammar",
                       "builtin-json", "--timeout", "60")
    by_id = check_run(bench_dir, out_path, rc, out, err)
    replayed = [j for j in by_id.values() if "tests" in j]
    assert len(replayed) == len(PICKS)
    for j in replayed:
        assert j["tests"], j["id"]
        for t in j["tests"]:
            if t["valid"]:
                assert t["tokens_ok"] and t["eos_ok"], j["id"]
        # a mask per token replayed, plus one for EOS after a test's last token
        assert len(j["mask_us"]) >= sum(t["eos_ok"] for t in j["tests"])
    assert summary_numbers(out)["validation_errors"] == 0
    assert re.search(r"^TBM .* p99\.9 [\d.]+ +max [\d.]+$", out, re.M)
    # --jobs 2 gives the same verdicts
    out2 = tmp_path / "r2.jsonl"
    rc, _, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out2), "--grammar", "builtin-json",
                     "--jobs", "2", "--warm", "--timeout", "60")
    assert rc == 0, err
    assert [(j["id"], j.get("tests")) for j in read_jsonl(out2)] == [(j["id"], j.get("tests")) for j in
                                                                      read_jsonl(out_path)]


def test_a_crashing_and_a_hanging_worker_are_recorded_and_the_run_goes_on(bench_dir, tokenizer, tmp_path):
    names = sorted(p.name for p in bench_dir.glob("*.json"))
    crash, hang = names[0], names[1]
    out_path = tmp_path / "r.jsonl"
    rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out_path), "--grammar",
                       "builtin-json", "--timeout", "3", "--jobs", "2",
                       env={"TOLLGATE_BENCH_CRASH_ON": crash, "TOLLGATE_BENCH_HANG_ON": hang})
    by_id = check_run(bench_dir, out_path, rc, out, err)
    # SIGSEGV; under AddressSanitizer (abort_on_error) the worker's segfault ends in SIGABRT
    assert by_id[crash] in ({"id": crash, "crash": "signal 11"}, {"id": crash, "crash": "signal 6"})
    assert by_id[hang] == {"id": hang, "crash": "timeout"}
    assert sum("tests" in j for j in by_id.values()) == len(PICKS) - 2
    n = summary_numbers(out)
    assert n["crashes"] == 1 and n["timeouts"] == 1


def test_an_exec_worker_that_crashes_is_recorded_and_the_run_goes_on(bench_dir, tokenizer, tmp_path):
    # The crash hook reaches a process started with exec through its environment, as any setting would.
    names = sorted(p.name for p in bench_dir.glob("*.json"))
    out_path = tmp_path / "r.jsonl"
    rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out_path), "--grammar",
                       "builtin-json", "--timeout", "60", "--exec", env={"TOLLGATE_BENCH_CRASH_ON": names[0]})
    by_id = check_run(bench_dir, out_path, rc, out, err)
    assert by_id[names[0]] in ({"id": names[0], "crash": "signal 11"}, {"id": names[0], "crash": "signal 6"})
    assert sum("tests" in j for j in by_id.values()) == len(PICKS) - 1
    # A warm worker started with exec serves every schema; after its crash a new one (exec'd again) goes on.
    out_path = tmp_path / "w.jsonl"
    rc, out, err = run(str(bench_dir), "--tokenizer", tokenizer, "--out", str(out_path), "--grammar",
                       "builtin-json", "--timeout", "60", "--exec", "--warm", env={"TOLLGATE_BENCH_CRASH_ON": names[1]})
    by_id = check_run(bench_dir, out_path, rc, out, err)
    assert by_id[names[1]] in ({"id": names[1], "crash": "signal 11"}, {"id": names[1], "crash": "signal 6"})
    assert sum("tests" in j for j in by_id.values()) == len(PICKS) - 1


def test_usage_errors_exit_2(tmp_path, tokenizer):
    assert run(str(tmp_path / "missing"), "--tokenizer", tokenizer)[0] == 2
    assert run(str(tmp_path), "--tokenizer", tokenizer, "--jobs", "0")[0] == 2
    assert run(str(tmp_path), "--tokenizer", tokenizer, "--property-order", "sorted")[0] == 2
    assert run(str(tmp_path), "--tokenizer", tokenizer, "--warm", "--reuse-workers")[0] == 2
    assert run(str(tmp_path), "--tokenizer", tokenizer, "--exec", "--reuse-workers")[0] == 2
    rc, out, err = run(str(tmp_path), "--tokenizer", tokenizer)  # an empty directory is a complete run
    assert rc == 0 and re.search(r"^maskbench: 0 schemas", out, re.M)
