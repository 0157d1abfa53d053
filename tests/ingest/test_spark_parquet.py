"""FOCUS Parquet files give the same outcome on DuckDB and on Spark.

A Parquet file is written here with pyarrow from known rows (decimals of several widths, a
float amount, timestamps with a time zone, a timestamp written as text, null spellings,
a custom column); each case ingests it into a store that already holds another account's
rows and asserts, on both engines, the same error (file, row, column) and an unchanged
store, or with ``allow_bad_rows`` the same ``ingest_errors`` rows, the same loaded totals
and the same stored values (known answers computed here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cloudledger.errors import CloudledgerError
from cloudledger.ingest import ingest
from cloudledger.store import Store

UTC = dt.UTC
SCHEMA = pa.schema([
    ("BillingAccountId", pa.string()),
    ("BillingAccountName", pa.string()),
    ("BillingCurrency", pa.string()),
    ("BillingPeriodStart", pa.timestamp("us", tz="UTC")),
    ("BillingPeriodEnd", pa.timestamp("us", tz="UTC")),
    # an instant written in another zone: stored as its UTC wall clock
    ("ChargePeriodStart", pa.timestamp("ms", tz="Europe/Berlin")),
    ("ChargePeriodEnd", pa.string()),  # ISO 8601 text, one with an offset
    ("ChargeCategory", pa.string()),
    ("ChargeDescription", pa.string()),
    ("BilledCost", pa.decimal128(20, 10)),
    ("EffectiveCost", pa.decimal128(38, 18)),
    ("ListCost", pa.float64()),
    ("ConsumedQuantity", pa.decimal128(38, 16)),
    ("ResourceId", pa.string()),
    ("ServiceName", pa.string()),
    ("Tags", pa.string()),
    ("x_Team", pa.int64()),
])
SEPT, OCT = dt.datetime(2024, 9, 1, tzinfo=UTC), dt.datetime(2024, 10, 1, tzinfo=UTC)


def row(n: int, billed: str, effective: str, **more: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "BillingAccountId": "111", "BillingAccountName": "Acme", "BillingCurrency": "USD",
        "BillingPeriodStart": SEPT, "BillingPeriodEnd": OCT,
        "ChargePeriodStart": dt.datetime(2024, 9, n, 12, tzinfo=UTC),
        "ChargePeriodEnd": f"2024-09-{n:02d} 13:00:00", "ChargeCategory": "Usage",
        "ChargeDescription": f"row {n}", "BilledCost": Decimal(billed),
        "EffectiveCost": Decimal(effective), "ListCost": 0.1 * n,
        "ConsumedQuantity": Decimal("1.5") * n, "ResourceId": f"r{n}",
        "ServiceName": "Compute", "Tags": '{"team": "a"}', "x_Team": n}
    return base | more


ROWS = [
    row(1, "12.3456789012", "10.000000000001"),
    row(2, "-3.5000000000", "-3.5", ChargeCategory="Credit"),
    row(3, "1234567890.0000000001", "1234567890.000000000100", ChargeDescription="NULL",
        ServiceName="", Tags=None),
    row(4, "0.0000000001", "0", ChargeDescription="None", ListCost=None,
        ChargePeriodEnd="2024-09-04T15:00:00+02:00"),
    row(5, "7", "6.25", ChargeCategory="Tax", ConsumedQuantity=None, x_Team=None),
    row(6, "100.1", "99.9", ChargeDescription="\\N"),
]


@dataclass
class Case:
    name: str
    #: (row index, column, value) edits
    edits: list[tuple[int, str, Any]]
    #: message parts of the error (None: the file loads)
    error: tuple[str, ...] | None = None
    #: the bad row's number (1-based, in ROWS) and a reason substring
    bad: tuple[int, str] | None = None
    #: rows 4-6 in a second file of another schema (wider decimals, no ListCost, other
    #: timestamp unit and zone): read together by column name
    split: bool = False


CASES = [
    Case("clean", []),
    Case("unknown_charge_category", [(2, "ChargeCategory", "Refund")],
         ("row 3", "column ChargeCategory", "'Refund', not one of Usage"),
         (3, "'Refund', not one of Usage")),
    Case("unparsable_timestamp_text", [(4, "ChargePeriodEnd", "2024-09-31 13:00:00")],
         ("row 5", "column ChargePeriodEnd", "'2024-09-31 13:00:00', not a timestamp"),
         (5, "not a timestamp")),
    Case("two_schemas", [(4, "ChargeCategory", "refund")],
         ("b.parquet, row 2", "column ChargeCategory", "'refund', not one of Usage"),
         (5, "'refund', not one of Usage"), split=True),
]
#: the second file's schema in the split case: nanosecond timestamps (an instant and a
#: local time; Spark's reader refuses the unit), a wider decimal, no ListCost
OTHER = pa.schema([pa.field(f.name, {"BilledCost": pa.decimal128(38, 12),
                                     "ChargePeriodStart": pa.timestamp("ns", tz="UTC"),
                                     "BillingPeriodEnd": pa.timestamp("ns")}.get(f.name, f.type))
                   for f in SCHEMA if f.name != "ListCost"])


def write(path: Path, rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def files(tmp: Path, case: Case, rows: list[dict[str, Any]]) -> list[Path]:
    if not case.split:
        return [write(tmp / f"{case.name}.parquet", rows)]
    for r in rows[3:]:
        r["ListCost"] = None
        r["BillingPeriodEnd"] = naive_utc(r["BillingPeriodEnd"])
    return [write(tmp / "a.parquet", rows[:3]), write(tmp / "b.parquet", rows[3:], OTHER)]


def where(case: Case, paths: list[Path], n: int) -> tuple[str, int]:
    """File and row number of ROWS[n - 1]."""
    return (str(paths[1]), n - 3) if case.split and n > 3 else (str(paths[0]), n)


def base_file(tmp: Path) -> Path:
    """Another billing account's rows: what must survive a failed ingest."""
    return write(tmp / "base.parquet", [r | {"BillingAccountId": "999"} for r in ROWS[:2]])


def state(store: Store) -> tuple[int, Decimal, Decimal]:
    f = store.focus
    got = store.execute(f.aggregate(n=f.count(), billed=f.BilledCost.sum(),
                                    effective=f.EffectiveCost.sum())).to_pylist()[0]
    return int(got["n"]), Decimal(got["billed"] or 0), Decimal(got["effective"] or 0)


def naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def stored_as(r: dict[str, Any]) -> dict[str, Any]:
    """The stored values of a source row (known answers): amounts to 12 digits, instants as
    UTC wall clocks, null spellings as NULL, the custom column kept."""
    def money(v: Any) -> Decimal | None:
        return None if v is None else Decimal(v).quantize(Decimal("1e-12"))

    def text(v: str | None) -> str | None:
        return None if v in (None, "", "NULL", "null", "None", "\\N") else v

    end = dt.datetime.fromisoformat(r["ChargePeriodEnd"])
    return {
        "ResourceId": r["ResourceId"], "ChargeCategory": r["ChargeCategory"],
        "ChargeDescription": text(r["ChargeDescription"]),
        "ServiceName": text(r["ServiceName"]), "Tags": r["Tags"],
        "BillingPeriodStart": naive_utc(r["BillingPeriodStart"]),
        "BillingPeriodEnd": naive_utc(r["BillingPeriodEnd"].replace(
            tzinfo=r["BillingPeriodEnd"].tzinfo or UTC)),
        "ChargePeriodStart": naive_utc(r["ChargePeriodStart"]),
        "ChargePeriodEnd": naive_utc(end) if end.tzinfo else end,
        "BilledCost": money(r["BilledCost"]), "EffectiveCost": money(r["EffectiveCost"]),
        "ListCost": money(None if r["ListCost"] is None else repr(r["ListCost"])),
        "ConsumedQuantity": None if r["ConsumedQuantity"] is None
        else float(r["ConsumedQuantity"]),
        "x_Team": r["x_Team"]}


def stored(store: Store, account: str) -> list[dict[str, Any]]:
    f = store.focus
    cols = list(stored_as(ROWS[0]))
    got = store.execute(f.filter(f.BillingAccountId == account).select(*cols)
                        .order_by("ResourceId")).to_pylist()
    for g in got:
        for k in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
                  "ChargePeriodEnd"):
            g[k] = g[k].replace(tzinfo=None) if g[k] is not None else None
        g["ConsumedQuantity"] = None if g["ConsumedQuantity"] is None \
            else float(g["ConsumedQuantity"])
    return got


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parquet_same_on_both_engines(case: Case, engine_store: Store,
                                      tmp_path: Path) -> None:
    store = engine_store
    ingest(store, [base_file(tmp_path)])
    before = state(store)
    rows = [dict(r) for r in ROWS]
    for i, column, value in case.edits:
        rows[i][column] = value
    paths = files(tmp_path, case, rows)

    if case.error is not None:
        with pytest.raises(CloudledgerError) as info:
            ingest(store, paths)
        message = str(info.value)
        for part in (where(case, paths, case.bad[0])[0], *case.error):  # type: ignore[index]
            assert part in message, message
        assert state(store) == before
    [report] = ingest(store, paths, allow_bad_rows=True)

    bad = {case.bad[0]} if case.bad else set()
    good = [r for n, r in enumerate(rows, start=1) if n not in bad]
    errors = store.execute(store.table("ingest_errors").order_by("line")).to_pylist()
    assert [(e["file"], e["line"]) for e in errors] == [where(case, paths, n) for n in bad]
    if case.bad:
        assert case.bad[1] in errors[0]["reason"], errors
        assert f",r{case.bad[0]}," in errors[0]["raw"], errors
    assert report.rows == len(good)
    assert report.rows_quarantined == len(bad)
    assert state(store) == (before[0] + len(good),
                            before[1] + sum(stored_as(r)["BilledCost"] for r in good),
                            before[2] + sum(stored_as(r)["EffectiveCost"] for r in good))
    assert stored(store, "111") == [stored_as(r) for r in good]
