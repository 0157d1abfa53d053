"""Utilization CSV (``resource_id,timestamp`` and value columns), parsed and checked in the
store's engine; a bad value is reported with its line and column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from cloudledger.engine import ident, literal
from cloudledger.errors import FormatError, InputError
from cloudledger.ingest.utilization.model import OTHER_SCHEMA, SCHEMA, VALUES, UtilizationFile
from cloudledger.store import Store


def read_csv(path: Path, store: Store) -> UtilizationFile:
    """One utilization CSV, parsed and checked in ``store``'s engine."""
    try:
        header = path.open(encoding="utf-8-sig").readline()
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 text ({e.reason})", where=str(path)) from None
    names = [c.strip().strip('"').lower() for c in header.rstrip("\r\n").split(",")]
    for c in ("resource_id", "timestamp"):
        if c not in names:
            raise InputError(f"missing column {c!r} (found: {', '.join(names)})",
                             where=f"{path}, line 1", hint="a utilization CSV has columns "
                             "resource_id, timestamp and cpu, cpu_max, memory, network_out")
    carried = tuple(c for c in VALUES if c in names)
    if not carried:
        raise InputError("no value column (cpu, cpu_max, memory or network_out)",
                         where=f"{path}, line 1")
    try:
        raw = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=names,
                             skip_rows=1),
                             convert_options=pacsv.ConvertOptions(
                                 column_types={n: pa.string() for n in names},
                                 strings_can_be_null=True))
    except pa.ArrowInvalid as e:
        raise FormatError(f"cannot read as CSV: {str(e).splitlines()[0]}",
                          where=str(path)) from None
    if raw.num_rows == 0:
        raise InputError("the file has no rows", where=str(path))
    raw = raw.select(["resource_id", "timestamp", *carried]).append_column(
        "cl_line", pa.array(range(2, raw.num_rows + 2), pa.int64()))
    view = "cl_utilization_raw"
    eng = store.engine
    eng.register(view, raw)
    try:
        return _parse_csv(path, store, view, carried)
    finally:
        eng.unregister(view)


def _parse_csv(path: Path, store: Store, view: str, carried: tuple[str, ...]) -> UtilizationFile:
    eng, v = store.engine, ident(view)
    ts_text = "trim(timestamp)"
    ts = (f"CASE WHEN regexp_full_match({ts_text}, '[0-9]+(\\.[0-9]+)?') THEN "
          f"to_timestamp(TRY_CAST({ts_text} AS DOUBLE))::TIMESTAMP "
          f"ELSE TRY_CAST({ts_text} AS TIMESTAMPTZ)::TIMESTAMP END")
    nums = ", ".join(f"TRY_CAST(nullif(trim({ident(c)}), '') AS DOUBLE) AS {ident(c)}"
                     for c in carried)
    parsed = (f"SELECT cl_line, nullif(trim(resource_id), '') AS resource_id, {ts_text} AS "
              f"ts_text, {ts} AS timestamp, {nums}, "
              + ", ".join(f"{ident(c)} AS {ident('raw_' + c)}" for c in carried)
              + f" FROM {v}")
    checks = [("resource_id IS NULL", "empty resource_id", "resource_id", "ts_text")]
    checks.append(("timestamp IS NULL", "timestamp {!r} is not a time", "timestamp", "ts_text"))
    for c in carried:
        checks.append((f"({ident(c)} IS NULL AND nullif(trim({ident('raw_' + c)}), '') IS NOT "
                       f"NULL) OR NOT isfinite(coalesce({ident(c)}, 0))",
                       "value {!r} is not a number", c, "raw_" + c))
    for cond, msg, col, shown in checks:
        bad = eng.fetch(f"SELECT cl_line, {ident(shown)} AS shown FROM ({parsed}) "
                        f"WHERE {cond} ORDER BY cl_line LIMIT 1")
        if bad:
            hint = ("times are ISO 8601 (2026-05-01T00:00:00Z) or epoch seconds"
                    if col == "timestamp" else "values are plain numbers, e.g. 12.5")
            raise InputError(msg.format(bad[0]["shown"]), hint=hint,
                             where=f"{path}, line {bad[0]['cl_line']}, column {col}")
    dup = eng.fetch(f"SELECT resource_id, timestamp, min(cl_line) AS a, max(cl_line) AS b "
                    f"FROM ({parsed}) GROUP BY ALL HAVING count(*) > 1 ORDER BY a LIMIT 1")
    if dup:
        d = dup[0]
        raise InputError(f"duplicate sample for {d['resource_id']!r} at {d['timestamp']}",
                         where=f"{path}, lines {d['a']} and {d['b']}",
                         hint="keep one row per resource_id and timestamp")
    cols = ", ".join(f"{ident(c)}" if c in carried else f"NULL::DOUBLE AS {ident(c)}"
                     for c in VALUES)
    samples = eng.query(
        f"WITH p AS ({parsed}), s AS (SELECT resource_id, timestamp, {cols}, "
        f"epoch(timestamp) - epoch(lag(timestamp) OVER (PARTITION BY resource_id ORDER BY "
        f"timestamp)) AS gap FROM p) SELECT resource_id, timestamp, "
        + ", ".join(ident(c) for c in VALUES)
        + ", (min(gap) OVER (PARTITION BY resource_id))::BIGINT AS interval_s, "
        f"{literal('csv')} AS source FROM s")
    return UtilizationFile(path, "csv", samples.cast(SCHEMA), carried,
                           OTHER_SCHEMA.empty_table())
