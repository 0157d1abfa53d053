"""kill -9 at many points of an ingest and of an allocate, inside the commit too: the store
is always exactly as it was before or as it is after, and `reconcile` agrees.

Each run is a child process that SIGKILLs itself at a named step of the load
(``cloudledger.store.load.step``), at allocate's ``before_commit``, or on a timer started
there or at the start of the run; the store is then reopened (which drops half-built
scratch tables) and compared, table by table, with the two states it may be in.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cloudledger.store import Store

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "cloudledger" / "allocate" / "starter.yaml"
TABLES = ("focus", "ingest_log", "source_totals", "ingest_errors", "allocated")

CHILD = textwrap.dedent("""
    import os, signal, sys, threading
    sys.path.insert(0, {root!r})
    mode, point, delay, db = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def at(name):
        if name == point:
            if delay == 0:
                die()
            threading.Timer(delay, die).start()

    from cloudledger.store import Store, load
    load.step = at
    from cloudledger.allocate import engine
    engine.before_commit = lambda: at("allocate before commit")
    at("start")
    store = Store(db)
    if mode == "ingest":
        from cloudledger.ingest import ingest
        ingest(store, sys.argv[5:])
    else:
        from cloudledger.allocate import allocate
        from cloudledger.config import load_settings
        allocate(store, load_settings(sys.argv[5]))
    store.close()
""")


def snapshot(db: Path) -> dict[str, Any]:
    """Row count and an order-independent checksum of every row, per table."""
    store = Store(db)  # opening for writing drops scratch tables a killed run left
    store.close()
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        out: dict[str, Any] = {"scratch": sorted(n for n in names if "__" in n)}
        for t in TABLES:
            if t in names:  # when a load ran is not part of its result
                cols = {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()}
                rows = f"(SELECT * EXCLUDE (loaded_at) FROM {t})" if "loaded_at" in cols else t
                out[t] = con.execute(f"SELECT count(*), sum(hash(r)::HUGEINT) FROM {rows} AS r"
                                     ).fetchone()
        return out
    finally:
        con.close()


def reconciled(db: Path) -> bool:
    store = Store(db, read_only=True)
    try:
        return all(r["status"] == "ok" for r in store.reconcile().to_pylist())
    finally:
        store.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    from cloudledger.allocate import allocate
    from cloudledger.config import load_settings
    from cloudledger.demo import generate
    from cloudledger.ingest import ingest

    work = tmp_path_factory.mktemp("crash")
    first = generate(150_000, seed=7, end=date(2026, 6, 1), out_dir=work / "a", months=6,
                     formats=("parquet",), single_file=True)
    second = generate(150_000, seed=8, end=date(2026, 6, 1), out_dir=work / "b", months=6,
                      formats=("parquet",), single_file=True)
    cur = shared_data / "native/aws-cur/koku__2023-06-01.csv"
    base = work / "base.duckdb"
    store = Store(base)
    ingest(store, [str(p) for p in first.paths])
    allocate(store, load_settings(STARTER))
    store.close()
    # the allocate run changes the result: one more rule than the allocation in base
    config = work / "more.yaml"
    config.write_text(STARTER.read_text().replace(
        "rules:", "rules:\n  - name: crash-test\n    match: {resource_regex: '/payments-prod-'}\n"
        "    set: {team: platform, product: platform, cost_center: CC-1710}", 1))
    ingest_args = [str(p) for p in second.paths] + [str(cur)]
    states = {"before": snapshot(base)}
    for mode, args in (("ingest", ingest_args), ("allocate", [str(config)])):
        done = work / f"after-{mode}.duckdb"
        shutil.copy(base, done)
        run(work, mode, "never", 0, done, args, expect_kill=False)
        states[mode] = snapshot(done)
        assert states[mode] != states["before"]
        assert reconciled(done)
    return {"work": work, "base": base, "states": states, "args": {
        "ingest": ingest_args, "allocate": [str(config)]}}


def run(work: Path, mode: str, point: str, delay: float, db: Path, args: list[str], *,
        expect_kill: bool = True) -> int:
    script = work / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    proc = subprocess.run([sys.executable, str(script), mode, point, str(delay), str(db),
                           *args], capture_output=True, text=True, check=False)
    if proc.returncode not in (0, -9):
        raise AssertionError(proc.stderr[-3000:])
    if not expect_kill:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.returncode


LOAD_STEPS = ["frame 1 inserted", "frame 1 checked", "frame 1 replaced", "frame 1 logged",
              "frame 2 inserted", "frame 2 checked", "frame 2 replaced", "frame 2 logged",
              "before commit"]
KILLS = (
    [("ingest", p, 0.0) for p in LOAD_STEPS]
    + [("ingest", "before commit", d) for d in (0.001, 0.004, 0.01, 0.025, 0.06)]
    + [("ingest", "start", d) for d in (1.5, 2.5)]
    + [("allocate", "allocate before commit", d) for d in (0.0, 0.001, 0.005, 0.02)]
    + [("allocate", "start", d) for d in (1.5, 2.5, 3.5)]
)


@pytest.mark.parametrize(("mode", "point", "delay"), KILLS,
                         ids=[f"{m}-{p.replace(' ', '_')}-{d}" for m, p, d in KILLS])
def test_killed_run_leaves_the_store_before_or_after(world: dict[str, Any], tmp_path: Path,
                                                     mode: str, point: str,
                                                     delay: float) -> None:
    db = tmp_path / "store.duckdb"
    shutil.copy(world["base"], db)
    code = run(world["work"], mode, point, delay, db, world["args"][mode])
    got = snapshot(db)
    states = world["states"]
    assert got in (states["before"], states[mode]), (code, got)
    if delay == 0 and point != "start":
        assert code == -9 and got == states["before"]  # killed before COMMIT: nothing
    assert got["scratch"] == []
    assert reconciled(db)
