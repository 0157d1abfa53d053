"""Reading AWS billing files: the engine relation of each file (no copy of its rows), one
checking pass over it, and malformed records set aside (file, line, reason, raw).

A file is read twice: once by ``check`` (one aggregate query: record counts, records with
values that do not parse, the file's own totals, the Savings Plan match keys) and once by
the mapping's INSERT, which streams it into the store. Records with the wrong number of
fields are caught by the CSV reader itself (DuckDB ``store_rejects``, which gives the
physical line) and skipped by both reads; values that do not parse in their column are
counted by the check and their lines located on that (rare) error path only, after which
the mapping reads the file without them. A zip member is unpacked to a temp file and staged
into a temp table (the only case that copies the rows).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from cloudledger.errors import FormatError, InputError
from cloudledger.ingest import files as fs
from cloudledger.ingest.sources.aws_common import REQUIRED_PARSE, Fields, literal, quote

_ids = itertools.count()
MONEY = "DECIMAL(38, 12)"
QUANTITY = "DECIMAL(38, 16)"


@dataclass
class Layout:
    """How to read one group of files: kind 'csv' (any delimiter) or 'parquet'."""

    kind: str
    columns: list[str] = field(default_factory=list)  # text: names in file order
    delimiter: str = ","
    header: bool = True
    hive: bool = False  # \x01 separated, \N nulls, no quoting


@dataclass
class Staged:
    #: SQL relation of the file's records (a table function call, or a temp table)
    source: str
    fields: Fields
    files: list[Path]
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records: int = 0  # records read, good and bad
    #: predicate of records set aside for a bad value: the mapping reads the rest
    exclude: str | None = None
    #: the check's result (``aws_check.check_sql``), rows as dicts
    check: list[dict[str, Any]] = field(default_factory=list)


def _sql_path(p: Path) -> str:
    return literal(str(p))


def _csv_options(layout: Layout, columns: list[str], *, padding: bool = False) -> str:
    cols = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    quote_opts = ("quote='', escape='', nullstr='\\N'" if layout.hive
                  else "quote='\"', escape='\"'")
    opts = (f"header={str(layout.header).lower()}, auto_detect=false, columns={cols}, "
            f"delim={literal(layout.delimiter)}, {quote_opts}, strict_mode=true")
    if padding:
        opts += ", null_padding=true"
    return opts


def used_columns(fields: Fields) -> list[str]:
    from cloudledger.ingest.sources.aws_common import NATIVE_FIELDS

    cols = [fields.column(f) for f in NATIVE_FIELDS]
    cols += [c for c, _ in fields.tag_columns()] + [c for c, _ in
                                                     fields.cost_category_columns()]
    for m in ("product", "resource_tags", "cost_category"):
        if m in fields.columns:
            cols.append(m)
    seen: set[str] = set()
    return [c for c in cols if c is not None and not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]


def stage(store: Any, path: Path, layout: Layout) -> Staged:
    """The file as an engine relation, checked; malformed records go to ``quarantined``."""
    if store.is_spark:
        raise InputError("the AWS CUR readers run on the DuckDB store for now",
                         where=str(path), hint="ingest into a DuckDB store, then export")
    n = next(_ids)
    if layout.kind == "parquet":
        return _stage_parquet(store, path)
    fields = Fields({c: "VARCHAR" for c in layout.columns})
    original, path = path, _unzipped(path)
    staged = Staged("", fields, [original])
    padding = False
    for attempt in range(2):
        rejects, scans = f"cl_aws_rejects_{n}_{attempt}", f"cl_aws_scans_{n}_{attempt}"
        opts = _csv_options(layout, layout.columns, padding=padding)
        checked = _check(store, fields, f"read_csv({_sql_path(path)}, {opts}, store_rejects="
                         f"true, rejects_table='{rejects}', rejects_scan='{scans}')")
        bad = store.engine.query(
            f"SELECT line, min(error_type) AS error_type, min(error_message) AS message, "
            f"min(csv_line) AS raw FROM {rejects} GROUP BY line ORDER BY line")
        store.raw(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {scans}")
        good = sum(r["n"] for r in checked if r["by_type"])
        short = set(bad.column("error_type").to_pylist()) == {"MISSING COLUMNS"}
        found = {m.rsplit("Found: ", 1)[-1] for m in bad.column("message").to_pylist()}
        if attempt == 0 and good == 0 and bad.num_rows and short and len(found) == 1:
            # every record lacks the same trailing field(s): the header is longer than the
            # data (koku test_cur.csv); read the missing trailing columns as empty
            have = int(found.pop())
            staged.warnings.append(
                f"{path}: the header names {len(layout.columns)} columns but every record "
                f"has {have}; the trailing column(s) {', '.join(layout.columns[have:])} "
                "are read as empty")
            padding = True
            continue
        break
    staged.check = checked
    staged.records = good + bad.num_rows
    skip = ", ignore_errors=true" if bad.num_rows else ""
    staged.source = f"read_csv({_sql_path(path)}, {opts}{skip})"
    for row in bad.to_pylist():
        staged.quarantined.append({
            "file": str(original), "line": int(row["line"]),
            "reason": f"malformed record ({str(row['error_type']).lower()}): "
                      f"{row['message']}", "raw": row["raw"]})
    if any(r["n_bad"] for r in checked):
        _quarantine_bad_values(store, staged, path, layout, padding, [r["line"] for r in
                                                                       bad.to_pylist()])
    for q in staged.quarantined:
        q["file"] = str(original)
    if path != original:  # the engine cannot read a zip: keep the records in a temp table
        import shutil

        table = f"cl_aws_stage_{n}"
        select = ", ".join(quote(c) for c in used_columns(fields))
        store.raw(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {select} FROM "
                  f"{staged.source}")
        staged.source = table
        shutil.rmtree(path.parent, ignore_errors=True)
    return staged


def _check(store: Any, fields: Fields, source: str) -> list[dict[str, Any]]:
    from cloudledger.ingest.sources.aws_check import check_sql

    pred, _ = bad_value_sql(fields)
    return list(store.engine.query(check_sql(fields, source, pred)).to_pylist())


def _unzipped(path: Path) -> Path:
    """A zip's single member, copied (as bytes) to a temp file the engine can read."""
    if fs.compression(path) != "zip":
        return path
    import shutil
    import tempfile
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = [n for n in z.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise FormatError(f"zip archive holds {len(members)} files; cloudledger reads a "
                              "zip with exactly one", where=str(path),
                              hint="unzip it and ingest the folder")
        target = Path(tempfile.mkdtemp(prefix="cl-zip-")) / Path(members[0]).name
        with z.open(members[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _stage_parquet(store: Any, path: Path) -> Staged:
    desc = store.con.raw_sql(f"DESCRIBE SELECT * FROM read_parquet({_sql_path(path)})"
                             ).fetch_arrow_table()
    fields = Fields(dict(zip(desc.column("column_name").to_pylist(),
                             desc.column("column_type").to_pylist(), strict=True)))
    staged = Staged(f"read_parquet({_sql_path(path)})", fields, [path])
    staged.check = _check(store, fields, staged.source)
    staged.records = sum(r["n"] for r in staged.check if r["by_type"])
    if any(r["n_bad"] for r in staged.check):
        pred, reason = bad_value_sql(fields)
        select = ", ".join(quote(c) for c in used_columns(fields))
        bad = store.engine.query(
            f"SELECT cl_line AS line, {reason} AS reason, CAST(to_json(t) AS VARCHAR) AS "
            f"raw FROM (SELECT file_row_number + 1 AS cl_line, {select} FROM read_parquet("
            f"{_sql_path(path)}, file_row_number=true)) t WHERE {pred} ORDER BY cl_line"
        )
        for row in bad.to_pylist():
            staged.quarantined.append({"file": str(path), "line": int(row["line"]),
                                       "reason": row["reason"], "raw": row["raw"]})
        staged.exclude = pred
    return staged


def _text(col: str) -> str:
    return f"NULLIF(TRIM({col}), '')"


def bad_value_sql(fields: Fields) -> tuple[str, str]:
    """(predicate, reason) SQL for rows whose needed values are missing or do not parse."""
    lit = fields.raw("lineItem/LineItemType")
    checks: list[tuple[str, str]] = []
    for name in ("bill/PayerAccountId", "bill/BillingPeriodStartDate",
                 "lineItem/LineItemType", "lineItem/CurrencyCode"):
        col = fields.raw(name)
        if col is not None and fields.is_text(name):
            checks.append((f"{_text(col)} IS NULL",
                           f"'column {fields.column(name)} is empty'"))
    from cloudledger.ingest.sources.aws_common import TIME_FIELDS

    for name, types in REQUIRED_PARSE.items():
        col = fields.raw(name)
        if col is None or not fields.is_text(name):
            continue
        target = "TIMESTAMPTZ" if name in TIME_FIELDS else MONEY if "Cost" in name or (
            "Commitment" in name or "Fee" in name) else QUANTITY
        # CASE evaluates lazily: the common value parses at the first, cheapest test (the
        # casts skip surrounding blanks themselves); the exact wide parse only after it
        v = _text(col)
        fast = (f"ends_with({col}, 'Z') AND TRY_CAST({col} AS TIMESTAMP) IS NOT NULL"
                if target == "TIMESTAMPTZ" else
                f"TRY_CAST({col} AS DECIMAL(18, {target.split(',')[1].strip(' )')})) IS NOT "
                "NULL")
        cond = (f"CASE WHEN {fast} THEN false WHEN {v} IS NULL THEN false ELSE TRY_CAST({v} "
                f"AS {target}) IS NULL END")
        if types is not None and lit is not None:
            is_type = " OR ".join(f"{_text(lit)} = {literal(t)}" for t in types)
            cond = f"CASE WHEN {is_type} THEN {cond} ELSE false END"
        kind = "a timestamp" if target == "TIMESTAMPTZ" else "a number"
        checks.append((cond, f"'column {fields.column(name)} holds ' || "
                             f"to_json({_text(col)}) || ', not {kind}'"))
    if not checks:
        return "FALSE", "NULL"
    pred = " OR ".join(c for c, _ in checks)
    reason = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, r in checks) + " END"
    return pred, reason


def _quarantine_bad_values(store: Any, staged: Staged, path: Path, layout: Layout,
                           padding: bool, rejected_lines: list[int]) -> None:
    pred, reason = bad_value_sql(staged.fields)
    if pred == "FALSE":
        return
    # error path: read again in file order to learn each bad record's line
    ordered = f"cl_aws_ordered_{next(_ids)}"
    select = ", ".join(quote(c) for c in used_columns(staged.fields))
    opts = _csv_options(layout, layout.columns, padding=padding)
    store.raw("SET preserve_insertion_order=true")
    try:
        store.raw(f"CREATE OR REPLACE TEMP TABLE {ordered} AS SELECT row_number() OVER () "
                  f"AS cl_record, {select} FROM read_csv({_sql_path(path)}, {opts}, "
                  f"parallel=false, ignore_errors=true)")
    finally:
        store.raw("SET preserve_insertion_order=false")
    raw_cols = " || chr(31) || ".join(f"coalesce({quote(c)}, '')" for c in
                                      used_columns(staged.fields))
    bad = store.engine.query(f"SELECT cl_record, {reason} AS reason, {raw_cols} AS raw FROM "
                             f"{ordered} WHERE {pred} ORDER BY cl_record")
    skipped = sorted(rejected_lines)
    for row in bad.to_pylist():
        line = int(row["cl_record"]) + (1 if layout.header else 0)
        for r in skipped:  # records the reader rejected do not count in cl_record
            if r <= line:
                line += 1
        staged.quarantined.append({"file": str(path), "line": line, "reason": row["reason"],
                                   "raw": str(row["raw"]).replace(chr(31), layout.delimiter)})
    staged.exclude = pred
    store.raw(f"DROP TABLE {ordered}")
    staged.quarantined.sort(key=lambda q: q["line"])


def quarantine_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({
        "file": pa.array([r["file"] for r in rows], pa.string()),
        "line": pa.array([r["line"] for r in rows], pa.int64()),
        "reason": pa.array([r["reason"] for r in rows], pa.string()),
        "raw": pa.array([r["raw"] for r in rows], pa.string()),
    })


def check_required(fields: Fields, where: str) -> None:
    from cloudledger.ingest.sources.aws_common import REQUIRED

    missing = fields.missing(REQUIRED)
    if missing:
        raise FormatError(
            f"not an AWS Cost and Usage Report: missing column(s) {', '.join(missing)}",
            where=where, hint="export the CUR again with all columns, or pass --source to "
                              "read it as another format (`cloudledger formats`)")
