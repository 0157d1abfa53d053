"""``parse.as_double`` (wide decimals to float64 through the 64-bit form where they fit)
and ``parse.text_sql``."""

from __future__ import annotations

import math
from decimal import Decimal

import ibis
import pyarrow as pa

from cloudledger.ingest.parse import as_double

VALUES = ["0", "1", "-1", "0.1", "48.0000000000000001", "99.9999999999999999",
          "-99.9999999999999999", "100", "-100", "100.0000000000000001", "37002.0653",
          "123456789012.3456789012345678", "-9999999999999999999999.9999999999999999",
          "0.0000000000000001", "12.3456789012345678"]


def test_as_double_matches_the_decimal_on_both_sides_of_the_64_bit_bound() -> None:
    con = ibis.duckdb.connect()
    values = [Decimal(v) for v in VALUES] + [None]
    t = ibis.memtable(pa.table({"q": pa.array(values, pa.decimal128(38, 16))}))
    got = con.to_pyarrow(t.select(d=as_double(t.q))).column("d").to_pylist()
    assert got[-1] is None
    for v, d in zip(values[:-1], got[:-1], strict=True):
        assert d is not None
        exact = float(v)
        if abs(v) < 100:  # the 64-bit route: the nearest double
            assert d == exact, v
        else:  # DuckDB's own 128-bit conversion: within an ulp
            assert abs(d - exact) <= math.ulp(exact), v


def test_as_double_leaves_narrow_and_float_columns_to_a_plain_cast() -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"a": pa.array([Decimal("1.25")], pa.decimal128(10, 2)),
                                "b": pa.array([2.5], pa.float64()),
                                "c": pa.array([Decimal("7")], pa.decimal128(38, 0))}))
    row = con.to_pyarrow(t.select(a=as_double(t.a), b=as_double(t.b), c=as_double(t.c)))
    assert row.to_pylist() == [{"a": 1.25, "b": 2.5, "c": 7.0}]


def test_text_sql_is_text() -> None:
    """The SQL form of the null spellings (wide Parquet views) reads every value as text()."""
    from cloudledger.engine import ident
    from cloudledger.ingest.parse import NULL_TOKENS, text, text_sql

    values = [*NULL_TOKENS, " ", "NULLS", "none", "\\n", "a", "null ", "", None, "1.5"]
    con = ibis.duckdb.connect()
    t = ibis.memtable(pa.table({"s": pa.array(values, pa.string())}))
    via_ibis = con.to_pyarrow(t.select(v=text(t.s))).column("v").to_pylist()
    con.con.register("vals", pa.table({"s": pa.array(values, pa.string())}))
    via_sql = [r[0] for r in con.con.execute(
        f"SELECT {text_sql(ident('s'))} FROM vals").fetchall()]
    assert via_sql == via_ibis
    assert via_sql[:len(NULL_TOKENS)] == [None] * len(NULL_TOKENS)
    assert via_sql[len(NULL_TOKENS):len(NULL_TOKENS) + 6] == [" ", "NULLS", "none", "\\n", "a",
                                                              "null "]
