"""Legacy AWS CUR -> FOCUS on every shared sample, and on generated files with known answers.

Native totals are computed here independently, with DuckDB straight on the raw file; the
store's own reconciliation (to 1e-6) runs on every load as well.
"""

from __future__ import annotations

import csv
import gzip
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import InputError
from cloudledger.ingest import detect, ingest
from cloudledger.store import Store
from tests.conftest import SHARED

CUR = SHARED / "data" / "native" / "aws-cur"
FILES = sorted(p.name for p in CUR.iterdir()) if CUR.is_dir() else []
EPS = Decimal("0.000001")

# file -> (rows loaded, rows quarantined, ChargeCategory counts, the raw table to sum)
EXPECTED: dict[str, tuple[int, int, dict[str, int]]] = {
    "koku__2022-07-01-alt-columns.csv": (2, 0, {"Usage": 2}),
    "koku__2023-06-01-not-final.csv": (3, 0, {"Usage": 3}),
    "koku__2023-06-01.csv": (3, 0, {"Usage": 3}),
    "koku__November-2023-None.csv": (24, 2, {"Usage": 24}),
    "koku__test_cur.csv": (19, 0, {"Usage": 19}),
    "koku__test_local_bucket__koku-local-1.csv.gz": (13380, 0, {"Usage": 13380}),
    "koku__test_local_bucket__koku-local-Manifest.json": (13380, 0, {"Usage": 13380}),
    "wal__BeforeCUR.gz": (7850, 0, {"Usage": 7850}),
    # 9 RIFee purchases, 110953 Usage + 8345 DiscountedUsage + 3 unused RI rows
    "wal__Oct2018-WorkshopCUR-00001.snappy.parquet": (119310, 0,
                                                      {"Usage": 119301, "Purchase": 9}),
}


def raw_sql(name: str) -> str:
    """A DuckDB relation over the raw file, read with DuckDB's own options (not ours)."""
    path = CUR / name
    if name.endswith("Manifest.json"):
        path = CUR / "koku__test_local_bucket__koku-local-1.csv.gz"
    if name.endswith(".parquet"):
        return f"read_parquet('{path}')"
    if name == "wal__BeforeCUR.gz":
        return (f"read_csv('{path}', delim='\x01', header=true, all_varchar=true, "
                "quote='', escape='', nullstr='\\N', compression='gzip')")
    # November: the two malformed records are skipped; test_cur: rows lack the last field
    padding = str(name == "koku__test_cur.csv").lower()
    return (f"read_csv('{path}', header=true, all_varchar=true, ignore_errors=true, "
            f"null_padding={padding})")


def native_totals(name: str) -> tuple[Decimal, Decimal]:
    """(sum of UnblendedCost, EffectiveCost as the reservation/savingsPlan columns state)."""
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM {raw_sql(name)}")
    cols = {c.lower(): c for c in rel.columns}

    def col(legacy: str, snake: str) -> str:
        c = cols.get(legacy.lower()) or cols.get(snake)
        if c is None:
            return "NULL"
        return f"TRY_CAST(NULLIF(TRIM(CAST(\"{c}\" AS VARCHAR)), '') AS DECIMAL(38, 18))"

    cost = col("lineItem/UnblendedCost", "line_item_unblended_cost")
    lit = cols.get("lineitem/lineitemtype") or "line_item_line_item_type"
    ri = col("reservation/EffectiveCost", "reservation_effective_cost")
    sp = col("savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost")
    up = col("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
             "reservation_unused_amortized_upfront_fee_for_billing_period")
    rec = col("reservation/UnusedRecurringFee", "reservation_unused_recurring_fee")
    total, used = (col("savingsPlan/TotalCommitmentToDate",
                       "savings_plan_total_commitment_to_date"),
                   col("savingsPlan/UsedCommitment", "savings_plan_used_commitment"))
    row = con.sql(f"""SELECT sum({cost}), sum(CASE "{lit}"
        WHEN 'DiscountedUsage' THEN {ri} WHEN 'SavingsPlanCoveredUsage' THEN {sp}
        WHEN 'RIFee' THEN coalesce({up}, 0) + coalesce({rec}, 0)
        WHEN 'SavingsPlanRecurringFee' THEN {total} - {used}
        WHEN 'SavingsPlanNegation' THEN 0 ELSE {cost} END) FROM rel""").fetchone()
    assert row is not None
    return Decimal(row[0]), Decimal(row[1])


def focus_totals(store: Store) -> dict[str, Decimal]:
    got = store.sql('SELECT sum("BilledCost") AS b, sum("EffectiveCost") AS e FROM focus')
    return {"BilledCost": got.column("b")[0].as_py(), "EffectiveCost": got.column("e")[0].as_py()}


@pytest.mark.parametrize("name", FILES)
def test_every_shared_file_loads_and_reconciles(store: Store, name: str) -> None:
    path = CUR / name
    assert detect(path).name == "aws-cur"
    reports = ingest(store, [path], allow_bad_rows=True)
    rows, quarantined, categories = EXPECTED[name]
    assert sum(r.rows for r in reports) == rows
    assert sum(r.rows_quarantined for r in reports) == quarantined
    assert all(rec.ok for r in reports for rec in r.reconciliation)
    billed, effective = native_totals(name)
    ours = focus_totals(store)
    assert abs(ours["BilledCost"] - billed) <= EPS, (ours, billed)
    assert abs(ours["EffectiveCost"] - effective) <= EPS, (ours, effective)
    counts = store.sql('SELECT "ChargeCategory" AS c, count(*) AS n FROM focus GROUP BY 1')
    assert dict(zip(counts.column("c").to_pylist(), counts.column("n").to_pylist(),
                    strict=True)) == categories
    bad = store.sql("""SELECT count(*) AS n FROM focus WHERE "ServiceCategory" NOT IN (
        'AI and Machine Learning', 'Analytics', 'Business Applications', 'Compute',
        'Databases', 'Developer Tools', 'Multicloud', 'Identity', 'Integration',
        'Internet of Things', 'Management and Governance', 'Media', 'Migration', 'Mobile',
        'Networking', 'Security', 'Storage', 'Web', 'Other') OR "ProviderName" <> 'AWS'
        OR "BillingAccountId" IS NULL OR "ChargePeriodStart" IS NULL""")
    assert bad.column("n")[0].as_py() == 0
    names_are_filled(store, name)


_LONDON = ("eu-west-2", "EU (London)")
_VIRGINIA = ("us-east-1", "US East (N. Virginia)")
_OREGON, _CALIFORNIA = ("us-west-2", "US West (Oregon)"), ("us-west-1", "US West (N. California)")
# file -> ({(RegionId, RegionName): rows} where asserted, {ResourceType: rows})
NAMES: dict[str, tuple[dict[tuple[str, str], int] | None, dict[str, int]]] = {
    # product_region only (no product_location): the name comes from the region table
    "koku__2022-07-01-alt-columns.csv": ({_VIRGINIA: 2}, {"instance": 2}),  # from the ARN
    # product/location only (no region column): the id comes from the name
    "koku__test_cur.csv": ({_VIRGINIA: 3, _CALIFORNIA: 7, _OREGON: 9}, {"instance": 19}),
    "koku__test_local_bucket__koku-local-Manifest.json": (
        {_VIRGINIA: 4443, _CALIFORNIA: 4488, _OREGON: 4449},
        {"instance": 11240, "volume": 1070, "snapshot": 1070}),  # i-, vol-, ARN .../snapshot
    "wal__Oct2018-WorkshopCUR-00001.snappy.parquet": (None, {
        "bucket": 35765, "instance": 33457, "volume": 24902, "db": 5208, "cluster": 1471,
        "devEndpoint": 1185, "CloudWatch Events": 213, "crawler": 13, "log-group": 11,
        "key": 10, "AWS Glue": 1}),
}


def names_are_filled(store: Store, name: str) -> None:
    """RegionName, SubAccountName, ResourceType (and ConsumedUnit) wherever their id is."""
    pairs = store.sql("""SELECT count_if(RegionId IS NOT NULL AND RegionName IS NULL) AS r,
        count_if(RegionId IS NULL AND RegionName IS NOT NULL) AS r2,
        count_if(ResourceId IS NOT NULL AND ResourceType IS NULL) AS t,
        count_if(SubAccountName IS DISTINCT FROM SubAccountId) AS a,
        count_if(ConsumedQuantity IS NOT NULL AND ConsumedUnit IS NULL) AS u FROM focus""")
    # legacy CURs name no account: the id stands in for the name
    assert pairs.to_pylist() == [{"r": 0, "r2": 0, "t": 0, "a": 0, "u": 0}]
    if name not in NAMES:
        return
    regions, types = NAMES[name]
    got = store.sql("SELECT ResourceType AS t, count(*) AS n FROM focus WHERE ResourceId IS "
                    "NOT NULL GROUP BY 1").to_pylist()
    assert {r["t"]: r["n"] for r in got} == types
    if regions is not None:
        got = store.sql("SELECT RegionId AS i, RegionName AS n, count(*) AS c FROM focus "
                        "GROUP BY 1, 2").to_pylist()
        assert {(r["i"], r["n"]): r["c"] for r in got} == regions
    if name.startswith("wal__Oct2018"):
        # free-tier rows carry no pricing/unit: the unit comes from the usage type
        got = store.sql("""SELECT x_UsageType AS u, RegionId AS i, RegionName AS n,
            any_value(ConsumedUnit) AS unit, count(*) AS c FROM focus WHERE x_UsageType IN (
            'EUW2-BoxUsage:t2.micro', 'CW:MetricMonitorUsage', 'TimedStorage-ByteHrs')
            GROUP BY 1, 2, 3 ORDER BY 1""").to_pylist()
        assert [tuple(r.values()) for r in got] == [
            ("CW:MetricMonitorUsage", *_VIRGINIA, "Metrics", 744),
            ("EUW2-BoxUsage:t2.micro", *_LONDON, "Hrs", 744),
            ("TimedStorage-ByteHrs", *_VIRGINIA, "GB-Mo", 219)]
        # us-east-1: the file's location where it has one, else the table's name
        got = store.sql("SELECT RegionName AS n, count(*) AS c FROM focus WHERE RegionId = "
                        "'us-east-1' GROUP BY 1").to_pylist()
        assert got == [{"n": "US East (N. Virginia)", "c": 101360}]


def one(store: Store, where: str, cols: str = "*") -> dict:
    rows = store.sql(f"SELECT {cols} FROM focus WHERE {where}").to_pylist()
    assert len(rows) == 1, rows
    return rows[0]


def test_parquet_reserved_instances(store: Store) -> None:
    ingest(store, [CUR / "wal__Oct2018-WorkshopCUR-00001.snappy.parquet"])
    arn = ("arn:aws:ec2:us-east-1:836060457634:reserved-instances/"
           "3a2944f2-fbdc-4f9a-86f7-4b83dc6e058a")
    fee = one(store, f"\"CommitmentDiscountId\" = '{arn}' AND \"ChargeCategory\" = 'Purchase'")
    assert (fee["BilledCost"], fee["EffectiveCost"], fee["ChargeFrequency"]) == (
        Decimal("22.32"), 0, "Recurring")
    assert fee["CommitmentDiscountCategory"] == "Usage"
    assert fee["CommitmentDiscountStatus"] is None
    unused = one(store, f"\"CommitmentDiscountId\" = '{arn}' AND \"ChargeCategory\" = 'Usage'")
    # nothing used: unused amortized upfront 22.3369863 + unused recurring fee 22.32
    assert unused["CommitmentDiscountStatus"] == "Unused"
    assert (unused["BilledCost"], unused["EffectiveCost"]) == (0, Decimal("44.6569863"))
    assert unused["ConsumedQuantity"] is None and unused["PricingCategory"] == "Committed"
    used = store.sql("""SELECT count(*) AS n, count(DISTINCT "CommitmentDiscountId") AS ids,
        sum("BilledCost") AS billed, min("CommitmentDiscountStatus") AS s,
        min("PricingCategory") AS p FROM focus WHERE x_LineItemType = 'DiscountedUsage'
        """).to_pylist()[0]
    assert used == {"n": 8345, "ids": 8, "billed": 0, "s": "Used", "p": "Committed"}
    statuses = store.sql("""SELECT "CommitmentDiscountStatus" AS s, count(*) AS n FROM focus
        WHERE "CommitmentDiscountId" IS NOT NULL GROUP BY 1 ORDER BY 1 NULLS FIRST""")
    assert statuses.to_pylist() == [{"s": None, "n": 9}, {"s": "Unused", "n": 3},
                                    {"s": "Used", "n": 8345}]


def test_tags_and_cost_categories(store: Store) -> None:
    path = CUR / "koku__November-2023-None.csv"
    ingest(store, [path], allow_bad_rows=True)
    # hand-checked against the file: resourceTags/user:dashed-key-on-aws, user:version set,
    # every other tag cell empty (absent keys, not "")
    row = one(store, "x_LineItemId = '38130d46e3abc5529a86c3ffd195d46b85cb365a'")
    assert json.loads(row["Tags"]) == {"dashed-key-on-aws": "dashed-value", "version": "prod"}
    assert row["x_CostCategory_env"] == "prod"
    assert (row["BilledCost"], row["ServiceCategory"], row["x_UsageType"]) == (
        Decimal("0.096"), "Compute", "BoxUsage:m5.large")
    aws = one(store, "x_LineItemId = '5659af9061e3dec522c0bc20f67cc501aa4c39df'")
    assert json.loads(aws["Tags"]) == {
        "aws:createdBy": "AssumedRole:AROAYSLL3JVQ6DYUNKWQJ:1637692740557658269"}
    # SP-covered usage without a plan ARN or a negation: on-demand billed, SP effective cost
    assert aws["x_LineItemType"] == "SavingsPlanCoveredUsage"
    assert aws["BilledCost"] == Decimal("0.013910122499")
    assert aws["CommitmentDiscountId"] is None and aws["PricingCategory"] == "Committed"


def test_athena_tag_names(store: Store) -> None:
    ingest(store, [CUR / "wal__BeforeCUR.gz"])
    tags = store.sql("SELECT DISTINCT json_keys(\"Tags\") AS k FROM focus WHERE \"Tags\" "
                     "IS NOT NULL").column("k").to_pylist()
    keys = {k for ks in tags for k in ks}
    assert "aws:createdBy" in keys and "cost_center" in keys
    assert not any(k.startswith(("user_", "user:")) for k in keys)


def test_shifted_rows_are_reported_or_quarantined(store: Store) -> None:
    path = CUR / "koku__November-2023-None.csv"
    with pytest.raises(InputError) as e:
        ingest(store, [path])
    assert "line 7" in str(e.value) and "Expected Number of Columns: 200 Found: 194" in str(
        e.value)
    assert store.sql("SELECT count(*) AS n FROM focus").column("n")[0].as_py() == 0
    (report,) = ingest(store, [path], allow_bad_rows=True)
    assert (report.rows, report.rows_quarantined) == (24, 2)
    errors = store.sql("SELECT line, reason, raw FROM ingest_errors ORDER BY line").to_pylist()
    assert [e["line"] for e in errors] == [7, 22]
    with path.open(newline="") as f:
        lines = f.read().split("\n")
    assert errors[0]["raw"] == lines[6].rstrip("\r")


def test_header_longer_than_records_is_read_with_a_warning(store: Store) -> None:
    (report,) = ingest(store, [CUR / "koku__test_cur.csv"])
    assert report.rows == 19
    assert any("131 columns but every record has 130" in w for w in report.warnings)


def test_restatement_replaces_the_not_final_month(store: Store, tmp_path: Path) -> None:
    not_final = CUR / "koku__2023-06-01-not-final.csv"
    final = CUR / "koku__2023-06-01.csv"
    (first,) = ingest(store, [not_final])
    assert first.rows == 3 and first.rows_replaced == 0
    # The shared finalized file names payer 0099999999999, the not-final one 9999999999999:
    # a load replaces only the accounts it carries, so the other account's rows stay.
    (other,) = ingest(store, [final], dry_run=True)
    assert other.rows_replaced == 0
    # the same account's final bill replaces its not-final rows
    same = tmp_path / "2023-06-01-final-same-account.csv"
    same.write_text(final.read_text().replace("0099999999999", "9999999999999"))
    (dry,) = ingest(store, [same], dry_run=True)
    assert dry.rows_replaced == 3 and dry.replaced_totals == {"NOK": Decimal("30")}
    assert store.execute(store.focus.count()).as_py() == 3  # the dry run wrote nothing
    (second,) = ingest(store, [same])
    assert second.rows_replaced == 3
    got = store.sql('SELECT "InvoiceId" AS i, "BillingAccountId" AS a, sum("BilledCost") AS b '
                    "FROM focus GROUP BY ALL")
    assert got.to_pylist() == [{"i": "987654321", "a": "9999999999999", "b": Decimal("30")}]
    assert all(r["status"] == "ok" for r in store.reconcile().to_pylist())


# ---------------------------------------------------------------- generated, known answers
HEADER = ["identity/LineItemId", "bill/InvoiceId", "bill/InvoicingEntity", "bill/PayerAccountId",
          "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate", "lineItem/UsageAccountId",
          "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
          "lineItem/ProductCode", "lineItem/UsageType", "lineItem/Operation",
          "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
          "lineItem/UnblendedCost", "lineItem/TaxType", "pricing/publicOnDemandCost",
          "reservation/ReservationARN", "reservation/EffectiveCost",
          "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
          "reservation/UnusedRecurringFee", "savingsPlan/SavingsPlanARN",
          "savingsPlan/SavingsPlanEffectiveCost", "savingsPlan/TotalCommitmentToDate",
          "savingsPlan/UsedCommitment", "resourceTags/user:team", "resourceTags/aws:createdBy",
          "costCategory/Unit"]
RI, SP = "arn:aws:ec2:us-east-1:012345678901:reserved-instances/r1", "arn:sp/s1"
H0, H1, PREV = "2024-05-03T10:00:00Z", "2024-05-03T11:00:00Z", "2024-04-10T00:00:00Z"


def line(i: str, lit: str, cost: str, **kw: str) -> list[str]:
    base = dict.fromkeys(HEADER, "")
    base.update({"identity/LineItemId": i, "bill/InvoiceId": "INV1",
                 "bill/PayerAccountId": "012345678901",
                 "bill/BillingPeriodStartDate": "2024-05-01T00:00:00Z",
                 "bill/BillingPeriodEndDate": "2024-06-01T00:00:00Z",
                 "lineItem/UsageAccountId": "000000000042", "lineItem/LineItemType": lit,
                 "lineItem/UsageStartDate": H0, "lineItem/UsageEndDate": H1,
                 "lineItem/ProductCode": "AmazonEC2", "lineItem/UsageType": "BoxUsage",
                 "lineItem/Operation": "RunInstances", "lineItem/ResourceId": "i-1",
                 "lineItem/UsageAmount": "1", "lineItem/CurrencyCode": "USD",
                 "lineItem/UnblendedCost": cost})
    base.update(kw)
    return [base[h] for h in HEADER]


ROWS = [
    line("u1", "Usage", "1.25", **{"pricing/publicOnDemandCost": "1.25",
                                   "resourceTags/user:team": "web"}),
    line("ri1", "DiscountedUsage", "0", **{"reservation/ReservationARN": RI,
                                           "reservation/EffectiveCost": "0.6",
                                           "pricing/publicOnDemandCost": "1"}),
    line("rif", "RIFee", "10", **{"reservation/ReservationARN": RI,
                                  "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": "2",
                                  "reservation/UnusedRecurringFee": "3"}),
    line("riup", "Fee", "100", **{"reservation/ReservationARN": RI}),
    line("sp1", "SavingsPlanCoveredUsage", "2", **{"savingsPlan/SavingsPlanARN": SP,
                                                   "savingsPlan/SavingsPlanEffectiveCost": "1.4"}),
    line("neg1", "SavingsPlanNegation", "-2", **{"savingsPlan/SavingsPlanARN": SP}),
    line("spf", "SavingsPlanRecurringFee", "1.5", **{"savingsPlan/SavingsPlanARN": SP,
                                                      "savingsPlan/TotalCommitmentToDate": "1.5",
                                                      "savingsPlan/UsedCommitment": "1.4"}),
    line("spup", "SavingsPlanUpfrontFee", "50", **{"savingsPlan/SavingsPlanARN": SP}),
    line("tax", "Tax", "0.8", **{"lineItem/TaxType": "VAT"}),
    line("cr", "Credit", "-0.5"),
    line("rf", "Refund", "-0.25", **{"lineItem/UsageStartDate": PREV}),
    line("edp", "EdpDiscount", "-0.1", **{"resourceTags/aws:createdBy": "IAMUser:x"}),
]


def write_cur(path: Path, rows: list[list[str]] = ROWS) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def test_every_line_item_type(store: Store, tmp_path: Path) -> None:
    (report,) = ingest(store, [write_cur(tmp_path / "cur.csv")])
    assert report.rows == 12 - 1 + 2  # negation folded, RI and SP unused rows added
    rows = {r["x_LineItemId"]: r for r in store.sql("SELECT * FROM focus").to_pylist()}
    assert set(rows) == {"u1", "ri1", "rif", "riup", "sp1", "spf", "spup", "tax", "cr", "rf",
                         "edp", "rif:unused", "spf:unused"}

    def get(i: str, *cols: str) -> tuple:
        return tuple(rows[i][c] for c in cols)

    cols = ("ChargeCategory", "BilledCost", "EffectiveCost", "CommitmentDiscountStatus")
    assert get("u1", *cols) == ("Usage", Decimal("1.25"), Decimal("1.25"), None)
    assert get("ri1", *cols) == ("Usage", 0, Decimal("0.6"), "Used")
    assert get("rif", *cols) == ("Purchase", 10, 0, None)
    assert get("rif:unused", *cols) == ("Usage", 0, 5, "Unused")
    assert get("riup", *cols) == ("Purchase", 100, 0, None)
    assert get("sp1", *cols) == ("Usage", 0, Decimal("1.4"), "Used")
    assert get("spf", *cols) == ("Purchase", Decimal("1.5"), 0, None)
    assert get("spf:unused", *cols) == ("Usage", 0, Decimal("0.1"), "Unused")
    assert get("spup", *cols) == ("Purchase", 50, 0, None)
    assert get("tax", *cols) == ("Tax", Decimal("0.8"), Decimal("0.8"), None)
    assert get("cr", *cols) == ("Credit", Decimal("-0.5"), Decimal("-0.5"), None)
    assert get("rf", "ChargeCategory", "ChargeClass") == ("Usage", "Correction")
    assert get("edp", "ChargeCategory", "BilledCost") == ("Usage", Decimal("-0.1"))
    assert get("sp1", "CommitmentDiscountId", "CommitmentDiscountCategory",
               "CommitmentDiscountType") == (SP, "Spend", "Savings Plan")
    assert get("rif:unused", "CommitmentDiscountId", "CommitmentDiscountCategory",
               "ConsumedQuantity") == (RI, "Usage", None)
    assert get("rif", "ChargeFrequency") == ("Recurring",)
    assert get("spup", "ChargeFrequency") == ("One-Time",)
    assert json.loads(rows["u1"]["Tags"]) == {"team": "web"}
    assert json.loads(rows["edp"]["Tags"]) == {"aws:createdBy": "IAMUser:x"}
    assert rows["tax"]["Tags"] is None
    assert get("u1", "BillingAccountId", "SubAccountId", "InvoiceId", "InvoiceIssuerName") == (
        "012345678901", "000000000042", "INV1", "AWS")
    billed = sum(Decimal(r[HEADER.index("lineItem/UnblendedCost")]) for r in ROWS)
    assert sum(r["BilledCost"] for r in rows.values()) == billed
    # invariant per commitment: Used + Unused EffectiveCost = amortized cost of the period
    assert rows["ri1"]["EffectiveCost"] + rows["rif:unused"]["EffectiveCost"] == Decimal("5.6")


def test_negation_folds_into_one_of_several_covered_rows(store: Store, tmp_path: Path) -> None:
    """Covered rows sharing a match key and a LineItemId (here: none): the negation is
    folded into exactly one of them (the window fallback of the mapping)."""
    sp = {"savingsPlan/SavingsPlanARN": SP, "savingsPlan/SavingsPlanEffectiveCost": "1.4"}
    rows = [line("", "SavingsPlanCoveredUsage", "2", **sp),
            line("", "SavingsPlanCoveredUsage", "2", **sp),
            line("n", "SavingsPlanNegation", "-2", **{"savingsPlan/SavingsPlanARN": SP})]
    (report,) = ingest(store, [write_cur(tmp_path / "cur.csv", rows)])
    assert report.rows == 2
    got = store.sql('SELECT "BilledCost" FROM focus ORDER BY 1').column(0).to_pylist()
    assert got == [0, 2]


@pytest.mark.parametrize("packing", ["gz", "zip", "hive", "hive-headerless"])
def test_packings(store: Store, tmp_path: Path, packing: str) -> None:
    plain = write_cur(tmp_path / "plain.csv")
    if packing == "gz":
        path = tmp_path / "cur.csv.gz"
        path.write_bytes(gzip.compress(plain.read_bytes()))
    elif packing == "zip":
        path = tmp_path / "cur.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.write(plain, "cur-00001.csv")
    else:
        folder = tmp_path / "hive"
        folder.mkdir()
        path = folder / "part-00000.gz"
        body = [r if packing == "hive" else None for r in [HEADER]] + ROWS
        text = "\n".join("\x01".join(v if v else "\\N" for v in r) for r in body if r) + "\n"
        path.write_bytes(gzip.compress(text.encode()))
        if packing == "hive-headerless":
            cols = [{"category": h.split("/")[0], "name": h.split("/")[1]} for h in HEADER]
            (folder / "cur-Manifest.json").write_text(json.dumps(
                {"columns": cols, "reportKeys": ["x/part-00000.gz"]}))
    plain.unlink()
    assert detect(path).name == "aws-cur"
    (report,) = ingest(store, [path.parent if packing == "hive-headerless" else path])
    assert report.rows == 13
    total = store.sql('SELECT sum("BilledCost") AS b FROM focus').column("b")[0].as_py()
    assert total == Decimal("162.7")


def test_not_a_cur(store: Store, tmp_path: Path) -> None:
    path = write_cur(tmp_path / "cur.csv")
    text = path.read_text().replace("bill/PayerAccountId", "bill/Payer")
    path.write_text(text)
    with pytest.raises(InputError) as e:
        ingest(store, [path], fmt="aws-cur")
    assert "bill/PayerAccountId" in str(e.value)


def test_bad_value_is_quarantined_with_its_line(store: Store, tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][HEADER.index("lineItem/UnblendedCost")] = "ten"
    path = write_cur(tmp_path / "cur.csv", rows)
    with pytest.raises(InputError) as e:
        ingest(store, [path])
    assert "line 4" in str(e.value) and "lineItem/UnblendedCost" in str(e.value)
    (report,) = ingest(store, [path], allow_bad_rows=True)
    assert (report.rows, report.rows_quarantined) == (11, 1)


def test_cli_ingest_and_dry_run(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "cl.duckdb")
    path = str(CUR / "wal__BeforeCUR.gz")
    dry = runner.invoke(app, ["ingest", path, "--store", db, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would load 7,850 rows" in dry.output
    (load,) = json.loads(runner.invoke(app, ["ingest", path, "--store", db, "--dry-run", "-f",
                                             "json"]).stdout)
    assert {r["metric"]: r["source_total"] for r in load["reconciliation"]} == {
        "BilledCost": "89.170632878", "EffectiveCost": "89.170632878"}
    assert (load["dry_run"], load["rows"], load["replaced"]) == (True, 7850, [])
    done = runner.invoke(app, ["ingest", path, "--store", db])
    assert done.exit_code == 0, done.output
    assert "loaded 7,850 rows" in done.output and "aws-cur" in done.output
    again = runner.invoke(app, ["ingest", path, "--store", db, "--dry-run"])
    assert again.exit_code == 0 and "already loaded (ingest 1)" in again.output
    restated = tmp_path / "restated.csv.gz"
    restated.write_bytes(gzip.compress(gzip.decompress(Path(path).read_bytes()), mtime=1))
    again = runner.invoke(app, ["ingest", str(restated), "--store", db, "--dry-run"])
    assert "replaced 7,850 earlier rows" in again.output
    rec = runner.invoke(app, ["reconcile", "--store", db])
    assert rec.exit_code == 0, rec.output
