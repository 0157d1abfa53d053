"""Money leaves every command exact: a 1234567.123456789012 cost goes through ingest,
reconcile, summary, sql, allocate, tags, explain, showback, chargeback and unit-costs and
comes out as that exact string in JSON and in CSV (never through float, never in exponent
notation); CSV lines end in LF; percentages are ``*_pct`` numbers in percent.

The store: one row of the shared FOCUS 1.0 sample with all four cost metrics set to the
amount, tagged team=payments, cc=CC-1; allocated with a two-dimension config.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.encode import csv_cell, decimal_text, encode, to_csv, to_json

EXACT = "1234567.123456789012"
SAMPLE = "focus/focus_sample_1.0.csv"
CONFIG = """\
owners:
  dimensions: [team, cost_center]
tags:
  aliases: {team: [team], cost_center: [cc]}
  values: {}
  required: [team]
"""
runner = CliRunner()


def only_exact(text: str) -> bool:
    """Every printed form of the amount is the exact one (a float prints 1234567.123456789
    or 1.234567123456789e+06)."""
    return (set(re.findall(r"1234567\.\d+", text)) == {EXACT}
            and not re.search(r"\d[eE][+-]\d", text))


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def write_exact(shared_data: Path, path: Path, description: str | None = None) -> Path:
    with (shared_data / SAMPLE).open(newline="") as f:
        header, first = list(csv.reader(f))[:2]
    for metric in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
        first[header.index(metric)] = EXACT
    first[header.index("Tags")] = '{"team": "payments", "cc": "CC-1"}'
    if description is not None:
        first[header.index("ChargeDescription")] = description
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerow(first)
    return path


class Setup:
    def __init__(self, root: Path, shared_data: Path):
        self.root = root
        self.store = str(root / "exact.duckdb")
        self.config = root / "cloudledger.yaml"
        self.config.write_text(CONFIG)
        self.file = write_exact(shared_data, root / "exact.csv")
        self.copy = write_exact(shared_data, root / "restated.csv", "restated")
        self.metrics = root / "requests.csv"
        self.metrics.write_text("date,metric,value\n2024-09-18,requests,1000\n")
        self.ingest_json = json.loads(run("ingest", str(self.file), "--store", self.store,
                                          "-f", "json"))
        run("allocate", "--store", self.store, "--config", str(self.config))
        run("metrics", "load", str(self.metrics), "--store", self.store)

    def args(self, *command: str, settings: bool = False) -> list[str]:
        extra = ["--config", str(self.config)] if settings else []
        return [*command, "--store", self.store, *extra]


@pytest.fixture(scope="module")
def setup(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("exact"), shared_data)


def test_ingest_json_is_one_object_per_load(setup: Setup) -> None:
    (load,) = setup.ingest_json
    assert {"ingest_id", "source", "files", "rows", "rows_replaced", "rows_quarantined",
            "warnings", "replaced", "reconciliation"} <= set(load)
    assert (load["ingest_id"], load["source"], load["rows"], load["replaced"]) == (
        1, "focus", 1, [])
    assert load["files"] == [str(setup.file)]
    assert any("x_<name>: Id" in w for w in load["warnings"])
    assert {(r["metric"], r["source_total"], r["loaded_total"], r["difference"], r["status"])
            for r in load["reconciliation"]} == {
        ("BilledCost", EXACT, EXACT, "0.00", "ok"), ("EffectiveCost", EXACT, EXACT, "0.00",
                                                     "ok")}


def test_ingest_dry_run_json_lists_what_it_replaces(setup: Setup) -> None:
    doc = json.loads(run(*setup.args("ingest", str(setup.copy), "--dry-run", "-f", "json")))
    (load,) = doc
    assert load["dry_run"] is True and load["rows_replaced"] == 1
    (replaced,) = load["replaced"]
    assert replaced == {"provider": "AWS", "billing_account": "1234567890123",
                        "billing_period": "2024-09-01", "currency": "USD", "rows": 1,
                        "BilledCost": EXACT, "EffectiveCost": EXACT, "sources": ["focus"],
                        "ingests": [1]}


def test_ingest_prints_one_line_per_load_and_the_table_with_verbose(setup: Setup) -> None:
    short = run(*setup.args("ingest", str(setup.copy), "--dry-run"))
    assert "would load 1 rows from restated.csv as focus" in short
    assert "replaced 1 earlier rows (BilledCost 1,234,567.12 USD)" in short
    assert "2/2 totals match" in short and "Reconciliation" not in short
    verbose = run(*setup.args("ingest", str(setup.copy), "--dry-run", "--verbose"))
    assert "Reconciliation" in verbose and "Replaced" in verbose


#: (command, JSON -> the amounts it holds, CSV column of the amount, settings needed)
CASES: list[tuple[str, list[str], Any, str, bool]] = [
    ("ingest", ["ingest", "{copy}", "--dry-run"],
     lambda d: [d[0]["replaced"][0]["BilledCost"]]
     + [r[k] for r in d[0]["reconciliation"] for k in ("source_total", "loaded_total")],
     "loaded_total", False),
    ("reconcile", ["reconcile"],
     lambda d: [r[k] for r in d for k in ("source_total", "store_total")], "store_total",
     False),
    ("summary", ["summary"],
     lambda d: [d["by_provider"][0]["EffectiveCost"], d["by_service"][0]["EffectiveCost"],
                d["by_month"][0]["EffectiveCost"], d["tag_coverage"][0]["total"],
                d["top_movers"][0]["current"]], "EffectiveCost", False),
    ("summary --by", ["summary", "--by", "account", "--metric", "BilledCost"],
     lambda d: [d[0]["BilledCost"]], "BilledCost", False),
    ("sql", ["sql", "SELECT BilledCost, EffectiveCost FROM focus"],
     lambda d: [d[0]["BilledCost"], d[0]["EffectiveCost"]], "BilledCost", False),
    ("allocate", ["allocate"],
     lambda d: [r[k] for r in d for k in ("focus", "allocated")], "allocated", True),
    ("tags", ["tags"], lambda d: [d["coverage"][0]["EffectiveCost"],
                                  d["coverage"][0]["BilledCost"]], "EffectiveCost", True),
    ("explain", ["explain", "--team", "payments"], lambda d: [d[0]["amount"]], "amount", True),
    ("showback", ["showback"], lambda d: [d[0]["direct"], d[0]["total"]], "total", True),
    ("chargeback", ["chargeback", "--precision", "12"],
     lambda d: [d["entries"][0]["amount"], d["summary"][0]["total"]], "amount", True),
    ("unit-costs", ["unit-costs"], lambda d: [d[0]["cost"]], "cost", True),
]


@pytest.mark.parametrize(("name", "command", "amounts", "column", "settings"), CASES,
                         ids=[c[0] for c in CASES])
def test_exact_in_json_and_csv(setup: Setup, name: str, command: list[str], amounts: Any,
                               column: str, settings: bool) -> None:
    command = [a.replace("{copy}", str(setup.copy)) for a in command]
    text = run(*setup.args(*command, settings=settings), "-f", "json")
    got = amounts(json.loads(text))
    assert got and all(v == EXACT for v in got), (name, got)
    assert only_exact(text), text
    text = run(*setup.args(*command, settings=settings), "-f", "csv")
    assert "\r" not in text and text.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    values = [r[column] for r in rows if r.get(column)]
    assert values and all(v == EXACT for v in values), (name, values)
    assert only_exact(text), text


def test_percentages_are_percent_with_a_pct_suffix(setup: Setup) -> None:
    doc = json.loads(run(*setup.args("summary", "-f", "json")))
    assert doc["by_provider"][0]["share_pct"] == 100.0
    assert doc["tag_coverage"][0]["coverage_pct"] == 100.0     # the row carries a team tag
    for rows in doc.values():
        for r in rows:
            assert not {"share", "coverage"} & set(r)
    tags = json.loads(run(*setup.args("tags", "-f", "json", settings=True)))
    assert tags["coverage"][0]["team_EffectiveCost_pct"] == 100.0


def test_showback_xlsx_holds_numbers_in_the_currency_format(setup: Setup) -> None:
    from openpyxl import load_workbook

    path = setup.root / "showback.xlsx"
    run(*setup.args("showback", "-f", "xlsx", "-o", str(path), settings=True))
    ws = load_workbook(path)["showback"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(row=2, column=header.index("total") + 1)
    assert isinstance(cell.value, float) and cell.value == pytest.approx(float(EXACT))
    assert cell.number_format == '#,##0.00 "USD"'
    assert ws.cell(row=2, column=header.index("days") + 1).number_format == "General"


# ------------------------------------------------------------------ the encoder itself
@pytest.mark.parametrize(("value", "text"), [
    (Decimal("2252143.986302126800"), "2252143.9863021268"),
    (Decimal("6.183E-15"), "0.000000000000006183"),
    (Decimal("1E+3"), "1000.00"),
    (Decimal("110.000000000000"), "110.00"),
    (Decimal("-0.000000000000"), "0.00"),
    (Decimal("-5.5"), "-5.50"),
    (Decimal(EXACT), EXACT),
])
def test_decimal_text(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text
    assert json.loads(to_json({"v": value})) == {"v": text}


def test_encode_scalars() -> None:
    from datetime import date, datetime

    assert encode(datetime(2026, 5, 1, 12, 30)) == "2026-05-01T12:30:00"
    assert encode(date(2026, 5, 1)) == "2026-05-01"
    assert encode(Path("a/b.csv")) == "a/b.csv"
    assert to_json([float("nan"), 12.5, None]) == "[\n null,\n 12.5,\n null\n]"
    assert csv_cell(True) == "true" and csv_cell(None) == "" and csv_cell([1, "a"]) == '[1, "a"]'
    assert to_csv([{"a": Decimal("1.5"), "b": None}], ["a", "b"]) == "a,b\n1.50,\n"
