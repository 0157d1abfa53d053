"""When commitments end, where the data says so (shared by Operate's forecasts and Optimize's
commitment reports; neither imports the other).

    from cloudledger.analyze.commitment_terms import commitment_ends, end_sql

    commitment_ends(store)        # {"arn:aws:...:savingsplan/abc": datetime(2026, 12, 15), ...}
    end_sql(columns)              # the SQL aggregate of a commitment's end over its rows

A commitment's end is known only when the data carries it; it is never guessed from the day
its charges stop (that may be the export's end, an exchange, or a late file):

1. an ``x_CommitmentDiscountEnd`` column (timestamp or text; a FOCUS export or a source that
   keeps the provider's reservation end): its latest value over the commitment's rows;
2. else the ``ChargePeriodEnd`` of a one-time ``Purchase`` row whose charge period spans more
   than a month (an upfront purchase whose charge period is its term).

Commitments without either have no end (``None``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from cloudledger.engine import ident, literal

__all__ = ["END_COLUMN", "commitment_ends", "end_day", "end_sql"]

END_COLUMN = "x_CommitmentDiscountEnd"


def end_sql(columns: list[str] | set[str]) -> str:
    """A DuckDB aggregate: the end of a commitment over its rows (NULL when unknown)."""
    cps, cpe = ident("ChargePeriodStart"), ident("ChargePeriodEnd")
    term = (f"{ident('ChargeCategory')} = 'Purchase' AND {ident('ChargeFrequency')} = "
            f"'One-Time' AND {cpe} > {cps} + INTERVAL 32 DAY")
    ends = [f"max({cpe}) FILTER (WHERE {term})"]
    if END_COLUMN in set(columns):
        ends.insert(0, f"max(TRY_CAST({ident(END_COLUMN)} AS TIMESTAMP))")
    return ends[0] if len(ends) == 1 else f"coalesce({', '.join(ends)})"


def commitment_ends(store: Any, table: str = "focus",
                    ids: list[str] | None = None) -> dict[str, datetime]:
    """Commitment id -> its end, for the commitments whose end the data carries (one grouped
    query over ``table``); ``ids`` restricts the ids looked at."""
    columns = list(store.table(table).columns)
    cid = ident("CommitmentDiscountId")
    where = f"{cid} IS NOT NULL"
    if ids is not None:
        if not ids:
            return {}
        where += f" AND {cid} IN ({', '.join(literal(i) for i in ids)})"
    rows = store.engine.fetch(
        f"SELECT {cid} AS id, {end_sql(columns)} AS e FROM {ident(table)} WHERE {where} "
        f"GROUP BY {cid}")
    return {str(r["id"]): r["e"] for r in rows if isinstance(r["e"], datetime)}


def end_day(end: datetime | date) -> date:
    """The first whole day a commitment no longer covers: the end's date when it ends at
    midnight, else the day after."""
    if isinstance(end, datetime):
        if end.time() == datetime.min.time():
            return end.date()
        return end.date() + timedelta(days=1)
    return end
