import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def data_dir():
    env = os.environ.get("TOLLGATE_DATA_DIR")
    p = pathlib.Path(env) if env else ROOT.parent / "shared"
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def shared():
    """The data beside the project; skips (or fails under TOLLGATE_REQUIRE_DATA=1) when absent."""
    d = data_dir()
    if d is None:
        if os.environ.get("TOLLGATE_REQUIRE_DATA") == "1":
            pytest.fail("test data missing (TOLLGATE_REQUIRE_DATA=1): set TOLLGATE_DATA_DIR")
        pytest.skip("test data missing: set TOLLGATE_DATA_DIR or run scripts/fetch-data.sh")
    return d


@pytest.fixture(scope="session")
def llama3(shared):
    import tollgate

    return tollgate.TokenizerInfo.from_file(str(shared / "tokenizers" / "llama3"))
