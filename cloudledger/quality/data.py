"""What validation reads: a file as a typed view with the raw text of every FOCUS column
beside it (``read_file``), or the store's ``focus`` table (``store_data``), as ``Data``.

A file is read through engine views, never copied; values that do not parse become NULL in
the typed column and raise the ``__bad__<column>`` flag, so a rule can tell "missing" from
"not a value"."""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.engine import ident
from cloudledger.errors import FormatError, InputError
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import NULL_TOKENS, SOURCE_TOTAL_TYPE, parse, try_parse_failed
from cloudledger.ingest.parse import text as parse_text

#: Prefix of the raw-text twin of a FOCUS column in a file's validation table.
RAW = "__raw__"
#: 1-based record number of a file row (the first data row is 1).
ROW = "__row"
#: Prefix of the flag "this column's text does not parse" in a file's validation table.
BAD = "__bad__"
_tables = itertools.count()
#: DuckDB 1.5 rewrites every ``x IN (4+ constants)`` into a join; with one such test per
#: column (``parse.text``'s null markers) planning costs seconds per query. Kept as filters.
FAST_IN = "SET disabled_optimizers = 'in_clause'"


@dataclass(frozen=True)
class Data:
    """What rules look at.

    ``table`` holds every FOCUS column present, typed as stored (values that do not parse
    become NULL), the source's custom columns as they are and, for a file, the raw text of
    each FOCUS column as ``__raw__<name>`` plus the record number ``row``.
    """

    table: ir.Table
    columns: tuple[str, ...]  # the source's own column names (FOCUS and custom)
    version: str
    origin: Literal["file", "store"]
    target: str
    locator: tuple[str, ...]
    #: ``table`` plus the record number ``ROW`` (files; made on first use): examples are
    #: read from it. Kept apart because numbering rows in file order is a serial step that
    #: counts do not need.
    numbered: Callable[[], ir.Table] | None = None

    def has(self, *names: str) -> bool:
        return all(n in self.columns for n in names)


@ibis.udf.scalar.builtin(name="epoch_us")
def _epoch_us(value) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's epoch_us: microseconds since 1970-01-01 UTC."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _make_timestamp(us) -> dt.timestamp:  # type: ignore[empty-body]
    """DuckDB's make_timestamp(microseconds since the epoch)."""


@ibis.udf.scalar.builtin(name="isfinite")
def _isfinite(value) -> dt.boolean:  # type: ignore[empty-body]
    """DuckDB's isfinite: False for (-)infinity."""


def _utc_naive(col: ir.TimestampValue) -> ir.Value:
    """``CAST(col AS TIMESTAMP)`` of a time-zone-aware column in a UTC session, without the
    ICU calendar conversion (~50x faster): the same microseconds, as a naive timestamp."""
    return ibis.cases((_isfinite(col), _make_timestamp(_epoch_us(col))),
                      else_=col.cast("timestamp"))


def _backend(expr: ir.Expr) -> str | None:
    """The name of the backend ``expr`` runs on (None for an unbound expression)."""
    try:
        return str(expr.get_backend().name)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an unbound expression
        return None


def on_duckdb(expr: ir.Expr) -> bool:
    """``expr`` runs on DuckDB (where the builtin functions used here exist)."""
    return _backend(expr) == "duckdb"


@ibis.udf.scalar.builtin(name="strlen")
def _strlen(value) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB's strlen: bytes (O(1); ``length`` counts characters)."""


def text(col: ir.Value) -> ir.Value:
    """``parse.text`` (the null spellings of exports as NULL), testing the spellings only
    on values of at most 4 bytes, as they all are (~40% cheaper on DuckDB)."""
    if not col.type().is_string() or isinstance(col.op(), ops.Literal) or not on_duckdb(col):
        return parse_text(col)
    spelled = functools.reduce(operator.or_, [col == token for token in NULL_TOKENS])
    return ibis.cases(((_strlen(col) <= 4) & spelled, ibis.null("string")), else_=col)


#: Fast decimal parse: a value decimal(18, 12) reads (<= 6 integer digits) is one that the
#: exact decimal(38, 18) parse of ``try_parse_failed`` reads too, ~40x faster.
_FAST_DECIMAL = "decimal(18, 12)"


def parse_failed(col: ir.Value, kind: focus.Kind) -> ir.Value:
    """``try_parse_failed`` (True where ``parse(col, kind)`` cannot convert), the same
    answer with the cheap decimal parse tried before the exact one."""
    if kind != "decimal" or not col.type().is_string():
        return try_parse_failed(col, kind)
    s = text(col)
    ok = ibis.cases((s.try_cast(_FAST_DECIMAL).notnull(), True),
                    else_=s.try_cast(SOURCE_TOTAL_TYPE).notnull())
    return s.notnull() & ~ok


def lenient(col: ir.Value, kind: focus.Kind, *, counting: bool = False,
            failed: ir.Value | None = None) -> ir.Value:
    """``parse`` that yields NULL instead of failing on a value that does not parse
    (``failed``: ``parse_failed(col, kind)`` when the caller has it as a column).

    ``counting``: for the table the row rules are counted on, a numeric quantity column
    keeps its own type (a decimal(38, 16) to float64 cast costs seconds per column on 5M
    rows; the rules only ask whether a quantity is NULL or negative, which the cast keeps).
    """
    dtype = col.type()
    if kind == "timestamp" and dtype.is_timestamp() and dtype.timezone is not None:
        return _utc_naive(col)  # type: ignore[arg-type]
    if counting and kind == "quantity" and dtype.is_numeric():
        return col
    if kind in ("string", "json"):
        return text(col)
    if not dtype.is_string():
        return parse(col, kind)
    if failed is None:
        failed = parse_failed(col, kind)
    return ibis.cases((failed, ibis.null(focus.SQL_TYPES[kind])),
                      else_=parse(col, kind, spark=_backend(col) == "pyspark"))


def _parsed(column: focus.Column | None, raw: ir.Table, name: str) -> bool:
    """A FOCUS column read from text into another type (it may fail to parse)."""
    return column is not None and column.kind not in ("string", "json") and \
        raw[name].type().is_string()


def checked_table(raw: ir.Table, columns: list[str]) -> ir.Table:
    """The raw file view plus ``__bad__<name>``: the text of a column that is parsed does
    not parse (computed once; the typed column and the type rules both use it)."""
    flags = {BAD + n: parse_failed(raw[n], focus.BY_NAME[n].kind)
             for n in columns if _parsed(focus.BY_NAME.get(n), raw, n)}
    return raw.mutate(**flags) if flags else raw


def file_table(raw: ir.Table, columns: list[str], *, counting: bool = False) -> ir.Table:
    """The validation table of a (checked) raw file view: typed FOCUS columns + their raw
    text (+ the ``__bad__`` flags of ``checked_table``)."""
    cols: list[ir.Value] = []
    for name in columns:
        column = focus.BY_NAME.get(name)
        if column is None:
            cols.append(raw[name])
        else:
            bad = raw[BAD + name] if BAD + name in raw.columns else None
            cols.append(lenient(raw[name], column.kind, counting=counting, failed=bad
                                ).name(name))
            cols.append(raw[name].name(RAW + name))
            if bad is not None:
                cols.append(bad)
    return raw.select(cols)


def read_file(store: Any, path: Path, version: str | None = None) -> Data:
    """A file as validation ``Data``, through the ingest readers' engine views."""
    if not path.is_file():
        raise InputError(f"no such file: {path}", hint="check the path")
    if path.stat().st_size == 0:
        raise FormatError("the file is empty", where=str(path),
                          hint="export the report again; a valid export has a header")
    if fs.is_parquet(path):
        raw = fs.read_parquet(store, [path])
        columns = fs.parquet_columns(path)
    else:
        columns = fs.sniff_header(path)
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise FormatError(f"duplicate column(s) {', '.join(dupes)}", where=f"{path}, "
                              "line 1", hint="every column name must be unique")
        raw = fs.read_csv(store, [path], columns)
    if not set(columns) & set(focus.NAMES):
        raise FormatError("no FOCUS column in the file (is it a native export?)",
                          where=str(path), hint="validate FOCUS files; `cloudledger "
                          "formats` lists the native formats that ingest converts")
    columns = [c for c in columns if c != "x_cl_file"]
    # Views, not tables: the file is scanned once per query (the row rules share one) and
    # nothing is copied. Through a view DuckDB parses each column once per row however many
    # rules use it (an Ibis expression would be inlined at every use).
    name = f"cl_validate_{next(_tables)}"
    checked = _view(store, f"{name}_checked", checked_table(raw, columns))

    @functools.cache
    def numbered() -> ir.Table:  # only for examples: numbering rows is a serial step
        typed = file_table(checked, columns)
        return _view(store, f"{name}_rows", typed, sql=(
            f"SELECT row_number() OVER () AS {ident(ROW)}, * FROM ({store.con.compile(typed)})"),
            schema=ibis.schema({ROW: "int64", **typed.schema()}))

    return Data(_view(store, name, file_table(checked, columns, counting=True)),
                tuple(columns), version or focus.detect_version(columns), "file", str(path),
                (ROW,), numbered=numbered)


def _view(store: Any, name: str, expr: ir.Table, *, sql: str | None = None,
          schema: Any = None) -> ir.Table:
    """A temporary view of ``expr`` (or ``sql`` with ``schema``), as a table whose schema is
    the expression's own (no DESCRIBE round trip: ~0.05 s per wide view)."""
    store.raw(f"CREATE TEMP VIEW {ident(name)} AS {sql or store.con.compile(expr)}")
    return ops.DatabaseTable(name, schema=schema or expr.schema(), source=store.con,
                             namespace=ops.Namespace()).to_expr()


def store_data(store: Any) -> Data:
    t = store.focus
    return Data(t, tuple(t.columns), focus.CANONICAL_VERSION, "store",
                str(store.path or "spark"), (focus.INGEST_COLUMN, "BillingAccountId"))


# ------------------------------------------------------------------------ running rules
