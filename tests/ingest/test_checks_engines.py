"""The FOCUS row checks give the same outcome on DuckDB and on Spark.

Each case edits a few rows of the FOCUS sample, ingests it into a store that already holds
another account's rows, and asserts on both engines: the same error (file, line, column,
reason) and an unchanged store; with ``allow_bad_rows`` the same ``ingest_errors`` rows
(file, line, reason) and the same loaded rows and totals (known answers computed here).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cloudledger.errors import CloudledgerError, FormatError
from cloudledger.ingest import ingest
from cloudledger.store import Store

SAMPLE = "focus/focus_sample_1.0.csv"
N = 30  # data rows per case file (lines 2..31)


@dataclass
class Case:
    name: str
    #: (line, column, value) edits of the sample's first N data rows
    edits: list[tuple[int, str, str]] = field(default_factory=list)
    #: the error: substrings of the message (None: the file loads)
    error: tuple[str, ...] | None = None
    #: lines set aside with allow_bad_rows, and a reason substring for each
    bad: dict[int, str] = field(default_factory=dict)
    #: the error stands with allow_bad_rows too (a file-level decision)
    always: bool = False
    warning: str | None = None
    slash_dates: bool = False
    #: row 3 (line 3) holds a quoted line break: later rows are one physical line further
    multiline: bool = False
    #: a row (by its line without the quoted line break) given one field too many
    extra_field: int | None = None


def physical(case: Case, line: int) -> int:
    return line + 1 if case.multiline and line > 3 else line


CASES = [
    Case("clean"),
    Case("null_billed_cost", [(5, "BilledCost", "")],
         ("line 5", "column BilledCost", "column BilledCost is empty"),
         {5: "column BilledCost is empty"}),
    # a quoted line break in row 3: the bad rows' physical lines are one further down
    Case("non_numeric_cost", [(7, "BilledCost", "twelve"), (12, "EffectiveCost", "1,234.56")],
         ("line 8", "column BilledCost", "'twelve', not a decimal number"),
         {7: "'twelve', not a decimal number", 12: "'1,234.56', not a decimal number"},
         multiline=True),
    Case("lower_case_currency", [(4, "BillingCurrency", "usd")], warning="normalized"),
    Case("invalid_currency", [(6, "BillingCurrency", "DOLLARS")],
         ("line 6", "column BillingCurrency", "not an ISO 4217 currency code"),
         {6: "not an ISO 4217 currency code"}),
    Case("inverted_billing_period", [(9, "BillingPeriodStart", "2024-10-01 00:00:00"),
                                     (9, "BillingPeriodEnd", "2024-09-01 00:00:00")],
         ("line 9", "column BillingPeriodStart", "is not before BillingPeriodEnd"),
         {9: "is not before BillingPeriodEnd"}),
    Case("unknown_charge_category", [(11, "ChargeCategory", "Refund")],
         ("line 11", "column ChargeCategory", "'Refund', not one of Usage"),
         {11: "'Refund', not one of Usage"}),
    Case("bad_timestamp", [(8, "ChargePeriodStart", "2024-02-30 00:00:00")],
         ("line 8", "column ChargePeriodStart", "not a timestamp"),
         {8: "not a timestamp"}),
    # an extra field: the reader's own reject (Spark's reader says no line; found anyway)
    Case("malformed_record", error=("line 11", "malformed record: 45 fields where the header "
                                    "has 44"), bad={10: "malformed record"}, extra_field=10,
         multiline=True),
    Case("ddmm_ambiguous", [(14, "ChargePeriodStart", "05/09/2024 10:00:00")],
         ("ambiguous dates", "'05/09/2024 10:00:00'", "line 15", "column ChargePeriodStart",
          "--date-format"), always=True, slash_dates=True, multiline=True),
]


def sample(shared_data: Path) -> list[list[str]]:
    with (shared_data / SAMPLE).open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[: N + 1]


def build(tmp: Path, rows: list[list[str]], case: Case) -> Path:
    rows = [list(r) for r in rows]
    header = rows[0]
    if case.slash_dates:  # dates that read the same either way, but for one edited below
        for r in rows[1:]:
            r[header.index("BillingPeriodStart")] = "01/01/2024"
            r[header.index("BillingPeriodEnd")] = "01/01/2025"
            r[header.index("ChargePeriodStart")] = "01/01/2024 10:00:00"
            r[header.index("ChargePeriodEnd")] = "01/01/2024 11:00:00"
    if case.multiline:
        rows[2][header.index("ChargeDescription")] = "two\nlines"
    if case.extra_field:
        rows[case.extra_field - 1].append("extra")
    for line, column, value in case.edits:
        rows[line - 1][header.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp / f"{case.name}.csv"
    path.write_text(buf.getvalue())
    return path


def base_file(tmp: Path, rows: list[list[str]]) -> Path:
    """Another billing account's rows: what must survive a failed ingest."""
    rows = [list(r) for r in rows[:6]]
    i = rows[0].index("BillingAccountId")
    for r in rows[1:]:
        r[i] = "999"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp / "base.csv"
    path.write_text(buf.getvalue())
    return path


def state(store: Store) -> tuple[int, Decimal, Decimal]:
    f = store.focus
    got = store.execute(f.aggregate(n=f.count(), billed=f.BilledCost.sum(),
                                    effective=f.EffectiveCost.sum())).to_pylist()[0]
    return int(got["n"]), Decimal(got["billed"] or 0), Decimal(got["effective"] or 0)


def expected(rows: list[list[str]], skip: set[int]) -> tuple[int, Decimal, Decimal]:
    header = rows[0]
    b, e = header.index("BilledCost"), header.index("EffectiveCost")
    good = [r for line, r in enumerate(rows, start=1) if line > 1 and line not in skip]
    return (len(good), sum((Decimal(r[b]) for r in good), Decimal(0)),
            sum((Decimal(r[e]) for r in good), Decimal(0)))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_checks_on_both_engines(case: Case, engine_store: Store, tmp_path: Path,
                                     shared_data: Path) -> None:
    store = engine_store
    rows = sample(shared_data)
    base = base_file(tmp_path, rows)
    ingest(store, [base])
    before = state(store)
    path = build(tmp_path, rows, case)
    with path.open(newline="") as f:
        edited = list(csv.reader(f))

    if case.error is None:
        [report] = ingest(store, [path])
        n, billed, effective = expected(edited, set())
        assert report.rows == n
        assert state(store) == (before[0] + n, before[1] + billed, before[2] + effective)
        if case.warning:
            assert any(case.warning in w for w in report.warnings), report.warnings
        return

    with pytest.raises(CloudledgerError) as info:
        ingest(store, [path])
    message = str(info.value)
    assert str(path) in message, message
    for part in case.error:
        assert part in message, message
    assert state(store) == before
    if case.always:
        with pytest.raises(CloudledgerError) as again:
            ingest(store, [path], allow_bad_rows=True)
        assert str(again.value) == message
        assert state(store) == before
        return

    [report] = ingest(store, [path], allow_bad_rows=True)
    errors = store.execute(store.table("ingest_errors").order_by("line")).to_pylist()
    assert [(e["file"], e["line"]) for e in errors] == [(str(path), physical(case, line))
                                                       for line in sorted(case.bad)]
    for e, line in zip(errors, sorted(case.bad), strict=True):
        assert case.bad[line] in e["reason"], e
        assert next(csv.reader([e["raw"]])) == edited[line - 1], e
    n, billed, effective = expected(edited, set(case.bad))
    assert report.rows == n
    assert report.rows_quarantined == len(case.bad)
    assert state(store) == (before[0] + n, before[1] + billed, before[2] + effective)


def compress(data: bytes, codec: str | None) -> bytes:
    if codec == "gzip":
        return gzip.compress(data)
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    return data


#: (case, compression of the content, file name ending): the name does not say it
COMPRESSED = [("gzip_named_csv", "gzip", ".csv"), ("zstd_named_csv", "zstd", ".csv"),
              ("plain_named_gz", None, ".csv.gz")]


@pytest.mark.parametrize(("name", "codec", "ending"), COMPRESSED,
                         ids=[c[0] for c in COMPRESSED])
def test_compression_from_first_bytes(name: str, codec: str | None, ending: str,
                                      engine_store: Store, tmp_path: Path,
                                      shared_data: Path) -> None:
    """A file is decompressed as its first bytes say, whatever its name, on both engines:
    the error's line, the row set aside and the loaded totals are those of the plain file."""
    store = engine_store
    rows = sample(shared_data)
    case = Case(name, [(5, "BilledCost", "twelve")], multiline=True)
    plain = build(tmp_path, rows, case)
    with plain.open(newline="") as f:
        edited = list(csv.reader(f))
    path = tmp_path / f"{name}_file{ending}"
    path.write_bytes(compress(plain.read_bytes(), codec))
    plain.unlink()

    line = physical(case, 5)  # one line further down: row 3 holds a quoted line break
    with pytest.raises(CloudledgerError) as info:
        ingest(store, [path])
    assert f"{path}, line {line}, column BilledCost" in str(info.value), str(info.value)
    [report] = ingest(store, [path], allow_bad_rows=True)
    errors = store.execute(store.table("ingest_errors")).to_pylist()
    assert [(e["file"], e["line"]) for e in errors] == [(str(path), line)]
    assert next(csv.reader([errors[0]["raw"]])) == edited[4]
    n, billed, effective = expected(edited, {5})
    assert report.rows == n
    assert state(store) == (n, billed, effective)


def test_spark_path_names_the_compression(tmp_path: Path) -> None:
    """Spark decompresses by file name: a local session reads a misnamed file through a
    link named for its content; a cluster session gets an error saying how to rename it."""
    from cloudledger.ingest.spark_files import spark_path

    def session(master: str) -> Any:
        return SimpleNamespace(conf=SimpleNamespace(get=lambda key, default="": master))

    misnamed = tmp_path / "costs.csv"
    misnamed.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    named = tmp_path / "costs2.csv.gz"
    named.write_bytes(misnamed.read_bytes())
    link = Path(spark_path(session("local[2]"), misnamed))
    assert link.name == "costs.csv.gz" and link.resolve() == misnamed.resolve()
    assert spark_path(session("local[2]"), named) == str(named)
    with pytest.raises(FormatError) as info:
        spark_path(session("spark://cluster:7077"), misnamed)
    assert "gzip-compressed, but its name does not end in .gz" in str(info.value)
    assert "rename it to 'costs.csv.gz'" in str(info.value)
    plain = tmp_path / "plain.csv.gz"
    plain.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(FormatError, match="rename it to 'plain.csv'"):
        spark_path(session("yarn"), plain)


#: date format -> (BillingPeriodStart, BillingPeriodEnd, ChargePeriodStart,
#: ChargePeriodEnd) spelling of a month whose two-digit year is ``{y}``
TWO_DIGIT = {None: ("9/1/{y}", "10/1/{y}", "9/4/{y}", "9/5/{y}"),
             "MDY": ("9/1/{y}", "10/1/{y}", "9/4/{y}", "9/5/{y}"),
             "%d.%m.%y %H:%M": ("01.09.{y} 00:00", "01.10.{y} 00:00", "04.09.{y} 10:00",
                                "04.09.{y} 11:00")}


@pytest.mark.parametrize("date_format", list(TWO_DIGIT), ids=["inferred", "MDY", "pattern"])
def test_two_digit_years(date_format: str | None, engine_store: Store, tmp_path: Path,
                         shared_data: Path) -> None:
    """A two-digit year reads as strptime (and DuckDB) read %y on both engines: 69-99 in
    the 1900s, 00-68 in the 2000s (Spark's own ``yy`` would read all of them as 20xx)."""
    store = engine_store
    rows = [list(r) for r in sample(shared_data)]
    header = rows[0]
    columns = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
               "ChargePeriodEnd")
    years = {"99": 1999, "69": 1969, "68": 2068, "00": 2000}
    for i, r in enumerate(rows[1:]):
        y = list(years)[i % len(years)]
        for column, spelling in zip(columns, TWO_DIGIT[date_format], strict=True):
            r[header.index(column)] = spelling.format(y=y)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path = tmp_path / "two_digit_years.csv"
    path.write_text(buf.getvalue())

    [report] = ingest(store, [path], date_format=date_format)
    assert report.rows == N
    f = store.focus
    got = store.execute(f.select("BillingPeriodStart", "ChargePeriodStart").distinct()
                        .order_by("BillingPeriodStart")).to_pylist()
    hour = 10 if date_format and "%H" in date_format else 0
    assert [(g["BillingPeriodStart"].replace(tzinfo=None),
             g["ChargePeriodStart"].replace(tzinfo=None)) for g in got] == [
        (dt.datetime(y, 9, 1), dt.datetime(y, 9, 4, hour)) for y in sorted(years.values())]


@pytest.mark.parametrize("spec", ["MDY", "%d.%m.%y"])
def test_strict_timestamp_reads_two_digit_years_as_strptime(spec: str,
                                                            engine_store: Store) -> None:
    """``parse.timestamp`` (the strict parse of the native sources): 99 is 1999 and 25 is
    2025 on both engines, as strptime's %y reads them."""
    import ibis
    import pyarrow as pa

    from cloudledger.ingest.parse import date_spec, timestamp

    values = ["12/31/99", "01/01/25", "02/29/72"] if spec == "MDY" else \
        ["31.12.99", "01.01.25", "29.02.72"]
    t = ibis.memtable(pa.table({"s": values}))
    got = engine_store.execute(t.select(v=timestamp(t.s, date_spec(spec)))).column("v")
    assert [v.replace(tzinfo=None) for v in got.to_pylist()] == [
        dt.datetime(1999, 12, 31), dt.datetime(2025, 1, 1), dt.datetime(1972, 2, 29)]
