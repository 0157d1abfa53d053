"""The one-pass FOCUS load (fast.fast_rows + fast.verify inside the load): a clean file loads
exactly as the checked path loads it; anything else falls back to the checked path.

Expected values come from the checked path (read_checked, the reference) or the file itself."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cloudledger.ingest import ingest
from cloudledger.ingest.sources import focus as focus_source
from cloudledger.store import Store

SAMPLE = "focus/focus_sample_1.0.csv"


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())
    return path


def _clean(shared_data: Path, tmp_path: Path) -> Path:
    """The FOCUS sample without what the checked path warns about (duplicates, charges
    outside their period): a file the fast path takes."""
    rows = _rows(shared_data / SAMPLE)
    h = rows[0]
    keep, seen = [h], set()
    for r in rows[1:]:
        cps, bps, bpe = (r[h.index(c)] for c in ("ChargePeriodStart", "BillingPeriodStart",
                                                 "BillingPeriodEnd"))
        if tuple(r) in seen or not (bps <= cps < bpe):
            continue
        seen.add(tuple(r))
        keep.append(r)
    return _write(tmp_path / "clean.csv", keep)


def _state(store: Store) -> tuple[Any, ...]:
    con = store.con.con
    data = con.execute("SELECT * EXCLUDE (x_IngestId) FROM focus ORDER BY ALL").fetchall()
    totals = con.execute("SELECT BillingAccountId, BillingPeriodStart, BillingCurrency, "
                         "metric, source_total FROM source_totals ORDER BY ALL").fetchall()
    return data, totals


@pytest.fixture()
def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts reads through the checked path (the fallback)."""
    calls: list[int] = []
    real = focus_source.read_checked

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(focus_source, "read_checked", spy)
    return calls


def _checked(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """The store state the checked path alone leaves."""
    with monkeypatch.context() as m:
        m.setattr(focus_source, "read_fast", lambda *a, **k: None)
        ref = Store(tmp_path / "ref.duckdb")
        ingest(ref, [path])
        out = _state(ref)
        ref.close()
    return out


def test_clean_csv_loads_in_one_pass_as_the_checked_path_does(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = _clean(shared_data, tmp_path)
    store = Store(tmp_path / "store.duckdb")
    [report] = ingest(store, [path])
    assert counting == []  # no fallback
    assert report.rows == len(_rows(path)) - 1
    assert all(r.ok for r in report.reconciliation)
    assert _state(store) == _checked(path, tmp_path, monkeypatch)


def test_parquet_with_offsets_loads_as_the_checked_path_does(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    src = _clean(shared_data, tmp_path)
    pq = tmp_path / "clean.parquet"
    # timestamps WITH TIME ZONE written from a non-UTC session: the same instants
    con = duckdb.connect()
    con.execute("SET TimeZone='Asia/Kolkata'")
    con.execute(f"COPY (SELECT * REPLACE (CAST(BilledCost AS DECIMAL(38, 12)) AS BilledCost, "
                f"timezone('UTC', CAST(ChargePeriodStart AS TIMESTAMP)) AS ChargePeriodStart, "
                f"timezone('UTC', CAST(ChargePeriodEnd AS TIMESTAMP)) AS ChargePeriodEnd) "
                f"FROM read_csv("
                f"'{src}', all_varchar=true)) TO '{pq}' (FORMAT parquet)")
    store = Store(tmp_path / "store.duckdb")
    ingest(store, [pq])
    assert counting == []
    assert _state(store) == _checked(pq, tmp_path, monkeypatch)


@pytest.mark.parametrize("value", ["0.12345678901234", "1e-14"])
def test_an_amount_the_store_would_round_falls_back(
        shared_data: Path, tmp_path: Path, counting: list[int], value: str) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    i = rows[0].index("BilledCost")
    total = sum(Decimal(r[i]) for r in rows[1:]) - Decimal(rows[1][i]) + Decimal(value)
    rows[1][i] = value
    store = Store(tmp_path / "store.duckdb")
    [report] = ingest(store, [_write(tmp_path / "long.csv", rows)])
    assert counting == [1]  # read again the checked way: source totals stay exact
    source = sum(r.source_total for r in report.reconciliation if r.metric == "BilledCost")
    assert source == total


def test_a_lower_case_currency_falls_back_with_its_warning(
        shared_data: Path, tmp_path: Path, counting: list[int]) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    rows[1][rows[0].index("BillingCurrency")] = "usd"
    store = Store(tmp_path / "store.duckdb")
    [report] = ingest(store, [_write(tmp_path / "cur.csv", rows)])
    assert counting == [1]
    assert any("normalized to the ISO 4217 code 'USD'" in w for w in report.warnings)


@pytest.mark.parametrize("value", ["0E-12", "2.50E-7", "-0.5E-3"])
def test_an_exact_exponent_amount_loads_in_one_pass(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    rows[1][rows[0].index("BilledCost")] = value
    path = _write(tmp_path / "exp.csv", rows)
    store = Store(tmp_path / "store.duckdb")
    ingest(store, [path])
    assert counting == []
    assert _state(store) == _checked(path, tmp_path, monkeypatch)


@pytest.mark.parametrize(("column", "value"), [
    ("ChargePeriodStart", "{day}T00:00:00-05:00"),  # an offset: the checked path converts it
    ("ChargePeriodStart", "{day}T00:00:00+00:00"),
    ("ChargeCategory", "Usagе"),  # a Cyrillic e: not a FOCUS category
    ("Tags", "team=web"),  # not JSON: a warning
    ("Tags", '["web"]'),  # JSON, but not an object: a warning
])
def test_a_row_the_checks_report_falls_back_in_the_insert(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch, column: str, value: str) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    h = rows[0]
    day = rows[1][h.index("ChargePeriodStart")][:10]
    rows[1][h.index(column)] = value.format(day=day)
    path = _write(tmp_path / "odd.csv", rows)
    store = Store(tmp_path / "store.duckdb")
    try:
        ingest(store, [path], allow_bad_rows=True)
    finally:
        store.close()
    assert counting == [1]


@pytest.mark.parametrize(("column", "value"), [
    ("EffectiveCost", ""),  # a required value missing
    ("ChargePeriodStart", "before"),  # a charge before its billing period
    ("ChargePeriodStart", "end"),  # a charge at its period's end (outside it)
    ("BillingCurrency", "USD "),  # a currency the checked path normalizes
])
def test_a_row_found_from_the_groups_falls_back_as_the_checked_path_reads_it(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch, column: str, value: str) -> None:
    """Checks ``verify`` settles from its per-group aggregates (counts, the first and last
    charge of each billing period, the group's currency) roll the load back to the
    checked path, which leaves the store as it alone would."""
    rows = _rows(_clean(shared_data, tmp_path))
    h = rows[0]
    bps, bpe = (rows[1][h.index(c)] for c in ("BillingPeriodStart", "BillingPeriodEnd"))
    rows[1][h.index(column)] = {"before": f"{int(bps[:4]) - 1}{bps[4:]}",
                                "end": bpe}.get(value, value)
    path = _write(tmp_path / "odd.csv", rows)
    store = Store(tmp_path / "store.duckdb")
    ingest(store, [path], allow_bad_rows=True)
    assert counting == [1]
    with monkeypatch.context() as m:
        m.setattr(focus_source, "read_fast", lambda *a, **k: None)
        ref = Store(tmp_path / "ref.duckdb")
        ingest(ref, [path], allow_bad_rows=True)
        assert _state(store) == _state(ref)


def test_a_duplicate_row_falls_back_and_is_reported_as_the_checked_path_does(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    path = _write(tmp_path / "dup.csv", [*rows, rows[5]])
    store = Store(tmp_path / "store.duckdb")
    [report] = ingest(store, [path])
    assert counting == [1]
    assert any("duplicate" in w for w in report.warnings)
    assert _state(store) == _checked(path, tmp_path, monkeypatch)


@pytest.mark.parametrize("column", ["BilledCost", "ProviderName"])
def test_rows_equal_but_for_one_column_load_in_one_pass(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch, column: str) -> None:
    """Equal on every column the first count hashes (amounts are not hashed; the provider
    is a group key): the exact test per group tells them apart, and nothing falls back."""
    rows = _rows(_clean(shared_data, tmp_path))
    twin = list(rows[5])
    i = rows[0].index(column)
    twin[i] = "0.5" if column == "BilledCost" else "Another Cloud"
    path = _write(tmp_path / "twin.csv", [*rows, twin])
    store = Store(tmp_path / "store.duckdb")
    ingest(store, [path])
    assert counting == []
    assert _state(store) == _checked(path, tmp_path, monkeypatch)


def test_a_correction_outside_its_period_loads_in_one_pass(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(_clean(shared_data, tmp_path))
    h = rows[0]
    bps = rows[1][h.index("BillingPeriodStart")]
    rows[1][h.index("ChargeClass")] = "Correction"
    rows[1][h.index("ChargePeriodStart")] = f"{int(bps[:4]) - 1}{bps[4:]}"
    path = _write(tmp_path / "correction.csv", rows)
    store = Store(tmp_path / "store.duckdb")
    ingest(store, [path])
    assert counting == []
    assert _state(store) == _checked(path, tmp_path, monkeypatch)


def test_two_period_ends_for_one_period_reconcile_as_the_checked_path_does(
        shared_data: Path, tmp_path: Path, counting: list[int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-load sums are grouped finer than the reconciliation's keys: summed, not
    overwritten, per account, period and currency."""
    rows = _rows(_clean(shared_data, tmp_path))
    h = rows[0]
    end = h.index("BillingPeriodEnd")
    rows[1][end] = "2099-01-01T00:00:00Z"  # a later end: charges still inside the period
    path = _write(tmp_path / "ends.csv", rows)
    store = Store(tmp_path / "store.duckdb")
    [report] = ingest(store, [path])
    assert counting == []
    assert all(r.ok for r in report.reconciliation)
    i = h.index("BilledCost")
    assert sum(r.store_total for r in report.reconciliation if r.metric == "BilledCost") == \
        sum(Decimal(r[i]) for r in rows[1:] if r[i])
    assert _state(store) == _checked(path, tmp_path, monkeypatch)
