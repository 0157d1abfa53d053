"""Conservation under hypothesis-generated cost tables and rule sets: every source row's
parts add up to it exactly (pooled rows: per pool grain), and every period/currency total
matches focus."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudledger.allocate import allocate
from cloudledger.config import settings_from
from cloudledger.store import Store
from tests.allocate.conftest import frow, make_focus

SERVICES = ["Compute", "Storage", "Support", "Network", "Tax"]
TEAMS = ["a", "b", "c"]
money = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000000"), places=12,
                    allow_nan=False, allow_infinity=False)
row = st.fixed_dictionaries({
    "month": st.sampled_from(["2026-04", "2026-05"]),
    "currency": st.sampled_from(["USD", "EUR"]),
    "service": st.sampled_from(SERVICES),
    "team": st.sampled_from([*TEAMS, None]),
    "cost": money, "billed": money})
match = st.one_of(st.builds(lambda s: {"service": s}, st.sampled_from(SERVICES)),
                  st.builds(lambda t: {"tag": {"team": t}}, st.sampled_from(TEAMS)))
rule = st.builds(lambda i, m, t, o: {"name": f"r{i}", "match": m, "set": {"team": t},
                                     "override": o},
                 st.integers(0, 10**6), match, st.sampled_from([*TEAMS, "z"]), st.booleans())
pool = st.builds(
    lambda i, s, m, to: {"name": f"p{i}", "match": {"service": s}, "split": m,
                         **({"to": to} if to and m != "fixed" else {}),
                         **({"percentages": {"a": 33.3, "b": 66.7}} if m == "fixed" else {})},
    st.integers(0, 10**6), st.sampled_from(SERVICES),
    st.sampled_from(["even", "proportional", "fixed"]),
    st.one_of(st.none(), st.lists(st.sampled_from(TEAMS), min_size=1, max_size=3, unique=True)))


def unique_names(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [{**x, "name": f"{prefix}{i}"} for i, x in enumerate(items)]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(row, min_size=1, max_size=25), rules=st.lists(rule, max_size=4),
       pools=st.lists(pool, max_size=3))
def test_conservation(rows: list[dict[str, Any]], rules: list[dict[str, Any]],
                      pools: list[dict[str, Any]]) -> None:
    store = Store(":memory:")
    try:
        rows = [{"month": "2026-05", "currency": "USD", "service": "Compute", "team": "a",
                 "cost": Decimal("1.5"), "billed": Decimal("1.5")}, *rows]
        make_focus(store, [frow(r["month"], str(r["cost"]), billed=str(r["billed"]),
                                currency=r["currency"], service=r["service"],
                                tags={"team": r["team"]} if r["team"] else None)
                           for r in rows])
        settings = settings_from({"rules": unique_names(rules, "r"),
                                  "shared": unique_names(pools, "p")})
        result = allocate(store, settings)
        assert all(c.difference == 0 for c in result.conservation)
        # row-level parts (x_SourceRowId) and pool parts (the pool grain) add up exactly
        per_row = store.con.sql(
            "WITH a AS (SELECT COALESCE(CAST(x_SourceRowId AS VARCHAR), 'pool') AS id, "
            "BillingPeriodStart AS p, BillingCurrency AS c, ServiceName AS s, BilledCost, "
            "EffectiveCost FROM allocated), f AS (SELECT CASE WHEN rowid IN (SELECT "
            "x_SourceRowId FROM allocated) THEN CAST(rowid AS VARCHAR) ELSE 'pool' END AS id, "
            "BillingPeriodStart AS p, BillingCurrency AS c, ServiceName AS s, BilledCost, "
            "EffectiveCost FROM focus), fa AS (SELECT id, p, c, s, SUM(BilledCost) AS fb, "
            "SUM(EffectiveCost) AS fe, COUNT(*) AS n FROM f GROUP BY ALL), aa AS (SELECT id, p, "
            "c, s, SUM(BilledCost) AS b, SUM(EffectiveCost) AS e FROM a GROUP BY ALL) "
            "SELECT fa.*, aa.b, aa.e FROM fa FULL JOIN aa USING (id, p, c, s)"
        ).to_pyarrow().to_pylist()
        assert sum(r["n"] for r in per_row) == len(rows)
        for r in per_row:
            assert r["b"] == r["fb"] and r["e"] == r["fe"]
        owners = store.engine.query("SELECT COUNT(*) FROM allocated WHERE team IS NULL"
                               ).column(0)[0].as_py()
        assert owners == 0
    finally:
        store.close()
