import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def data_dir():
    """$TOLLGATE_DATA_DIR, else ../shared, else the user cache of fetched tokenizers (tollgate/_data.py)."""
    from tollgate import _data

    return _data.data_dir()


@pytest.fixture(scope="session")
def shared():
    """The data beside the project; skips (or fails under TOLLGATE_REQUIRE_DATA=1) when absent."""
    d = data_dir()
    if d is None:
        if os.environ.get("TOLLGATE_REQUIRE_DATA") == "1":
            pytest.fail("test data missing (TOLLGATE_REQUIRE_DATA=1): set TOLLGATE_DATA_DIR")
        pytest.skip("test data missing: set TOLLGATE_DATA_DIR, or run scripts/fetch-data.sh (make test does)")
    return d


def _missing(what):
    if os.environ.get("TOLLGATE_REQUIRE_DATA") == "1":
        pytest.fail(f"test data missing (TOLLGATE_REQUIRE_DATA=1): {what}")
    pytest.skip(f"test data missing: {what}")


def corpus_path(shared, sub):
    """shared/corpora/<sub>, or a skip (a failure under TOLLGATE_REQUIRE_DATA=1) when the corpora are absent
    (a bare machine has only the fetched tokenizers)."""
    d = shared / "corpora"
    if not d.is_dir():
        _missing(f"{d} (the corpora are in ../shared only; set TOLLGATE_DATA_DIR)")
    return d / sub


@pytest.fixture(scope="session")
def corpora(shared):
    """shared/corpora (only in ../shared: the user cache of fetched tokenizers has none)."""
    d = shared / "corpora"
    if not d.is_dir():
        _missing(f"{d} (the corpora are in ../shared only; set TOLLGATE_DATA_DIR)")
    return d


@pytest.fixture(scope="session")
def llama3(shared):
    import tollgate

    return tollgate.TokenizerInfo.from_file(str(shared / "tokenizers" / "llama3"))


def releases_the_gil(call, attempts=3):
    """Whether `call()` (run on another thread) lets this thread run Python code while it is inside
    the extension. Python never takes the GIL from a thread here (the switch interval is set to
    100 s), so this thread can run during the call only if the call releases the GIL itself: it
    waits until the other thread is about to make the call, then looks whether the call has
    returned by the time it gets the GIL back. Held throughout, the answer is False on every
    attempt; released, an attempt is lost only if this thread is not scheduled for the whole call.
    Gives (released, results)."""
    import sys
    import threading

    old = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    results = []
    try:
        for _ in range(attempts):
            about_to_call = threading.Event()
            returned = []

            def work():
                about_to_call.set()
                results.append(call())
                returned.append(True)

            t = threading.Thread(target=work)
            t.start()
            about_to_call.wait()  # blocks (GIL released) until `work` is about to call
            during = t.is_alive() and not returned
            t.join()
            if during:
                return True, results
        return False, results
    finally:
        sys.setswitchinterval(old)
