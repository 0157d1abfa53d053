"""`cloudledger metrics load`: CSV / Parquet / JSON in, idempotent per (metric, date range),
and bad files rejected with their line number before anything is written."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import InputError
from cloudledger.ingest.metrics import load_metrics, read_metrics_file
from cloudledger.store import Store

runner = CliRunner()

GOOD = """date,metric,value,product,owner
2026-05-01,requests,1000,checkout,payments
2026-05-02,requests,"1,500",checkout,payments
2026-05-01,requests,400,search,
2026-05-01,active_users,30412,,
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(store: Store) -> list[dict]:
    t = store.table("metrics")
    return store.execute(t.order_by(["metric", "date", "product"])).to_pylist()


def test_csv_loads_typed_rows(store: Store, tmp_path: Path) -> None:
    loads, warnings = load_metrics(store, write(tmp_path, "m.csv", GOOD))
    assert warnings == []
    assert [(m.metric, m.start, m.end, m.rows, m.replaced) for m in loads] == [
        ("active_users", date(2026, 5, 1), date(2026, 5, 1), 1, 0),
        ("requests", date(2026, 5, 1), date(2026, 5, 2), 3, 0)]
    got = rows(store)
    assert got[0] == {"date": date(2026, 5, 1), "metric": "active_users", "value": 30412.0,
                      "owner": None, "product": None}
    assert [(r["product"], r["owner"], r["value"]) for r in got[1:]] == [
        ("checkout", "payments", 1000.0), ("search", None, 400.0),
        ("checkout", "payments", 1500.0)]
    schema = store.table("metrics").schema()
    assert str(schema["date"]) == "date" and str(schema["value"]) == "float64"


def test_parquet_json_and_ndjson(store: Store, tmp_path: Path) -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                          "metric": ["orders", "orders"], "value": [10, 12]})
    frame.to_parquet(tmp_path / "m.parquet")
    load_metrics(store, tmp_path / "m.parquet")
    records = [{"date": "2026-02-01", "metric": "users", "value": 5, "owner": "growth"}]
    write(tmp_path, "m.json", json.dumps(records))
    load_metrics(store, tmp_path / "m.json")
    write(tmp_path, "m.ndjson", "\n".join(json.dumps(r) for r in [
        {"date": "2026-03-01", "metric": "calls", "value": 1.5},
        {"date": "2026-03-02", "metric": "calls", "value": 2.5}]) + "\n")
    load_metrics(store, tmp_path / "m.ndjson")
    got = {(r["metric"], r["date"]): (r["value"], r["owner"]) for r in rows(store)}
    assert got == {("orders", date(2026, 1, 1)): (10.0, None),
                   ("orders", date(2026, 1, 2)): (12.0, None),
                   ("users", date(2026, 2, 1)): (5.0, "growth"),
                   ("calls", date(2026, 3, 1)): (1.5, None),
                   ("calls", date(2026, 3, 2)): (2.5, None)}


def test_reload_is_idempotent_and_replaces_only_the_range(store: Store,
                                                          tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", GOOD)
    load_metrics(store, path)
    first = rows(store)
    loads, _ = load_metrics(store, path)
    assert rows(store) == first
    assert {m.metric: m.replaced for m in loads} == {"active_users": 1, "requests": 3}
    # a restatement of one day of requests: other days and other metrics stay
    load_metrics(store, write(tmp_path, "fix.csv", "date,metric,value\n"
                              "2026-05-02,requests,1600\n"))
    got = rows(store)
    assert len(got) == 4
    assert [r["value"] for r in got if r["metric"] == "requests"] == [1000.0, 400.0, 1600.0]


BAD = {
    "missing.csv": ("date,metric\n2026-05-01,requests\n", "missing column 'value'"),
    "nan.csv": ("date,metric,value\n2026-05-01,requests,10\n2026-05-02,requests,ten\n",
                "line 3, column value: value 'ten' is not a number"),
    "comma.csv": ("date,metric,value\n2026-05-01,requests,\"1,5\"\n",
                  "line 2, column value: value '1,5' is not a number"),
    "empty_value.csv": ("date,metric,value\n2026-05-01,requests,\n",
                        "line 2, column value"),
    "date.csv": ("date,metric,value\n2026-05-01,requests,1\n05/32/2026,requests,2\n",
                 "line 3, column date: date '05/32/2026' is not a date"),
    "dup.csv": ("date,metric,value\n2026-05-01,requests,1\n2026-05-01,requests,2\n",
                "lines 2 and 3"),
    "typo.csv": ("date,metric,value,prodcut\n2026-05-01,requests,1,x\n",
                 "did you mean 'product'"),
    "header_only.csv": ("date,metric,value\n", "no rows"),
    "metrics.xlsx": ("x", "cannot tell the format"),
    "bad.ndjson": ('{"date": "2026-05-01", "metric": "r", "value": 1}\n{oops\n',
                   "line 2"),
    "inf.json": ('[{"date": "2026-05-01", "metric": "r", "value": "inf"}]',
                 "record 1, column value"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_exit_2_and_leave_the_store_unchanged(tmp_path: Path, name: str) -> None:
    db = str(tmp_path / "s.duckdb")
    good = write(tmp_path, "good.csv", GOOD)
    assert runner.invoke(app, ["metrics", "load", str(good), "--store", db]).exit_code == 0
    st = Store(db)
    before = rows(st)
    st.close()
    text, message = BAD[name]
    res = runner.invoke(app, ["metrics", "load", str(write(tmp_path, name, text)),
                              "--store", db])
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split()), res.output
    st = Store(db)
    assert rows(st) == before
    st.close()


def test_first_bad_load_creates_nothing(store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_metrics(store, write(tmp_path, "nan.csv", BAD["nan.csv"][0]))
    assert "metrics" not in store.tables()


def test_unknown_extra_column_is_ignored_with_a_warning(tmp_path: Path) -> None:
    mf = read_metrics_file(write(tmp_path, "m.csv", "date,metric,value,notes\n"
                                 "2026-05-01,requests,1,launch day\n"))
    assert mf.frame.num_rows == 1 and "notes" in mf.warnings[0]


def test_cli_load_and_list(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    path = write(tmp_path, "m.csv", GOOD)
    res = runner.invoke(app, ["metrics", "load", str(path), "--store", db, "-f", "json"])
    assert res.exit_code == 0, res.output
    assert {r["metric"]: r["rows"] for r in json.loads(res.output)} == {
        "active_users": 1, "requests": 3}
    res = runner.invoke(app, ["metrics", "list", "--store", db, "-f", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[2].startswith("requests,2026-05-01,2026-05-02,3,1,2")
    res = runner.invoke(app, ["metrics", "load", str(tmp_path / "nope.csv"), "--store", db])
    assert res.exit_code == 2 and "no file" in res.output
