"""The strict timestamp parse (``parse.timestamp``) reads the same values as the same
timestamps on DuckDB and on Spark, and fails the query on both where a value does not parse.

``timestamp`` is what the native sources (Azure, OCI, OpenCost, GCP) parse their dates with.
On Spark its slash dates once went through ``to_timestamp`` with ``MM/dd``, which wants two
digits: '1/1/25' became NULL there instead of 1 January 2025, and without ANSI mode a value
nothing could read became NULL too instead of failing the load.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from cloudledger.errors import CloudledgerError
from cloudledger.ingest import ingest
from cloudledger.ingest.parse import MDY, date_spec, parse, timestamp
from cloudledger.store import Store


def read(store: Store, values: list[str | None], spec: str | None = None,
         ) -> list[dt.datetime | None]:
    """``values`` parsed strictly on ``store``'s engine, in order."""
    t = ibis.memtable(pa.table({"i": list(range(len(values))),
                                "s": pa.array(values, pa.string())}))
    expr = t.select("i", v=timestamp(t.s, date_spec(spec) or MDY, spark=store.is_spark))
    got = store.execute(expr.order_by("i")).column("v").to_pylist()
    return [None if v is None else v.replace(tzinfo=None) for v in got]


def fails(store: Store, values: list[str | None], spec: str | None = None) -> str:
    """The engine's message for a strict parse of ``values`` (which must fail the query);
    the store answers queries afterwards."""
    with pytest.raises(Exception) as info:  # noqa: PT011 - each engine has its own class
        read(store, values, spec)
    assert read(store, ["1/2/2025"], spec=None) == [dt.datetime(2025, 1, 2)]
    return str(info.value)


def test_single_digit_month_and_day(engine_store: Store) -> None:
    """M/D/Y with one-digit fields and a two-digit year reads as strptime reads it."""
    assert read(engine_store, ["1/1/25", "1/15/2025", "12/5/2025 3:04:05", "3/7/2025 14:30",
                               "12/31/99", "02/09/2025 09:05:00"]) == [
        dt.datetime(2025, 1, 1), dt.datetime(2025, 1, 15), dt.datetime(2025, 12, 5, 3, 4, 5),
        dt.datetime(2025, 3, 7, 14, 30), dt.datetime(1999, 12, 31),
        dt.datetime(2025, 2, 9, 9, 5)]


def test_day_first(engine_store: Store) -> None:
    """DMY: '5/1/2025' is 5 January."""
    assert read(engine_store, ["5/1/2025", "1/2/2025 3:04:05", "31/12/99", "13/1/2025 0:00"],
                "DMY") == [
        dt.datetime(2025, 1, 5), dt.datetime(2025, 2, 1, 3, 4, 5), dt.datetime(1999, 12, 31),
        dt.datetime(2025, 1, 13)]


def test_date_format_pattern_with_single_digits(engine_store: Store) -> None:
    """A --date-format strptime pattern: DuckDB's strptime reads one-digit fields for %d,
    %m, %H, %M and %S, and so does Spark."""
    assert read(engine_store, ["5.1.2025 3:4:5", "05.01.2025 03:04:05", "31.12.2025 23:59:59",
                               "1.10.2025 12:00:09"], "%d.%m.%Y %H:%M:%S") == [
        dt.datetime(2025, 1, 5, 3, 4, 5), dt.datetime(2025, 1, 5, 3, 4, 5),
        dt.datetime(2025, 12, 31, 23, 59, 59), dt.datetime(2025, 10, 1, 12, 0, 9)]


def test_iso_and_null_spellings(engine_store: Store) -> None:
    """ISO 8601 (an offset converted to UTC) and the null spellings, beside slash dates."""
    assert read(engine_store, ["2025-01-05 10:00:00", "2025-01-05T10:00:00+02:00",
                               "2025-01-05T10:00:00Z", "2025-01-05", "", "NULL", None,
                               "1/5/2025"]) == [
        dt.datetime(2025, 1, 5, 10), dt.datetime(2025, 1, 5, 8), dt.datetime(2025, 1, 5, 10),
        dt.datetime(2025, 1, 5), None, None, None, dt.datetime(2025, 1, 5)]


def test_parse_kind_timestamp(engine_store: Store) -> None:
    """``parse(col, "timestamp")`` is the same strict parse."""
    t = ibis.memtable(pa.table({"s": ["1/1/25"]}))
    got = engine_store.execute(t.select(v=parse(t.s, "timestamp",
                                                spark=engine_store.is_spark))).column("v")
    assert [v.replace(tzinfo=None) for v in got.to_pylist()] == [dt.datetime(2025, 1, 1)]


BAD = [("13/45/2025", None), ("not a date", None), ("2/30/2025", None),
       ("2025-02-30", None), ("2025-01-05T10:00:00+0x:00", None), ("1/1/2025 3:04:05 PM", None),
       ("2/13/2025", "DMY"), ("5.1.2025", "%d.%m.%Y %H:%M:%S")]


@pytest.mark.parametrize(("value", "spec"), BAD, ids=[v for v, _ in BAD])
def test_unparseable_value_fails(value: str, spec: str | None, engine_store: Store) -> None:
    """A value nothing reads fails the query on both engines (never a NULL timestamp),
    also among values that parse."""
    message = fails(engine_store, ["1/1/2025", value, "1/2/2025"] if spec is None
                    else [value], spec)
    if engine_store.is_spark:  # raise_error's message names the value
        assert f"cannot parse '{value}' as a timestamp" in message, message


def test_native_source_load(engine_store: Store, tmp_path: Path) -> None:
    """Through a native source (OCI, which parses with ``timestamp``): the same charge
    periods on both engines, and a load with a value that does not parse fails and leaves
    the store as it was."""
    from tests.ingest.test_oci import HEADER, ROWS

    store = engine_store
    path = tmp_path / "reports_cost-csv_0001000000000001.csv"
    path.write_text(HEADER + "\n".join(ROWS) + "\n")
    [report] = ingest(store, [path])
    assert report.rows == 3
    got = store.execute(store.focus.select("ChargePeriodStart", "ChargePeriodEnd")
                        .order_by("ChargePeriodStart")).to_pylist()
    assert [(g["ChargePeriodStart"].replace(tzinfo=None),
             g["ChargePeriodEnd"].replace(tzinfo=None)) for g in got] == [
        (dt.datetime(2024, 2, 29, 23), dt.datetime(2024, 3, 1)),
        (dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 1, 1)),
        (dt.datetime(2024, 3, 2), dt.datetime(2024, 3, 2, 1))]

    bad = tmp_path / "reports_cost-csv_0001000000000002.csv"
    rows = [r.replace("r", "b", 1) for r in ROWS]
    rows[1] = rows[1].replace("2024-03-01T00:00Z,2024-03-01T01:00Z", "not a date,3/1/2024")
    bad.write_text(HEADER + "\n".join(rows) + "\n")
    with pytest.raises(CloudledgerError):
        ingest(store, [bad])
    assert store.execute(store.focus.count()).as_py() == 3


def test_azure_map(engine_store: Store) -> None:
    """The Azure mapping (``_azure_map``) reads one-digit slash dates on both engines (its
    ``spark`` is passed by ``azure.read``)."""
    from cloudledger.ingest.sources import _azure_map

    spark = engine_store.is_spark
    raw = ibis.memtable(pa.table({"BillingAccountId": ["a", "a"],
                                  "BillingPeriodStartDate": ["3/1/2024", "3/1/2024"],
                                  "BillingPeriodEndDate": ["3/31/2024", "3/31/2024"],
                                  "Date": ["3/5/2024", "3/15/2024"],
                                  "CostInBillingCurrency": ["1", "2"]}))
    t = _azure_map.normalize(raw, "actual", spark=spark)
    got = engine_store.execute(t.select("BillingPeriodStart", "charge_date", "period_end")
                               .order_by("charge_date")).to_pylist()
    assert [tuple(v.replace(tzinfo=None) for v in g.values()) for g in got] == [
        (dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 5), dt.datetime(2024, 4, 1)),
        (dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 15), dt.datetime(2024, 4, 1))]
    keys = _azure_map.account_period(raw, spark=spark)
    got = engine_store.execute(raw.select(**keys)).to_pylist()
    assert {g["BillingPeriodStart"].replace(tzinfo=None) for g in got} == {
        dt.datetime(2024, 3, 1)}
