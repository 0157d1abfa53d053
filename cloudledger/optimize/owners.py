"""Who owns a resource: its dominant owner in the ``allocated`` table.

Every recommender family (waste, rightsizing, commitments) names owners the same way::

    from cloudledger.optimize.owners import owners_of, with_owners, UNALLOCATED

    owners_of(store, settings, ["i-0abc", "vol-1"])
    # {"i-0abc": {"team": "payments", "product": "checkout", ...},
    #  "vol-1": {"team": "__unallocated__", ...}}
    owners_of(store, settings, ids, dimensions=["environment"], as_of=date(2026, 11, 1))
    recs = with_owners(store, settings, recs)   # fills Recommendation.owner where empty

Rule: the allocated rows whose ``ResourceId`` is the resource are summed by EffectiveCost per
combination of the owner dimensions (``settings.owners.dimensions``, or ``dimensions``);
the combination with the largest cost wins (ties: the smallest values, so runs agree). Only
rows before ``as_of`` count when it is given. A resource with no allocated row, a store
without an ``allocated`` table (``cloudledger allocate`` not run), and NULL values all give
``__unallocated__``. One engine query for all resources; only one row per resource comes
back. A recommendation whose ``resource`` is not a ResourceId (a scope key) simply gets
``__unallocated__``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import ibis
import pyarrow as pa

from cloudledger.config import UNALLOCATED

__all__ = ["UNALLOCATED", "owners_of", "with_owners"]


def owners_of(store: Any, settings: Any, resources: Iterable[str], *,
              dimensions: Sequence[str] | None = None,
              as_of: date | None = None) -> dict[str, dict[str, str]]:
    """resource -> {dimension: value} for every resource asked for (see the module doc)."""
    dims = list(dimensions if dimensions is not None else settings.owners.dimensions)
    wanted = sorted({r for r in resources if r})
    blank = {d: UNALLOCATED for d in dims}
    out = {r: dict(blank) for r in wanted}
    if not wanted or not dims or "allocated" not in store.tables():
        return out
    a = store.table("allocated")
    present = [d for d in dims if d in a.columns]
    if not present:
        return out
    ids = ibis.memtable(pa.table({"rid": pa.array(wanted, pa.string())}))
    rows = a.filter(a.ResourceId.notnull())
    if as_of is not None:
        cut = datetime(as_of.year, as_of.month, as_of.day)
        rows = rows.filter(rows.ChargePeriodStart < cut)
    rows = rows.semi_join(ids, rows.ResourceId == ids.rid)
    values = {d: rows[d].cast("string").fill_null(UNALLOCATED).name(d) for d in present}
    grouped = rows.group_by(rid=rows.ResourceId, **values).aggregate(
        cost=rows.EffectiveCost.sum())
    rank = ibis.row_number().over(group_by=grouped.rid, order_by=[
        ibis.desc(grouped.cost), *[grouped[d] for d in present]])
    best = grouped.mutate(rank=rank).filter(lambda t: t["rank"] == 0).select(
        "rid", *present)
    for r in store.execute(best).to_pylist():
        out[r["rid"]].update({d: r[d] or UNALLOCATED for d in present})
    return out


def with_owners(store: Any, settings: Any, recs: Sequence[Any], *,
                as_of: date | None = None) -> list[Any]:
    """``recs`` with ``owner`` filled from :func:`owners_of` where a recommender left it
    empty (a recommender that knows better keeps its own)."""
    missing = [r.resource for r in recs if not r.owner]
    found = owners_of(store, settings, missing, as_of=as_of) if missing else {}
    return [r if r.owner else dataclasses.replace(
        r, owner=found.get(r.resource) or {d: UNALLOCATED for d in settings.owners.dimensions})
        for r in recs]
