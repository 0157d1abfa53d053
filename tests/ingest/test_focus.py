"""FOCUS files in, canonical rows out: real files from ../shared/data/focus, their quirks,
idempotent reloads, atomic failure, and the bad inputs a user hits."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import FormatError, InputError, RunError
from cloudledger.ingest import NothingToLoad, ingest, read_frames
from cloudledger.store import Frame, Store
from cloudledger.store import load as store_mod

SAMPLE = "focus/focus_sample_1.0.csv"


def snapshot(s: Store) -> tuple:
    f = s.focus
    log = s.table("ingest_log")
    return (s.execute(f.count()).as_py(), str(s.execute(f.BilledCost.sum()).as_py()),
            s.execute(log.count()).as_py())


def raw_sum(path: Path, column: str, where: str = "") -> Decimal:
    value = duckdb.sql(
        f"SELECT sum(CAST(NULLIF(NULLIF(trim(\"{column}\"), 'NULL'), '') AS DECIMAL(38,18))) "
        f"FROM read_csv('{path}', all_varchar=true) {where}").fetchone()[0]
    return Decimal(value)


def test_focus_sample_totals_match_the_file(store: Store, shared_data: Path) -> None:
    path = shared_data / SAMPLE
    [report] = ingest(store, [path])
    assert report.rows == 1000
    assert report.version == "1.0"
    billed = store.execute(store.focus.BilledCost.sum()).as_py()
    assert billed == Decimal("20.520226728990")
    assert billed == raw_sum(path, "BilledCost")
    assert store.execute(store.focus.EffectiveCost.sum()).as_py() == raw_sum(path, "EffectiveCost")
    assert all(r.ok for r in report.reconciliation)
    by_provider = {r["ProviderName"]: r["n"] for r in store.execute(
        store.focus.group_by("ProviderName").aggregate(n=store.focus.count())).to_pylist()}
    assert by_provider == {"AWS": 942, "Microsoft": 51, "Oracle": 7}


def test_focus_sample_quirks(store: Store, shared_data: Path) -> None:
    ingest(store, [shared_data / SAMPLE])
    f = store.focus
    schema = f.schema()
    assert schema["BillingAccountId"].is_string() and schema["x_Id"].is_string()
    assert schema["BilledCost"].is_decimal() and schema["ChargePeriodStart"].is_timestamp()
    # "NULL" strings are real NULLs; numeric-looking ids keep their digits as text
    assert store.execute(f.filter(f.AvailabilityZone == "NULL").count()).as_py() == 0
    accounts = set(store.execute(f.BillingAccountId).to_pylist())
    assert "1234567890123" in accounts
    first = store.execute(f.filter(f.x_Id == "11472").select(
        "BilledCost", "ChargePeriodStart", "SubAccountId", "Tags", "ChargeClass")
    ).to_pylist()[0]
    assert first["BilledCost"] == Decimal("0.000000800000")
    assert first["ChargePeriodStart"].isoformat() == "2024-09-18T22:00:00"
    assert first["SubAccountId"] == "51738928782" and first["ChargeClass"] is None
    tagged = store.execute(f.filter(f.Tags.notnull()).select("Tags").limit(1)).to_pylist()
    tagged = tagged[0]["Tags"]
    assert isinstance(json.loads(tagged), dict)
    nulls = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{shared_data / SAMPLE}', all_varchar=true) WHERE "
        "ListUnitPrice IS NULL OR ListUnitPrice IN ('NULL', '')").fetchone()[0]
    assert store.execute(f.ListUnitPrice.isnull().sum()).as_py() == nulls > 0


def test_scientific_notation_and_offsets_parse_exactly(store: Store, shared_data: Path,
                                                       tmp_path: Path) -> None:
    lines = (shared_data / SAMPLE).read_text().splitlines(keepends=True)
    header = lines[0].split(",")
    i_cost = header.index('"BilledCost"')
    i_start = header.index('"ChargePeriodStart"')
    fields = lines[1].split(",")
    fields[i_cost] = "1.5E-7"
    fields[i_start] = '"2024-09-18T23:00:00+01:00"'
    path = tmp_path / "sci.csv"
    path.write_text(lines[0] + ",".join(fields))
    ingest(store, [path])
    row = store.execute(store.focus.select("BilledCost", "ChargePeriodStart")).to_pylist()[0]
    assert row["BilledCost"] == Decimal("0.00000015")
    assert row["ChargePeriodStart"].isoformat() == "2024-09-18T22:00:00"


def test_us_dates_and_versions_of_spec_examples(store: Store, shared_data: Path) -> None:
    path = shared_data / "focus/spec-examples-1.2/saas_examples"
    path = path / "virtual_currency_pricing_model_a1.csv"
    [report] = ingest(store, [path])
    assert report.version == "1.2"
    row = store.execute(store.focus.select("BillingPeriodStart", "ChargePeriodEnd")).to_pylist()[0]
    assert row["BillingPeriodStart"].isoformat() == "2025-04-01T00:00:00"  # "4/1/25"
    assert row["ChargePeriodEnd"].isoformat() == "2026-04-01T00:00:00"


def every_focus_file(root: Path) -> list[Path]:
    return sorted(p for p in (root / "focus").rglob("*") if p.is_file())


REJECTED = {
    # spec fragments without an account or currency, pre-1.0 names, currency symbols
    "commitment_discount": "missing mandatory column(s) BillingAccountId, BillingCurrency",
    "simple_saas_agreements": "not a decimal",
    "all_pass_0.5": "pre-1.0 FOCUS file",
    "billedCostTest": "not a billing export",
    "multiple_failure_examples": "not a billing export",
    "sample.parquet": "not a billing export",
    "zero_percent_utilization": "missing mandatory column(s)",
    "one_hundred_percent_utilization": "missing mandatory column(s)",
}


def test_every_shared_focus_file_loads_or_is_rejected_clearly(shared_data: Path,
                                                              tmp_path: Path) -> None:
    files = every_focus_file(shared_data)
    assert len(files) >= 30
    loaded = rejected = 0
    for path in files:
        s = Store(":memory:")
        reason = next((v for k, v in REJECTED.items() if k in path.name), None)
        if reason:
            with pytest.raises(InputError) as e:
                ingest(s, [path])
            assert reason in str(e.value) and str(path) in str(e.value)
            rejected += 1
        else:
            [report] = ingest(s, [path])
            assert report.rows > 0 and all(r.ok for r in report.reconciliation)
            assert s.execute(s.focus.BilledCost.sum()).as_py() == raw_sum(path, "BilledCost")
            loaded += 1
        s.close()
    assert loaded == 11 and rejected == len(files) - 11


def restated(path: Path, tmp: Path) -> Path:
    """The same rows in other bytes (CRLF line ends): a restatement, not a copy."""
    out = tmp / f"restated-{path.name}"
    out.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return out


def test_same_bytes_are_skipped_and_a_restatement_replaces(store: Store, shared_data: Path,
                                                           tmp_path: Path) -> None:
    path = shared_data / SAMPLE
    ingest(store, [path])
    before = snapshot(store)
    with pytest.raises(NothingToLoad, match="already loaded"):
        ingest(store, [path])
    assert snapshot(store) == before
    [again] = ingest(store, [restated(path, tmp_path)])
    assert again.rows_replaced == 1000
    after = snapshot(store)
    assert after[:2] == before[:2] and after[2] == before[2] + 1
    log = store.ingest_log().to_pylist()
    assert [r["outcome"] for r in log] == ["loaded", "restated"]
    assert json.loads(log[0]["totals"]) == {"USD": "20.520226728990"}
    assert len(json.loads(log[0]["digests"])[0]) == len("blake3:") + 64
    assert store.execute(store.table("source_totals").count()).as_py() > 0
    assert all(r["difference"] == 0 for r in store.reconcile().to_pylist())


def test_failure_midway_leaves_previous_data(store: Store, shared_data: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(store, [shared_data / SAMPLE])
    before = snapshot(store)

    def boom() -> None:
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(store_mod, "before_commit", boom)
    with pytest.raises(KeyboardInterrupt):
        ingest(store, [restated(shared_data / SAMPLE, tmp_path)])
    assert snapshot(store) == before


def test_reconciliation_mismatch_rolls_back(store: Store, shared_data: Path) -> None:
    [frame] = read_frames(store, [shared_data / SAMPLE])
    if frame.fallback is not None:  # the checked read: the sample has rows it warns about
        frame = frame.fallback()
    skewed = frame.totals.mutate(BilledCost=frame.totals.BilledCost + 1)
    before = snapshot(store)
    with pytest.raises(RunError, match="BilledCost of billing account"):
        store.load(Frame(frame.source, frame.files, frame.rows, skewed))
    assert snapshot(store) == before


def test_compressed_and_parquet_copies_load_the_same(store: Store, shared_data: Path,
                                                     tmp_path: Path) -> None:
    src = shared_data / SAMPLE
    gz = tmp_path / "sample.csv.gz"
    gz.write_bytes(gzip.compress(src.read_bytes()))
    import zstandard

    zst = tmp_path / "sample.csv.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(src.read_bytes()))
    pq = tmp_path / "sample.parquet"
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{src}', all_varchar=true)) TO '{pq}'")
    for path in (gz, zst, pq):
        s = Store(":memory:")
        [report] = ingest(s, [path])
        assert report.rows == 1000
        assert s.execute(s.focus.BilledCost.sum()).as_py() == Decimal("20.520226728990")
        s.close()


def test_directory_and_glob_form_one_load(store: Store, shared_data: Path,
                                          tmp_path: Path) -> None:
    lines = (shared_data / SAMPLE).read_text().splitlines(keepends=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    part1, part2 = parts / "p1.csv", parts / "p2.csv"
    part1.write_text("".join(lines[:500]))
    part2.write_text(lines[0] + "".join(lines[500:]))
    [report] = ingest(store, [parts])
    assert report.rows == 1000 and len(report.files) == 2
    with pytest.raises(NothingToLoad):  # the same bytes again: nothing to do
        ingest(store, [str(parts / "p*.csv")])
    part2.write_text((lines[0] + "".join(lines[500:])).replace("\n", "\r\n"))
    # one part changed: the load carries both parts (leaving p1 out would drop its rows
    # from the period both parts fill)
    [again] = ingest(store, [str(parts / "p*.csv")])
    assert again.rows_replaced == 1000 and len(again.files) == 2
    assert store.execute(store.focus.count()).as_py() == 1000
    assert store.execute(store.focus.count()).as_py() == 1000


def test_dry_run_writes_nothing(store: Store, shared_data: Path) -> None:
    before = snapshot(store)
    [report] = ingest(store, [shared_data / SAMPLE], dry_run=True)
    assert report.dry_run and report.rows == 1000
    assert snapshot(store) == before


def _bad_files(shared_data: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    sample = (shared_data / SAMPLE).read_text().splitlines(keepends=True)
    cases: dict[str, tuple[Path, str]] = {}

    def write(name: str, text: str | bytes, expect: str) -> None:
        path = tmp / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        cases[name] = (path, expect)

    write("empty.csv", "", "empty")
    write("header_only.csv", sample[0], "no data rows")
    write("truncated.csv.gz", gzip.compress("".join(sample).encode())[:20000], "truncated")
    short = ",".join(sample[11].split(",")[:10]) + "\n"
    write("column_count.csv", "".join(sample[:11]) + short + "".join(sample[12:40]),
          "line 12")
    bad = sample[6].replace(sample[6].split(",")[1], "twelve", 1)
    write("wrong_type.csv", "".join(sample[:6]) + bad + "".join(sample[7:30]),
          "line 7, column BilledCost")
    write("not_focus.csv", "name,amount\nfoo,1\n", "not a billing export")
    cases["missing.csv"] = (tmp / "missing.csv", "no such file")
    return cases


@pytest.mark.parametrize("case", ["empty.csv", "header_only.csv", "truncated.csv.gz",
                                  "column_count.csv", "wrong_type.csv", "not_focus.csv",
                                  "missing.csv"])
def test_bad_input_exit_2_and_store_untouched(case: str, shared_data: Path,
                                              tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    runner = CliRunner()
    ok = runner.invoke(app, ["ingest", "--store", str(db), str(shared_data / SAMPLE)])
    assert ok.exit_code == 0, ok.output
    s = Store(db)
    before = snapshot(s)
    s.close()
    path, expect = _bad_files(shared_data, tmp_path)[case]
    result = runner.invoke(app, ["ingest", "--store", str(db), str(path)])
    assert result.exit_code == 2
    assert expect in result.output and path.name in result.output
    s = Store(db)
    assert snapshot(s) == before
    s.close()


def test_unknown_source_format_suggests(store: Store, shared_data: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'focus'"):
        ingest(store, [shared_data / SAMPLE], fmt="focsu")


def test_pre_1_0_file_names_the_renames(store: Store, shared_data: Path) -> None:
    with pytest.raises(FormatError, match="ChargeType became ChargeCategory"):
        ingest(store, [shared_data / "focus/validator-fixtures/all_pass_0.5.csv"],
               fmt="focus")


def test_amounts_beyond_the_fast_path_load_exactly(store: Store, shared_data: Path,
                                                   tmp_path: Path) -> None:
    """The CSV fast path parses amounts as 18-digit decimals; a larger amount makes the load
    fall back to the exact 38-digit text path, with the same result."""
    lines = (shared_data / SAMPLE).read_text().splitlines(keepends=True)
    i_cost = lines[0].split(",").index('"BilledCost"')
    fields = lines[1].split(",")
    fields[i_cost] = "123456789012.123456789012"
    path = tmp_path / "big.csv"
    path.write_text(lines[0] + ",".join(fields) + "".join(lines[2:]))
    [report] = ingest(store, [path])
    assert report.rows == 1000 and all(r.ok for r in report.reconciliation)
    expected = raw_sum(path, "BilledCost")
    assert store.execute(store.focus.BilledCost.sum()).as_py() == expected.quantize(
        Decimal("0.000000000001"))
    assert store.execute(store.focus.BilledCost.max()).as_py() == Decimal(
        "123456789012.123456789012")
