"""The load contract, the same on DuckDB and on Spark: a multi-frame load is all or
nothing; rows in = loaded + quarantined; --allow-bad-rows keeps bad rows in ingest_errors;
a dry run writes nothing."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from cloudledger.errors import InputError, RunError
from cloudledger.ingest import read_frames
from cloudledger.store import Frame, Store
from tests.store.conftest import row, write_focus


def state(store: Store) -> tuple:
    f = store.focus
    return (store.execute(f.count()).as_py(), str(store.execute(f.BilledCost.sum()).as_py()),
            store.execute(store.table("ingest_log").count()).as_py(),
            store.execute(store.table("source_totals").count()).as_py(),
            store.execute(store.table("ingest_errors").count()).as_py())


def frame_of(store: Store, path: Path) -> Frame:
    [frame] = read_frames(store, [path])
    return frame


@pytest.fixture()
def loaded(engine_store: Store, tmp_path: Path) -> Store:
    write_focus(tmp_path / "base.csv", [row("a", "1", day=d) for d in (1, 2, 3)])
    engine_store.load(frame_of(engine_store, tmp_path / "base.csv"))
    return engine_store


def test_a_multi_frame_load_is_all_or_nothing(loaded: Store, tmp_path: Path) -> None:
    before = state(loaded)
    good = frame_of(loaded, write_focus(tmp_path / "b.csv", [row("b", "2")]))
    bad = frame_of(loaded, write_focus(tmp_path / "a.csv", [row("a", "5")]))
    bad = Frame(bad.source, bad.files, bad.rows, bad.totals.mutate(
        BilledCost=bad.totals.BilledCost + 1))
    with pytest.raises(RunError, match="BilledCost of billing account a"):
        loaded.load_all([good, bad])
    assert state(loaded) == before


def test_rows_in_must_equal_loaded_plus_quarantined(loaded: Store, tmp_path: Path) -> None:
    before = state(loaded)
    frame = frame_of(loaded, write_focus(tmp_path / "b.csv", [row("b", "2")]))
    frame.rows_in = 2
    with pytest.raises(RunError, match=r"rows in \(2\) != rows loaded \(1\)"):
        loaded.load(frame)
    assert state(loaded) == before


def test_bad_rows_are_kept_never_dropped(loaded: Store, tmp_path: Path) -> None:
    frame = frame_of(loaded, write_focus(tmp_path / "b.csv", [row("b", "2")]))
    frame.quarantined = ibis.memtable(pa.table({
        "file": ["b.csv"], "line": pa.array([3], pa.int64()),
        "reason": ["BilledCost holds 'abc', not a decimal"], "raw": ["b,abc,..."]}))
    frame.rows_in = 2
    before = state(loaded)
    with pytest.raises(InputError, match="not a decimal"):
        loaded.load(frame)  # without --allow-bad-rows the first bad row is the error
    assert state(loaded) == before
    report = loaded.load(frame, allow_bad_rows=True)
    assert report.rows == 1 and report.rows_quarantined == 1
    errors = loaded.execute(loaded.table("ingest_errors")).to_pylist()
    assert [(e["ingest_id"], e["line"], e["raw"]) for e in errors] == [
        (report.ingest_id, 3, "b,abc,...")]


def test_dry_run_writes_nothing(loaded: Store, tmp_path: Path) -> None:
    before = state(loaded)
    frame = frame_of(loaded, write_focus(tmp_path / "a.csv", [row("a", "9")]))
    report = loaded.load(frame, dry_run=True)
    assert report.dry_run and report.rows_replaced == 3
    assert state(loaded) == before
