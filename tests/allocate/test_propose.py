"""`cloudledger init --store`: settings proposed from the store's own bills.

A generated store with known tag keys gives known dimensions, aliases, values and pools;
every shared native export and the demo go init --store -> allocate -> showback with no
hand edits, and allocation conserves money.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from cloudledger.allocate import allocate
from cloudledger.allocate.propose import ACCOUNT, propose
from cloudledger.allocate.propose_names import Share as S
from cloudledger.allocate.propose_names import classify, variant_groups
from cloudledger.allocate.propose_render import render, scalar
from cloudledger.cli import app
from cloudledger.config import load_settings
from cloudledger.ingest import ingest
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus
from tests.quality.test_validate_native import DEFECTIVE, LOADS, NATIVE

METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


# ------------------------------------------------------------------ tag key vocabulary
@pytest.mark.parametrize(("key", "dim"), [
    ("team", "team"), ("Team", "team"), ("owner-team", "team"), ("app:team", "team"),
    ("BusinessOwner", "team"), ("department", "team"), ("my_team", "team"),
    ("env", "environment"), ("Environment", "environment"), ("stage", "environment"),
    ("app", "product"), ("application", "product"), ("workload", "product"),
    ("CostCenter", "cost_center"), ("cost-center", "cost_center"), ("cost_centre", "cost_center"),
    ("cost-pool", "pool"),
    ("aws:createdBy", None), ("goog-resource-type", None), ("aks-managed-poolName", None),
    ("eks:cluster-name", None), ("Name", None), ("workload_type", None), ("tier", None),
    ("kubernetes.io-created-for-pvc-namespace", None), ("", None),
])
def test_classify(key: str, dim: str | None) -> None:
    assert classify(key) == dim


def test_variant_groups() -> None:
    seen = [S("prod", .5), S("production", .2), S("stg", .1), S("qa-east", .05)]
    assert variant_groups("environment", seen) == {
        "prod": ["production", "prd", "live"],
        "staging": ["stage", "stg", "preprod", "pre-prod", "uat"]}
    seen = [S("data-eng", .3), S("payments", .2), S("data_eng", .1), S("payments-team", .1),
            S("dataeng", .01), S("search", .01)]
    assert variant_groups("team", seen) == {"data-eng": ["data_eng", "dataeng"],
                                            "payments": ["payments-team"]}
    # outside team, a "-team" suffix is part of the name
    assert variant_groups("product", seen[:4]) == {"data-eng": ["data_eng"]}


@pytest.mark.parametrize("value", [
    "011254002932", "418276530912", "1.0", "-5", "1e3", "yes", "no", "on", "null", "~",
    "true", "a: b", "#x", "x #y", "Trey Research R&D", "cost-pool", " x", "x ", "",
    "app:team", "[a]", "{a}", "*a", "&a", "!a", "é", "a,b", "'q'", '"q"', "2024-01-01"])
def test_scalar_reads_back(value: str) -> None:
    for text in (f"k: {scalar(value)}", f"k: [{scalar(value)}]", f"k: {{{scalar(value)}: 1}}"):
        doc = yaml.safe_load(text)["k"]
        assert (doc if isinstance(doc, str) else doc[0] if isinstance(doc, list)
                else next(iter(doc))) == value, text
    if value.isdigit():
        assert scalar(value).startswith('"')  # 0112... is a number to YAML 1.2 readers


# ------------------------------------------------------------------ known tag keys
def _tagged_rows() -> list[dict[str, Any]]:
    """$1000 a month for two months: team 56%, Team 20%, owner 5%, owner-team 1%,
    app:team 1%; 17% without an owner tag (support 4%, tax 6%, network 2%, a cost-pool
    tag 3%, compute 2%)."""
    rows = []
    for month in ("2026-01", "2026-02"):
        def add(cost: str, tags: dict[str, str] | None, month: str = month, **kw: Any) -> None:
            rows.append(frow(month, cost, tags=tags, **kw))

        add("280", {"team": "Payments", "env": "production", "aws:createdBy": "x"})
        add("280", {"team": "data-eng", "env": "prd"})
        add("150", {"Team": "search", "env": "prod"})
        add("50", {"Team": "data_eng ", "env": "dev"})
        add("50", {"owner": "payments", "CostCenter": "CC-1010"})
        add("10", {"owner-team": "search"})
        add("10", {"app:team": "mobile"}, account="acct-2")
        add("40", None, service="AWS Support (Business)", category="Usage")
        add("60", None, service="Tax", category="Tax", account="acct-2")
        add("20", {"Name": "nat-1"}, service="NAT Gateway", ServiceCategory="Networking")
        add("30", {"cost-pool": "observability"}, service="Monitoring")
        add("20", None, service="Compute")
    return rows


def test_proposal_from_known_tag_keys(store: Store) -> None:
    make_focus(store, _tagged_rows())
    p = propose(store)
    assert p.primary == "team" and p.weight == "EffectiveCost" and p.rows == 24
    team = p.dimensions[0]
    assert [(a.name, round(a.share, 3)) for a in team.aliases] == [
        ("team", .56), ("Team", .2), ("owner", .05), ("app:team", .01), ("owner-team", .01)]
    assert round(team.share, 3) == .83
    assert team.values == {"data-eng": ["data_eng"]}
    assert [d.name for d in p.dimensions] == ["team", "environment", "cost_center"]
    assert p.dimension("environment").values == {  # type: ignore[union-attr]
        "prod": ["production", "prd", "live"], "dev": ["development", "develop"]}
    assert p.dimension_names == ["team", "environment", "cost_center", ACCOUNT]
    assert [(a.id, a.value) for a in p.accounts] == [("acct-1", "acct-1"), ("acct-2", "acct-2")]
    assert {k.name for k in p.other_keys} == {"aws:createdBy", "Name"}
    untagged = {k: False for k in ("team", "Team", "owner", "app:team", "owner-team")}
    assert [(x.name, x.match, round(x.share, 3)) for x in p.pools] == [
        ("observability", {"tag": {"cost-pool": "observability"}}, .03),
        ("support", {"service": ["AWS Support (Business)"], "tag": untagged}, .04),
        ("tax", {"charge_category": "Tax", "tag": untagged}, .06),
        ("network", {"service_category": "Networking", "tag": untagged}, .02)]

    text = render(p, "s.duckdb")
    assert yaml.safe_load(text) == p.data()
    body = [line for line in text.splitlines() if line.strip()]
    assert sum(line.lstrip().startswith("#") for line in body) > len(body) / 3
    result = allocate(store, p.settings())
    assert all(c.ok for c in result.conservation)
    # 83% tagged + the pools (15%) split to the tagged teams; the rest (2%) is unallocated
    assert round(result.named_share(), 4) == .98
    got = {r["team"]: r["c"] for r in store.sql(
        "SELECT team, SUM(EffectiveCost) AS c FROM allocated GROUP BY 1").to_pylist()}
    assert set(got) == {"payments", "data-eng", "search", "mobile", "__unallocated__"}
    assert got["__unallocated__"] == Decimal(40)


@pytest.mark.spark
def test_spark_proposes_what_duckdb_does(spark: Any, store: Store) -> None:
    if store.is_spark:
        pytest.skip("this test compares a DuckDB store with Spark itself")
    make_focus(store, _tagged_rows())
    sp = Store(spark=spark)
    try:
        make_focus(sp, _tagged_rows())
        assert propose(sp) == propose(store)
    finally:
        sp.close()


def test_network_pool_and_row_weights(store: Store) -> None:
    rows = [frow("2026-01", "0", tags={"team": "a"}),
            frow("2026-01", "0", tags={"team": "b"}),
            frow("2026-01", "0", ServiceCategory="Networking", service="VPC")]
    make_focus(store, rows)
    p = propose(store)
    assert p.weight == "rows" and p.primary == "team"
    assert round(p.dimensions[0].share, 3) == .667
    assert [x.name for x in p.pools] == ["network"]
    assert all(c.ok for c in allocate(store, p.settings()).conservation)


def test_weak_tags_give_account_owners(store: Store) -> None:
    rows = [frow("2026-01", "20", tags={"team": "a"}, account="111"),
            frow("2026-01", "50", account="111"),
            frow("2026-01", "30", account="0222"),
            frow("2026-01", "5", category="Tax", service="Tax", account="0222")]
    make_focus(store, rows)
    p = propose(store)
    assert p.primary == ACCOUNT and p.dimension_names == [ACCOUNT, "team"]
    assert [(a.column, a.id) for a in p.accounts] == [("SubAccountId", "111"),
                                                      ("SubAccountId", "0222")]
    assert p.pools[0].match == {"charge_category": "Tax"}  # no owner tags to test for
    text = render(p)
    assert yaml.safe_load(text) == p.data() and '"0222"' in text
    result = allocate(store, p.settings())
    assert all(c.ok for c in result.conservation) and result.named_share() == 1.0


def test_empty_store_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    Store(path).close()
    r = CliRunner().invoke(app, ["init", "--store", str(path),
                                 "--config", str(tmp_path / "c.yaml")])
    assert r.exit_code == 2 and "no billing rows" in r.output
    assert not (tmp_path / "c.yaml").exists()
    r = CliRunner().invoke(app, ["init", "--store", str(tmp_path / "missing.duckdb"),
                                 "--config", str(tmp_path / "c.yaml")])
    assert r.exit_code == 2 and not (tmp_path / "missing.duckdb").exists()


def test_init_store_keeps_an_existing_config(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    s = Store(path)
    make_focus(s, _tagged_rows())
    s.close()
    cfg = tmp_path / "cloudledger.yaml"
    cfg.write_text("# mine\n")
    runner = CliRunner()
    r = runner.invoke(app, ["init", "--store", str(path), "--config", str(cfg)])
    assert r.exit_code == 2 and "already exists" in r.output
    assert cfg.read_text() == "# mine\n"
    r = runner.invoke(app, ["init", "--store", str(path), "--config", str(cfg), "--force"])
    assert r.exit_code == 0, r.output
    assert load_settings(cfg).owners.dimensions[0] == "team"


# ------------------------------------------------------------------ every native export
#: first file of a load -> (primary dimension, lowest share of cost on named owners).
EXPECTED: dict[str, tuple[str, float]] = {
    "aws-cur/koku__2022-07-01-alt-columns.csv": (ACCOUNT, 1.0),
    "aws-cur/koku__2023-06-01-not-final.csv": (ACCOUNT, 1.0),
    "aws-cur/koku__2023-06-01.csv": (ACCOUNT, 1.0),
    "aws-cur/koku__November-2023-None.csv": ("product", .68),       # app tag
    "aws-cur/koku__test_cur.csv": (ACCOUNT, 1.0),
    "aws-cur/koku__test_local_bucket__koku-local-Manifest.json": (ACCOUNT, 1.0),
    "aws-cur/wal__BeforeCUR.gz": ("product", .73),                  # application, workload
    # department etc. on 14% of cost: accounts own it; unused RIs stay unallocated
    "aws-cur/wal__Oct2018-WorkshopCUR-00001.snappy.parquet": (ACCOUNT, .98),
    "azure/finops-toolkit__EA_ActualCost_Small.csv": ("team", .57),  # org, BusinessOwner
    "azure/koku__camel_v2_with_BOM.csv": (ACCOUNT, 1.0),
    "gcp/koku__202011_30c31bca_2020-11-08_2020-11-11.csv": (ACCOUNT, 1.0),
    "gcp/koku__2022-08-01_5.csv": (ACCOUNT, 1.0),
    "gcp/koku__evidence-2019-06-03.csv": (ACCOUNT, 1.0),
    "opencost/finfocus-plugin-opencost__allocation-namespace-60m.json": (ACCOUNT, 1.0),
    "azure/koku__azure_version_2.csv": (ACCOUNT, 1.0),
    "azure/koku__costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv": ("product", 1.0),
    "gcp/koku__tmp_example.csv": (ACCOUNT, 1.0),                   # only GCP system labels
    "demo": ("team", .89),
}
CASES = [(files[0], files, bad) for files, bad in LOADS] + [(f, [f], False) for f in DEFECTIVE]


def test_every_native_load_has_an_expectation() -> None:
    assert {c[0] for c in CASES} | {"demo"} == set(EXPECTED)


def _totals(store: Store, table: str) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    sums = ", ".join(f'SUM("{m}") AS "{m}"' for m in METRICS)
    rows = store.sql(f'SELECT CAST("BillingPeriodStart" AS VARCHAR) AS p, "BillingCurrency" '
                     f'AS c, {sums} FROM {table} GROUP BY 1, 2').to_pylist()
    return {(r["p"], r["c"]): tuple(Decimal(r[m] or 0) for m in METRICS) for r in rows}


def _run(tmp_path: Path, path: Path, name: str) -> None:
    cfg = tmp_path / "cloudledger.yaml"
    runner = CliRunner()
    r = runner.invoke(app, ["init", "--store", str(path), "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["allocate", "--store", str(path), "--config", str(cfg), "-f", "json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["showback", "--store", str(path), "--config", str(cfg),
                            "-f", "json"])
    assert r.exit_code == 0, r.output
    shown = sum((Decimal(row["total"]) for row in json.loads(r.output)), Decimal(0))
    settings = load_settings(cfg)
    primary, least = EXPECTED[name]
    assert settings.primary == primary
    s = Store(path, read_only=True)
    try:
        before, after = _totals(s, "focus"), _totals(s, "allocated")
        assert before.keys() == after.keys()
        for key, sums in before.items():
            assert all(abs(a - b) <= Decimal("1e-6") for a, b in zip(sums, after[key],
                                                                     strict=True)), key
        total = sum((v[1] for v in before.values()), Decimal(0))
        assert abs(shown - total) <= Decimal("1e-6") * max(1, len(before))
        named = s.sql(
            f'SELECT SUM(ABS("EffectiveCost")) AS t, SUM(CASE WHEN "{primary}" NOT IN '
            "('__unallocated__', '__shared__', '__idle__') THEN ABS(\"EffectiveCost\") "
            "ELSE 0 END) AS n FROM allocated").to_pylist()[0]
    finally:
        s.close()
    share = float(named["n"] / named["t"]) if named["t"] else 1.0
    assert share >= least, share


@pytest.mark.parametrize(("name", "files", "bad_rows"), CASES, ids=[c[0] for c in CASES])
def test_native_init_allocate_showback(tmp_path: Path, name: str, files: list[str],
                                       bad_rows: bool) -> None:
    path = tmp_path / "native.duckdb"
    s = Store(path)
    try:
        ingest(s, [NATIVE / f for f in files], allow_bad_rows=bad_rows)
    finally:
        s.close()
    _run(tmp_path, path, name)


def test_demo_init_allocate_showback(tmp_path: Path) -> None:
    from cloudledger.demo import generate, load

    data = generate(rows=20_000, seed=7, end=date(2026, 6, 1), out_dir=tmp_path / "data",
                    months=6)
    path = tmp_path / "demo.duckdb"
    s = Store(path)
    try:
        load(s, data)
    finally:
        s.close()
    _run(tmp_path, path, "demo")
    text = (tmp_path / "cloudledger.yaml").read_text()
    # spelling variants of the demo's owner tags, grouped as aliases of one dimension
    assert "team: [team, Team, owner, Owner]" in text
    assert "cost_center: [CostCenter, cost_center]" in text
