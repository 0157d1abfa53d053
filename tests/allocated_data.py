"""Build a small ``allocated`` table (the allocation engine's output contract) for tests.

Each row is a dict of the columns that matter; every other FOCUS column is NULL and the
money columns default to the row's ``cost`` (BilledCost = EffectiveCost = ListCost =
ContractedCost unless given).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import pyarrow as pa

from cloudledger import focus
from cloudledger.store import Store

DIMENSIONS = ("team", "product", "environment", "cost_center")
EXTRA = {"x_AllocationRule": "string", "x_AllocationKind": "string",
         "x_AllocationPool": "string", "x_AllocationShare": "float64",
         "x_AllocationDriver": "string"}


def allocated_schema(dimensions: tuple[str, ...] = DIMENSIONS) -> dict[str, str]:
    schema = focus.canonical_schema()
    schema.update({d: "string" for d in dimensions})
    schema.update(EXTRA)
    return schema


def row(month: str, cost: str, *, team: str = "__unallocated__", product: str = "web",
        environment: str = "prod", cost_center: str = "CC-000", kind: str = "direct",
        category: str = "Usage", status: str | None = None, commitment: str | None = None,
        day: int = 1, currency: str = "USD", billed: str | None = None,
        **extra: Any) -> dict[str, Any]:
    """One allocated row in billing period ``month`` (YYYY-MM) charged on ``day``."""
    start = datetime.fromisoformat(f"{month}-01")
    end = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
    money = Decimal(cost)
    out: dict[str, Any] = {
        "BillingPeriodStart": start, "BillingPeriodEnd": end,
        "ChargePeriodStart": start.replace(day=day), "ChargePeriodEnd": start.replace(day=day),
        "BillingAccountId": "acct-1", "BillingCurrency": currency, "ChargeCategory": category,
        "ProviderName": "TestCloud", "ServiceName": "Compute", "ServiceCategory": "Compute",
        "InvoiceIssuerName": "TestCloud", "PublisherName": "TestCloud",
        "BilledCost": Decimal(billed) if billed is not None else money,
        "EffectiveCost": money, "ListCost": money, "ContractedCost": money,
        "CommitmentDiscountStatus": status, "CommitmentDiscountId": commitment,
        "team": team, "product": product, "environment": environment,
        "cost_center": cost_center, "x_AllocationKind": kind,
        "x_AllocationRule": f"rule-{kind}", "x_AllocationPool": None,
        "x_AllocationShare": None, "x_AllocationDriver": None,
    }
    out.update(extra)
    return out


def make_allocated(store: Store, rows: list[dict[str, Any]],
                   dimensions: tuple[str, ...] = DIMENSIONS) -> None:
    """Write ``rows`` as table ``allocated`` (replacing it) with the full contract schema."""
    schema = ibis.schema(allocated_schema(dimensions))
    columns = {}
    for name, dtype in schema.items():
        values = [r.get(name) for r in rows]
        columns[name] = pa.array(values, type=dtype.to_pyarrow())
    table = pa.table(columns)
    if store.is_spark:  # ibis' PySpark memtable cannot hold NULL decimals: go through Parquet
        import tempfile

        import pyarrow.parquet as pq

        path = tempfile.mkdtemp(prefix="allocated-") + "/allocated.parquet"
        pq.write_table(table, path)
        store.spark.read.parquet(path).write.mode("overwrite").saveAsTable("allocated")
        return
    store.con.create_table("allocated", ibis.memtable(table), overwrite=True)
