"""The same load and aggregate code on PySpark (local mode) gives the DuckDB totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from cloudledger.analyze.summary import by_dimension, tag_coverage
from cloudledger.demo import generate
from cloudledger.ingest import ingest
from cloudledger.store import Store

pytestmark = pytest.mark.spark


def totals(store: Store) -> dict[tuple, tuple[Decimal, Decimal, int]]:
    f = store.focus
    rows = store.execute(f.group_by(
        "ProviderName", "BillingAccountId", "BillingPeriodStart", "BillingCurrency",
        "ChargeCategory").aggregate(
        billed=f.BilledCost.sum(), effective=f.EffectiveCost.sum(), n=f.count())).to_pylist()
    return {(r["ProviderName"], r["BillingAccountId"], r["BillingPeriodStart"],
             r["BillingCurrency"], r["ChargeCategory"]): (r["billed"], r["effective"], r["n"])
            for r in rows}


def test_spark_load_and_aggregate_match_duckdb(
        spark_db, shared_data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    demo = generate(3000, seed=3, end=date(2026, 6, 1), out_dir=tmp_path / "demo",
                    formats=("csv",), single_file=True)
    inputs = [shared_data / "focus/focus_sample_1.0.csv", *demo.paths]
    duck = Store(tmp_path / "duck.duckdb")
    sparky = Store(spark=spark_db)
    for path in inputs:
        ingest(duck, [path])
        ingest(sparky, [path])
    expected = totals(duck)
    assert totals(sparky) == expected
    assert sum(v[2] for v in expected.values()) > 3000
    # restating a period on Spark replaces it, as on DuckDB
    restated = tmp_path / "restated.csv"  # the same rows in other bytes
    restated.write_bytes(inputs[0].read_bytes().replace(b"\n", b"\r\n"))
    [again] = ingest(sparky, [restated])
    assert again.rows_replaced == 1000
    assert totals(sparky) == expected
    # the report queries run unchanged on both backends
    log = sparky.ingest_log().to_pylist()
    assert [r["rows"] for r in log] == [1000, duck.ingest_log().to_pylist()[1]["rows"], 1000]
    assert log[-1]["outcome"] == "restated" and log[0]["totals"] == '{"USD": "20.520226728990"}'
    for by in ("service", "month", "provider"):  # ties may come in any order
        assert sorted(by_dimension(sparky, by).to_pylist(), key=str) == sorted(
            by_dimension(duck, by).to_pylist(), key=str)
    assert tag_coverage(sparky).to_pylist() == tag_coverage(duck).to_pylist()
