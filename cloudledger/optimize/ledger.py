"""The savings ledger: every recommendation kept across runs in table ``recommendations``.

    record(store, settings, recs, kinds=["waste.old-snapshot", ...], data_end=...)  # a run
    decide(store, "wast-0123456789", "accepted")                 # recommend accept ID
    decide(store, "wast-0123456789", "dismissed", reason="DR")   # recommend dismiss ID
    rows(store)                                                  # the table as dicts

Table ``recommendations`` (one row per finding id; small: findings, not billing rows):
id, kind, category, resource, account, title, owner (JSON object dimension -> value),
monthly_savings decimal(38,12), currency, evidence (JSON text), risk, status (``open`` |
``accepted`` | ``dismissed``), reason, first_seen, last_seen (when a run found it),
data_end (the end of the data that run saw), gone (bool), gone_since, decided_at,
decided_data_end (data_end when the status was set).

A run (``record``) covers the kinds it ran. A finding found again keeps its id, status,
reason and first_seen; its figures, owner, evidence, last_seen and data_end are updated,
and it is no longer gone. A finding of a kind that ran but that the run did not find is
kept with ``gone = true`` (``gone_since`` = the first run that missed it) and its last
figures: status stays the user's decision, ``gone`` says the waste is no longer billed
(an accepted finding that is gone has been carried out). Rows of kinds that did not run are
untouched. Writes go through ``store.engine.replace_rows`` (one transaction on DuckDB,
build-then-swap on Spark).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cloudledger.config import UNALLOCATED
from cloudledger.engine import literal
from cloudledger.errors import InputError
from cloudledger.optimize.owners import with_owners
from cloudledger.optimize.registry import Recommendation

TABLE = "recommendations"
INCOMING = "recommendations__incoming"
STATUSES = ("open", "accepted", "dismissed")
MONTH = Decimal("30.4375")
QUANTUM = Decimal(1).scaleb(-12)
SCHEMA = pa.schema([
    ("id", pa.string()), ("kind", pa.string()), ("category", pa.string()),
    ("resource", pa.string()), ("account", pa.string()), ("title", pa.string()),
    ("owner", pa.string()), ("monthly_savings", pa.decimal128(38, 12)),
    ("currency", pa.string()), ("evidence", pa.string()), ("risk", pa.string()),
    ("status", pa.string()), ("reason", pa.string()), ("first_seen", pa.timestamp("us")),
    ("last_seen", pa.timestamp("us")), ("data_end", pa.timestamp("us")),
    ("gone", pa.bool_()), ("gone_since", pa.timestamp("us")),
    ("decided_at", pa.timestamp("us")), ("decided_data_end", pa.timestamp("us")),
])
_SQL_TYPES = {"string": "VARCHAR", "decimal128(38, 12)": "DECIMAL(38, 12)",
              "timestamp[us]": "TIMESTAMP", "bool": "BOOLEAN"}


def ensure(store: Any) -> None:
    """Create the table if the store has none (a store opened for writing)."""
    if TABLE in store.tables():
        return
    cols = ", ".join(f'"{f.name}" {_SQL_TYPES[str(f.type)]}' for f in SCHEMA)
    store.engine.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({cols})")


def rows(store: Any, *, kinds: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The ledger's rows (all, or of ``kinds``), largest saving first; [] without a table."""
    if TABLE not in store.tables():
        return []
    where = f" WHERE kind IN ({', '.join(literal(k) for k in kinds)})" if kinds else ""
    got = store.engine.fetch(f"SELECT * FROM {TABLE}{where}")
    for r in got:
        r["owner"] = json.loads(r["owner"] or "{}")
        r["evidence"] = json.loads(r["evidence"] or "{}")
        r["monthly_savings"] = Decimal(r["monthly_savings"] or 0)
    return sorted(got, key=lambda r: (-r["monthly_savings"], r["id"]))


def record(store: Any, settings: Any, recs: Sequence[Recommendation], *,
           kinds: Sequence[str], data_end: datetime | None = None,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """Store a run of the recommenders ``kinds`` (see the module doc); owners are filled
    from ``allocated`` where a recommender left them empty. Returns the run's rows (with
    their kept status), largest saving first."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    kinds = sorted(set(kinds) | {r.kind for r in recs})
    if not kinds:
        return []
    ensure(store)
    recs = with_owners(store, settings, recs)
    old = {r["id"]: r for r in rows(store, kinds=kinds)}
    merged: dict[str, dict[str, Any]] = {}
    for rec in recs:
        prev = old.get(rec.id, {})
        d = rec.to_dict()
        merged[rec.id] = {
            **{k: d[k] for k in ("id", "kind", "category", "resource", "account", "title",
                                 "monthly_savings", "currency", "risk")},
            "owner": d["owner"], "evidence": d["evidence"],
            "status": prev.get("status", "open"), "reason": prev.get("reason"),
            "first_seen": prev.get("first_seen", now), "last_seen": now,
            "data_end": data_end, "gone": False, "gone_since": None,
            "decided_at": prev.get("decided_at"),
            "decided_data_end": prev.get("decided_data_end")}
    for rid, prev in old.items():
        if rid not in merged:
            merged[rid] = prev | {"gone": True, "gone_since": prev.get("gone_since") or now}
    _write(store, list(merged.values()),
           f"kind IN ({', '.join(literal(k) for k in kinds)})")
    found = [merged[r.id] for r in recs]
    return sorted(found, key=lambda r: (-r["monthly_savings"], r["id"]))


def decide(store: Any, rid: str, status: str, *, reason: str | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """Set a finding's status (``accepted`` / ``dismissed`` / ``open``); an unknown id is an
    InputError naming the closest one."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}", hint=f"one of {', '.join(STATUSES)}")
    now = now or datetime.now(UTC).replace(tzinfo=None)
    ids = [r["id"] for r in store.engine.fetch(f"SELECT id FROM {TABLE}")] \
        if TABLE in store.tables() else []
    if rid not in ids:
        close = difflib.get_close_matches(rid, ids, n=1, cutoff=0.5)
        raise InputError(f"no recommendation with id {rid!r}", where="ID",
                         hint=(f"did you mean {close[0]!r}? " if close else "")
                         + "list them with `cloudledger recommend waste` (ids in the first "
                           "column)")
    row = rows(store, kinds=None)
    current = next(r for r in row if r["id"] == rid)
    updated = current | {"status": status, "reason": reason, "decided_at": now,
                         "decided_data_end": current.get("data_end")}
    _write(store, [updated], f"id = {literal(rid)}")
    return updated


def _write(store: Any, items: list[dict[str, Any]], where: str) -> None:
    table = pa.Table.from_pylist([{
        **{f.name: r.get(f.name) for f in SCHEMA},
        "owner": json.dumps(r.get("owner") or {}, sort_keys=True),
        "evidence": json.dumps(r.get("evidence") or {}, sort_keys=True, default=str),
        "monthly_savings": Decimal(r["monthly_savings"]).quantize(Decimal(1).scaleb(-12)),
    } for r in items], schema=SCHEMA)
    store.engine.register(INCOMING, table)
    try:
        store.engine.replace_rows(TABLE, where, INCOMING)
    finally:
        store.engine.unregister(INCOMING)


# ---------------------------------------------------------------- the savings report
@dataclass
class Savings:
    by: str
    month: str | None                      # the last full month spend is taken from
    identified: list[dict[str, Any]]       # category x owner: open/accepted savings, % of spend
    realized: list[dict[str, Any]]         # per month: rate savings + accepted findings


def savings(store: Any, settings: Any, *, by: str | None = None) -> Savings:
    """Identified savings by category and owner as % of the last full month's spend, and
    the realized savings per month (see docs/optimize.md, "Waste and the savings ledger").

    Identified: findings that are not dismissed and not gone, summed per (category, owner
    value of ``by``, currency); ``savings_pct`` = monthly savings / the owner's spend in
    the last full billing month of ``allocated`` (EffectiveCost) that starts before the
    end of the findings' data (so an old --as-of run compares with its own time), ``total`` rows per
    category and currency use all spend. Without ``allocated`` every owner is
    ``__unallocated__`` and spend is focus's.

    Realized, per billing month and currency: ``negotiated`` = sum(ListCost -
    ContractedCost) over usage rows that carry all three; ``commitments`` = sum(ContractedCost
    - EffectiveCost) over usage covered by a commitment minus the commitments' unused cost;
    ``accepted`` = for each accepted finding, from the first month
    that starts after the data it was accepted on: its resource's monthly cost before
    (the 30 days before acceptance, as a month) minus its cost that month (scaled to a whole
    month when the month is partly covered), at least 0 and at most the finding's
    saving."""
    from cloudledger.analyze.periods import coverage

    dim = by or settings.primary
    if dim not in settings.owners.dimensions:
        close = difflib.get_close_matches(dim, settings.owners.dimensions, n=1)
        raise InputError(f"unknown owner dimension {dim!r}", where="--by",
                         hint=(f"did you mean {close[0]!r}? " if close else "") +
                         f"choose from {', '.join(settings.owners.dimensions)}")
    has_alloc = "allocated" in store.tables()
    t = store.table("allocated") if has_alloc else store.focus
    cov = coverage(store, t)
    live = [r for r in rows(store) if not r["gone"] and r["status"] != "dismissed"]
    # the findings' data: spend is taken from the last full month before it ends
    ends = [r["data_end"] for r in live if r["data_end"] is not None]
    periods = [p for p in cov if not ends or p[0] < max(ends)] or list(cov)
    full = sorted(p for p in periods if not cov[p].partial)
    month = full[-1][0] if full else (max(periods)[0] if periods else None)
    spend: dict[tuple[str, str], Decimal] = {}
    if month is not None:
        m = t.filter(t.BillingPeriodStart == month)
        owner = m[dim].cast("string").fill_null(UNALLOCATED) if has_alloc and dim in \
            m.columns else m.BillingCurrency.nullif(m.BillingCurrency).fill_null(UNALLOCATED)
        q = m.group_by(owner=owner, currency=m.BillingCurrency).aggregate(
            cost=m.EffectiveCost.sum())
        spend = {(r["owner"], r["currency"]): Decimal(r["cost"] or 0)
                 for r in store.execute(q).to_pylist()}
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in live:
        value = (r["owner"] or {}).get(dim) or UNALLOCATED
        for key in ((r["category"], value, r["currency"]), (r["category"], "total",
                                                             r["currency"])):
            g = groups.setdefault(key, {"findings": 0, "open": Decimal(0),
                                        "accepted": Decimal(0)})
            g["findings"] += 1
            g[r["status"]] += r["monthly_savings"]
    identified = []
    for (category, value, currency), g in sorted(groups.items(), key=lambda kv: (
            kv[0][0], kv[0][1] == "total", -(kv[1]["open"] + kv[1]["accepted"]))):
        total = g["open"] + g["accepted"]
        base = sum((v for (o, c), v in spend.items() if c == currency), Decimal(0)) \
            if value == "total" else spend.get((value, currency), Decimal(0))
        identified.append({"category": category, dim: value, "currency": currency,
                           "findings": g["findings"], "open_savings": g["open"],
                           "accepted_savings": g["accepted"], "monthly_savings": total,
                           "spend": base, "savings_pct": _pct(total, base)})
    return Savings(dim, month.strftime("%Y-%m") if month else None, identified,
                   _realized(store, cov))


def _realized(store: Any, cov: dict[Any, Any]) -> list[dict[str, Any]]:
    import ibis

    f = store.focus
    u = f.filter(f.ChargeCategory == "Usage")
    priced = u.ListCost.notnull() & u.ContractedCost.notnull() & u.EffectiveCost.notnull()
    # commitment savings: covered usage below its contracted price, net of the commitments'
    # unused cost (spot, free tier and other uncommitted discounts are not commitments')
    unused = u.CommitmentDiscountStatus.fill_null("") == "Unused"
    covered = priced & u.CommitmentDiscountId.notnull() & ~unused
    q = u.group_by(month=u.BillingPeriodStart, currency=u.BillingCurrency).aggregate(
        negotiated=(u.ListCost - u.ContractedCost).sum(where=priced),
        commitments=(u.ContractedCost - u.EffectiveCost).sum(where=covered).fill_null(0)
        - u.EffectiveCost.sum(where=unused).fill_null(0),
        spend=u.EffectiveCost.sum(where=priced))
    out: dict[tuple[Any, str], dict[str, Any]] = {}
    for r in store.execute(q).to_pylist():
        out[(r["month"].replace(tzinfo=None), r["currency"])] = {
            "negotiated": Decimal(r["negotiated"] or 0),
            "commitments": Decimal(r["commitments"] or 0), "accepted": Decimal(0),
            "accepted_findings": 0, "spend": Decimal(r["spend"] or 0)}
    accepted = [r for r in rows(store) if r["status"] == "accepted" and r["decided_data_end"]]
    if accepted:
        ids = ibis.memtable(pa.table({
            "rid": [r["resource"] for r in accepted],
            "cut": pa.array([r["decided_data_end"] for r in accepted], pa.timestamp("us")),
        }))
        fr = f.filter(f.ResourceId.notnull())
        j = fr.join(ids, fr.ResourceId == ids.rid)
        before = (j.ChargePeriodStart >= j.cut - ibis.interval(days=30)) & \
            (j.ChargePeriodStart < j.cut)
        base = {r["rid"]: Decimal(r["cost"] or 0) for r in store.execute(
            j.group_by(rid=j.rid).aggregate(cost=j.EffectiveCost.sum(where=before)))
            .to_pylist()}
        after = j.filter(j.BillingPeriodStart >= j.cut)
        monthly = store.execute(after.group_by(
            rid=after.rid, month=after.BillingPeriodStart,
            currency=after.BillingCurrency).aggregate(cost=after.EffectiveCost.sum())
        ).to_pylist()
        cost_of = {(r["rid"], r["month"].replace(tzinfo=None), r["currency"]):
                   Decimal(r["cost"] or 0) for r in monthly}
        for rec in accepted:
            baseline = base.get(rec["resource"], Decimal(0)) * MONTH / 30
            for (month, currency), m in out.items():
                if currency != rec["currency"] or month < rec["decided_data_end"]:
                    continue
                c = cov.get((month, currency))
                cost = cost_of.get((rec["resource"], month, currency), Decimal(0))
                if c is not None and c.partial and c.days:
                    cost = cost * MONTH / c.days
                gain = min(max(baseline - cost, Decimal(0)), rec["monthly_savings"])
                m["accepted"] += gain.quantize(QUANTUM)
                m["accepted_findings"] += 1 if gain > 0 else 0
    result = []
    for (month, currency), m in sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        total = m["negotiated"] + m["commitments"] + m["accepted"]
        result.append({"month": month.strftime("%Y-%m"), "currency": currency,
                       "negotiated_savings": m["negotiated"],
                       "commitment_savings": m["commitments"],
                       "accepted_savings": m["accepted"],
                       "accepted_findings": m["accepted_findings"],
                       "realized_savings": total, "spend": m["spend"],
                       "realized_pct": _pct(total, m["spend"] + total)})
    return result


def _pct(part: Decimal, whole: Decimal) -> float | None:
    return round(float(part / whole * 100), 2) if whole else None
