"""Rightsizing on generated metrics with known answers: percentiles against numpy, sizing
decisions and savings computed by hand, Azure Advisor's shutdown rule at its edges, and the
inputs that cannot be judged (metrics without billing, gaps, unknown instance types)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from cloudledger import focus
from cloudledger.cli import app
from cloudledger.ingest.utilization import load_utilization
from cloudledger.optimize.catalog import Catalog, shipped, type_key
from cloudledger.optimize.recommenders.rightsizing import analyze
from cloudledger.optimize.registry import RECOMMENDERS
from cloudledger.optimize.rightsizing import RightsizingOptions, Stats, decide
from cloudledger.store import Store

START = datetime(2026, 5, 1)
STEPS = 14 * 288  # 14 days of 5-minute samples
MONTH = Decimal(365) / Decimal(12)


def times(steps: int = STEPS, start: datetime = START) -> list[datetime]:
    return [start + timedelta(minutes=5 * i) for i in range(steps)]


def write_metrics(path: Path, series: dict[str, dict[str, Any]]) -> Path:
    """A utilization CSV: resource -> {column: array or scalar, 'ts': timestamps}."""
    lines = ["resource_id,timestamp,cpu,cpu_max,memory,network_out"]
    for rid, cols in series.items():
        ts = cols.get("ts") or times()
        n = len(ts)

        def col(name: str, n: int = n, cols: dict[str, Any] = cols) -> list[str]:
            v = cols.get(name)
            if v is None:
                return [""] * n
            arr = np.broadcast_to(np.asarray(v, dtype=float), (n,))
            return [repr(float(x)) for x in arr]
        cpu, cmax, mem, net = col("cpu"), col("cpu_max"), col("memory"), col("network_out")
        for i, t in enumerate(ts):
            lines.append(f"{rid},{t.isoformat()}Z,{cpu[i]},{cmax[i]},{mem[i]},{net[i]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def bill(store: Store, resources: dict[str, tuple[str | None, str]], days: int = 30,
         region: str = "us-east-1") -> None:
    """One hourly usage row per resource and day: resource -> (size, daily cost); the list
    price is the shipped catalog's price of the size (0.384 for m5.2xlarge)."""
    rows = []
    prices = {s.key: s.hourly for s in shipped()}
    for rid, (size, daily) in resources.items():
        for d in range(days):
            day = START + timedelta(days=d - 16)
            rows.append({
                "ResourceId": rid, "ChargePeriodStart": day,
                "ChargePeriodEnd": day + timedelta(days=1), "BillingPeriodStart": START,
                "BillingPeriodEnd": START + timedelta(days=31), "ChargeCategory": "Usage",
                "BillingCurrency": "USD", "BillingAccountId": "acct-1", "SubAccountId": "sub-1",
                "ProviderName": "AWS", "RegionId": region, "PricingUnit": "Hours",
                "ServiceName": "Amazon EC2", "EffectiveCost": Decimal(daily),
                "BilledCost": Decimal(daily), "ListCost": Decimal(daily),
                "ListUnitPrice": prices.get(type_key(size or ""), Decimal("0.5")),
                "SkuPriceDetails": json.dumps({"x_Size": size}) if size else None})
    schema = focus.canonical_schema()
    import ibis
    sch = ibis.schema(schema)
    def conv(v: Any, t: Any) -> Any:
        return float(v) if v is not None and t.is_floating() else v
    table = pa.table({n: pa.array([conv(r.get(n), t) for r in rows], type=t.to_pyarrow())
                      for n, t in sch.items()})
    store.engine.register("cl_test_focus", table)
    store.engine.execute("INSERT INTO focus BY NAME SELECT * FROM cl_test_focus")
    store.engine.unregister("cl_test_focus")


def by_resource(res: Any) -> dict[str, Any]:
    return {r.resource: r for r in res.recommendations}


def reasons(res: Any) -> dict[str, str]:
    return {s["resource_id"]: s["reason"] for s in res.skipped}


# --------------------------------------------------------------- percentiles (engine)
def test_percentiles_match_numpy(store: Store, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    cpu = rng.gamma(2.0, 4.0, STEPS).clip(0, 100)
    mem = rng.uniform(20, 60, STEPS)
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-a": {"cpu": cpu, "memory": mem}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    res = analyze(store, RightsizingOptions(percentile=95))
    [rec] = res.recommendations
    e = rec.evidence
    assert e["cpu_p_pct"] == round(float(np.percentile(cpu, 95)), 2)
    assert e["cpu_p99_pct"] == round(float(np.percentile(cpu, 99)), 2)
    assert e["memory_p_pct"] == round(float(np.percentile(mem, 95)), 2)
    assert e["samples"] == STEPS and e["coverage_pct"] == 100.0
    res99 = analyze(store, RightsizingOptions(percentile=99))
    assert res99.recommendations[0].evidence["cpu_p_pct"] == e["cpu_p99_pct"]


def test_lookback_and_as_of_choose_the_samples(store: Store, tmp_path: Path) -> None:
    # 7 quiet days then 7 busy days: a 7-day lookback ending on day 7 sees only quiet ones
    cpu = np.r_[np.full(STEPS // 2, 10.0), np.full(STEPS // 2, 60.0)]
    load_utilization(store, write_metrics(tmp_path / "m.csv", {"i-a": {"cpu": cpu,
                                                                        "memory": 60.0}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    early = analyze(store, RightsizingOptions(lookback_days=7), as_of=date(2026, 5, 8))
    assert early.recommendations[0].evidence["cpu_p_pct"] == 10.0
    late = analyze(store, RightsizingOptions(lookback_days=7))
    assert late.recommendations == []   # P95 60 % x 1.2 does not fit a smaller size


# ------------------------------------------------------------------ sizing decisions
def test_downsize_within_family_without_memory_and_exact_savings(store: Store,
                                                                 tmp_path: Path) -> None:
    load_utilization(store, write_metrics(tmp_path / "m.csv", {"i-a": {"cpu": 20.0}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})   # 0.384 $/h x 24 h
    [rec] = analyze(store, RightsizingOptions()).recommendations
    # need 8 vCPU x 20 % x 1.2 = 1.92 vCPU; memory unmeasured: same family -> m5.large
    assert rec.evidence["target_type"] == "m5.large"
    assert rec.evidence["action"] == "downsize"
    monthly = Decimal("9.216") * MONTH
    assert rec.monthly_savings == (monthly * (1 - Decimal("0.096") / Decimal("0.384"))
                                   ).quantize(Decimal("0.01")) == Decimal("210.24")
    assert isinstance(rec.monthly_savings, Decimal)
    assert "memory not measured" in (rec.risk or "")


def test_cheaper_family_when_memory_allows(store: Store, tmp_path: Path) -> None:
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-a": {"cpu": 20.0, "memory": 30.0}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    # need 1.92 vCPU and 32 x 30 % x 1.2 = 11.52 GiB: m5.large (8 GiB) is too small,
    # r5.large (2 vCPU, 16 GiB, 0.126) is cheaper than m5.xlarge (0.192)
    [rec] = analyze(store, RightsizingOptions()).recommendations
    assert (rec.evidence["action"], rec.evidence["target_type"]) == ("change-family",
                                                                     "r5.large")
    [same] = analyze(store, RightsizingOptions(cross_family=False)).recommendations
    assert same.evidence["target_type"] == "m5.xlarge"
    [tight] = analyze(store, RightsizingOptions(headroom=1.0)).recommendations
    assert tight.evidence["target_type"] == "r5.xlarge"  # 3.2 vCPU, 19.2 GiB needed


def test_billed_prices_win_over_the_shipped_catalog(store: Store, tmp_path: Path) -> None:
    load_utilization(store, write_metrics(tmp_path / "m.csv", {"i-a": {"cpu": 20.0}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    bill(store, {"i-other": ("m5.large", "2.4")})     # billed at the shipped 0.096 too
    store.engine.execute("UPDATE focus SET ListUnitPrice = 0.1 WHERE ResourceId = 'i-other'")
    [rec] = analyze(store, RightsizingOptions()).recommendations
    assert rec.evidence["price_source"] == "billing"
    expected = (Decimal("9.216") * MONTH * (1 - Decimal("0.1") / Decimal("0.384"))
                ).quantize(Decimal("0.01"))
    assert rec.monthly_savings == expected


def test_clipped_peaks_are_counted_in_the_risk(store: Store, tmp_path: Path) -> None:
    cpu = np.full(STEPS, 10.0)
    cmax = np.full(STEPS, 12.0)
    spikes = np.arange(0, STEPS, 200)           # 21 samples with a 40 % peak
    cmax[spikes] = 40.0
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-a": {"cpu": cpu, "cpu_max": cmax}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    [rec] = analyze(store, RightsizingOptions()).recommendations
    assert rec.evidence["target_type"] == "m5.large"          # factor 4: 40 % -> 160 %
    assert rec.evidence["cpu_clipped_samples"] == len(spikes)
    assert f"{len(spikes)} of {STEPS} samples" in (rec.risk or "")


def test_no_recommendation_when_busy(store: Store, tmp_path: Path) -> None:
    load_utilization(store, write_metrics(tmp_path / "m.csv", {"i-a": {"cpu": 70.0}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    res = analyze(store, RightsizingOptions())
    assert res.recommendations == [] and res.skipped == []


# ------------------------------------------------------------------ shutdown rule
@pytest.mark.parametrize(("cpu", "cpu_max", "shutdown"), [
    (1.0, 2.9, True),     # P95 of max < 3, P100 of average <= 2
    (1.0, 3.0, False),    # P95 of max == 3: not < 3
    (2.0, 2.5, True),     # P100 of average == 2: <= 2 holds
    (2.01, 2.5, False),   # just above
])
def test_shutdown_rule_edges(store: Store, tmp_path: Path, cpu: float, cpu_max: float,
                             shutdown: bool) -> None:
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-a": {"cpu": cpu, "cpu_max": cpu_max}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    recs = analyze(store, RightsizingOptions()).recommendations
    actions = [r.evidence["action"] for r in recs]
    assert (actions == ["shutdown"]) is shutdown
    if shutdown:
        assert recs[0].monthly_savings == (Decimal("9.216") * MONTH).quantize(Decimal("0.01"))
        assert "rests on CPU alone" in (recs[0].risk or "")


def test_shutdown_windows_are_the_last_7_and_3_days(store: Store, tmp_path: Path) -> None:
    base = np.full(STEPS, 1.0)
    old_spike, new_spike = base.copy(), base.copy()
    old_spike[STEPS - 5 * 288] = 50.0      # 5 days before the end: outside the 3 days
    new_spike[STEPS - 288] = 50.0          # inside the last 3 days
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-old": {"cpu": old_spike, "cpu_max": old_spike},
        "i-new": {"cpu": new_spike, "cpu_max": new_spike}}))
    bill(store, {"i-old": ("m5.2xlarge", "9.216"), "i-new": ("m5.2xlarge", "9.216")})
    recs = by_resource(analyze(store, RightsizingOptions()))
    assert recs["i-old"].evidence["action"] == "shutdown"
    assert recs["i-new"].evidence["action"] == "downsize"


@pytest.mark.parametrize(("pct", "shutdown"), [(1.0, True), (3.0, False)])
def test_shutdown_needs_low_outbound_network(store: Store, tmp_path: Path, pct: float,
                                             shutdown: bool) -> None:
    # m5.2xlarge: 10 Gbps nominal; pct % of it, in bytes per 5-minute sample
    per_sample = pct / 100 * 10e9 / 8 * 300
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-a": {"cpu": 1.0, "cpu_max": 2.0, "network_out": per_sample}}))
    bill(store, {"i-a": ("m5.2xlarge", "9.216")})
    [rec] = analyze(store, RightsizingOptions()).recommendations
    assert (rec.evidence["action"] == "shutdown") is shutdown
    assert rec.evidence["network_out_pct"] == pytest.approx(pct)


# ------------------------------------------------------------------ bad inputs
def test_inputs_that_cannot_be_judged_are_reported(store: Store, tmp_path: Path) -> None:
    gap_ts = times(3 * 288, START + timedelta(days=11))      # 3 of 14 days
    load_utilization(store, write_metrics(tmp_path / "m.csv", {
        "i-ok": {"cpu": 20.0},
        "i-nobill": {"cpu": 20.0},
        "i-weird": {"cpu": 20.0},
        "i-weird-idle": {"cpu": 0.5, "cpu_max": 1.0},
        "i-gaps": {"cpu": 20.0, "ts": gap_ts},
        "i-arn": {"cpu": 20.0}}))
    bill(store, {"i-ok": ("m5.2xlarge", "9.216"), "i-weird": ("quantum.huge", "9.216"),
                 "i-weird-idle": ("quantum.huge", "9.216"),
                 "i-gaps": ("m5.2xlarge", "9.216"), "i-notmeasured": ("m5.large", "2.304"),
                 "arn:aws:ec2:us-east-1:123:instance/I-ARN": ("m5.2xlarge", "9.216")})
    res = analyze(store, RightsizingOptions())
    why = reasons(res)
    assert "no billing rows" in why["i-nobill"]
    assert "unknown instance type 'quantum.huge'" in why["i-weird"]
    assert "cover 21.4% of the 14-day lookback" in why["i-gaps"]
    recs = by_resource(res)
    assert recs["i-weird-idle"].evidence["action"] == "shutdown"   # needs no size
    assert recs["arn:aws:ec2:us-east-1:123:instance/I-ARN"].evidence["target_type"] == \
        "m5.large"
    assert set(recs) | set(why) == {"i-ok", "i-nobill", "i-weird", "i-weird-idle", "i-gaps",
                                    "arn:aws:ec2:us-east-1:123:instance/I-ARN"}


def test_no_utilization_table_is_a_note(store: Store) -> None:
    res = analyze(store, RightsizingOptions())
    assert res.recommendations == [] and "metrics load" in res.skipped[0]["reason"]


def test_decide_unknown_type_and_no_samples() -> None:
    opts, cat = RightsizingOptions(), Catalog()
    s = Stats("x", samples=0, coverage_pct=0, cpu_p=None, cpu_p99=None, cpu_top=None)
    assert decide(s, None, cat, None, opts).skip == "no CPU samples in the lookback"
    busy = Stats("x", samples=100, coverage_pct=100, cpu_p=20, cpu_p99=30, cpu_top=40)
    d = decide(busy, None, cat, None, opts, unknown_type="z9.mega")
    assert d.action is None and "unknown instance type 'z9.mega'" in (d.skip or "")


def test_catalog_keys_and_azure_names() -> None:
    cat = Catalog()
    assert cat.find("D2s v3") == cat.find("Standard_D2s_v3") == cat.find("standard_d2s_v3")
    assert cat.find("nope") is None
    assert all(s.hourly > 0 and s.vcpu > 0 for s in shipped())
    assert {s.provider for s in shipped()} == {"AWS", "Azure", "GCP"}


# ------------------------------------------------------------------ registry and CLI
def test_registered_with_options() -> None:
    rec = RECOMMENDERS.find("rightsizing")
    assert rec.category == "rightsizing" and rec.options is RightsizingOptions


def test_cli_json_csv_and_bad_as_of(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    st = Store(path)
    load_utilization(st, write_metrics(tmp_path / "m.csv", {"i-a": {"cpu": 20.0},
                                                             "i-nobill": {"cpu": 5.0}}))
    bill(st, {"i-a": ("m5.2xlarge", "9.216")})
    st.close()
    runner = CliRunner()
    r = runner.invoke(app, ["recommend", "rightsizing", "--store", str(path), "-f", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["recommendations"][0]["monthly_savings"] == "210.24"
    assert doc["skipped"][0]["resource_id"] == "i-nobill"
    r = runner.invoke(app, ["recommend", "rightsizing", "--store", str(path), "-f", "csv",
                            "--headroom", "20", "--lookback", "14"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("section,id,resource") and len(lines) == 3
    r = runner.invoke(app, ["recommend", "rightsizing", "--store", str(path), "--as-of",
                            "May 1"])
    assert r.exit_code == 2 and "--as-of" in r.stderr
    r = runner.invoke(app, ["recommend", "rightsizing", "--store", str(path)])
    assert r.exit_code == 0 and "m5.large" in r.stdout and "i-nobill" in r.stdout
