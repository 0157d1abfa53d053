"""DuckDB and Spark (local mode) allocate the same topology to identical rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudledger.allocate import allocate
from cloudledger.config import settings_from
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus
from tests.allocate.test_topology import MAY, SETTINGS, june_rows

EXTRA = [frow("2026-05", "0.333333333337", tags={"team": "web"}, currency="EUR"),
         frow("2026-05", "1000000.000000000001", service="Support", currency="EUR"),
         frow("2026-05", "-12.5", service="Support", currency="EUR"),
         # an OpenCost-like cluster: the namespace in SubAccountId; its idle stays in it
         frow("2026-06", "5", service="Kubernetes", account="checkout",
              SubAccountType="Kubernetes Namespace", BillingAccountId="cluster-2"),
         frow("2026-06", "2", service="Kubernetes", account=None,
              AllocatedResourceName="__idle__", BillingAccountId="cluster-2")]


def rows_of(store: Store) -> list[tuple[Any, ...]]:
    t = store.con.table("allocated")
    cols = [c for c in t.columns if c not in ("x_SourceRowId", "x_IngestId")]
    data = store.execute(t.select(cols)).to_pylist()
    norm = [tuple((c, str(r[c]) if isinstance(r[c], Decimal) else r[c]) for c in cols)
            for r in data]
    return sorted(norm, key=repr)


@pytest.mark.spark
def test_duckdb_and_spark_identical(spark: Any, tmp_path: Path) -> None:
    from tests.allocate.test_topology import add_metrics

    settings = settings_from({**SETTINGS, "rules": [
        *SETTINGS["rules"],
        {"name": "cheap", "match": {"resource_regex": "^r[0-9]$", "charge_category": "Usage"},
         "set": {"environment": "prod"}}]})
    duck = Store(tmp_path / "d.duckdb")
    make_focus(duck, MAY + june_rows() + EXTRA)
    add_metrics(duck)
    allocate(duck, settings)
    sp = Store(spark=spark)
    try:
        make_focus(sp, MAY + june_rows() + EXTRA)
        add_metrics(sp)
        result = allocate(sp, settings)
        assert all(c.difference == 0 for c in result.conservation)
        cluster2 = sp.execute(sp.con.table("allocated").filter(
            lambda t: t.BillingAccountId == "cluster-2").group_by("team").aggregate(
            c=lambda t: t.EffectiveCost.sum())).to_pylist()
        assert cluster2 == [{"team": "payments", "c": Decimal(7)}]
        a, b = rows_of(duck), rows_of(sp)
        assert len(a) == len(b) > 20
        assert a == b
    finally:
        for name in ("allocated", "metrics"):
            spark.sql(f"DROP TABLE IF EXISTS {name}")
        duck.close()
