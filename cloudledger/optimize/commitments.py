"""Commitment coverage and utilization: AWS RIs and Savings Plans, Azure reservations and
savings plans, GCP CUDs, from the FOCUS commitment columns of the store's ``focus`` table.

    report = commitments(store, by=["ProviderName"], as_of=date(2026, 12, 1))
    report.commitments   # one row per commitment (and currency)
    report.totals        # per --by group and currency (one row per currency without --by)

Every figure is one aggregate query in the engine over rows charged before the as-of (see
docs/optimize.md, "Commitments", and ``cloudledger.optimize.usage`` for the row flags):

- ``used_cost`` / ``unused_cost``: EffectiveCost of the commitment's Usage rows with
  CommitmentDiscountStatus Used / Unused (the amortized commitment, split);
  ``utilization_pct`` = used / (used + unused).
- ``utilization_quantity_pct``: 1 - unused CommitmentDiscountQuantity / the quantity of the
  recurring purchase rows (AWS: reserved hours, Savings Plan $ to date); without recurring
  purchase quantities, used / (used + unused) quantity; NULL when Unused rows carry none.
- ``covered_list_cost``: ListCost (on-demand equivalent) of the covered usage;
  ``savings`` = sum(ListCost - EffectiveCost) over Used rows - unused cost (the purchase rows
  are left out: their cost is already amortized into those EffectiveCosts);
  ``savings_vs_contracted`` the same against ContractedCost.
- ``coverage_pct`` = on-demand-equivalent cost of covered usage / of eligible usage;
  ``coverage_hours_pct`` the same in hours (rows metered in hours).
- ``end``: the commitment's end where the data carries it (an ``x_CommitmentDiscountEnd``
  column, else the ChargePeriodEnd of a one-time purchase row spanning more than a month: its
  term); ``expires_in_days`` from the as-of; ``status`` active, expired (end passed) or
  ``no recent charges`` (end unknown and no charge in the last day before the account's data
  ends: it ended, or was exchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from cloudledger.errors import InputError
from cloudledger.optimize.usage import flags_sql, focus_columns, q, ts

#: --by dimensions (text columns of the focus table, and the billing period)
DIMENSIONS = ("ProviderName", "BillingAccountId", "BillingAccountName", "SubAccountId",
              "SubAccountName", "ServiceName", "ServiceCategory", "RegionId", "RegionName",
              "CommitmentDiscountType", "CommitmentDiscountCategory", "PricingCategory",
              "BillingPeriodStart", "InvoiceIssuerName", "PublisherName")
WINDOWS = (30, 60, 90)


@dataclass
class CommitmentReport:
    as_of: datetime
    by: list[str]
    commitments: list[dict[str, Any]] = field(default_factory=list)
    totals: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_by(by: list[str] | None, columns: list[str]) -> list[str]:
    from cloudledger.analyze.options import suggest

    out: list[str] = []
    for name in by or []:
        if name not in DIMENSIONS or name not in columns:
            raise InputError(f"unknown dimension {name!r}", where="--by",
                             hint=suggest(name, DIMENSIONS) or
                             f"choose from {', '.join(DIMENSIONS)}")
        if name not in out:
            out.append(name)
    return out


def data_end(store: Any, as_of: date | datetime | None = None) -> datetime | None:
    """The as-of: ``as_of`` (midnight), else the end of the latest charge in the store."""
    if as_of is not None:
        return as_of if isinstance(as_of, datetime) else datetime(as_of.year, as_of.month,
                                                                  as_of.day)
    row = store.engine.fetch(f"SELECT max({q('ChargePeriodEnd')}) AS e FROM {q('focus')}")
    end = row[0]["e"] if row else None
    return end if isinstance(end, datetime) else None


def per_commitment_sql(columns: list[str], as_of: datetime) -> str:
    """One row per commitment id and currency (CTE body; see the module docstring)."""
    cpe, cps = q("ChargePeriodEnd"), q("ChargePeriodStart")
    qty, eff = q("CommitmentDiscountQuantity"), q("EffectiveCost")
    purchase = f"{q('ChargeCategory')} = 'Purchase'"
    one_time_term = (f"{purchase} AND {q('ChargeFrequency')} = 'One-Time' AND "
                     f"{cpe} > {cps} + INTERVAL 32 DAY")
    ends = [f"max({cpe}) FILTER (WHERE {one_time_term})"]
    if "x_CommitmentDiscountEnd" in columns:
        ends.insert(0, f"max(TRY_CAST({q('x_CommitmentDiscountEnd')} AS TIMESTAMP))")
    status = q("CommitmentDiscountStatus")
    used, unused = f"{status} = 'Used' AND _covered", "_unused"
    return f"""SELECT {q('CommitmentDiscountId')} AS commitment_id,
  {q('BillingCurrency')} AS currency,
  min({q('ProviderName')}) AS provider, min({q('BillingAccountId')}) AS billing_account,
  max({q('CommitmentDiscountName')}) AS name, max({q('CommitmentDiscountType')}) AS type,
  max({q('CommitmentDiscountCategory')}) AS category,
  max({q('CommitmentDiscountUnit')}) AS unit,
  min({cps}) AS first_charge, max({cpe}) AS last_charge,
  coalesce({', '.join(ends)}) AS "end",
  count(*) FILTER (WHERE {used}) AS used_rows, count(*) FILTER (WHERE {unused}) AS unused_rows,
  coalesce(sum({eff}) FILTER (WHERE {used}), 0) AS used_cost,
  coalesce(sum({eff}) FILTER (WHERE {unused}), 0) AS unused_cost,
  coalesce(sum({q('ListCost')}) FILTER (WHERE {used}), 0) AS covered_list_cost,
  coalesce(sum({q('ContractedCost')}) FILTER (WHERE {used}), 0) AS covered_contracted_cost,
  coalesce(sum({q('BilledCost')}) FILTER (WHERE {purchase}), 0) AS purchase_cost,
  sum(_hours) FILTER (WHERE {used}) AS covered_hours,
  sum({qty}) FILTER (WHERE {used}) AS used_quantity,
  sum({qty}) FILTER (WHERE {unused}) AS unused_quantity,
  sum({qty}) FILTER (WHERE {purchase} AND {q('ChargeFrequency')} = 'Recurring')
    AS purchased_quantity
FROM f WHERE {q('CommitmentDiscountId')} IS NOT NULL
GROUP BY {q('CommitmentDiscountId')}, {q('BillingCurrency')}"""


def _pct(num: str, den: str) -> str:
    return (f"CASE WHEN {den} <> 0 THEN round(100.0 * CAST({num} AS DOUBLE) / "
            f"CAST({den} AS DOUBLE), 2) END")


def commitments(store: Any, *, by: list[str] | None = None,
                as_of: date | datetime | None = None) -> CommitmentReport:
    columns = focus_columns(store)
    dims = check_by(by, columns)
    end = data_end(store, as_of)
    if end is None:
        return CommitmentReport(datetime.min, dims, notes=["the store has no rows"])
    f = f"f AS (SELECT * FROM ({flags_sql(columns)}) WHERE {q('ChargePeriodStart')} < {ts(end)})"
    acct = (f"acct AS (SELECT {q('BillingAccountId')} AS ba, max({q('ChargePeriodEnd')}) "
            f"AS ba_end FROM f GROUP BY ALL)")
    status = ("CASE WHEN \"end\" IS NOT NULL AND \"end\" <= " + ts(end) + " THEN 'expired' "
              "WHEN \"end\" IS NULL AND last_charge < least(ba_end, " + ts(end) + ") - "
              "INTERVAL 1 DAY THEN 'no recent charges' ELSE 'active' END")
    expires = (f"CASE WHEN \"end\" IS NOT NULL THEN date_diff('day', {ts(end)}, \"end\") "
               "END")
    util_qty = ("CASE WHEN purchased_quantity > 0 THEN round(100.0 * (1 - coalesce("
                "unused_quantity, 0) / purchased_quantity), 2) WHEN unused_rows = 0 OR "
                "unused_quantity IS NOT NULL THEN " +
                _pct("coalesce(used_quantity, 0)",
                     "coalesce(used_quantity, 0) + coalesce(unused_quantity, 0)") + " END")
    c_sql = f"""c0 AS ({per_commitment_sql(columns, end)}),
c AS (SELECT c0.*, {status} AS status, {expires} AS expires_in_days
      FROM c0 LEFT JOIN acct ON c0.billing_account IS NOT DISTINCT FROM acct.ba)"""
    per = store.engine.query(f"""WITH {f}, {acct}, {c_sql}
SELECT provider, billing_account, commitment_id, name, type, category, currency, status,
  first_charge, last_charge, "end", expires_in_days, used_cost, unused_cost,
  {_pct('used_cost', 'used_cost + unused_cost')} AS utilization_pct,
  {util_qty} AS utilization_quantity_pct, unit,
  used_quantity, unused_quantity, purchased_quantity, covered_hours, covered_list_cost,
  covered_list_cost - used_cost - unused_cost AS savings,
  covered_contracted_cost - used_cost - unused_cost AS savings_vs_contracted,
  purchase_cost, used_rows, unused_rows
FROM c ORDER BY provider, billing_account, commitment_id, currency""").to_pylist()

    keys = [q(d) for d in dims]
    group = ", ".join(keys + [q("BillingCurrency")])
    sel = "".join(f"{k} AS {k}, " for k in keys)
    in_days = "".join(
        f", count(DISTINCT CASE WHEN c.status = 'active' AND c.expires_in_days BETWEEN 0 AND "
        f"{n} THEN c.commitment_id END) AS expiring_{n}d" for n in WINDOWS)
    eff, lst, con = q("EffectiveCost"), q("ListCost"), q("ContractedCost")
    used = f"{q('CommitmentDiscountStatus')} = 'Used' AND _covered"
    totals = store.engine.query(f"""WITH {f}, {acct}, {c_sql},
g AS (SELECT {sel}{q('BillingCurrency')} AS currency,
  count(DISTINCT f.{q('CommitmentDiscountId')}) AS commitments,
  coalesce(sum(_od) FILTER (WHERE _eligible), 0) AS eligible_cost,
  coalesce(sum(_od) FILTER (WHERE _eligible AND _covered), 0) AS covered_cost,
  sum(_hours) FILTER (WHERE _eligible) AS eligible_hours,
  sum(_hours) FILTER (WHERE _eligible AND _covered) AS covered_hours,
  coalesce(sum({eff}) FILTER (WHERE {used}), 0) AS used_cost,
  coalesce(sum({eff}) FILTER (WHERE _unused), 0) AS unused_cost,
  coalesce(sum({lst} - {eff}) FILTER (WHERE _covered), 0)
    - coalesce(sum({eff}) FILTER (WHERE _unused), 0) AS savings,
  coalesce(sum({con} - {eff}) FILTER (WHERE _covered), 0)
    - coalesce(sum({eff}) FILTER (WHERE _unused), 0) AS savings_vs_contracted,
  count(*) FILTER (WHERE _covered AND _od IS NULL) AS covered_rows_without_list_price
  {in_days},
  count(DISTINCT CASE WHEN c.status <> 'active' THEN c.commitment_id END) AS ended
FROM f LEFT JOIN c ON f.{q('CommitmentDiscountId')} = c.commitment_id
  AND f.{q('BillingCurrency')} IS NOT DISTINCT FROM c.currency
WHERE _eligible OR _unused OR f.{q('CommitmentDiscountId')} IS NOT NULL
GROUP BY {group})
SELECT * EXCLUDE (covered_rows_without_list_price),
  {_pct('covered_cost', 'eligible_cost')} AS coverage_pct,
  {_pct('covered_hours', 'eligible_hours')} AS coverage_hours_pct,
  {_pct('used_cost', 'used_cost + unused_cost')} AS utilization_pct,
  covered_rows_without_list_price
FROM g ORDER BY {', '.join(['currency'] + keys)}""").to_pylist()
    report = CommitmentReport(end, dims, per, totals)
    _notes(report)
    return report


def _notes(report: CommitmentReport) -> None:
    rows = report.commitments
    if not rows:
        report.notes.append("no commitment rows (CommitmentDiscountId) before the as-of")
    no_usage = [r["commitment_id"] for r in rows if not r["used_rows"] and r["purchase_cost"]]
    for r in rows:
        r.pop("used_rows", None)
        r.pop("unused_rows", None)
    if no_usage:
        report.notes.append(f"{len(no_usage)} commitment(s) with purchases but no covered "
                            f"usage before the as-of (e.g. {no_usage[0]})")
    if rows and not any(r["end"] for r in rows):
        report.notes.append("no commitment end in the data (no x_CommitmentDiscountEnd column, "
                            "no one-time purchase spanning its term): expirations cannot be "
                            "counted; `status` says which commitments have stopped charging")
    missing = sum(int(t["covered_rows_without_list_price"] or 0) for t in report.totals)
    if missing:
        report.notes.append(f"{missing} covered usage row(s) without a list price are left out "
                            "of coverage")


def expiring(report: CommitmentReport, within_days: int) -> list[dict[str, Any]]:
    """Active commitments whose known end falls within ``within_days`` of the as-of."""
    limit = report.as_of + timedelta(days=within_days)
    return [r for r in report.commitments if r["status"] == "active" and r["end"] is not None
            and r["end"] <= limit]


__all__ = ["DIMENSIONS", "CommitmentReport", "commitments", "data_end", "expiring"]
