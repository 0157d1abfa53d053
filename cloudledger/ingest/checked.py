"""One FOCUS source (CSV files sharing a header, or Parquet files) end to end on DuckDB:
the check pass, the date decision, bad rows (the load's error, or set aside with
``--allow-bad-rows``), the warnings, and the rows and source totals the store loads.

The checks themselves are in ``checks``; finding where bad rows are is in ``bad_rows``.
"""

from __future__ import annotations

import functools
import operator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.errors import FormatError
from cloudledger.ingest import bad_rows
from cloudledger.ingest.checks import (
    DMY,
    FAST_TYPES,
    JSON_CHECKED,
    MDY,
    Checked,
    _col,
    any_bad,
    checks,
    decide_dates,
    exact_duplicates,
    parsed,
    scan,
)
from cloudledger.ingest.parse import DateSpec, try_timestamp
from cloudledger.ingest.relations import Source, raw_relation


def _where(files: list[Path]) -> str:
    return ", ".join(str(p) for p in files[:3]) + (" ..." if len(files) > 3 else "")


def check_source(store: Any, src: Source, user: DateSpec | None,
                 allow_bad_rows: bool) -> Checked:
    """Check ``src`` (one pass), then build its rows, totals and quarantine."""
    spark = store.is_spark
    # Spark's CSV reader has no null-spelling list: text() turns them into NULL
    nulls = src.kind == "parquet" or spark
    # ISO 8601 dates are the rule: one date spec; slash dates get a second pass that reads
    # them both ways (the evidence for the date order)
    specs = [user] if user is not None else [MDY]
    spark_rejected: list[bad_rows.Bad] | None = None
    while True:
        mode = "rows" if spark_rejected else "check"
        raw, rejects = raw_relation(store, src, mode=mode)
        p = parsed(store, raw, specs, row_hash=True, nulls=nulls)
        try:
            groups = scan(store, p, specs)
            rejected = (spark_rejected or []) if spark else bad_rows.read_rejects(store,
                                                                                  rejects)
        except _engine_errors() as e:
            if spark and spark_rejected is None and src.kind == "csv":
                # a malformed record failed the read (FAILFAST): find them, read the others
                spark_rejected = bad_rows.spark_rejects(src.files, src.columns)
                if spark_rejected:
                    continue
            raise bad_rows.explain_scan_error(src.files, e) from None
        if user is not None or len(specs) == 2 or not any(g.get("not_iso") for g in groups):
            break
        specs = [MDY, DMY]
    i, note, problem = decide_dates(groups, user)
    if problem:
        raise date_error(store, src, problem)
    spec = specs[i]

    def is_bad(g: dict[str, Any]) -> bool:
        return bool(g["bad"] or g[f"bad{i}"])

    good = [g for g in groups if not is_bad(g)]
    n_bad = sum(g["n"] for g in groups if is_bad(g))
    rejected_lines = {b.file: {r.line for r in rejected if r.file == b.file} for b in rejected}
    quarantined: list[bad_rows.Bad] = []
    if n_bad or rejected:
        bad_files = {str(g["file"]) for g in groups if is_bad(g)}
        for path in src.files:
            here = [r for r in rejected if r.file == str(path)]
            limit = None if allow_bad_rows else 1
            found = here[:limit] if limit else here
            if str(path) in bad_files:
                found = found + bad_rows.bad_rows(
                    store, src.kind, path, src.columns, spec,
                    rejected_lines.get(str(path), set()), limit)
            found.sort(key=lambda b: b.line)
            if found and not allow_bad_rows:
                raise found[0].error()
            quarantined += found
    warnings = _warnings(store, src, groups, good, i, note)
    if quarantined:
        billed = sum((g.get("BilledCost") or 0) for g in groups if is_bad(g))
        warnings.append(
            f"{len(quarantined)} bad row(s) set aside in table ingest_errors (first: "
            f"{quarantined[0].where}); their amounts are not loaded (BilledCost of those "
            f"that parse: {billed}); the raw records are kept in ingest_errors.raw")
    def rows(types: dict[str, str] | None) -> ir.Table:
        rows_raw, _ = raw_relation(store, src, mode="rows" if rejected else "exact",
                                   types=types)
        rp = parsed(store, rows_raw, [spec], nulls=nulls)
        if n_bad:
            rp = rp.filter(~(any_bad(checks(rp, None)) | any_bad(checks(rp, 0))))
        return focus_rows(rp)

    fallback = None
    typed = (src.kind == "csv" and not spark and not rejected and not n_bad
             and not sum(g.get("slow_money") or 0 for g in groups))
    if typed:  # every value checked: the reader parses amounts and quantities itself
        types = {c: FAST_TYPES[focus.BY_NAME[c].kind] for c in src.columns
                 if c in focus.BY_NAME and focus.BY_NAME[c].kind in FAST_TYPES}

        def fallback() -> ir.Table:
            return rows(None)
    q = None
    if quarantined:
        import pyarrow as pa

        q = ibis.memtable(pa.table({
            "file": pa.array([b.file for b in quarantined], pa.string()),
            "line": pa.array([b.line for b in quarantined], pa.int64()),
            "reason": pa.array([b.reason for b in quarantined], pa.string()),
            "raw": pa.array([b.raw for b in quarantined], pa.string())}))
    return Checked(rows(types if typed else None), totals_of(good, spec, spark),
                   rows_in=sum(g["n"] for g in groups) + len(rejected),
                   warnings=warnings, quarantined=q, fallback=fallback)


def focus_rows(p: ir.Table) -> ir.Table:
    """Canonical FOCUS rows from a parsed view (``parsed`` with one date spec)."""
    cols = []
    for name in p.columns:
        if name.startswith("cl__") or name in ("x_cl_file", "cl_record"):
            continue
        column = focus.BY_NAME.get(name)
        if column is None:
            cols.append(p[name] if focus.is_custom(name) else p[name].name(f"x_{name}"))
        elif name == "BillingCurrency":
            cols.append(p.cl__currency.name(name))
        elif column.kind == "decimal":
            cols.append(p[_col(name, "v")].name(name))
        elif column.kind == "quantity":
            cols.append(p[_col(name, "v")].cast(focus.QUANTITY_TYPE).name(name))
        elif column.kind == "timestamp":
            cols.append(p[_col(name, "t0")].name(name))
        elif _col(name, "v") in p.columns:
            cols.append(p[_col(name, "v")].name(name))
        else:
            cols.append(p[name].name(name))
    return p.select(cols)


def _engine_errors() -> tuple[type[Exception], ...]:
    """The errors an engine raises on a value or record it cannot read."""
    import duckdb

    out: list[type[Exception]] = [duckdb.Error]
    try:
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        out += [PySparkException, Py4JJavaError]
    except ImportError:
        pass
    return tuple(out)


def totals_of(good: list[dict[str, Any]], spec: DateSpec, spark: bool = False) -> ir.Table:
    """The source totals of the good rows, by account, period (parsed as the rows are) and
    currency."""
    import pyarrow as pa

    metrics = [m for m in ("BilledCost", "EffectiveCost") if any(m in g for g in good)]
    t = ibis.memtable(pa.table({
        "BillingAccountId": pa.array([g["account"] for g in good], pa.string()),
        "period": pa.array([g["period"] for g in good], pa.string()),
        "BillingCurrency": pa.array([g["currency"] for g in good], pa.string()),
        **{m: pa.array([g.get(m) for g in good], pa.decimal128(38, 18)) for m in metrics}}))
    return t.select("BillingAccountId",
                    BillingPeriodStart=try_timestamp(t.period, spec, spark=spark),
                    BillingCurrency=t.BillingCurrency, **{m: t[m] for m in metrics})


def _warnings(store: Any, src: Source, groups: list[dict[str, Any]],
              good: list[dict[str, Any]], i: int, note: str | None) -> list[str]:
    where = _where(src.files)
    out = [f"{where}: {note}"] if note else []

    def total(key: str) -> int:
        return sum(int(g.get(key) or 0) for g in groups)

    def example(key: str) -> Any:
        return next((g[key] for g in groups if g.get(key) is not None), None)

    if total("currency_changed"):
        out.append(f"{where}: {total('currency_changed')} BillingCurrency value(s) such as "
                   f"{example('currency_example')!r} normalized to the ISO 4217 code "
                   f"{str(example('currency_example')).strip().upper()!r}")
    for name in JSON_CHECKED:
        if total(f"json__{name}"):
            out.append(f"{where}: {total(f'json__{name}')} {name} value(s) are not a JSON "
                       "object (loaded as text; `cloudledger validate` lists them)")
    if total(f"outside{i}"):
        out.append(f"{where}: {total(f'outside{i}')} row(s) have a ChargePeriodStart outside "
                   f"their billing period (e.g. {example(f'outside_example{i}')!r}); check "
                   "the export's dates (and --date-format)")
    dups = sum(int(g["n"]) - int(g["distinct"]) for g in groups if "distinct" in g)
    if dups:  # candidates: equal on the key columns; count the rows equal on every column
        dups = exact_duplicates(store, src)
    if dups:
        out.append(f"{where}: {dups} row(s) are exact duplicates of another row (loaded as "
                   "they are; was a file exported or copied twice?)")
    currencies: dict[tuple[str, str], set[str]] = {}
    for g in good:
        currencies.setdefault((g["account"], g["period"]), set()).add(str(g["currency"]))
    for (account, period), seen in sorted(currencies.items()):
        if len(seen) > 1:
            out.append(f"{where}: billing account {account}, period {period} is billed in "
                       f"several currencies ({', '.join(sorted(seen))})")
    return out


def date_error(store: Any, src: Source, problem: str) -> FormatError:
    """The ambiguous or mixed slash dates, with example lines (error path)."""
    ts = [c.name for c in focus.COLUMNS if c.kind == "timestamp" and c.name in src.columns]
    hint = ("name the format: --date-format MDY (month first, 04/01/2025), --date-format DMY "
            "(day first, 01/04/2025) or a strptime pattern; nothing was loaded")

    def first(path: Path, pick: Any) -> dict[str, Any] | None:
        def select(p: ir.Table) -> tuple[ir.BooleanValue, dict[str, ir.Value]]:
            hits = [(pick(p[_col(c, "t0")], p[_col(c, "t1")]).fill_null(False), c) for c in ts]
            pred = functools.reduce(operator.or_, [h for h, _ in hits])
            return pred, {"cl_column": ibis.cases(*[(h, ibis.literal(c)) for h, c in hits],
                                                  else_=ibis.null("string")),
                          "cl_value": ibis.cases(*[(h, p[c].cast("string")) for h, c in hits],
                                                 else_=ibis.null("string"))}
        found = bad_rows.locate(store, src.kind, path, src.columns, [MDY, DMY], select,
                                set(), limit=1)
        return found[0] if found else None

    def at(path: Path, hit: dict[str, Any]) -> str:
        kind = "row" if src.kind == "parquet" else "line"
        return f"{path}, {kind} {hit['line']}, column {hit['cl_column']}"

    for path in src.files:
        if problem == "mixed":
            m = first(path, lambda a, b: a.notnull() & b.isnull())
            d = first(path, lambda a, b: a.isnull() & b.notnull())
            if m and d:
                return FormatError(
                    f"the file writes dates both month first ({m['cl_value']!r} at "
                    f"{at(path, m)}) and day first ({d['cl_value']!r} at {at(path, d)})",
                    where=str(path), hint="export the file again with ISO 8601 dates, or "
                    "fix the odd rows; " + hint)
        else:
            hit = first(path, lambda a, b: a != b)
            if hit:
                return FormatError(
                    f"ambiguous dates: {hit['cl_value']!r} reads as a different date month "
                    "first and day first, and no value in the file decides which",
                    where=at(path, hit), hint=hint)
    return FormatError(f"the dates of the file are {problem}", where=_where(src.files),
                       hint=hint)
