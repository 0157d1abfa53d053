"""Small FOCUS files with known answers, and a store on each engine."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

COLUMNS = ["BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
           "ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", "BilledCost",
           "EffectiveCost", "ListCost", "ContractedCost", "ProviderName", "ChargeCategory",
           "InvoiceId", "ServiceName", "ResourceId"]


def row(account: str, cost: str = "1.00", *, month: str = "2025-10", day: int = 1,
        provider: str = "AWS", invoice: str | None = None, currency: str = "USD",
        resource: str = "r-1") -> dict[str, Any]:
    start = date.fromisoformat(f"{month}-01")
    end = (start + timedelta(days=32)).replace(day=1)
    charge = start.replace(day=day)
    return {"BillingAccountId": account, "BillingAccountName": f"name {account}",
            "BillingPeriodStart": f"{start} 00:00:00", "BillingPeriodEnd": f"{end} 00:00:00",
            "ChargePeriodStart": f"{charge} 00:00:00",
            "ChargePeriodEnd": f"{charge + timedelta(days=1)} 00:00:00",
            "BillingCurrency": currency, "BilledCost": cost, "EffectiveCost": cost,
            "ListCost": cost, "ContractedCost": cost, "ProviderName": provider,
            "ChargeCategory": "Usage", "InvoiceId": invoice, "ServiceName": "Compute",
            "ResourceId": resource}


def write_focus(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else r[c] for c in COLUMNS])
    return path
