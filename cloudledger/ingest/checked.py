"""One FOCUS source (CSV files sharing a header, or Parquet files) end to end on DuckDB:
the check pass, the date decision, bad rows (the load's error, or set aside with
``--allow-bad-rows``), the warnings, and the rows and source totals the store loads.

The checks themselves are in ``checks``; finding where bad rows are is in ``bad_rows``.
"""

from __future__ import annotations

import functools
import operator
import re
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.errors import FormatError
from cloudledger.ingest import bad_rows
from cloudledger.ingest import files as fs
from cloudledger.ingest.checks import (
    DMY,
    DUPLICATE_KEY,
    EXACT,
    FAST_TYPES,
    JSON_CHECKED,
    MDY,
    REQUIRED,
    Checked,
    Source,
    _col,
    _money_parts,
    _name,
    any_bad,
    barrier,
    checks,
    decide_dates,
    exact_duplicates,
    parsed,
    raw_relation,
    scan,
)
from cloudledger.ingest.parse import DateSpec, as_double, text, try_timestamp


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


# ------------------------------------------------------------------ the fast path
# A clean file (the common case) is loaded in one pass: its rows are inserted as they are
# parsed, the parsers fail (an engine error) on any value they do not take exactly, and the
# checks that need every row run on the inserted rows inside the load's transaction
# (``verify``). Anything else - a bad row, a warning, a slash date, an amount the store
# would round - rolls the load back and reads the file the checked way above, which
# reports it exactly as before.

@ibis.udf.scalar.builtin(name="error")
def _error(message: str) -> str:  # type: ignore[empty-body]
    """DuckDB's error(): fails the query with ``message`` when evaluated."""


def _fail(what: str, dtype: Any) -> ir.Value:
    return _error(f"cloudledger: {what} needs the checked path").cast(dtype)


def _ok_or_fail(value: ir.Value, ok: ir.BooleanValue, raw: ir.Value, what: str) -> ir.Value:
    """``value`` where ``raw`` is NULL or ``ok``; the query fails anywhere else."""
    return ibis.cases((raw.isnull(), ibis.null(value.type())), (ok, value),
                      else_=_fail(what, value.type()))


def _fast_money(col: ir.Value, name: str) -> ir.Value | None:
    """Stored amount, exactly the source's (never rounded), or the query fails."""
    t = col.type()
    if t.is_decimal():
        scale, precision = t.scale or 0, t.precision or 38  # type: ignore[attr-defined]
        return col.cast(focus.MONEY_TYPE) if scale <= 12 and precision - scale <= 26 else None
    if t.is_integer():
        return col.cast(focus.MONEY_TYPE)
    if not t.is_string():
        return None  # floats: the checked path
    exact, fast = _money_parts(col)
    wide = col.try_cast(focus.MONEY_TYPE)
    return ibis.cases((col.isnull(), ibis.null(focus.MONEY_TYPE)),
                      (exact, fast.cast(focus.MONEY_TYPE)),
                      (wide == col.try_cast(EXACT), wide),
                      else_=_fail(name, focus.MONEY_TYPE))


def _fast_quantity(col: ir.Value, name: str) -> ir.Value:
    if col.type().is_decimal() or col.type().is_integer():
        return as_double(col)
    q = col.try_cast("float64")
    return _ok_or_fail(q, q.notnull() & ~q.isnan() & ~q.isinf(), col, name)


def _fast_timestamp(col: ir.Value, name: str) -> ir.Value:
    t = col.type()
    if t.is_timestamp() and t.timezone is not None:  # type: ignore[attr-defined]
        # the UTC wall clock without a time zone cast (ICU): the same instant, ~25x cheaper
        return _make_timestamp(_epoch_us(col))
    if t.is_timestamp() or t.is_date():
        return col.cast("timestamp")
    s = col if t.is_string() else col.cast("string")
    v = s.try_cast("timestamp")
    # ISO 8601 without an offset ('Z' is UTC): what the checked path reads the same way
    iso = (s.substr(4, 1) == "-") & v.notnull() & (v.year() >= 1000)
    rest = s.substr(10)
    return _ok_or_fail(v, iso & ~rest.contains("+") & ~rest.contains("-"), s, name)


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(value: dt.timestamp) -> int:  # type: ignore[empty-body]
    """Microseconds since the epoch of a TIMESTAMP WITH TIME ZONE."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(micros: int) -> dt.timestamp:  # type: ignore[empty-body]
    """The TIMESTAMP ``micros`` microseconds after the epoch."""


#: CSV reader types of the fast path: quantities parsed by the reader (a NaN or infinity
#: fails the load); amounts and timestamps are text, parsed with the checks above.
FAST_READER = {"quantity": "DOUBLE"}


def fast_rows(store: Any, src: Source) -> ir.Table | None:
    """The FOCUS rows of ``src`` in one pass, failing on anything not loaded exactly as
    the checked path would load it; None when a column's type rules the fast path out."""
    if src.kind == "csv":
        types = {c: FAST_READER[focus.BY_NAME[c].kind] for c in src.columns
                 if c in focus.BY_NAME and focus.BY_NAME[c].kind in FAST_READER}
        raw, _ = raw_relation(store, src, mode="exact", types=types)
    else:
        name = _name("raw")
        store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet("
                  f"{fs._sql_list(src.files)}, union_by_name=true)")
        raw = store.con.table(name)
        # the null spellings of text columns as NULL, once (a view: not inlined at each use)
        raw = barrier(store, raw.select([text(raw[c]).name(c) if raw[c].type().is_string()
                                         else raw[c] for c in raw.columns]))
    cols: list[ir.Value] = []
    for name in raw.columns:
        if name in ("x_cl_file", "cl_record"):
            continue
        col = raw[name]
        column = focus.BY_NAME.get(name)
        if column is None:
            cols.append(col if focus.is_custom(name) else col.name(f"x_{name}"))
            continue
        value: ir.Value | None
        if name == "BillingCurrency":
            s = col.cast("string")
            value = _ok_or_fail(s, s == s.strip().upper(), s, name)
        elif column.kind == "decimal":
            value = _fast_money(col, name)
        elif column.kind == "quantity":
            value = _fast_quantity(col, name)
        elif column.kind == "timestamp":
            value = _fast_timestamp(col, name)
        else:
            value = col if col.type().is_string() else col.cast("string")
        if value is None:
            return None
        cols.append(value.name(name))
    return raw.select(cols)


def fast_totals(rows: ir.Table) -> ir.Table:
    """The source totals computed from the file (lazy; used when the frame is loaded
    without ``verify``)."""
    metrics = {m: rows[m].cast(EXACT).sum() for m in ("BilledCost", "EffectiveCost")
               if m in rows.columns}
    return rows.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency"
                         ).aggregate(**metrics)


def verify(store: Any, new: ir.Table, columns: list[str]) -> ir.Table:
    """The row checks and warnings of ``check_source`` on inserted rows (``columns``: the
    file's); raises ``Recheck`` where the checked path has something to say. Returns the
    source totals: the inserted amounts are the file's exactly, so their sums are too."""
    from cloudledger.store.frame import Recheck

    present = set(columns)
    keys = ["BillingAccountId", "BillingPeriodStart", "BillingPeriodEnd", "BillingCurrency"]
    metrics: dict[str, ir.Value] = {"n": new.count()}
    money = [m for m in ("BilledCost", "EffectiveCost") if m in present]
    for m in money:
        metrics[m] = new[m].sum()
    empty = [new[c].isnull() for c in REQUIRED if c in present and c not in keys]
    flags: list[ir.BooleanValue] = []
    if empty:
        flags.append(functools.reduce(operator.or_, empty))
    if "ChargeCategory" in present:
        cat = new.ChargeCategory
        known = functools.reduce(operator.or_, [
            cat == v for v in focus.BY_NAME["ChargeCategory"].allowed])
        flags.append(cat.notnull() & ~known)
    if {"ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd"} <= present:
        cps = new.ChargePeriodStart
        out = (cps < new.BillingPeriodStart) | (cps >= new.BillingPeriodEnd)
        if "ChargeClass" in present:
            out = out & ~(new.ChargeClass == "Correction").fill_null(False)
        flags.append(out)
    for name in JSON_CHECKED:
        if name in present:
            s = new[name]
            flags.append(s.notnull() & ~(s.lstrip().startswith("{")
                                         & s.try_cast("json").notnull()))
    if flags:
        metrics["odd"] = functools.reduce(operator.or_, [
            f.fill_null(False) for f in flags]).sum()
    stored = {c if c in focus.BY_NAME or focus.is_custom(c) else f"x_{c}" for c in columns
              if c in DUPLICATE_KEY or (c not in focus.BY_NAME
                                               and c.lower().endswith("id"))}
    data = [c for c in new.columns if c in stored]
    if data:
        metrics["distinct"] = ibis.struct({f"f{i}": new[c] for i, c in enumerate(data)}
                                          ).hash().nunique()
    groups = store.execute(new.group_by(*keys).aggregate(**metrics)).to_pylist()
    seen: dict[tuple[Any, Any], set[Any]] = {}
    for g in groups:
        if (g.get("odd") or ("distinct" in g and g["distinct"] != g["n"])
                or any(g[k] is None for k in keys if k in present)
                or ("BillingCurrency" in present
                    and not re.fullmatch(r"[A-Z]{3}", g["BillingCurrency"]))
                or (g["BillingPeriodStart"] is not None and g["BillingPeriodEnd"] is not None
                    and g["BillingPeriodStart"] >= g["BillingPeriodEnd"])):
            raise Recheck
        seen.setdefault((g["BillingAccountId"], g["BillingPeriodStart"]), set()).add(
            g["BillingCurrency"])
    if any(len(c) > 1 for c in seen.values()):
        raise Recheck  # the checked path words the warning
    import pyarrow as pa

    arrays: dict[str, Any] = {
        "BillingAccountId": pa.array([g["BillingAccountId"] for g in groups], pa.string()),
        "BillingPeriodStart": pa.array([g["BillingPeriodStart"] for g in groups],
                                       pa.timestamp("us")),
        "BillingCurrency": pa.array([g["BillingCurrency"] for g in groups], pa.string())}
    for m in money:
        arrays[m] = pa.array([g[m] for g in groups], pa.decimal128(38, 18))
    return ibis.memtable(pa.table(arrays))
