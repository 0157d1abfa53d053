"""Engine-side parsers from exported text to canonical types (Ibis expressions).

They run inside DuckDB or Spark; nothing here touches rows in Python. Casts to money are
strict, so a non-numeric value fails the load (and is then located by ``locate_bad_value``).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from cloudledger.engine import literal
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
    # no token is longer than 4 characters: most values skip the five comparisons
    return ibis.cases((s.length() > _LONGEST_TOKEN, s), (is_null_token, ibis.null("string")),
                      else_=s)


_LONGEST_TOKEN = max(len(t) for t in NULL_TOKENS)


def text_sql(column: str) -> str:
    """``text`` as DuckDB SQL for the quoted column ``column``: the same test, written out
    once for a wide view instead of compiled per column (~3 ms each)."""
    tokens = " OR ".join(f"{column} = {literal(t)}" for t in NULL_TOKENS)
    return (f"CASE WHEN length({column}) > {_LONGEST_TOKEN} THEN {column} "
            f"WHEN {tokens} THEN NULL ELSE {column} END")


#: Most amounts fit 18 digits (< 1e6 with 12 decimals): an int64-backed decimal parses them
#: ~20x faster than a 38-digit one; anything larger falls back to the exact 38-digit parse.
_FAST_MONEY = "decimal(18, 12)"


def money(col: ir.Value) -> ir.DecimalValue:
    if col.type().is_numeric():
        return col.cast(MONEY_TYPE)
    return ibis.coalesce(col.try_cast(_FAST_MONEY).cast(MONEY_TYPE),
                         text(col).cast(MONEY_TYPE))


def as_double(col: ir.Value) -> ir.FloatingValue:
    """A numeric column as float64. A decimal wider than 18 digits goes through its 64-bit
    form where the value fits: DuckDB converts a 128-bit decimal by long division (~3x
    slower), and the 64-bit route rounds to the nearest double at least as often."""
    t = col.type()
    if t.is_decimal():
        precision, scale = t.precision or 38, t.scale or 0  # type: ignore[attr-defined]
        if precision > 18 and scale < 18:
            bound = 10 ** (18 - scale)
            narrow = col.cast(dt.Decimal(18, scale)).cast(QUANTITY_TYPE)
            return ibis.cases(((col > -bound) & (col < bound), narrow),  # type: ignore[return-value]
                              else_=col.cast(QUANTITY_TYPE))
    return col.cast(QUANTITY_TYPE)  # type: ignore[return-value]


def quantity(col: ir.Value) -> ir.FloatingValue:
    if col.type().is_numeric():
        return as_double(col)
    return text(col).cast(QUANTITY_TYPE)


def source_total(col: ir.Value) -> ir.DecimalValue:
    """The exact figure a source states, for reconciliation (summed as decimal(38, 18))."""
    if col.type().is_numeric():
        return col.cast(SOURCE_TOTAL_TYPE)
    return ibis.coalesce(col.try_cast(_FAST_MONEY), text(col).cast(SOURCE_TOTAL_TYPE)).cast(
        SOURCE_TOTAL_TYPE)


@dataclass(frozen=True)
class DateSpec:
    """How non-ISO dates are read: slash dates month-first (MDY) or day-first (DMY), or
    the strptime ``pattern`` a user named with ``--date-format``. ISO 8601 always parses."""

    order: str = "MDY"
    pattern: str | None = None

    def describe(self) -> str:
        if self.pattern:
            return repr(self.pattern)
        return "month first (M/D/Y)" if self.order == "MDY" else "day first (D/M/Y)"


MDY, DMY = DateSpec("MDY"), DateSpec("DMY")
_ORDER_NAMES = {"MDY": "MDY", "M/D/Y": "MDY", "MM/DD/YYYY": "MDY", "M/D/YYYY": "MDY",
                "MM/DD/YY": "MDY", "US": "MDY",
                "DMY": "DMY", "D/M/Y": "DMY", "DD/MM/YYYY": "DMY", "D/M/YYYY": "DMY",
                "DD/MM/YY": "DMY"}


def date_spec(text: str | None) -> DateSpec | None:
    """The ``--date-format`` value: MDY / DMY (or MM/DD/YYYY / DD/MM/YYYY), or a strptime
    pattern such as ``%d.%m.%Y %H:%M``."""
    from cloudledger.errors import InputError

    if text is None or not text.strip():
        return None
    value = text.strip()
    if value.upper() in _ORDER_NAMES:
        return DateSpec(_ORDER_NAMES[value.upper()])
    if "%" in value and ("%d" in value or "%j" in value) and (
            "%m" in value or "%b" in value or "%B" in value or "%j" in value):
        return DateSpec(pattern=value)
    raise InputError(f"cannot use {text!r} as a date format", where="--date-format",
                     hint="pass MDY (month first, 04/01/2025), DMY (day first, 01/04/2025) "
                          "or a strptime pattern such as '%d.%m.%Y %H:%M:%S'")


#: Slash dates: (regex, strptime format with {a}/{b} for the first two fields).
_SLASH_FORMATS = (
    (_US_LONG, "{a}/{b}/%Y"),
    (_US_LONG_TIME, "{a}/{b}/%Y %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$", "{a}/{b}/%Y %H:%M"),
    (_US_SHORT, "{a}/{b}/%y"),
)
SLASH_DATE = r"^\d{1,2}/\d{1,2}/(\d{2}|\d{4})( \d{1,2}:\d{2}(:\d{2})?)?$"
#: ISO 8601 with a UTC offset that exists (-12:00 .. +14:00); DuckDB accepts any offset.
_VALID_OFFSET = (r"^\d{4}[-/]\d{1,2}[-/]\d{1,2}[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?"
                 r"[+-](0\d|1[0-4])(:?[0-5]\d)?$")


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB's try_strptime: NULL where ``value`` does not match ``fmt``."""


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(value: str, fmt: str) -> dt.timestamp:  # type: ignore[empty-body]
    """Spark's try_to_timestamp (a Java DateTimeFormatter pattern): NULL where ``value``
    does not match."""


@ibis.udf.scalar.builtin(name="raise_error")
def _raise_error(message: str) -> dt.timestamp:  # type: ignore[empty-body]
    """Spark's raise_error: fails the query with ``message`` where it is evaluated (typed as
    the timestamp it stands in for; Spark's NULL type coerces to it)."""


#: strptime directives as Java DateTimeFormatter letters (Spark's datetime patterns);
#: ``yy`` reads 2000-2099, which ``_try_parse`` moves to strptime's century (``_posix_century``).
_JAVA = {"d": "d", "m": "M", "Y": "yyyy", "y": "yy", "H": "H", "I": "h", "M": "m",
         "S": "s", "f": "SSSSSS", "p": "a", "b": "MMM", "B": "MMMM", "j": "D", "%": "%"}


def java_pattern(fmt: str) -> str:
    """A strptime pattern as a Spark datetime pattern (letters outside directives are
    quoted)."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            out.append(_JAVA.get(fmt[i + 1], fmt[i + 1]))
            i += 2
        else:
            out.append(f"'{fmt[i]}'" if fmt[i].isalpha() else fmt[i])
            i += 1
    return "".join(out)


def _try_parse(t: ir.StringValue, fmt: str, spark: bool) -> ir.TimestampValue:
    if spark:
        parsed = _try_to_timestamp(t, java_pattern(fmt)).cast("timestamp")
        return _posix_century(parsed) if "%y" in fmt else parsed  # type: ignore[no-any-return]
    return _try_strptime(t, fmt)  # type: ignore[no-any-return]


def _posix_century(t: ir.TimestampValue) -> ir.TimestampValue:
    """A two-digit year read as strptime and DuckDB read ``%y`` (69-99: 1969-1999, 00-68:
    2000-2068), from Spark's ``yy`` (every one in 2000-2099). Exact: 20xx and 19xx are leap
    years alike for xx in 69-99."""
    return ibis.cases((t.year() >= 2069, t - ibis.interval(years=100)),  # type: ignore[return-value]
                      else_=t)


def _strict_parse(t: ir.StringValue, fmt: str) -> ir.TimestampValue:
    """``t`` read with strptime pattern ``fmt``, failing the query where it does not match
    (DuckDB's strict parse; Spark's is ``_spark_timestamp``). The two-digit year step is a
    no-op on DuckDB, kept so that the SQL stays as it was."""
    parsed = t.as_timestamp(fmt)
    return _posix_century(parsed) if "%y" in fmt else parsed


def _slash(t: ir.StringValue, spec: DateSpec, *, strict: bool, spark: bool = False
           ) -> ir.TimestampValue:
    if spec.pattern:
        return _strict_parse(t, spec.pattern) if strict else _try_parse(t, spec.pattern, spark)
    a, b = ("%m", "%d") if spec.order == "MDY" else ("%d", "%m")
    cases = []
    for regex, fmt in _SLASH_FORMATS:
        f = fmt.format(a=a, b=b)
        cases.append((t.re_search(regex),
                      _strict_parse(t, f) if strict else _try_parse(t, f, spark)))
    if strict:
        return ibis.cases(*cases, else_=t.cast("timestamp"))  # type: ignore[return-value]
    return ibis.cases(*cases, else_=ibis.null("timestamp"))  # type: ignore[return-value]


def _has_offset(s: ir.StringValue) -> ir.BooleanValue:
    """A '+' or '-' after the date part: an explicit UTC offset (cheap: no regex)."""
    rest = s.substr(10)
    return rest.contains("+") | rest.contains("-")


def timestamp(col: ir.Value, spec: DateSpec = MDY, *, spark: bool = False
              ) -> ir.TimestampValue:
    """UTC timestamp from ISO 8601 (any offset), 'YYYY-MM-DD HH:MM:SS', or slash dates read
    as ``spec`` says (M/D/YYYY, M/D/YY by default). Strict: a value nothing can parse fails
    the load. ``spark``: the expression is for Spark (``_spark_timestamp``)."""
    if col.type().is_timestamp() or col.type().is_date():
        return col.cast("timestamp")
    s = col if col.type().is_string() else col.cast("string")
    if spark:
        return _spark_timestamp(s, spec)
    plain = s.try_cast("timestamp")
    t = text(s)  # the rare path: null spellings and slash dates
    iso = s.substr(4, 1) == "-"  # YYYY-...: cheaper than a regex on every row
    return ibis.cases(
        (iso & _has_offset(s), s.cast('timestamp("UTC")').cast("timestamp")),
        (iso & plain.notnull(), plain),
        else_=_slash(t, spec, strict=True),
    )


def _spark_timestamp(s: ir.StringValue, spec: DateSpec) -> ir.TimestampValue:
    """``timestamp`` on Spark, reading what DuckDB reads the same way. Spark's own
    ``to_timestamp`` cannot stand in for strptime (``MM``/``dd`` want two digits, so
    '1/1/25' would be NULL) and neither it nor a cast fails without ANSI mode: each form is
    tried (Java patterns of single letters, which read one or two digits, as strptime does)
    and a value none reads fails the query with ``raise_error``."""
    t = text(s)
    iso = s.substr(4, 1) == "-"
    parsed = ibis.cases(
        (iso & _has_offset(s), s.try_cast('timestamp("UTC")').cast("timestamp")),
        (iso, s.try_cast("timestamp")),
        else_=_slash(t, spec, strict=False, spark=True),
    )
    message = "cannot parse '" + s + f"' as a timestamp (ISO 8601, or dates {spec.describe()})"
    return ibis.coalesce(  # type: ignore[return-value]
        parsed, ibis.cases((t.notnull(), _raise_error(message)), else_=ibis.null("timestamp")))


def try_timestamp(col: ir.Value, spec: DateSpec = MDY, *, spark: bool = False
                  ) -> ir.TimestampValue:
    """``timestamp`` that gives NULL instead of failing: also NULL for an offset outside
    -12:00..+14:00 and for anything not ISO 8601 (year first) or a slash date, so that
    '4/1/25' is never read as year 4. ``spark``: the expression is for Spark (its
    try_to_timestamp with the pattern in Java letters instead of DuckDB's try_strptime)."""
    if col.type().is_timestamp() or col.type().is_date():
        return col.cast("timestamp")
    s = col if col.type().is_string() else col.cast("string")
    iso = s.re_search(r"^\d{4}[-/]")
    aware = ibis.cases((s.re_search(_VALID_OFFSET),
                        s.try_cast('timestamp("UTC")').cast("timestamp")),
                       else_=ibis.null("timestamp"))
    return ibis.cases(  # type: ignore[return-value]
        (iso & _has_offset(s), aware),
        (iso, s.try_cast("timestamp")),
        else_=_slash(s, spec, strict=False, spark=spark),
    )


def parse(col: ir.Value, kind: Kind, *, spark: bool = False) -> ir.Value:
    """Parse a text column into the canonical type for ``kind`` (``spark``: the expression
    is for Spark)."""
    if kind == "decimal":
        return money(col)
    if kind == "quantity":
        return quantity(col)
    if kind == "timestamp":
        return timestamp(col, spark=spark)
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
