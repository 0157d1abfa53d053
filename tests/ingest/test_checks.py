"""The FOCUS row checks that do not stop a load: date order, warnings, --allow-bad-rows.

Files are built from the shared FOCUS sample; expected values are computed from the file
itself (DuckDB over the text), never from cloudledger."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import FormatError, InputError
from cloudledger.ingest import ingest
from cloudledger.store import Store

SAMPLE = "focus/focus_sample_1.0.csv"


@pytest.fixture(scope="module")
def rows(shared_data: Path) -> list[list[str]]:
    with (shared_data / SAMPLE).open(newline="") as f:
        return list(csv.reader(f))


def col(rows: list[list[str]], name: str) -> int:
    return rows[0].index(name)


def write(path: Path, rows: list[list[str]], newline: str = "\n") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    path.write_text(buf.getvalue())
    return path


def billed(store: Store) -> Decimal:
    return Decimal(store.execute(store.focus.BilledCost.sum()).as_py())


def text_sum(rows: list[list[str]], column: str = "BilledCost") -> Decimal:
    i = col(rows, column)
    return sum((Decimal(r[i]) for r in rows[1:] if r[i] not in ("", "NULL")), Decimal(0))


def slash(ts: str, day_first: bool) -> str:
    date, _, time = ts.partition(" ")
    y, m, d = date.split("-")
    return (f"{d}/{m}/{y}" if day_first else f"{m}/{d}/{y}") + (f" {time}" if time else "")


TIMES = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


def early_days(rows: list[list[str]]) -> list[list[str]]:
    """Rows whose charge days are all <= 12: every slash date of them is ambiguous."""
    keep = [r for r in rows[1:] if all(int(r[col(rows, c)][8:10]) <= 12
                                       for c in ("ChargePeriodStart", "ChargePeriodEnd"))]
    assert len(keep) > 100
    return [rows[0], *keep]


def times(store: Store) -> list[tuple]:
    f = store.focus
    return sorted(tuple(r.values()) for r in store.execute(
        f.select("x_Id", *TIMES)).to_pylist())


# ------------------------------------------------------------------------- dates (item 7)
def test_day_first_dates_with_days_up_to_12_load_as_day_first(
        rows: list[list[str]], tmp_path: Path) -> None:
    """dd/mm/yyyy with every day <= 12: the billing periods (1st of a month only when read
    day first) decide, with a warning; the loaded dates equal the ISO file's."""
    iso = early_days(rows)
    dmy = [list(r) for r in iso]
    for r in dmy[1:]:
        for c in TIMES:
            r[col(iso, c)] = slash(r[col(iso, c)], day_first=True)
    a, b = Store(":memory:"), Store(":memory:")
    ingest(a, [write(tmp_path / "iso.csv", iso)])
    [report] = ingest(b, [write(tmp_path / "dmy.csv", dmy)])
    assert times(b) == times(a)
    assert any("day first" in w for w in report.warnings)
    assert billed(b) == billed(a) == text_sum(iso)


def test_ambiguous_dates_load_as_the_format_named(rows: list[list[str]],
                                                  tmp_path: Path) -> None:
    iso = early_days(rows)
    dmy = [list(r) for r in iso]
    for r in dmy[1:]:
        for c in ("ChargePeriodStart", "ChargePeriodEnd"):  # billing periods stay ISO
            r[col(iso, c)] = slash(r[col(iso, c)], day_first=True)
    path = write(tmp_path / "dmy.csv", dmy)
    with pytest.raises(FormatError, match="ambiguous"):
        ingest(Store(":memory:"), [path])
    a, b = Store(":memory:"), Store(":memory:")
    ingest(a, [write(tmp_path / "iso.csv", iso)])
    ingest(b, [path], date_format="DMY")
    assert times(b) == times(a)
    c = Store(":memory:")
    ingest(c, [path], date_format="%d/%m/%Y %H:%M:%S")
    assert times(c) == times(a)
    # naming the wrong order loads what was asked for, and says the dates look wrong
    d = Store(":memory:")
    [report] = ingest(d, [path], date_format="MDY")
    assert times(d) != times(a)
    assert any("outside their billing period" in w for w in report.warnings)


def test_month_first_proven_by_a_day_over_12(rows: list[list[str]], tmp_path: Path) -> None:
    mdy = [list(r) for r in rows[:200]]
    for r in mdy[1:]:
        for c in TIMES:
            r[col(mdy, c)] = slash(r[col(mdy, c)], day_first=False)
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "mdy.csv", mdy)])
    assert report.rows == 199
    assert not any("day first" in w or "month first" in w for w in report.warnings)
    first = s.execute(s.focus.select("BillingPeriodStart").limit(1)).to_pylist()[0]
    assert first["BillingPeriodStart"].isoformat() == "2024-09-01T00:00:00"


def test_bad_date_format_value_is_a_usage_error(shared_data: Path) -> None:
    with pytest.raises(InputError, match="--date-format"):
        ingest(Store(":memory:"), [shared_data / SAMPLE], date_format="sometimes")


# ------------------------------------------------------------------------- warnings (item 8)
def test_lower_case_currency_is_normalized_and_reconciles(rows: list[list[str]],
                                                          tmp_path: Path) -> None:
    data = [list(r) for r in rows]
    for r in data[1:400]:
        r[col(rows, "BillingCurrency")] = "usd"
    data[500][col(rows, "BillingCurrency")] = " Usd "
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "usd.csv", data)])
    assert set(s.execute(s.focus.BillingCurrency).to_pylist()) == {"USD"}
    assert [r.currency for r in report.reconciliation] == ["USD"] * len(report.reconciliation)
    assert all(r.ok for r in report.reconciliation)
    assert billed(s) == text_sum(rows)
    assert any("400 BillingCurrency value(s)" in w and "'USD'" in w for w in report.warnings)


def test_several_currencies_in_one_account_and_period_warn(rows: list[list[str]],
                                                           tmp_path: Path) -> None:
    data = [list(r) for r in rows]
    account = data[1][col(rows, "BillingAccountId")]
    for r in data[1:6]:
        r[col(rows, "BillingCurrency")] = "EUR"
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "eur.csv", data)])
    assert all(r.ok for r in report.reconciliation)
    assert {r.currency for r in report.reconciliation} == {"EUR", "USD"}
    assert any(f"billing account {account}" in w and "EUR, USD" in w for w in report.warnings)


def test_exact_duplicate_rows_warn(rows: list[list[str]], tmp_path: Path) -> None:
    data = [*rows, rows[3], rows[3], rows[7]]
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "dups.csv", data)])
    assert report.rows == 1003
    assert any("3 row(s) are exact duplicates" in w for w in report.warnings)


def test_tags_that_are_not_json_warn(rows: list[list[str]], tmp_path: Path) -> None:
    data = [list(r) for r in rows]
    data[2][col(rows, "Tags")] = "env=prod;team=web"
    data[3][col(rows, "Tags")] = '["a", "b"]'
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "tags.csv", data)])
    assert any("2 Tags value(s) are not a JSON object" in w for w in report.warnings)


def test_charge_outside_billing_period_warns(rows: list[list[str]], tmp_path: Path) -> None:
    data = [list(r) for r in rows]
    for r in data[1:4]:
        r[col(rows, "ChargePeriodStart")] = "2024-08-15 10:00:00"
    s = Store(":memory:")
    [report] = ingest(s, [write(tmp_path / "outside.csv", data)])
    # the sample itself has one Oracle row a day before its billing period
    assert any("4 row(s) have a ChargePeriodStart outside their billing period" in w
               for w in report.warnings)


def test_warnings_are_counted_in_json_output(rows: list[list[str]], tmp_path: Path) -> None:
    data = [list(r) for r in rows]
    data[1][col(rows, "BillingCurrency")] = "usd"
    path = write(tmp_path / "usd.csv", data)
    result = CliRunner().invoke(app, ["ingest", "--store", str(tmp_path / "s.duckdb"),
                                      "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    (load,) = json.loads(result.stdout)
    assert len(load["warnings"]) == 3  # Id column, usd, outside period


# ------------------------------------------------------------------------- bad rows (item 9)
def _bad_sample(rows: list[list[str]]) -> tuple[list[list[str]], dict[int, str]]:
    """The sample with bad rows; {physical line: reason fragment}."""
    data = [list(r) for r in rows]
    data[4][col(rows, "BilledCost")] = "twelve"               # line 5
    data[9] = data[9][:10]                                    # line 10: 10 fields
    data[20][col(rows, "ChargePeriodStart")] = "yesterday"    # line 21
    data[30][col(rows, "ChargeDescription")] = "two\nlines"   # lines 31-32 (fine)
    data[40][col(rows, "BilledCost")] = ""                    # line 42 (after the break)
    data[50][col(rows, "EffectiveCost")] = "1,234.56"         # line 52
    return data, {5: "BilledCost", 10: "10 fields", 21: "ChargePeriodStart", 42: "empty",
                  52: "EffectiveCost"}


def _good_sum(rows: list[list[str]], bad_rows: set[int]) -> Decimal:
    i = col(rows, "BilledCost")
    return sum((Decimal(r[i]) for n, r in enumerate(rows) if n and n not in bad_rows),
               Decimal(0))


@pytest.mark.parametrize("compress", [False, True])
def test_allow_bad_rows_sets_focus_rows_aside(rows: list[list[str]], tmp_path: Path,
                                              compress: bool) -> None:
    data, expected = _bad_sample(rows)
    path = write(tmp_path / "bad.csv", data)
    if compress:
        gz = tmp_path / "bad.csv.gz"
        gz.write_bytes(gzip.compress(path.read_bytes()))
        path = gz
    with pytest.raises(InputError) as e:
        ingest(Store(":memory:"), [path])
    assert "line 5, column BilledCost" in str(e.value)
    s = Store(":memory:")
    [report] = ingest(s, [path], allow_bad_rows=True)
    assert report.rows == 995 and report.rows_quarantined == 5
    assert all(r.ok for r in report.reconciliation)
    assert billed(s) == _good_sum(data, {4, 9, 20, 40, 50})
    errors = s.execute(s.table("ingest_errors").order_by("line")).to_pylist()
    assert [e["line"] for e in errors] == sorted(expected)
    for e in errors:
        assert expected[e["line"]] in e["reason"] and e["file"] == str(path)
    # the money of a set-aside row is kept in its raw record
    assert "twelve" in errors[0]["raw"] and data[4][col(rows, "ListCost")] in errors[0]["raw"]
    assert data[50][col(rows, "BilledCost")] in errors[-1]["raw"]
    assert any("5 bad row(s) set aside" in w for w in report.warnings)


def test_allow_bad_rows_on_parquet(rows: list[list[str]], tmp_path: Path,
                                   shared_data: Path) -> None:
    out = tmp_path / "bad.parquet"
    target = rows[7][col(rows, "Id")]
    duckdb.sql(f"COPY (SELECT * REPLACE (CASE WHEN Id = '{target}' THEN 'n/a' ELSE BilledCost "
               f"END AS BilledCost) FROM read_csv('{shared_data / SAMPLE}', all_varchar=true)) "
               f"TO '{out}' (FORMAT parquet)")
    s = Store(":memory:")
    [report] = ingest(s, [out], allow_bad_rows=True)
    assert report.rows == 999 and report.rows_quarantined == 1
    [error] = s.execute(s.table("ingest_errors")).to_pylist()
    assert error["line"] == 7 and "BilledCost" in error["reason"] and "n/a" in error["raw"]
    assert billed(s) == _good_sum(rows, {7})


# ------------------------------------------------------------------------- accepted inputs
def test_gzip_named_csv_and_utf8_bom_load(rows: list[list[str]], shared_data: Path,
                                          tmp_path: Path) -> None:
    raw = (shared_data / SAMPLE).read_bytes()
    named = tmp_path / "export.csv"
    named.write_bytes(gzip.compress(raw))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + raw)
    for path in (named, bom):
        s = Store(":memory:")
        [report] = ingest(s, [path])
        assert report.rows == 1000 and billed(s) == text_sum(rows)


def test_native_latin1_names_the_encoding(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "native/azure/finops-toolkit__EA_ActualCost_Small.csv").read_text(
        encoding="utf-8-sig").splitlines(keepends=True)
    text[5] = text[5].replace("Trey Research", "Trey R\u00e9search", 1)
    path = tmp_path / "azure.csv"
    path.write_bytes("".join(text).encode("latin-1"))
    with pytest.raises(FormatError, match="not UTF-8.*Latin-1") as e:
        ingest(Store(":memory:"), [path])
    assert "line 6" in str(e.value)


@pytest.mark.parametrize("native", ["azure/finops-toolkit__EA_ActualCost_Small.csv",
                                    "gcp/koku__tmp_example.csv"])
def test_allow_bad_rows_on_native_csv(native: str, shared_data: Path,
                                      tmp_path: Path) -> None:
    """Azure, GCP and OCI read through files.read_csv: a malformed record is the error
    (with its line), or with --allow-bad-rows set aside while the rest loads, reconciled."""
    lines = (shared_data / "native" / native).read_bytes().splitlines(keepends=True)
    ending = lines[4][len(lines[4].rstrip(b"\r\n")):]
    lines[4] = b",".join(lines[4].split(b",")[:5]) + ending
    path = tmp_path / Path(native).name
    path.write_bytes(b"".join(lines))
    with pytest.raises(InputError, match="line 5"):
        ingest(Store(":memory:"), [path])
    s = Store(":memory:")
    [report] = ingest(s, [path], allow_bad_rows=True)
    assert report.rows_quarantined == 1 and all(r.ok for r in report.reconciliation)
    [error] = s.execute(s.table("ingest_errors")).to_pylist()
    assert error["line"] == 5 and "5 fields" in error["reason"]
    assert error["raw"] == lines[4].rstrip(b"\r\n").decode()
