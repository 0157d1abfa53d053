"""Names a user controls never reach SQL text unescaped: file paths, x_ column names, tag
keys and values, metric names and config values holding ' " \\ ; and newlines go through
ingest, metrics load, allocate and showback intact, on DuckDB and on Spark."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from cloudledger.allocate import allocate
from cloudledger.analyze.showback import showback
from cloudledger.config import settings_from
from cloudledger.engine import ident, literal
from cloudledger.ingest import ingest
from cloudledger.ingest.metrics import load_metrics
from cloudledger.store import Store
from tests.store.conftest import COLUMNS, row

HOSTILE = "it's \"odd\"; \\ x\ny"
KEY = "team'; DROP TABLE focus; --\\"


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_quoted_names_and_values_round_trip_through_sqlglot(dialect: str) -> None:
    import sqlglot

    sql = f"SELECT {literal(HOSTILE, dialect)} AS {ident(HOSTILE, dialect)}"
    [stmt] = sqlglot.parse(sql, read=dialect)
    assert stmt.selects[0].alias == HOSTILE
    assert stmt.selects[0].this.this == HOSTILE


def test_hostile_names_through_every_step(engine_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / HOSTILE.replace("\n", "_").replace("/", "_")
    folder.mkdir()
    export = folder / f"{HOSTILE.replace(chr(10), '_')}.csv"
    column = "x_" + HOSTILE.replace("\n", " ")
    with export.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*COLUMNS, "Tags", column])
        for i, team in enumerate((HOSTILE, None, HOSTILE)):  # res1 untagged: a rule owns it
            r = row("acct'1", f"{i + 1}.25", day=i + 1, resource=f"res{i}")
            tags = json.dumps({KEY: team}) if team else ""
            w.writerow([*(r[c] or "" for c in COLUMNS), tags, HOSTILE])
    [report] = ingest(engine_store, [export])
    assert report.rows == 3
    got = engine_store.execute(engine_store.focus.select(column, "Tags")).to_pylist()
    assert {r[column] for r in got} == {HOSTILE}

    metrics = tmp_path / "metrics.csv"
    with metrics.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "metric", "value", "product", "owner"])
        w.writerow(["2025-10-01", HOSTILE, "10", HOSTILE, HOSTILE])
    [load], _ = load_metrics(engine_store, metrics)
    assert load.metric == HOSTILE and load.rows == 1
    [again], _ = load_metrics(engine_store, metrics)  # replaces by metric name
    assert again.replaced == 1

    settings = settings_from({
        "tags": {"aliases": {"team": [KEY]}},
        "rules": [{"name": HOSTILE, "match": {"column": {column: HOSTILE, "ResourceId": "res1"}},
                   "set": {"team": HOSTILE + "!"}}],
    })
    result = allocate(engine_store, settings)
    assert all(c.ok for c in result.conservation)
    owners = {r["team"]: r["total"] for r in showback(engine_store, settings).rows}
    assert owners == {HOSTILE: Decimal("4.5"), HOSTILE + "!": Decimal("2.25")}
