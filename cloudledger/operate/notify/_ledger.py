"""The ``notifications`` table: what was delivered where, so that an alert reaches each
channel once, and a failed delivery is tried again by the next run.

    key        channel              channel_type  kind    status  attempts  last_error
    budget:..  slack:3f1c0a9e12ab   slack         budget  sent    1         NULL
    (and first_tried_at, sent_at, updated_at: UTC timestamps; sent_at NULL unless sent)

One row per (key, channel); ``attempts`` counts every try over every run. Written through
the engine seam (one atomic delete + insert per row), so it works on DuckDB and Spark.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from cloudledger.engine import ident, literal

TABLE = "notifications"
INCOMING = "notifications__incoming"
COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("key", "VARCHAR", pa.string()),
    ("channel", "VARCHAR", pa.string()),
    ("channel_type", "VARCHAR", pa.string()),
    ("kind", "VARCHAR", pa.string()),
    ("status", "VARCHAR", pa.string()),          # sent | failed
    ("attempts", "INTEGER", pa.int32()),
    ("last_error", "VARCHAR", pa.string()),
    ("first_tried_at", "TIMESTAMP", pa.timestamp("us")),
    ("sent_at", "TIMESTAMP", pa.timestamp("us")),
    ("updated_at", "TIMESTAMP", pa.timestamp("us")),
)
SCHEMA = pa.schema([(name, kind) for name, _, kind in COLUMNS])
#: keys per IN list when reading earlier deliveries
CHUNK = 500


def exists(store: Any) -> bool:
    return TABLE in store.tables()


def ensure(store: Any) -> None:
    if not exists(store):
        cols = ", ".join(f"{ident(name)} {sql}" for name, sql, _ in COLUMNS)
        store.engine.execute(f"CREATE TABLE IF NOT EXISTS {ident(TABLE)} ({cols})")


def earlier(store: Any, keys: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """(key, channel) -> the recorded row, for the given alert keys."""
    if store is None or not keys or not exists(store):
        return {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start:start + CHUNK]
        rows = store.engine.fetch(
            f"SELECT * FROM {ident(TABLE)} WHERE {ident('key')} IN "
            f"({', '.join(literal(k) for k in chunk)})")
        for row in rows:
            found[(row["key"], row["channel"])] = row
    return found


def record(store: Any, row: dict[str, Any]) -> None:
    """Replace the row of (row['key'], row['channel']) in one atomic step."""
    table = pa.Table.from_pylist([{name: row.get(name) for name, _, _ in COLUMNS}],
                                 schema=SCHEMA)
    where = (f"{ident('key')} = {literal(row['key'])} AND "
             f"{ident('channel')} = {literal(row['channel'])}")
    store.engine.register(INCOMING, table)
    try:
        store.engine.replace_rows(TABLE, where, INCOMING)
    finally:
        store.engine.unregister(INCOMING)


def naive_utc(when: datetime) -> datetime:
    """Timestamps are stored as UTC without a zone (the store runs in UTC)."""
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo is not None else when
