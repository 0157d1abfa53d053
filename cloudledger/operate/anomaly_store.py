"""The ``anomalies`` table: the Anomaly record, its rows, and reading and setting them.

One row per id (the id hashes the currency, the dimension values and the first anomalous
day). Writes go through the engine seam (``register`` + ``replace_rows``: atomic on DuckDB,
build-then-swap on Spark).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cloudledger.engine import ident, literal
from cloudledger.errors import InputError
from cloudledger.operate.root_cause import Contributor

__all__ = ["STATUSES", "Anomaly", "anomaly_id", "existing", "set_status", "stored", "write"]

TABLE = "anomalies"
INCOMING = "anomalies__incoming"
STATUSES = ("open", "acknowledged", "resolved", "false_positive")
COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("id", "VARCHAR", pa.string()),
    ("first_day", "DATE", pa.date32()),
    ("last_day", "DATE", pa.date32()),
    ("dimensions", "VARCHAR", pa.string()),      # JSON object
    ("expected", "DECIMAL(38, 12)", pa.decimal128(38, 12)),
    ("actual", "DECIMAL(38, 12)", pa.decimal128(38, 12)),
    ("impact", "DECIMAL(38, 12)", pa.decimal128(38, 12)),
    ("currency", "VARCHAR", pa.string()),
    ("severity", "VARCHAR", pa.string()),
    ("status", "VARCHAR", pa.string()),
    ("first_seen", "TIMESTAMP", pa.timestamp("us")),
    ("last_seen", "TIMESTAMP", pa.timestamp("us")),
    ("root_cause", "VARCHAR", pa.string()),      # JSON list of contributors
    ("note", "VARCHAR", pa.string()),
)
SCHEMA = pa.schema([(name, kind) for name, _, kind in COLUMNS])


@dataclass
class Anomaly:
    id: str
    first_day: date
    last_day: date
    dimensions: dict[str, str | None]
    currency: str
    expected: Decimal
    actual: Decimal
    impact: Decimal
    severity: str
    days: int = 1
    direction: str = "up"
    level_shift: bool = False
    status: str = "open"
    root_cause: list[Contributor] = field(default_factory=list)
    note: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    new: bool = True

    @property
    def impact_pct(self) -> float | None:
        if self.expected == 0:
            return None
        return round(float(self.impact / abs(self.expected) * 100), 2)

    @property
    def scope(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.dimensions.items()) or "total"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "date": self.first_day, "last_day": self.last_day,
                "days": self.days, "dimensions": dict(self.dimensions),
                "currency": self.currency, "expected": self.expected, "actual": self.actual,
                "impact": self.impact, "impact_pct": self.impact_pct,
                "direction": self.direction, "severity": self.severity,
                "status": self.status, "level_shift": self.level_shift, "new": self.new,
                "first_seen": self.first_seen, "last_seen": self.last_seen, "note": self.note,
                "root_cause": [c.as_dict() for c in self.root_cause]}


def anomaly_id(currency: str, dimensions: dict[str, str | None], first_day: date) -> str:
    key = json.dumps([currency, sorted(dimensions.items()), first_day.isoformat()])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _ensure(store: Any) -> None:
    if TABLE not in store.tables():
        cols = ", ".join(f"{ident(name)} {sql}" for name, sql, _ in COLUMNS)
        store.engine.execute(f"CREATE TABLE IF NOT EXISTS {ident(TABLE)} ({cols})")


def existing(store: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids or TABLE not in store.tables():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = store.engine.fetch(f"SELECT * FROM {ident(TABLE)} WHERE {ident('id')} IN "
                                  f"({', '.join(literal(i) for i in chunk)})")
        out.update({r["id"]: r for r in rows})
    return out


def _row(a: Anomaly) -> dict[str, Any]:
    return {"id": a.id, "first_day": a.first_day, "last_day": a.last_day,
            "dimensions": json.dumps(a.dimensions, sort_keys=True),
            "expected": a.expected.quantize(Decimal("1e-12")),
            "actual": a.actual.quantize(Decimal("1e-12")),
            "impact": a.impact.quantize(Decimal("1e-12")), "currency": a.currency,
            "severity": a.severity, "status": a.status, "first_seen": a.first_seen,
            "last_seen": a.last_seen, "note": a.note,
            "root_cause": json.dumps([_plain(c.as_dict()) for c in a.root_cause])}


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in d.items()}


def write(store: Any, anomalies: list[Anomaly]) -> None:
    """Insert or replace the rows of ``anomalies`` in one atomic step."""
    _ensure(store)
    table = pa.Table.from_pylist([_row(a) for a in anomalies], schema=SCHEMA)
    store.engine.register(INCOMING, table)
    try:
        store.engine.replace_rows(
            TABLE, f"{ident('id')} IN (SELECT {ident('id')} FROM {ident(INCOMING)})", INCOMING)
    finally:
        store.engine.unregister(INCOMING)


def _from_row(r: dict[str, Any]) -> Anomaly:
    exp, imp = r["expected"], r["impact"]
    return Anomaly(r["id"], r["first_day"], r["last_day"], json.loads(r["dimensions"]),
                   r["currency"], exp, r["actual"], imp, r["severity"],
                   days=(r["last_day"] - r["first_day"]).days + 1,
                   direction="up" if imp >= 0 else "down", status=r["status"],
                   root_cause=[Contributor.from_dict(c) for c in json.loads(
                       r["root_cause"] or "[]")],
                   note=r["note"], first_seen=r["first_seen"], last_seen=r["last_seen"],
                   new=False)


def stored(store: Any, status: list[str] | None = None) -> list[Anomaly]:
    """The anomalies kept in the store (newest first), optionally of some statuses."""
    if TABLE not in store.tables():
        return []
    rows = store.engine.fetch(f"SELECT * FROM {ident(TABLE)}")
    out = [_from_row(r) for r in rows if status is None or r["status"] in status]
    return sorted(out, key=lambda a: (a.first_day, a.id), reverse=True)


def set_status(store: Any, anomaly_id: str, status: str, note: str | None = None) -> Anomaly:
    """Set the status (and note) of a stored anomaly; an id may be given by a unique
    prefix. An unknown id is an ``InputError`` with the closest stored id."""
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}", hint="one of " + ", ".join(STATUSES))
    rows = stored(store)
    ids = [a.id for a in rows]
    match = [a for a in rows if a.id == anomaly_id] or \
        [a for a in rows if a.id.startswith(anomaly_id)]
    if len(match) != 1:
        close = difflib.get_close_matches(anomaly_id, ids, n=1, cutoff=0.4)
        what = "matches several anomalies" if len(match) > 1 else "is not a known anomaly"
        raise InputError(f"{anomaly_id!r} {what}", where="ID",
                         hint=(f"did you mean {close[0]!r}? " if close else "")
                         + "list them with `cloudledger anomalies --format json`")
    a = match[0]
    a.status = status
    if note is not None:
        a.note = note
    write(store, [a])
    return a
