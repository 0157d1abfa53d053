"""Helpers: write a small focus table from row dicts (every other column NULL)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa
import pytest

from cloudledger import focus
from cloudledger.store import Store


def frow(month: str, cost: str, *, service: str = "Compute", tags: dict[str, str] | None = None,
         account: str = "acct-1", category: str = "Usage", currency: str = "USD",
         billed: str | None = None, resource: str | None = None, day: int = 1,
         **extra: Any) -> dict[str, Any]:
    """One focus row in billing period ``month`` (YYYY-MM); all four costs = ``cost``."""
    start = datetime.fromisoformat(f"{month}-01")
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    money = Decimal(cost)
    out: dict[str, Any] = {
        "BillingPeriodStart": start, "BillingPeriodEnd": end,
        "ChargePeriodStart": start.replace(day=day), "ChargePeriodEnd": start.replace(day=day),
        "BillingAccountId": "billing-1", "SubAccountId": account, "BillingCurrency": currency,
        "ChargeCategory": category, "ProviderName": "TestCloud", "ServiceName": service,
        "ServiceCategory": "Compute", "InvoiceIssuerName": "TestCloud",
        "PublisherName": "TestCloud", "ResourceId": resource,
        "BilledCost": Decimal(billed) if billed is not None else money,
        "EffectiveCost": money, "ListCost": money, "ContractedCost": money,
        "Tags": json.dumps(tags) if tags is not None else None,
        "x_SourceFormat": "test", "x_IngestId": 1,
    }
    for k, v in extra.items():
        out[k] = json.dumps(v) if isinstance(v, dict) else v
    return out


def make_focus(store: Store, rows: list[dict[str, Any]]) -> None:
    """Replace the store's focus rows with ``rows``."""
    schema = store.focus.schema()
    columns = {name: pa.array([r.get(name) for r in rows], type=dtype.to_pyarrow())
               for name, dtype in schema.items()}
    table = ibis.memtable(pa.table(columns))
    if store.is_spark:
        store.spark.createDataFrame(pa.table(columns)).write.mode("overwrite").saveAsTable(
            "focus")
    else:
        store.raw("DELETE FROM focus")
        store.con.insert("focus", table)


@pytest.fixture()
def store(engine_store: Store) -> Store:
    """Every allocation test runs on DuckDB and on Spark (``-m spark`` for the latter)."""
    return engine_store


@pytest.fixture()
def focus_rows() -> Any:
    return frow


_ = focus
