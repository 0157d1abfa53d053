"""Engine-side parsers from exported text to canonical types (Ibis expressions).

They run inside DuckDB or Spark; nothing here touches rows in Python. Casts to money are
strict, so a non-numeric value fails the load (and is then located by ``locate_bad_value``).
"""

from __future__ import annotations

import functools
import operator

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from cloudledger.focus import MONEY_TYPE, QUANTITY_TYPE, Kind

#: Exact parse used for source totals: more fractional digits than storage, so a value that
#: storage rounds shows up as a reconciliation difference instead of vanishing.
SOURCE_TOTAL_TYPE = "decimal(38, 18)"

_ISO = r"^\d{4}-\d{2}-\d{2}"
_US_LONG = r"^\d{1,2}/\d{1,2}/\d{4}$"
_US_LONG_TIME = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$"
_US_SHORT = r"^\d{1,2}/\d{1,2}/\d{2}$"


NULL_TOKENS = ("", "NULL", "null", "None", "\\N")


def text(col: ir.Value) -> ir.StringValue:
    """A string column with the null spellings of exports ('', NULL, None, \\N) as NULL.

    Kept deliberately small: Ibis inlines it at every use, so parsers below call it only
    on their rare paths.
    """
    op = col.op()
    if col.type().is_null() or (isinstance(op, ops.Literal) and op.value is None):
        return col.cast("string")
    s = col if col.type().is_string() else col.cast("string")
    # OR'd equalities, not IN: DuckDB plans an IN list of 4+ values as a join, which costs
    # seconds and memory per column on wide files.
    is_null_token = functools.reduce(operator.or_, [s == token for token in NULL_TOKENS])
    return ibis.cases((is_null_token, ibis.null("string")), else_=s)


#: Most amounts fit 18 digits (< 1e6 with 12 decimals): an int64-backed decimal parses them
#: ~20x faster than a 38-digit one; anything larger falls back to the exact 38-digit parse.
_FAST_MONEY = "decimal(18, 12)"


def money(col: ir.Value) -> ir.DecimalValue:
    if col.type().is_numeric():
        return col.cast(MONEY_TYPE)
    return ibis.coalesce(col.try_cast(_FAST_MONEY).cast(MONEY_TYPE),
                         text(col).cast(MONEY_TYPE))


def quantity(col: ir.Value) -> ir.FloatingValue:
    if col.type().is_numeric():
        return col.cast(QUANTITY_TYPE)
    return text(col).cast(QUANTITY_TYPE)


def source_total(col: ir.Value) -> ir.DecimalValue:
    """The exact figure a source states, for reconciliation (summed as decimal(38, 18))."""
    if col.type().is_numeric():
        return col.cast(SOURCE_TOTAL_TYPE)
    return ibis.coalesce(col.try_cast(_FAST_MONEY), text(col).cast(SOURCE_TOTAL_TYPE)).cast(
        SOURCE_TOTAL_TYPE)


def timestamp(col: ir.Value) -> ir.TimestampValue:
    """UTC timestamp from ISO 8601 (any offset), 'YYYY-MM-DD HH:MM:SS', M/D/YYYY or M/D/YY."""
    if col.type().is_timestamp() or col.type().is_date():
        return col.cast("timestamp")
    s = col if col.type().is_string() else col.cast("string")
    tail = s.right(6)
    has_offset = tail.substr(0, 1).isin(["+", "-"]) | tail.substr(1, 1).isin(["+", "-"])
    plain = s.try_cast("timestamp")
    t = text(s)  # the rare path: null spellings and US dates
    other = ibis.cases(
        (t.re_search(_US_LONG), t.as_timestamp("%m/%d/%Y")),
        (t.re_search(_US_LONG_TIME), t.as_timestamp("%m/%d/%Y %H:%M:%S")),
        (t.re_search(_US_SHORT), t.as_timestamp("%m/%d/%y")),
        else_=t.cast("timestamp"),  # strict: a value nothing can parse fails the load
    )
    iso = s.substr(4, 1) == "-"  # YYYY-...: cheaper than a regex on every row
    return ibis.cases(
        (iso & has_offset, s.cast('timestamp("UTC")').cast("timestamp")),
        (iso & plain.notnull(), plain),
        else_=other,
    )


def parse(col: ir.Value, kind: Kind) -> ir.Value:
    """Parse a text column into the canonical type for ``kind``."""
    if kind == "decimal":
        return money(col)
    if kind == "quantity":
        return quantity(col)
    if kind == "timestamp":
        return timestamp(col)
    return text(col)


def try_parse_failed(col: ir.Value, kind: Kind) -> ir.BooleanValue:
    """True where ``col`` holds a value that ``parse(col, kind)`` cannot convert."""
    if not col.type().is_string():
        return ibis.literal(False)
    s = text(col)
    if kind in ("decimal", "quantity"):
        ok = s.try_cast(SOURCE_TOTAL_TYPE if kind == "decimal" else QUANTITY_TYPE).notnull()
    elif kind == "timestamp":
        ok = (s.re_search(_ISO) & s.try_cast('timestamp("UTC")').notnull()) | s.re_search(
            _US_LONG) | s.re_search(_US_LONG_TIME) | s.re_search(_US_SHORT)
    else:
        return ibis.literal(False)
    return s.notnull() & ~ok


def union_all(tables: list[ir.Table]) -> ir.Table:
    """UNION ALL by column name: a column missing from a table is NULL there; a column
    whose type differs between tables is unified (to the widest numeric, else string)."""
    if len(tables) == 1:
        return tables[0]
    types: dict[str, list[dt.DataType]] = {}
    for t in tables:
        for name, dtype in t.schema().items():
            types.setdefault(name, []).append(dtype)
    target: dict[str, dt.DataType] = {}
    for name, seen in types.items():
        first = seen[0]
        if all(s == first for s in seen):
            target[name] = first
        elif all(s.is_numeric() for s in seen):
            target[name] = dt.highest_precedence(seen)
        else:
            target[name] = dt.string
    aligned = [t.select([(t[n].cast(d) if n in t.columns else ibis.null(d)).name(n)
                         for n, d in target.items()]) for t in tables]
    return ibis.union(*aligned, distinct=False)
