"""Finding bad rows of a FOCUS load: where they are (file, physical line, column) and what
they hold. Error path only: it runs when the check pass (``checks.scan``) counted a bad row,
a reader reject or an ambiguity.

- ``read_rejects``: the CSV reader's own rejects (wrong field count, broken quotes, bytes
  that are not UTF-8, over-long lines), their physical lines from the byte offsets DuckDB
  records.
- ``locate``: the rows a predicate selects, in file order (an ordered re-read numbers the
  records; ``files.record_lines`` maps record numbers to physical lines, which differ when a
  quoted value holds a line break).
- ``explain_scan_error``: an engine error of the check pass as a FormatError.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.checks import any_bad, checks, parsed
from cloudledger.ingest.parse import NULL_TOKENS, DateSpec
from cloudledger.ingest.relations import Source, scratch_name, spark_relation

HINT = ("fix the value or export the file again, or pass --allow-bad-rows to load the other "
        "rows and keep this one in table ingest_errors; nothing was loaded")


@dataclass
class Bad:
    file: str
    line: int
    reason: str
    raw: str
    column: str | None = None
    kind: str = "line"  # "line" (CSV) or "row" (Parquet)

    @property
    def where(self) -> str:
        return f"{self.file}, {self.kind} {self.line}" + (
            f", column {self.column}" if self.column else "")

    def error(self) -> FormatError:
        return FormatError(self.reason, where=self.where, hint=HINT)


def _render(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


# ------------------------------------------------------------------ reader rejects
def read_rejects(store: Any, tables: list[str]) -> list[Bad]:
    """The CSV reader's rejects, one per record, with physical line numbers."""
    found: list[dict[str, Any]] = []
    for table in tables:
        scans = table.replace("cl_rejects_", "cl_scans_")
        found += store.engine.query(
            # DuckDB reports a short record once per missing column: keep the first
            f"SELECT s.file_path AS file, e.line, min(e.line_byte_position) AS offset, "
            f"arg_min(e.error_type, coalesce(e.column_idx, 0)) AS type, "
            f"arg_min(e.error_message, coalesce(e.column_idx, 0)) AS message, "
            f"min(e.csv_line) AS raw FROM {table} e JOIN {scans} s USING (scan_id, file_id) "
            f"GROUP BY ALL ORDER BY 1, 2").to_pylist()
        store.raw(f"DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {scans}")
    out: list[Bad] = []
    by_file: dict[str, list[dict[str, Any]]] = {}
    for r in found:
        by_file.setdefault(r["file"], []).append(r)
    for file, rows in by_file.items():
        lines = fs.physical_lines(Path(file), [int(r["offset"] or 0) for r in rows])
        for r in rows:
            line = lines.get(int(r["offset"] or 0), int(r["line"]))
            kind = str(r["type"])
            if kind.startswith("INVALID"):  # INVALID ENCODING / INVALID UNICODE
                raise fs.not_utf8(Path(file), line, _line_bytes(Path(file), line))
            out.append(Bad(file, line, _reject_reason(kind, str(r["message"])),
                           str(r["raw"] or "").strip("\r\n")))
    return sorted(out, key=lambda b: (b.file, b.line))


def spark_rejects(files: list[Path], columns: list[str]) -> list[Bad]:
    """The malformed records of CSV files (a field count other than the header's, e.g. a
    broken quote), with physical lines, from a Python CSV scan: Spark's reader fails on
    them without saying where (error path only)."""
    out: list[Bad] = []
    for path in files:
        with fs.open_text(path) as f:
            reader = csv.reader(f)
            start = 1
            for i, row in enumerate(reader):
                first, start = start, reader.line_num + 1
                if i and row and len(row) != len(columns):
                    out.append(Bad(str(path), first, f"malformed record: {len(row)} fields "
                                   f"where the header has {len(columns)}", _render(row)))
    return out


def _reject_reason(kind: str, message: str) -> str:
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if found:
        return (f"malformed record: {found.group(2)} fields where the header has "
                f"{found.group(1)}")
    if kind == "UNQUOTED VALUE":
        return ("malformed record: a quoted value is not closed (the rest of the file is in "
                "this record)" if "unterminated" in message else
                f"malformed record: {message}")
    if kind == "LINE SIZE OVER MAXIMUM":
        return f"malformed record: {message}"
    return f"malformed record ({kind.lower()}): {message}"


def _line_bytes(path: Path, line: int) -> bytes:
    with fs.open_binary(path) as f:
        for i, data in enumerate(f, start=1):
            if i == line:
                return bytes(data)
    return b""


# ------------------------------------------------------------------ ordered re-read
def ordered(store: Any, path: Path, columns: list[str]) -> ir.Table:
    """One CSV file read in file order with its record number (``cl_record``; records the
    reader sets aside are not numbered, as ``files.record_lines`` expects)."""
    if store.is_spark:
        return spark_relation(store, Source("csv", [path], columns), mode="rows",
                              numbered=True)
    name = scratch_name("ordered")
    call = fs.csv_call([path], columns, nulls=NULL_TOKENS,
                       compression=fs.engine_compression(path),
                       extra="ignore_errors=true, parallel=false")
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT row_number() OVER () AS "
              f"cl_record, * FROM {call}")
    return store.con.table(name)


def run_ordered(store: Any, expr: ir.Table) -> list[dict[str, Any]]:
    if store.is_spark:  # the expression orders by cl_record
        return list(store.execute(expr).to_pylist())
    store.raw("SET preserve_insertion_order=true")
    try:
        return list(store.execute(expr).to_pylist())
    finally:
        store.raw("SET preserve_insertion_order=false")


def locate(store: Any, kind: str, path: Path, columns: list[str], specs: list[DateSpec],
           select: Callable[[ir.Table], tuple[ir.BooleanValue, dict[str, ir.Value]]],
           rejected: set[int], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of one file that ``select(parsed)`` picks (predicate, values to return), in
    file order, each with ``line`` (physical; Parquet: ``row``) and ``raw`` (the record)."""
    if kind == "parquet" and store.is_spark:
        raw = spark_relation(store, Source("parquet", [path], columns), mode="rows",
                             numbered=True)
        p = parsed(store, raw, specs, nulls=True)
    elif kind == "parquet":
        raw = store.con.sql(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS cl_record FROM "
            f"read_parquet({fs._sql_list([path])}, filename='x_cl_file', "
            f"file_row_number=true)")
        p = parsed(store, raw, specs, nulls=True)
    else:
        p = parsed(store, ordered(store, path, columns), specs, nulls=store.is_spark)
    pred, values = select(p)
    data = [c for c in p.columns if not c.startswith("cl__") and c not in (
        "x_cl_file", "cl_record")]
    expr = p.filter(pred).select("cl_record", *data, **values).order_by("cl_record")
    if limit is not None:
        expr = expr.limit(limit)
    hits = run_ordered(store, expr)
    if kind == "parquet":
        for h in hits:
            h["line"] = int(h["cl_record"])
            h["raw"] = _render(["" if h[c] is None else str(h[c]) for c in data])
        return hits
    lines = fs.record_lines(path, len(columns), {int(h["cl_record"]) for h in hits}, rejected)
    for h in hits:
        line, fields = lines.get(int(h["cl_record"]), (None, None))
        h["line"] = line if line is not None else int(h["cl_record"]) + 1
        h["raw"] = _render(fields if fields is not None else [
            "" if h[c] is None else str(h[c]) for c in data])
    return hits


def bad_rows(store: Any, kind: str, path: Path, columns: list[str], spec: DateSpec,
             rejected: set[int], limit: int | None = None) -> list[Bad]:
    """Rows of one file that fail a check under ``spec``, with the first failing column."""
    def select(p: ir.Table) -> tuple[ir.BooleanValue, dict[str, ir.Value]]:
        found = checks(p, None) + checks(p, 0)
        order = {c: i for i, c in enumerate(columns)}
        found.sort(key=lambda c: order.get(c.column, len(order)))
        column = ibis.cases(*[(c.bad.fill_null(False), ibis.literal(c.column))
                              for c in found], else_=ibis.null("string"))
        reason = ibis.cases(*[(c.bad.fill_null(False), c.reason) for c in found],
                            else_=ibis.null("string"))
        return any_bad(found), {"cl_column": column, "cl_reason": reason}

    hits = locate(store, kind, path, columns, [spec], select, rejected, limit)
    return [Bad(str(path), h["line"], h["cl_reason"], h["raw"], h["cl_column"],
                "row" if kind == "parquet" else "line") for h in hits]


def explain_scan_error(files: list[Path], error: Exception) -> FormatError:
    """An engine error of the check pass, as a FormatError naming file and line."""
    message = str(error)
    first = message.splitlines()[0] if message else type(error).__name__
    file = re.search(r"file = (\S+)", message)
    paths = [Path(file.group(1))] if file else files
    for path in paths:
        broken = fs.truncated(path)
        if broken:
            return FormatError(broken, where=str(path),
                               hint="download the file again; nothing was loaded")
    if "invalid state" in message or "strict_mode" in message:
        for path in paths:
            mixed = fs.line_endings(path)
            if mixed:
                return FormatError(
                    f"mixed line endings: lines end with {mixed[0]} but line {mixed[1]} "
                    f"ends with {mixed[2]}", where=f"{path}, line {mixed[1]}",
                    hint="convert the file to one line ending (e.g. `dos2unix FILE`) and "
                         "ingest again; nothing was loaded")
    line = re.search(r"CSV Error on Line: (\d+)", message)
    return FormatError(f"cannot read the file: {first}",
                       where=f"{paths[0]}" + (f", line {line.group(1)}" if line else ""),
                       hint="check the file against `cloudledger formats`; nothing was "
                            "loaded")
