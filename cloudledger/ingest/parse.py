"""Engine-side parsers from exported text to canonical types (Ibis expressions).

They run inside DuckDB or Spark; nothing here touches rows in Python. Casts to money are
strict, so a non-numeric value fails the load (and is then located by ``locate_bad_value``).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cloudledger.focus import MONEY_TYPE, QUANTITY_TYPE, Kind

#: Exact parse used for source totals: more fractional digits than storage, so a value that
#: storage rounds shows up as a reconciliation difference instead of vanishing.
SOURCE_TOTAL_TYPE = "decimal(38, 18)"

_ISO = r"^\d{4}-\d{2}-\d{2}"
_US_LONG = r"^\d{1,2}/\d{1,2}/\d{4}$"
_US_LONG_TIME = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$"
_US_SHORT = r"^\d{1,2}/\d{1,2}/\d{2}$"


def text(col: ir.Value) -> ir.StringValue:
    """A string column with surrounding blanks removed and '', 'NULL', 'null' as NULL."""
    s = col.cast("string").strip()
    return ibis.cases((s.isin(["", "NULL", "null", "None", "\\N"]), ibis.null("string")),
                      else_=s)


def money(col: ir.Value) -> ir.DecimalValue:
    if col.type().is_numeric():
        return col.cast(MONEY_TYPE)
    return text(col).cast(MONEY_TYPE)


def quantity(col: ir.Value) -> ir.DecimalValue:
    if col.type().is_numeric():
        return col.cast(QUANTITY_TYPE)
    return text(col).cast(QUANTITY_TYPE)


def source_total(col: ir.Value) -> ir.DecimalValue:
    """The exact figure a source states, parsed wider than storage (for reconciliation)."""
    if col.type().is_numeric():
        return col.cast(SOURCE_TOTAL_TYPE)
    return text(col).cast(SOURCE_TOTAL_TYPE)


def timestamp(col: ir.Value) -> ir.TimestampValue:
    """UTC timestamp from ISO 8601 (any offset), 'YYYY-MM-DD HH:MM:SS', M/D/YYYY or M/D/YY."""
    if col.type().is_timestamp() or col.type().is_date():
        return col.cast("timestamp")
    s = text(col)
    return ibis.cases(
        (s.re_search(_ISO), s.cast('timestamp("UTC")').cast("timestamp")),
        (s.re_search(_US_LONG), s.as_timestamp("%m/%d/%Y")),
        (s.re_search(_US_LONG_TIME), s.as_timestamp("%m/%d/%Y %H:%M:%S")),
        (s.re_search(_US_SHORT), s.as_timestamp("%m/%d/%y")),
        else_=s.cast("timestamp"),
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
        ok = s.try_cast(MONEY_TYPE if kind == "decimal" else QUANTITY_TYPE).notnull()
    elif kind == "timestamp":
        ok = (s.re_search(_ISO) & s.try_cast('timestamp("UTC")').notnull()) | s.re_search(
            _US_LONG) | s.re_search(_US_LONG_TIME) | s.re_search(_US_SHORT)
    else:
        return ibis.literal(False)
    return s.notnull() & ~ok
