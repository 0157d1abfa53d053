"""Row checks of a FOCUS load (DuckDB), before anything is written.

One aggregate pass over the files (``scan``) counts, per billing account, period, currency
and kind of badness, the rows, their exact BilledCost / EffectiveCost, the values that do not
parse, the evidence for the date order, and what only deserves a warning. From that pass:

- the date order of slash dates is decided (``decide_dates``): ISO 8601 always parses; slash
  dates are month first or day first when a value proves it (13/01 or 01/13), or when only
  one reading makes every billing period start on the 1st of a month; otherwise the load
  stops with "ambiguous" unless the user named the format (``--date-format``);
- the source totals are summed over the good rows only;
- bad rows (a value that does not parse, an empty required value, an unknown
  ChargeCategory, a currency that is not a 3-letter code, a billing period that ends before
  it starts, and the CSV reader's own rejects: wrong field count, broken quotes) are either
  the load's error (the first one, with file, line and column) or, with
  ``--allow-bad-rows``, set aside in ``ingest_errors`` with their line and raw text.

Rows and checks read the same parsed view (``parsed``), so a value that passed the check is
exactly the value that is loaded. Line numbers are physical lines of the file; they are
found on the error path only (an ordered re-read plus a Python CSV scan that maps record
numbers to lines, see ``files.record_lines``).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.ingest.parse import DMY, MDY, DateSpec, as_double, text, try_timestamp
from cloudledger.ingest.relations import Source, barrier, raw_relation

#: Columns whose empty value makes a row unusable: they key the period replace and the
#: reconciliation, or carry the money.
REQUIRED = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart",
            "BillingPeriodEnd", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd",
            "EffectiveCost")
EXACT = "decimal(38, 18)"
_FAST = "decimal(18, 12)"
#: Reader types for a file whose every amount and quantity the check pass parsed.
FAST_TYPES = {"decimal": "DECIMAL(18,12)", "quantity": "DOUBLE"}


@dataclass
class Checked:
    rows: ir.Table
    totals: ir.Table
    rows_in: int
    warnings: list[str] = field(default_factory=list)
    quarantined: ir.Table | None = None
    #: the same rows read without the reader's own amount parsing (if that fails)
    fallback: Callable[[], ir.Table] | None = None


# ------------------------------------------------------------------ parsing
def _money_parts(col: ir.Value, fast: ir.Value | None = None
                 ) -> tuple[ir.BooleanValue, ir.DecimalValue]:
    """Whether ``col``'s text parses exactly as the 64-bit decimal(18, 12), and that parse
    (``fast``: the parse already made)."""
    s = col if col.type().is_string() else col.cast("string")
    dot = s.find(".")
    short = ((dot < 0) | (s.length() - dot <= 13)) & ~s.contains("e") & ~s.contains("E")
    fast = s.try_cast(_FAST) if fast is None else fast
    return short & fast.notnull(), fast  # type: ignore[return-value]


def exact_money(col: ir.Value) -> ir.DecimalValue:
    """The exact amount as decimal(38, 18) (for source totals), NULL where it does not
    parse. The int64-backed decimal(18, 12) parse is ~10x faster than a 38-digit one; it is
    used when it is exact (no exponent, at most 12 fraction digits)."""
    if col.type().is_numeric():
        return col.try_cast(EXACT)  # type: ignore[return-value]
    exact, fast = _money_parts(col)
    return ibis.cases((exact, fast.cast(EXACT)),  # type: ignore[return-value]
                      else_=col.cast("string").try_cast(EXACT))


def stored_money(col: ir.Value) -> ir.DecimalValue:
    """The amount as stored (decimal(38, 12)), NULL where it does not parse. Parsed
    directly, not from ``exact_money``: a 38-digit rescale costs more than the parse; the
    decimal(18, 12) parse rounds to 12 digits exactly as the 38-digit one does."""
    if col.type().is_numeric():
        return col.try_cast(focus.MONEY_TYPE)  # type: ignore[return-value]
    _, fast = _money_parts(col)  # rounds to 12 digits exactly as the 38-digit parse does
    return ibis.cases((fast.notnull(), fast.cast(focus.MONEY_TYPE)),  # type: ignore[return-value]
                      else_=col.cast("string").try_cast(focus.MONEY_TYPE))


def _quantity(col: ir.Value) -> ir.FloatingValue:
    q = as_double(col) if col.type().is_numeric() else col.try_cast("float64")
    return ibis.cases((q.isnan() | q.isinf(), ibis.null("float64")),  # type: ignore[return-value]
                      else_=q)


def _col(name: str, tag: str) -> str:
    return f"cl__{tag}__{name}"


#: Columns hashed to find duplicate rows cheaply (the check reads most of them anyway):
#: rows equal on these are candidates, confirmed on every column (``exact_duplicates``).
DUPLICATE_KEY = {"BilledCost", "EffectiveCost", "ListCost", "ContractedCost",
                 "BillingAccountId", "BillingPeriodStart", "ChargePeriodStart",
                 "ChargePeriodEnd", "ChargeCategory", "ChargeDescription", "SubAccountId",
                 "ResourceId", "SkuPriceId", "CommitmentDiscountId", "PricingQuantity",
                 "ConsumedQuantity", "Tags"}
#: JSON columns checked to hold a JSON object (a warning when not).
JSON_CHECKED = ("Tags", "AllocatedTags")


def exact_duplicates(store: Any, src: Source) -> int:
    """Rows equal to another row on every column (error path of the candidate count)."""
    raw, _ = raw_relation(store, src, mode="rows")
    data = [c for c in raw.columns if c not in ("x_cl_file", "cl_record")]
    n = raw.group_by(data).aggregate(n=raw.count()).n
    found = store.execute((n - 1).sum().fill_null(0).name("dups"))
    return int(found.as_py())


def parsed(store: Any, raw: ir.Table, specs: list[DateSpec], *, row_hash: bool = False,
           nulls: bool = False) -> ir.Table:
    """``raw`` plus, per FOCUS column, its parsed value (``cl__v__<name>``; timestamps once
    per date spec, ``cl__t<i>__<name>``), the normalized currency and optionally a hash of
    the whole row (``cl__hash``), as a temp view. ``nulls``: turn the null spellings of
    string columns into NULL here (Parquet; the CSV reader does it itself)."""
    if nulls:
        raw = raw.select([(text(raw[c]).name(c) if raw[c].type().is_string() else raw[c])
                          for c in raw.columns])
    cols: list[ir.Value] = [raw[c] for c in raw.columns]
    if row_hash:
        data = [c for c in raw.columns if c in DUPLICATE_KEY or (
            c not in focus.BY_NAME and c.lower().endswith("id") and c != "cl_record")]
        cols.append(ibis.struct({f"f{i}": raw[c] for i, c in enumerate(data)}).hash().name(
            "cl__hash"))
    for name in raw.columns:
        column = focus.BY_NAME.get(name)
        if column is None:
            continue
        col = raw[name]
        if column.kind == "decimal":
            cols.append(stored_money(col).name(_col(name, "v")))
            if col.type().is_string():
                cols.append((col.isnull() | _money_parts(col)[1].notnull()).name(
                    _col(name, "f")))
            if name in ("BilledCost", "EffectiveCost"):
                cols.append(exact_money(col).name(_col(name, "x")))
        elif column.kind == "quantity":
            cols.append(_quantity(col).name(_col(name, "v")))
        elif column.kind == "timestamp":
            for i, spec in enumerate(specs):
                cols.append(try_timestamp(col, spec, spark=store.is_spark).name(
                    _col(name, f"t{i}")))
        elif not col.type().is_string():
            cols.append(col.cast("string").name(_col(name, "v")))
    if "BillingCurrency" in raw.columns:
        cur = raw.BillingCurrency.cast("string")
        cols.append(cur.strip().upper().name("cl__currency"))
    return barrier(store, raw.select(cols))


@ibis.udf.scalar.builtin(name="get_json_object")
def _get_json_object(value: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark's get_json_object: NULL where ``value`` is not JSON."""


def is_json(s: ir.StringValue, spark: bool) -> ir.BooleanValue:
    """``s`` parses as JSON (Spark has no JSON type to cast to)."""
    if spark:
        return _get_json_object(s, "$").notnull()
    return s.try_cast("json").notnull()


# ------------------------------------------------------------------ row checks
@dataclass
class Check:
    column: str
    bad: ir.BooleanValue
    reason: ir.StringValue


def _quoted(v: ir.Value) -> ir.StringValue:
    s = v.cast("string")
    return ibis.literal("'") + s.substr(0, 200) + ibis.literal("'")  # type: ignore[no-any-return]


def checks(p: ir.Table, spec: int | None) -> list[Check]:
    """What makes a row bad, in header order; timestamp checks for date spec ``spec``
    (None: only the checks that do not depend on the date format)."""
    out: list[Check] = []
    present = set(p.columns)
    for name in p.columns:
        column = focus.BY_NAME.get(name)
        if column is None:
            continue
        raw = p[name]
        if spec is None and name in REQUIRED:
            out.append(Check(name, raw.isnull(), ibis.literal(
                f"column {name} is empty; FOCUS requires a value")))
        if column.kind in ("decimal", "quantity") and spec is None:
            v = p[_col(name, "v")]
            what = "a decimal number" if column.kind == "decimal" else "a number"
            out.append(Check(name, raw.notnull() & v.isnull(),
                             f"column {name} holds " + _quoted(raw) + f", not {what}"))
        elif column.kind == "timestamp" and spec is not None:
            t = p[_col(name, f"t{spec}")]
            out.append(Check(name, raw.notnull() & t.isnull(),
                             f"column {name} holds " + _quoted(raw) + ", not a timestamp"))
        elif name == "BillingCurrency" and spec is None:
            cur = p.cl__currency
            out.append(Check(name, raw.notnull() & ~cur.re_search(r"^[A-Z]{3}$"),
                             "column BillingCurrency holds " + _quoted(raw) +
                             ", not an ISO 4217 currency code such as 'USD'"))
        elif name == "ChargeCategory" and spec is None and raw.type().is_string():
            known = functools.reduce(operator.or_, [raw == v for v in column.allowed])
            out.append(Check(name, raw.notnull() & ~known,
                             "column ChargeCategory holds " + _quoted(raw) + ", not one of "
                             + ", ".join(column.allowed)))
    if spec is not None and {"BillingPeriodStart", "BillingPeriodEnd"} <= present:
        start = p[_col("BillingPeriodStart", f"t{spec}")]
        end = p[_col("BillingPeriodEnd", f"t{spec}")]
        out.append(Check("BillingPeriodStart", start >= end,
                         "BillingPeriodStart " + _quoted(p.BillingPeriodStart) +
                         " is not before BillingPeriodEnd " + _quoted(p.BillingPeriodEnd)))
    return out


def any_bad(found: list[Check]) -> ir.BooleanValue:
    if not found:
        return ibis.literal(False)
    return functools.reduce(operator.or_, [c.bad.fill_null(False) for c in found])


# ------------------------------------------------------------------ the scan
def scan(store: Any, p: ir.Table, specs: list[DateSpec]) -> list[dict[str, Any]]:
    """The one aggregate pass: rows, totals, bad-row and warning counts, date evidence."""
    fixed = any_bad(checks(p, None))
    by_spec = [any_bad(checks(p, i)) for i in range(len(specs))]
    ts = [c.name for c in focus.COLUMNS if c.kind == "timestamp" and c.name in p.columns]
    keys: dict[str, ir.Value] = {
        "file": p.x_cl_file,
        "account": p.BillingAccountId.cast("string"),
        "period": p.BillingPeriodStart.cast("string"),
        "currency": p.cl__currency if "cl__currency" in p.columns else ibis.null("string"),
        "bad": fixed,
        **{f"bad{i}": b for i, b in enumerate(by_spec)},
    }
    metrics: dict[str, ir.Value] = {"n": p.count()}
    for m in ("BilledCost", "EffectiveCost"):
        if m in p.columns:
            metrics[m] = p[_col(m, "x")].sum()
    if "BillingCurrency" in p.columns:
        raw_cur = p.BillingCurrency.cast("string")
        metrics["currency_changed"] = (raw_cur != p.cl__currency).fill_null(False).sum()
        metrics["currency_example"] = raw_cur.arbitrary(where=raw_cur != p.cl__currency)
    for name in JSON_CHECKED:
        if name in p.columns and p[name].type().is_string():
            s = p[name]
            ok = s.lstrip().startswith("{") & is_json(s, store.is_spark)
            metrics[f"json__{name}"] = (s.notnull() & ~ok).sum()
    if {"ChargePeriodStart", "BillingPeriodStart", "BillingPeriodEnd"} <= set(p.columns):
        correction = p.ChargeClass == "Correction" if "ChargeClass" in p.columns else None
        for i in range(len(specs)):
            cps = p[_col("ChargePeriodStart", f"t{i}")]
            out = (cps < p[_col("BillingPeriodStart", f"t{i}")]) | (
                cps >= p[_col("BillingPeriodEnd", f"t{i}")])
            if correction is not None:
                out = out & ~correction.fill_null(False)
            metrics[f"outside{i}"] = out.fill_null(False).sum()
            metrics[f"outside_example{i}"] = p.ChargePeriodStart.cast("string").arbitrary(
                where=out)
    fast = [c for c in p.columns if c.startswith("cl__f__")]
    if fast:  # amounts the reader can parse itself as decimal(18, 12), exactly
        metrics["slow_money"] = functools.reduce(operator.add, [
            (~p[c]).cast("int64") for c in fast]).sum()
    if ts:
        sep = [p[c].cast("string").substr(4, 1) for c in ts]
        metrics["not_iso"] = functools.reduce(operator.add, [
            (p[c].notnull() & (x != "-") & (x != "/")).cast("int64")
            for c, x in zip(ts, sep, strict=True)]).sum()
    if len(specs) == 2 and ts:
        pairs = [(p[_col(c, "t0")], p[_col(c, "t1")]) for c in ts]
        metrics["only0"] = functools.reduce(operator.add, [
            (a.notnull() & b.isnull()).cast("int64") for a, b in pairs]).sum()
        metrics["only1"] = functools.reduce(operator.add, [
            (a.isnull() & b.notnull()).cast("int64") for a, b in pairs]).sum()
        metrics["differ"] = functools.reduce(operator.add, [
            (a != b).fill_null(False).cast("int64") for a, b in pairs]).sum()
        for i in range(2):
            for c in ("BillingPeriodStart", "BillingPeriodEnd"):
                if c in p.columns:
                    t = p[_col(c, f"t{i}")]
                    first = (t.day() == 1) & (t.hour() == 0) & (t.minute() == 0)
                    metrics[f"bp_not_first{i}_{c}"] = (~first).fill_null(False).sum()
    if "cl__hash" in p.columns:
        metrics["distinct"] = p.cl__hash.nunique()
    expr = p.group_by(**keys).aggregate(**metrics)
    return list(store.execute(expr).to_pylist())


def decide_dates(groups: list[dict[str, Any]], user: DateSpec | None
                 ) -> tuple[int, str | None, str | None]:
    """(index of the date spec to use, a note for the warnings, or an error kind:
    'ambiguous' / 'mixed')."""
    if user is not None or not any("only0" in g for g in groups):
        return 0, None, None
    total = {k: sum(g.get(k) or 0 for g in groups) for k in ("only0", "only1", "differ")}
    if total["only0"] and total["only1"]:
        return 0, None, "mixed"
    if total["only1"]:
        return 1, None, None
    if total["only0"] or not total["differ"]:
        return 0, None, None
    not_first = [sum(g.get(f"bp_not_first{i}_{c}") or 0 for g in groups
                     for c in ("BillingPeriodStart", "BillingPeriodEnd")) for i in (0, 1)]
    if (not_first[0] == 0) != (not_first[1] == 0):
        i = 0 if not_first[0] == 0 else 1
        return i, (f"slash dates read {(MDY, DMY)[i].describe()}: only that reading starts "
                   "every billing period on the 1st of a month (pass --date-format to "
                   "override)"), None
    return 0, None, "ambiguous"
