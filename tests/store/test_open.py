"""Opening a store: a path that is not a store, a busy store, a failed first load and
rows that no load log vouches for are each reported clearly (exit 2, or 1 for findings)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import InputError
from cloudledger.store import Store
from tests.store.conftest import row, write_focus

runner = CliRunner()


@pytest.fixture()
def sample(tmp_path: Path) -> Path:
    return write_focus(tmp_path / "sample.csv", [row("a", "1.25", day=d) for d in (1, 2)])


@pytest.mark.parametrize(("name", "content", "looks"), [
    ("bill.csv", b"BillingAccountId,BilledCost\na,1\n", "a text (CSV?) file"),
    ("bill.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", "a Parquet file"),
    ("bill.json", b'{"data": []}', "a JSON file"),
    ("random.bin", bytes(range(255, -1, -1)) * 16, "a binary file"),
])
def test_store_path_that_is_not_a_store(tmp_path: Path, sample: Path, name: str,
                                        content: bytes, looks: str) -> None:
    target = tmp_path / name
    target.write_bytes(content)
    for args in (["ingest", str(sample)], ["reconcile"], ["summary"]):
        r = runner.invoke(app, [*args, "--store", str(target)])
        assert r.exit_code == 2, r.output
        assert "not a cloudledger store" in r.output and looks in r.output
        assert str(target) in r.output
    assert target.read_bytes() == content


def test_a_duckdb_database_of_something_else(tmp_path: Path, sample: Path) -> None:
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE invoices (id INT)")
    con.close()
    r = runner.invoke(app, ["ingest", str(sample), "--store", str(other)])
    assert r.exit_code == 2 and "not a cloudledger store" in r.output
    r = runner.invoke(app, ["reconcile", "--store", str(other)])
    assert r.exit_code == 2 and "no focus table" in r.output


def test_read_commands_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "typo.duckdb"
    r = runner.invoke(app, ["reconcile", "--store", str(missing)])
    assert r.exit_code == 2 and "no store at" in r.output
    assert not missing.exists()


def test_failed_first_ingest_leaves_no_store_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,billing,export\n1,2,3,4\n")
    target = tmp_path / "new" / "store.duckdb"
    r = runner.invoke(app, ["ingest", str(bad), "--store", str(target)])
    assert r.exit_code == 2, r.output
    assert not target.exists() and not Path(f"{target}.wal").exists()


def test_busy_store_names_the_other_process(tmp_path: Path, sample: Path) -> None:
    target = tmp_path / "store.duckdb"
    Store(target).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(target)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        r = runner.invoke(app, ["ingest", str(sample), "--store", str(target)])
        assert r.exit_code == 2, r.output
        assert f"the store is busy: another cloudledger process (PID {holder.pid}) holds it" \
            in r.output
    finally:
        holder.kill()
        holder.wait()
    assert target.exists()  # an existing store is never removed


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write a read-only file")
def test_read_only_store_file(tmp_path: Path, sample: Path) -> None:
    target = tmp_path / "store.duckdb"
    Store(target).close()
    target.chmod(0o444)
    r = runner.invoke(app, ["ingest", str(sample), "--store", str(target)])
    assert r.exit_code == 2 and "permission" in r.output


def test_reconcile_reports_rows_no_load_log_vouches_for(tmp_path: Path, sample: Path) -> None:
    target = tmp_path / "store.duckdb"
    assert runner.invoke(app, ["ingest", str(sample), "--store", str(target)]).exit_code == 0
    assert runner.invoke(app, ["reconcile", "--store", str(target)]).exit_code == 0
    # what a load cut short between its insert and its log would leave
    con = duckdb.connect(str(target))
    con.execute("DELETE FROM ingest_log; DELETE FROM source_totals")
    con.close()
    time.sleep(0)
    r = runner.invoke(app, ["reconcile", "--store", str(target), "-f", "json"])
    assert r.exit_code == 1
    assert "no ingest_log entry" in r.output


def test_store_refuses_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        Store(tmp_path)
