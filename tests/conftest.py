from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudledger.store import Store

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLOUDLEDGER_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.fail(f"shared data not found at {data}; set CLOUDLEDGER_SHARED")
    return data


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store.duckdb")
    yield s
    s.close()
