"""Bad input, one class per case: the real CLI against a store that already holds data.

Every case is built in tmp_path from the real shared files, runs ``cloudledger ingest`` (or
the command named by the case), and asserts exit code 2, a message that names the file (and
the line / column where there is one), no traceback, and a store file byte-identical to the
one before (sha256 of the closed DuckDB file; opening and closing a store does not change its
bytes, which ``test_hash_is_stable_across_a_clean_open_and_close`` checks).
"""

from __future__ import annotations

import csv
import gc
import gzip
import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.store import Store

SAMPLE = "focus/focus_sample_1.0.csv"
AZURE = "native/azure/finops-toolkit__EA_ActualCost_Small.csv"
CUR = "native/aws-cur/koku__2023-06-01.csv"

runner = CliRunner()


# ----------------------------------------------------------------------------- helpers
@dataclass
class Sample:
    """The FOCUS sample as text rows (index 0 = header = line 1; row i = line i + 1)."""

    path: Path
    rows: list[list[str]]

    @property
    def header(self) -> list[str]:
        return self.rows[0]

    def col(self, name: str) -> int:
        return self.header.index(name)

    def copy(self) -> list[list[str]]:
        return [list(r) for r in self.rows]

    def edited(self, line: int, column: str, value: str, rows: list[list[str]] | None = None
               ) -> list[list[str]]:
        out = rows if rows is not None else self.copy()
        out[line - 1][self.col(column)] = value
        return out


def csv_text(rows: list[list[str]], *, delimiter: str = ",", newline: str = "\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerows(rows)
    return buf.getvalue()


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def sha256(path: Path) -> str:
    gc.collect()  # the CLI's store object is closed when collected
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Case:
    name: str
    build: Callable[[Path, Sample, Path], Path | list[str]]
    expect: tuple[str, ...]
    args: tuple[str, ...] = ()
    #: the command line is the builder's (a list) instead of ``ingest PATH``
    command: bool = False
    culprit: str | None = None  # file name the message must name (default: the built path)
    skip: str | None = None
    marks: list[str] = field(default_factory=list)


CASES: dict[str, Case] = {}


def case(name: str, *expect: str, args: tuple[str, ...] = (), command: bool = False,
         culprit: str | None = None, skip: str | None = None
         ) -> Callable[[Callable[..., Path | list[str]]], Callable[..., Path | list[str]]]:
    def wrap(fn: Callable[..., Path | list[str]]) -> Callable[..., Path | list[str]]:
        assert name not in CASES
        CASES[name] = Case(name, fn, expect, args, command, culprit, skip)
        return fn
    return wrap


def rows_file(tmp: Path, name: str, rows: list[list[str]], **kw: str) -> Path:
    return write(tmp / name, csv_text(rows, **kw))


# ----------------------------------------------------------------------------- file level
@case("empty_file", "empty")
def _empty(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "empty.csv", "")


@case("header_only", "no data rows")
def _header_only(tmp: Path, s: Sample, data: Path) -> Path:
    return rows_file(tmp, "header_only.csv", s.rows[:1])


@case("blank_lines_only", "empty")
def _blank(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "blank.csv", "\n\n   \n\n")


@case("binary_file", "binary")
def _binary(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "export.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))


@case("semicolon_delimiter", "';'", "line 1")
def _semicolon(tmp: Path, s: Sample, data: Path) -> Path:
    return rows_file(tmp, "semicolon.csv", s.rows[:50], delimiter=";")


@case("tab_delimiter", "tab", "line 1")
def _tab(tmp: Path, s: Sample, data: Path) -> Path:
    return rows_file(tmp, "tabs.csv", s.rows[:50], delimiter="\t")


@case("utf16_le_bom", "UTF-16")
def _utf16(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "utf16.csv", csv_text(s.rows[:50]).encode("utf-16"))


@case("utf16_be_no_bom", "UTF-16")
def _utf16be(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "utf16be.csv", csv_text(s.rows[:50]).encode("utf-16-be"))


@case("double_utf8_bom", "byte-order mark", "line 1")
def _double_bom(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "bom2.csv", b"\xef\xbb\xbf\xef\xbb\xbf" + csv_text(s.rows[:50]).encode())


@case("latin1_bytes", "not UTF-8", "Latin-1", "line 901")
def _latin1(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.edited(901, "ChargeDescription", "Caf\u00e9 au lait per request")
    return write(tmp / "latin1.csv", csv_text(rows).encode("latin-1"))


@case("mixed_line_endings", "line ending", "line 301")
def _mixed(tmp: Path, s: Sample, data: Path) -> Path:
    head = csv_text(s.rows[:300], newline="\r\n")
    return write(tmp / "mixed.csv", head + csv_text(s.rows[300:], newline="\n"))


@case("truncated_gzip", "truncated")
def _trunc_gz(tmp: Path, s: Sample, data: Path) -> Path:
    blob = gzip.compress((data / SAMPLE).read_bytes())
    return write(tmp / "sample.csv.gz", blob[: len(blob) // 2])


@case("truncated_zstd", "truncated")
def _trunc_zst(tmp: Path, s: Sample, data: Path) -> Path:
    import zstandard

    blob = zstandard.ZstdCompressor().compress((data / SAMPLE).read_bytes())
    return write(tmp / "sample.csv.zst", blob[: len(blob) // 2])


def _parquet(tmp: Path, data: Path, name: str = "sample.parquet", select: str = "*") -> Path:
    out = tmp / name
    duckdb.sql(f"COPY (SELECT {select} FROM read_csv('{data / SAMPLE}', all_varchar=true)) "
               f"TO '{out}' (FORMAT parquet)")
    return out


@case("truncated_parquet", "Parquet", "truncated")
def _trunc_parquet(tmp: Path, s: Sample, data: Path) -> Path:
    full = _parquet(tmp, data, "full.parquet").read_bytes()
    return write(tmp / "sample.parquet", full[: len(full) // 2])


@case("corrupt_parquet_footer", "Parquet", "corrupt")
def _corrupt_footer(tmp: Path, s: Sample, data: Path) -> Path:
    blob = bytearray(_parquet(tmp, data, "full.parquet").read_bytes())
    blob[-300:-8] = b"\x07" * 292
    return write(tmp / "sample.parquet", bytes(blob))


@case("one_100mb_line", "line 1", "longer than")
def _long_line(tmp: Path, s: Sample, data: Path) -> Path:
    path = tmp / "oneline.csv"
    with path.open("wb") as f:
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
    return path


@case("broken_symlink_in_directory", "broken symbolic link", culprit="gone.csv")
def _broken_link(tmp: Path, s: Sample, data: Path) -> Path:
    folder = tmp / "exports"
    folder.mkdir()
    shutil.copy(data / SAMPLE, folder / "good.csv")
    (folder / "gone.csv").symlink_to(tmp / "does-not-exist.csv")
    return folder


@case("fifo_in_glob", "not a regular file", culprit="pipe.csv")
def _fifo(tmp: Path, s: Sample, data: Path) -> list[str]:
    folder = tmp / "exports"
    folder.mkdir()
    shutil.copy(data / SAMPLE, folder / "good.csv")
    os.mkfifo(folder / "pipe.csv")
    return ["ingest", str(folder / "*.csv")]


@case("unreadable_file_in_directory", "permission denied", culprit="secret.csv",
      skip="root reads chmod 000 files" if hasattr(os, "geteuid") and os.geteuid() == 0
      else None)
def _unreadable(tmp: Path, s: Sample, data: Path) -> Path:
    folder = tmp / "exports"
    folder.mkdir()
    shutil.copy(data / SAMPLE, folder / "secret.csv")
    (folder / "secret.csv").chmod(0)
    return folder


@case("source_oci_on_azure_file", "oci", "cost/myCost", args=("--source", "oci"))
def _oci_on_azure(tmp: Path, s: Sample, data: Path) -> Path:
    return Path(shutil.copy(data / AZURE, tmp / "azure.csv"))


@case("source_focus_on_cur_file", "missing mandatory column", args=("--source", "focus"))
def _focus_on_cur(tmp: Path, s: Sample, data: Path) -> Path:
    return Path(shutil.copy(data / CUR, tmp / "cur.csv"))


@case("zip_with_two_members", "2 files")
def _zip2(tmp: Path, s: Sample, data: Path) -> Path:
    path = tmp / "export.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.csv", csv_text(s.rows[:10]))
        z.writestr("b.csv", csv_text(s.rows[:1] + s.rows[10:20]))
    return path


@case("json_api_error_reply", "error", "line 1")
def _api_error(tmp: Path, s: Sample, data: Path) -> Path:
    reply = {"error": {"code": "RBACAccessDenied", "message": "The client does not have "
                       "authorization to perform action Microsoft.CostManagement/exports"}}
    return write(tmp / "costs.json", json.dumps(reply))


@case("text_api_error_reply_named_json", "not valid JSON", "line 1")
def _api_error_text(tmp: Path, s: Sample, data: Path) -> Path:
    src = data / "native/opencost/finfocus-plugin-opencost__error-bad-window.json"
    return Path(shutil.copy(src, tmp / "allocation.json"))


@case("not_a_billing_export", "not a billing export")
def _not_focus(tmp: Path, s: Sample, data: Path) -> Path:
    return write(tmp / "people.csv", "name,amount\nfoo,1\n")


@case("pre_1_0_focus_file", "pre-1.0")
def _pre10(tmp: Path, s: Sample, data: Path) -> Path:
    src = data / "focus/validator-fixtures/all_pass_0.5.csv"
    return Path(shutil.copy(src, tmp / "old.csv"))


@case("empty_directory", "no files")
def _empty_dir(tmp: Path, s: Sample, data: Path) -> Path:
    (tmp / "nothing").mkdir()
    return tmp / "nothing"


@case("no_such_path", "no such file")
def _missing(tmp: Path, s: Sample, data: Path) -> Path:
    return tmp / "missing.csv"


@case("headers_differ_in_one_load", "share a header", culprit="b.csv")
def _two_headers(tmp: Path, s: Sample, data: Path) -> Path:
    folder = tmp / "parts"
    folder.mkdir()
    rows_file(folder, "a.csv", s.rows[:20])
    rows_file(folder, "b.csv", [r[:-1] for r in s.rows[:1] + s.rows[20:40]])
    return folder


@case("non_utf8_config_file", "not UTF-8", "line 3", command=True, culprit="cloudledger.yaml")
def _config(tmp: Path, s: Sample, data: Path) -> list[str]:
    cfg = write(tmp / "cloudledger.yaml", "tags:\n  required: [team]\n# caf\xe9 owners\n"
                .encode("latin-1"))
    return ["tags", "--config", str(cfg)]


# ----------------------------------------------------------------------------- header
@case("missing_mandatory_column", "missing mandatory column", "BillingCurrency")
def _missing_col(tmp: Path, s: Sample, data: Path) -> Path:
    i = s.col("BillingCurrency")
    return rows_file(tmp, "nocur.csv", [r[:i] + r[i + 1:] for r in s.rows[:40]])


@case("misspelt_column_close_match", "BilledCost", "'BiledCost'")
def _misspelt(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:40]
    rows[0][s.col("BilledCost")] = "BiledCost"
    return rows_file(tmp, "typo.csv", rows)


@case("duplicate_header_name", "duplicate", "EffectiveCost")
def _dup_header(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:40]
    rows[0][s.col("ListCost")] = "EffectiveCost"
    return rows_file(tmp, "dupcol.csv", rows)


@case("empty_column_name", "no name", "column 45")
def _empty_name(tmp: Path, s: Sample, data: Path) -> Path:
    return rows_file(tmp, "trailing.csv", [r + [""] for r in s.rows[:40]])


# ----------------------------------------------------------------------------- records
@case("short_record", "line 12")
def _short(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:40]
    rows[11] = rows[11][:10]
    return rows_file(tmp, "short.csv", rows)


@case("long_record", "line 17")
def _long(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:40]
    rows[16] = rows[16] + ["extra", "fields"]
    return rows_file(tmp, "long.csv", rows)


@case("unterminated_quote", "line 23")
def _quote(tmp: Path, s: Sample, data: Path) -> Path:
    text = csv_text(s.rows[:22]) + '"eu-west-1a,' + csv_text(s.rows[22:40])[len("NULL,"):]
    return write(tmp / "quote.csv", text)


@case("header_repeated_mid_file", "line 501", "column BilledCost")
def _repeated_header(tmp: Path, s: Sample, data: Path) -> Path:
    return rows_file(tmp, "concatenated.csv", s.rows[:500] + s.rows[:1] + s.rows[500:])


def _value_case(name: str, column: str, value: str, line: int = 7, *extra: str,
                args: tuple[str, ...] = ()) -> None:
    def build(tmp: Path, s: Sample, data: Path) -> Path:
        return rows_file(tmp, f"{name}.csv", s.edited(line, column, value))
    case(name, f"line {line}", f"column {column}", *extra, args=args)(build)


_value_case("decimal_word", "BilledCost", "twelve")
_value_case("decimal_nan", "BilledCost", "NaN")
_value_case("decimal_infinity", "EffectiveCost", "Infinity")
_value_case("decimal_thousands_separator", "BilledCost", "1,234.56")
_value_case("decimal_currency_symbol", "BilledCost", "$12.50")
_value_case("decimal_comma", "ListCost", "12,50")
_value_case("decimal_accounting_negative", "BilledCost", "(12.50)")
_value_case("decimal_trailing_minus", "BilledCost", "12.50-")
_value_case("decimal_overflow", "BilledCost", "1e40")
_value_case("quantity_word", "PricingQuantity", "two")
_value_case("timestamp_bad_offset", "ChargePeriodStart", "2024-09-18T22:00:00+25:00")
_value_case("timestamp_impossible_date", "ChargePeriodEnd", "2024-02-30 00:00:00")
_value_case("timestamp_word", "ChargePeriodStart", "yesterday")
_value_case("null_billed_cost", "BilledCost", "NULL", 9)
_value_case("empty_billing_account", "BillingAccountId", "", 9)
_value_case("currency_not_iso", "BillingCurrency", "US Dollar", 11)
_value_case("unknown_charge_category", "ChargeCategory", "Usage Fee", 13)
_value_case("billing_period_start_after_end", "BillingPeriodStart", "2024-10-15 00:00:00", 15)
_value_case("date_not_in_named_format", "ChargePeriodStart", "09/18/2024 22:00:00", 5,
            args=("--date-format", "%d/%m/%Y %H:%M:%S"))


def _slash(ts: str, day_first: bool) -> str:
    """'2024-09-18 22:00:00' -> '18/09/2024 22:00:00' (day first) or '09/18/2024 ...'."""
    date, _, time = ts.partition(" ")
    y, m, d = date.split("-")
    return (f"{d}/{m}/{y}" if day_first else f"{m}/{d}/{y}") + (f" {time}" if time else "")


@case("ambiguous_day_month_dates", "ambiguous", "--date-format", "line 2",
      "column ChargePeriod")
def _ambiguous(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:200]
    keep = [rows[0]] + [r for r in rows[1:]
                        if int(r[s.col("ChargePeriodStart")][8:10]) <= 12
                        and int(r[s.col("ChargePeriodEnd")][8:10]) <= 12]
    for r in keep[1:]:
        for c in ("ChargePeriodStart", "ChargePeriodEnd"):
            r[s.col(c)] = _slash(r[s.col(c)], day_first=True)
    assert len(keep) > 20
    return rows_file(tmp, "ambiguous.csv", keep)


@case("mixed_day_first_and_month_first", "both", "line 3", "line 2")
def _mixed_dates(tmp: Path, s: Sample, data: Path) -> Path:
    rows = s.copy()[:40]
    rows[1][s.col("ChargePeriodStart")] = "18/09/2024 22:00:00"
    rows[2][s.col("ChargePeriodStart")] = "09/18/2024 22:00:00"
    return rows_file(tmp, "mixeddates.csv", rows)


@case("parquet_bad_amount", "row 5", "column BilledCost")
def _pq_bad(tmp: Path, s: Sample, data: Path) -> Path:
    return _parquet(tmp, data, "bad.parquet", select="* REPLACE (CASE WHEN Id = '" +
                    s.rows[5][s.col("Id")] + "' THEN 'abc' ELSE BilledCost END AS BilledCost)")


@case("parquet_missing_mandatory_column", "missing mandatory column", "BillingAccountId")
def _pq_missing(tmp: Path, s: Sample, data: Path) -> Path:
    return _parquet(tmp, data, "nomand.parquet", select="* EXCLUDE (BillingAccountId)")


# ----------------------------------------------------------------------------- the runner
@pytest.fixture(scope="module")
def loaded_store(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    db = tmp_path_factory.mktemp("loaded") / "store.duckdb"
    result = runner.invoke(app, ["ingest", "--store", str(db), str(shared_data / SAMPLE)])
    assert result.exit_code == 0, result.output
    gc.collect()
    return db


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> Sample:
    with (shared_data / SAMPLE).open(newline="") as f:
        return Sample(shared_data / SAMPLE, list(csv.reader(f)))


def test_hash_is_stable_across_a_clean_open_and_close(loaded_store: Path,
                                                      tmp_path: Path) -> None:
    db = Path(shutil.copy(loaded_store, tmp_path / "store.duckdb"))
    before = sha256(db)
    s = Store(db)
    assert s.execute(s.focus.count()).as_py() == 1000
    s.close()
    assert sha256(db) == before


def test_at_least_40_classes() -> None:
    assert len([c for c in CASES.values() if not c.skip]) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exit_2_message_and_store_untouched(
        name: str, loaded_store: Path, sample: Sample, shared_data: Path,
        tmp_path: Path) -> None:
    c = CASES[name]
    if c.skip:
        pytest.skip(c.skip)
    work = tmp_path / "in"
    work.mkdir()
    db = Path(shutil.copy(loaded_store, tmp_path / "store.duckdb"))
    before = sha256(db)
    built = c.build(work, sample, shared_data)
    if isinstance(built, list):
        argv = [*built, "--store", str(db), *c.args]
        culprit = c.culprit
    else:
        argv = ["ingest", "--store", str(db), *c.args, str(built)]
        culprit = c.culprit or built.name
    result = runner.invoke(app, argv)
    out = result.output
    assert result.exit_code == 2, out + repr(result.exception)
    assert "Traceback" not in out and not isinstance(result.exception, AssertionError)
    assert culprit and culprit in out, out
    for expected in c.expect:
        assert expected in out, f"{expected!r} not in: {out}"
    assert sha256(db) == before
