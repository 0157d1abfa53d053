"""The one-pass FOCUS load (DuckDB): a clean file, the common case, is loaded as it is parsed.

``fast_rows`` parses every value exactly as the checked path (``checked.check_source``)
would, and fails the query (an engine error) on anything it does not take exactly: a value
the store would round, a slash date, a row the checks report (a required value missing, an
unknown ChargeCategory, a charge outside its billing period, Tags that are not a JSON
object). The checks that need every row run once on the inserted rows inside the load's
transaction (``verify``): keys, totals and duplicate rows. Anything either finds rolls the
load back and reads the file the checked way, which reports it exactly as before.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus
from cloudledger.engine import ident
from cloudledger.ingest import files as fs
from cloudledger.ingest.checks import (
    _FAST,
    DUPLICATE_KEY,
    EXACT,
    JSON_CHECKED,
    REQUIRED,
    _money_parts,
)
from cloudledger.ingest.parse import as_double, text_sql
from cloudledger.ingest.relations import Source, raw_relation, scratch_name
from cloudledger.store.frame import Recheck, Verified

#: The keys of a load's groups: each must be set, and one currency per account and period.
KEYS = ("BillingAccountId", "BillingPeriodStart", "BillingPeriodEnd", "BillingCurrency")

#: CSV reader types of the fast path: quantities parsed by the reader (a NaN or infinity
#: fails the load); amounts and timestamps are text, parsed with the checks below.
FAST_READER = {"quantity": "DOUBLE"}


@ibis.udf.scalar.builtin(name="error")
def _error(message: str) -> str:  # type: ignore[empty-body]
    """DuckDB's error(): fails the query with ``message`` when evaluated."""


def _fail(what: str, dtype: Any) -> ir.Value:
    return _error(f"cloudledger: {what} needs the checked path").cast(dtype)


def _ok_or_fail(value: ir.Value, ok: ir.BooleanValue, raw: ir.Value, what: str) -> ir.Value:
    """``value`` where ``raw`` is NULL or ``ok``; the query fails anywhere else."""
    return ibis.cases((raw.isnull(), ibis.null(value.type())), (ok, value),
                      else_=_fail(what, value.type()))


def _fast_money(col: ir.Value, name: str, parsed: ir.Value | None = None) -> ir.Value | None:
    """Stored amount, exactly the source's (never rounded), or the query fails.
    ``parsed``: the text's decimal(18, 12) parse, made once beforehand."""
    t = col.type()
    if t.is_decimal():
        scale, precision = t.scale or 0, t.precision or 38  # type: ignore[attr-defined]
        return col.cast(focus.MONEY_TYPE) if scale <= 12 and precision - scale <= 26 else None
    if t.is_integer():
        return col.cast(focus.MONEY_TYPE)
    if not t.is_string():
        return None  # floats: the checked path
    exact, fast = _money_parts(col, parsed)
    # an exponent form below 1 ('0E-12', '2.5E-7'): exact where its 18-digit parse (the
    # precision of EXACT) equals the 12-digit one; both are 64-bit parses, ~10x cheaper
    # than the 38-digit ones of the last test
    small = col.try_cast(dt.Decimal(18, 18))
    wide = col.try_cast(focus.MONEY_TYPE)
    return ibis.cases((col.isnull(), ibis.null(focus.MONEY_TYPE)),
                      (exact, fast.cast(focus.MONEY_TYPE)),
                      (small.notnull() & (small == fast), fast.cast(focus.MONEY_TYPE)),
                      (wide == col.try_cast(EXACT), wide),
                      else_=_fail(name, focus.MONEY_TYPE))


def _fast_quantity(col: ir.Value, name: str) -> ir.Value:
    if col.type().is_decimal() or col.type().is_integer():
        return as_double(col)
    q = col.try_cast("float64")
    return _ok_or_fail(q, q.notnull() & ~q.isnan() & ~q.isinf(), col, name)


def _fast_timestamp(col: ir.Value, name: str, parsed: ir.Value | None = None) -> ir.Value:
    """The timestamp, or the query fails where the checked path could read it otherwise
    (an offset, a slash date). ``parsed``: the text's timestamp parse, made once beforehand."""
    t = col.type()
    if t.is_timestamp() and t.timezone is not None:  # type: ignore[attr-defined]
        # the UTC wall clock without a time zone cast (ICU): the same instant, ~25x cheaper
        return _make_timestamp(_epoch_us(col))
    if t.is_timestamp() or t.is_date():
        return col.cast("timestamp")
    s = col if t.is_string() else col.cast("string")
    v = s.try_cast("timestamp") if parsed is None else parsed
    # ISO 8601 without an offset ('Z' is UTC): what the checked path reads the same way.
    # The common spellings are settled by cheap tests (a 'Z' at the end, a bare date) before
    # the rest after the date is looked at for the '-' of an offset ('+' is never in a date)
    iso = s.like("____-%") & v.notnull() & (v.year() >= 1000)
    no_offset = ~s.contains("+") & (s.endswith("Z") | (s.length() <= 10)
                                    | ~s.substr(10).contains("-"))
    return _ok_or_fail(v, iso & no_offset, s, name)


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(value: str) -> str:  # type: ignore[empty-body]
    """DuckDB's json_type: OBJECT, ARRAY, ...; an error where ``value`` is not JSON (one
    parse: ~3x cheaper than trimming, testing the first character and casting)."""


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(value: dt.timestamp) -> int:  # type: ignore[empty-body]
    """Microseconds since the epoch of a TIMESTAMP WITH TIME ZONE."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(micros: int) -> dt.timestamp:  # type: ignore[empty-body]
    """The TIMESTAMP ``micros`` microseconds after the epoch."""


def fast_rows(store: Any, src: Source) -> ir.Table | None:
    """The FOCUS rows of ``src`` in one pass, failing on anything not loaded exactly as
    the checked path would load it; None when a column's type rules the fast path out."""
    if src.kind == "csv":
        types = {c: FAST_READER[focus.BY_NAME[c].kind] for c in src.columns
                 if c in focus.BY_NAME and focus.BY_NAME[c].kind in FAST_READER}
        raw, _ = raw_relation(store, src, mode="exact", types=types)
        raw, parses = _parse_once(store, raw)
    else:
        parses = {}
        name = scratch_name("raw")
        read = f"read_parquet({fs._sql_list(src.files)}, union_by_name=true)"
        store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {read}")
        strings = [c for c, t in store.con.table(name).schema().items() if t.is_string()]
        if strings:  # their null spellings as NULL, once (a view: not inlined at each use)
            nulls = ", ".join(f"{text_sql(ident(c))} AS {ident(c)}" for c in strings)
            store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * REPLACE ({nulls}) "
                      f"FROM {read}")
        raw = store.con.table(name)
    cols: list[ir.Value] = []
    for name in raw.columns:
        if name in ("x_cl_file", "cl_record") or name in parses.values():
            continue
        parsed = raw[parses[name]] if name in parses else None
        col = raw[name]
        column = focus.BY_NAME.get(name)
        if column is None:
            cols.append(col if focus.is_custom(name) else col.name(f"x_{name}"))
            continue
        value: ir.Value | None
        if column.kind == "decimal":
            value = _fast_money(col, name, parsed)
        elif column.kind == "quantity":
            value = _fast_quantity(col, name)
        elif column.kind == "timestamp":
            value = _fast_timestamp(col, name, parsed)
        else:
            value = col if col.type().is_string() else col.cast("string")
        if value is None:
            return None
        cols.append(value.name(name))
    return _row_checks(raw.select(cols), set(src.columns))


def _parse_once(store: Any, raw: ir.Table) -> tuple[ir.Table, dict[str, str]]:
    """``raw`` plus the parse of each text amount (decimal(18, 12)) and timestamp, as a view,
    and the name of each parse by column: the checks and the value then use one parse."""
    parse = {"decimal": _FAST.upper(), "timestamp": "TIMESTAMP"}
    parses = {c: f"cl_p{i}" for i, (c, t) in enumerate(raw.schema().items())
              if t.is_string() and c in focus.BY_NAME and focus.BY_NAME[c].kind in parse}
    if not parses:
        return raw, {}
    extra = ", ".join(f"TRY_CAST({ident(c)} AS {parse[focus.BY_NAME[c].kind]}) AS {ident(p)}"
                      for c, p in parses.items())
    name = scratch_name("parsed")
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT *, {extra} "
              f"FROM {ident(raw.get_name())}")
    return store.con.table(name), parses


def _row_checks(rows: ir.Table, present: set[str]) -> ir.Table:
    """``rows``, failing the query on a row the checked path reports that ``verify``'s
    per-group aggregates cannot see: an unknown ChargeCategory, a JSON column that is not
    a JSON object. Evaluated as the rows are inserted, in parallel, rather than in a second
    pass over them. (A required value missing, a charge outside its billing period and a
    currency not written as three capitals are found from ``verify``'s groups.)"""
    flags: list[ir.BooleanValue] = []
    if "ChargeCategory" in present:
        cat = rows.ChargeCategory
        known = functools.reduce(operator.or_, [
            cat == v for v in focus.BY_NAME["ChargeCategory"].allowed])
        flags.append(cat.notnull() & ~known)
    for name in JSON_CHECKED:
        if name in present:  # json_type fails the query on text that is not JSON at all
            s = rows[name]
            flags.append(s.notnull() & (_json_type(s) != "OBJECT"))
    if not flags:
        return rows
    odd = functools.reduce(operator.or_, [f.fill_null(False) for f in flags])
    name = "BilledCost" if "BilledCost" in rows.columns else rows.columns[0]
    col = rows[name]
    return rows.mutate(**{name: ibis.cases(
        (odd, _fail("a row the checks report", col.type())), else_=col)})


def fast_totals(rows: ir.Table) -> ir.Table:
    """The source totals computed from the file (lazy; used when the frame is loaded
    without ``verify``)."""
    metrics = {m: rows[m].cast(EXACT).sum() for m in ("BilledCost", "EffectiveCost")
               if m in rows.columns}
    return rows.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency"
                         ).aggregate(**metrics)


def _sql(expr: ir.Table) -> str:
    """``expr`` as DuckDB SQL, to use as a subquery (inlined where it appears: a CTE used
    twice would be materialized, every column of every inserted row)."""
    return str(ibis.to_sql(expr, dialect="duckdb"))


def _hash_sql(names: list[str]) -> str:
    """DuckDB's hash of a row's ``names`` columns (variadic: no struct is built)."""
    return f"hash({', '.join(ident(c) for c in names)})"


def verify(store: Any, new: ir.Table, columns: list[str]) -> Verified:
    """The checks of ``check_source`` that need every inserted row (``columns``: the file's):
    the keys of each group, one currency per account and period, and duplicate rows. Raises
    ``Recheck`` where the checked path has something to say. Returns the row count, the
    totals (the inserted amounts are the file's exactly, so their sums are its totals) and
    the replace scope, from one grouped pass over the inserted rows and one count of their
    distinct rows."""
    present = set(columns)
    money: list[str] = [m for m in ("BilledCost", "EffectiveCost") if m in present]
    stored = {c if c in focus.BY_NAME or focus.is_custom(c) else f"x_{c}" for c in columns
              if c in DUPLICATE_KEY or (c not in focus.BY_NAME and c.lower().endswith("id"))}
    data = [c for c in new.columns if c in stored]
    # two rows equal on every column are equal on the columns that are cheap to hash (not
    # 128-bit decimals): when those are all distinct, so are the rows
    cheap = [c for c in data if not new[c].type().is_decimal()] or data
    metrics: dict[str, ir.Value] = {"n": new.count(), "BilledCost": new.BilledCost.sum(),
                                    "EffectiveCost": new.EffectiveCost.sum()}
    required = [c for c in REQUIRED if c in present and c not in KEYS]
    metrics |= {f"set_{c}": new[c].count() for c in required}  # a required value missing
    if {"ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd"} <= present:
        # a charge outside its billing period (the group's), corrections aside
        charge = ~(new.ChargeClass == "Correction").fill_null(False)
        metrics |= {"first": new.ChargePeriodStart.min(where=charge),
                    "last": new.ChargePeriodStart.max(where=charge)}
    by = [*KEYS, "ProviderName"]
    # duplicates: first a count of distinct rows over the whole load (a plain distinct
    # count of DuckDB's hash of the cheap columns); only where it finds fewer than the
    # rows, the exact test per group, on every column. Groups and count are one query
    # (UNION ALL) over the inserted rows written out twice, not as a CTE (DuckDB would
    # materialize it): DuckDB 1.5 scans rows not yet committed on one thread per scan,
    # and runs the two scans side by side (about half the wall time of two queries)
    inserted = _sql(new)
    summary = (f"SELECT *, NULL::BIGINT AS cl_distinct FROM "
               f"({_sql(new.group_by(*by).aggregate(**metrics))})")
    if data:  # the count: a row of its own (every key NULL) under the groups
        summary += (f" UNION ALL BY NAME SELECT count(DISTINCT {_hash_sql(cheap)}) AS "
                    f"cl_distinct FROM ({inserted})")
    rows = store.engine.query(summary).to_pylist()
    groups = [g for g in rows if g["cl_distinct"] is None]
    total = sum(int(g["n"]) for g in groups)
    if data and [g["cl_distinct"] for g in rows if g["cl_distinct"] is not None] != [total]:
        keys = ", ".join(ident(c) for c in by)
        again = store.engine.query(
            f"SELECT count(*) AS n, count(DISTINCT {_hash_sql(data)}) AS distinct_rows "
            f"FROM ({inserted}) GROUP BY {keys}").to_pylist()
        if any(g["distinct_rows"] != g["n"] for g in again):
            raise Recheck  # the checked path counts and words the duplicates
    seen: dict[tuple[Any, Any], set[Any]] = {}
    for g in groups:
        start, end = g["BillingPeriodStart"], g["BillingPeriodEnd"]
        first, last = g.get("first"), g.get("last")
        if (any(g[k] is None for k in KEYS if k in present)
                or any(g[f"set_{c}"] != g["n"] for c in required)
                or ("BillingCurrency" in present  # as the checked path would store it
                    and not re.fullmatch(r"[A-Z]{3}", g["BillingCurrency"]))
                or (start is not None and end is not None and start >= end)
                or (first is not None and first < start) or (last is not None and last >= end)):
            raise Recheck
        seen.setdefault((g["BillingAccountId"], start), set()).add(g["BillingCurrency"])
    if any(len(c) > 1 for c in seen.values()):
        raise Recheck  # the checked path words the warning

    def totals(metrics: list[str]) -> ir.Table:
        arrays: dict[str, Any] = {
            k: pa.array([g[k] for g in groups], t) for k, t in (
                ("BillingAccountId", pa.string()), ("BillingPeriodStart", pa.timestamp("us")),
                ("BillingCurrency", pa.string()))}
        for m in metrics:
            arrays[m] = pa.array([g[m] for g in groups], pa.decimal128(38, 18))
        return ibis.memtable(pa.table(arrays))

    scope = sorted({(g["ProviderName"] or "", g["BillingAccountId"] or "",
                     g["BillingPeriodStart"]) for g in groups}, key=str)
    return Verified(rows=total, totals=totals(money),
                    loaded=totals(["BilledCost", "EffectiveCost"]),
                    scope=pa.table({"p": [p for p, _, _ in scope], "a": [a for _, a, _ in scope],
                                    "s": pa.array([x for _, _, x in scope],
                                                  pa.timestamp("us"))}))
