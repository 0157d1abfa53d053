"""The demo's catalog of billable things ("templates"): resources, shared services,
Kubernetes namespace splits, commitments and monthly charges. One template yields one
billing row per day (or per month); rows are expanded from templates in ``rows.py``.

Templates are a catalog (a few thousand entries), not billing rows; their string columns
become dictionary-encoded Arrow columns that the row generator ``take``s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cloudledger.demo import company as co
from cloudledger.demo.arrow import PRICE_SCALE, QUANTITY, decimal, strings

# template kinds
USAGE, UNUSED, PURCHASE, TAX, CREDIT, SUPPORT = range(6)
KIND_NAMES = ("usage", "unused", "purchase", "tax", "credit", "support")
COMPUTE, REQUEST, STORAGE, FLAT = range(4)
_KINDS = {"compute": COMPUTE, "request": REQUEST, "storage": STORAGE, "flat": FLAT}
_SIZES = (("small", 0.5), ("medium", 1.0), ("large", 2.0), ("xlarge", 4.0))
_SEASONAL_PRODUCTS = {"checkout", "search", "catalog", "mobile"}


@dataclass
class Catalog:
    """Templates: string columns in ``table`` and numeric parameters as numpy arrays."""

    table: pa.Table
    kind: np.ndarray          # USAGE, UNUSED, ...
    provider: np.ndarray
    shape: np.ndarray         # COMPUTE, REQUEST, STORAGE, FLAT
    service: np.ndarray       # index into service_names
    base_cost: np.ndarray     # $/day at the end of the window (usage templates)
    growth: np.ndarray        # yearly growth rate
    start_day: np.ndarray
    weekend: np.ndarray       # weekend dip
    seasonal: np.ndarray      # holiday-season bump applies
    noise: np.ndarray
    list_p: np.ndarray        # unit prices, integers of 1e-8
    contracted_p: np.ndarray
    effective_p: np.ndarray   # spot / on-demand price actually paid
    dynamic: np.ndarray
    commitment: np.ndarray    # commitment index, -1 none
    committed_p: np.ndarray
    covered_qty: np.ndarray   # constant daily quantity (1e-4) of commitment-covered resources
    team: np.ndarray          # team index, -1 none
    tagged: np.ndarray        # carries a team-like tag
    service_names: list[tuple[int, str]]


def _team_tags(rng: np.random.Generator, team: str, env: str, product: str,
               cost_center: str) -> dict[str, str]:
    """Tags the way engineers really write them: inconsistent keys, case and whitespace."""
    u = rng.random(8)
    key = "team" if u[0] < 0.45 else "Team" if u[0] < 0.75 else "owner" if u[0] < 0.9 else "Owner"
    value = team if u[1] < 0.78 else team.title() if u[1] < 0.86 else \
        f" {team}" if u[1] < 0.92 else f"{team} " if u[1] < 0.95 else team.upper()
    tags = {key: value}
    if u[2] < 0.9:
        ekey = "env" if u[3] < 0.45 else "environment" if u[3] < 0.8 else "Environment"
        variants = {"prod": ("prod", "production", "prd", "Prod", "prod "),
                    "staging": ("staging", "stage", "stg", "Staging", "staging"),
                    "dev": ("dev", "development", "Dev", "dev", " dev")}[env]
        tags[ekey] = variants[min(int(u[4] * 5), 4)]
    if u[5] < 0.7:
        tags["product" if u[6] < 0.6 else "app" if u[6] < 0.85 else "application"] = product
    if u[7] < 0.5:
        tags["cost_center" if u[7] < 0.3 else "CostCenter"] = cost_center
    return tags


def _resource_id(provider: int, code: str, rtype: str, region: str, account: str,
                 name: str) -> str:
    if provider == 0:
        return f"arn:aws:{code}:{region}:{account}:{rtype.lower().replace(' ', '-')}/{name}"
    if provider == 1:
        return (f"/subscriptions/{account}/resourceGroups/rg-{name.rsplit('-', 1)[0]}/"
                f"providers/{code}/{name}")
    return f"//{code}.googleapis.com/projects/{account}/locations/{region}/{name}"


def build(rng: np.random.Generator, n_team: int, days: int, month_starts: np.ndarray
          ) -> Catalog:
    """Templates for ``n_team`` team resources plus the fixed shared/special ones."""
    n_svc = len(co.SERVICES)
    svc_provider = np.array([s[0] for s in co.SERVICES])
    svc_weight = np.array([s[8] for s in co.SERVICES], dtype=float)
    svc_category = [s[2] for s in co.SERVICES]
    team_prov = np.array([t[3] for t in co.TEAMS])
    affinity = np.array([[3.0 if c in t[4] else 1.0 for c in svc_category] for t in co.TEAMS])
    # P(service | team): provider preference x service weight x category affinity
    p_team_svc = team_prov[:, svc_provider] * svc_weight[None, :] * affinity
    p_team_svc /= p_team_svc.sum(1, keepdims=True)
    team_w = np.array(co.TEAM_WEIGHTS, dtype=float)
    team_w /= team_w.sum()

    # every service gets at least one resource, the rest drawn by team then service
    n_team = max(n_team, n_svc)
    svc = np.empty(n_team, dtype=np.int64)
    team = np.empty(n_team, dtype=np.int64)
    svc[:n_svc] = np.arange(n_svc)
    p_svc_team = p_team_svc * team_w[:, None]
    team[:n_svc] = (p_svc_team.cumsum(0) / p_svc_team.sum(0) > rng.random(n_svc)).argmax(0)
    team[n_svc:] = rng.choice(len(co.TEAMS), n_team - n_svc, p=team_w)
    cum = p_team_svc.cumsum(1)[team[n_svc:]]
    svc[n_svc:] = (cum > rng.random(n_team - n_svc)[:, None]).argmax(1)
    env = rng.choice(3, n_team, p=co.ENV_WEIGHTS)
    # spend per service is fixed by its weight; resources within a service vary lognormally
    w = rng.lognormal(0.0, 1.1, n_team)
    svc_total = np.bincount(svc, weights=w, minlength=n_svc)
    share = svc_weight / svc_weight.sum()
    base = co.TEAM_DAILY_SPEND * share[svc] * w / svc_total[svc]
    base *= np.where(env == 0, 1.0, 0.45) / np.mean(np.where(env == 0, 1.0, 0.45))
    start = np.where(rng.random(n_team) < 0.18, rng.integers(0, days - 30, n_team), 0)
    growth = rng.normal(0.25, 0.2, n_team)
    size = rng.integers(0, len(_SIZES), n_team)
    shape = np.array([_KINDS[co.SERVICES[s][7]] for s in range(n_svc)])[svc]

    # commitments cover steady prod resources of their service (constant 24h/day usage)
    commitment = np.full(n_team, -1)
    for c, cm in enumerate(co.COMMITMENTS):  # a handful of commitments, not rows
        s = next(i for i, x in enumerate(co.SERVICES) if x[1] == cm.service and x[0] ==
                 cm.provider)
        eligible = np.flatnonzero((svc == s) & (env == 0) & (start == 0) & (commitment < 0))
        eligible = rng.permutation(eligible)[:max(1, int(np.ceil(cm.share * len(eligible))))]
        commitment[eligible] = c
    covered = commitment >= 0
    dynamic = (~covered) & (env != 0) & (shape == COMPUTE) & np.isin(
        svc, [0, 25]) & (rng.random(n_team) < 0.5)

    # ~UNTAGGED_SHARE of team spend carries no team-like tag
    expected = base * np.where(start > 0, (days - start) / days, 1.0)
    order = rng.permutation(n_team)
    untagged = np.zeros(n_team, dtype=bool)
    untagged[order] = np.cumsum(expected[order]) <= co.UNTAGGED_SHARE * expected.sum()

    rows: list[dict[str, object]] = []
    nums: dict[str, list[float]] = {k: [] for k in (
        "kind", "provider", "shape", "service", "base", "growth", "start", "weekend",
        "seasonal", "noise", "list", "contracted", "effective", "dynamic", "commitment",
        "committed", "covered_qty", "team", "tagged")}
    service_names = [(s[0], s[1]) for s in co.SERVICES] + [(s[0], s[1]) for s in co.SHARED]
    accounts = {(a[0], a[3]): a for a in co.SUB_ACCOUNTS}

    def add(kind: int, provider: int, service: int, shape_: int, base_: float, *,
            account: str, name: str, tags: Mapping[str, object] | None, price: float = 0.0,
            sku: str = "", region: int = 0, start_: int = 0, growth_: float = 0.1,
            team_: int = -1, env_: int = 0, dyn: bool = False, commit: int = -1,
            covered_qty: int = 0, extra: Mapping[str, object] | None = None,
            seasonal: bool = False, publisher: str | None = None) -> None:
        p = co.PROVIDERS[provider]
        svc_row = (co.SERVICES + tuple(s[:10] for s in co.SHARED))[service] if service >= 0 \
            else None
        sub = accounts[(provider, account)]
        reg_id, reg_name = p.regions[region % len(p.regions)]
        usage = kind == USAGE
        list_i = int(round(price * 10**PRICE_SCALE)) if usage else 0
        contracted_i = list_i if publisher else int(round(list_i * (1 - p.edp_discount)))
        effective_i = int(round(list_i * 0.32)) if dyn else contracted_i
        committed_i = int(round(list_i * co.COMMITMENTS[commit].rate)) if commit >= 0 else 0
        unit = svc_row[5] if svc_row else None
        row: dict[str, object] = {
            "AvailabilityZone": f"{reg_id}{'abc'[region % 3]}" if usage and shape_ == COMPUTE
            and provider == 0 else None,
            "BillingAccountId": p.billing_account, "BillingAccountName": p.billing_account_name,
            "BillingAccountType": p.billing_account_type, "BillingCurrency": co.CURRENCY,
            "ChargeCategory": ("Usage", "Usage", "Purchase", "Tax", "Credit", "Purchase")[kind],
            "ChargeFrequency": ("Usage-Based", "Usage-Based", "Recurring", "One-Time",
                                "One-Time", "Recurring")[kind],
            "ConsumedUnit": unit if usage else None, "PricingUnit": unit if usage else None,
            "InvoiceIssuerName": p.name, "ProviderName": p.name,
            "PublisherName": publisher or p.name, "ServiceProviderName": p.name,
            "HostProviderName": "Not Applicable" if kind in (TAX, CREDIT, SUPPORT)
            else (publisher if publisher in ("Datadog", "CrowdStrike") else p.name),
            "PricingCurrency": co.CURRENCY,
            "RegionId": reg_id if usage or kind == UNUSED else None,
            "RegionName": reg_name if usage or kind == UNUSED else None,
            "ServiceName": svc_row[1] if svc_row else ("Tax" if kind == TAX else "Support"),
            "ServiceCategory": svc_row[2] if svc_row else "Other",
            "ServiceSubcategory": svc_row[3] if svc_row else (
                "Other (Other)" if kind == TAX else "Support"),
            "ResourceType": svc_row[4] if svc_row and usage else None,
            "SubAccountId": sub[1], "SubAccountName": sub[2],
            "SubAccountType": p.sub_account_type,
            "Tags": json.dumps(tags, sort_keys=True) if tags is not None else None,
            "x_InvoicePrefix": p.invoice_prefix + ("MP" if publisher else ""),
        }
        if usage and svc_row:
            rid = _resource_id(provider, svc_row[9], svc_row[4], reg_id, sub[1], name)
            row.update(ResourceId=rid, ResourceName=name, SkuId=f"{svc_row[9]}:{sku}".upper(),
                       SkuPriceId=f"{svc_row[9]}:{sku}:{reg_id}:{'spot' if dyn else 'od'}",
                       SkuMeter=f"{svc_row[4]} {sku}",
                       SkuPriceDetails=json.dumps({"x_Size": sku}),
                       ChargeDescription=f"${price:.6g} per {unit} for {svc_row[1]} "
                                         f"{sku} in {reg_name}",
                       ContractApplied=json.dumps({"Elements": [{
                           "ContractId": "AWS-EDP-2024", "ContractCommitmentId":
                           "AWS-EDP-2024-Y2"}]}) if provider == 0 and not publisher else None)
        row.update(extra or {})
        rows.append(row)
        for k, v in (("kind", kind), ("provider", provider), ("shape", shape_),
                     ("service", service), ("base", base_), ("growth", growth_),
                     ("start", start_), ("weekend", 0.0), ("seasonal", seasonal),
                     ("noise", 0.0 if covered_qty else 0.01 if shape_ == STORAGE else 0.08),
                     ("list", list_i), ("contracted", contracted_i),
                     ("effective", effective_i), ("dynamic", dyn), ("commitment", commit),
                     ("committed", committed_i), ("covered_qty", covered_qty),
                     ("team", team_), ("tagged", tags is not None and any(
                         k.lower() in ("team", "owner") for k in tags))):
            nums[k].append(float(v))
        nums["weekend"][-1] = (0.0 if shape_ in (STORAGE, FLAT) or covered_qty else
                               0.12 if env_ == 0 else 0.45)

    for i in range(n_team):  # the catalog of team resources (not billing rows)
        s, t, e = int(svc[i]), int(team[i]), int(env[i])
        tname, product, cc = co.TEAMS[t][0], co.TEAMS[t][1], co.TEAMS[t][2]
        envname = co.ENVIRONMENTS[e]
        prov = int(svc_provider[s])
        sku, mult = _SIZES[int(size[i])]
        price = co.SERVICES[s][6] * (mult if shape[i] == COMPUTE else 1.0)
        cqty = 0
        if covered[i]:
            cqty = int(max(1, round(base[i] / (price * 24)))) * 24 * 10**4
        if untagged[i]:
            tags: Mapping[str, object] | None = None if rng.random() < 0.5 else {
                "Name": f"{co.SERVICES[s][9].split('/')[-1]}-{i:05d}"}
        else:
            tags = _team_tags(rng, tname, envname, product, cc)
        add(USAGE, prov, s, int(shape[i]), float(base[i]), price=price, sku=sku,
            account=co.team_account(prov, envname, product),
            name=f"{tname}-{envname}-{co.SERVICES[s][9].split('/')[-1].split('.')[-1]}-{i:05d}",
            tags=tags, region=int(rng.integers(0, 3)), start_=int(start[i]),
            growth_=float(growth[i]), team_=t, env_=e, dyn=bool(dynamic[i]),
            commit=int(commitment[i]), covered_qty=cqty,
            seasonal=envname == "prod" and product in _SEASONAL_PRODUCTS)
    for j, sh in enumerate(co.SHARED):
        pool = sh[11]
        tags = {"cost-pool": pool}
        if pool == "shared-networking":
            tags["owner"] = "platform"
        for k in range(2):
            add(USAGE, sh[0], n_svc + j, _KINDS[sh[7]], co.SHARED_DAILY_SPEND * sh[8] / 2,
                price=sh[6], sku="standard", account=sh[10], tags=tags, region=k,
                name=f"{pool}-{sh[9].split('/')[-1]}-{k}", publisher=sh[12])
    ec2 = 0
    for g, (ng, itype, price, ng_share) in enumerate(co.K8S_NODEGROUPS):
        for ns, owner, ns_share in co.K8S_NAMESPACES:
            name = f"eks-{co.K8S_CLUSTER}-{ng}"
            cost = co.SHARED_DAILY_SPEND * co.K8S_SHARE * ng_share * ns_share
            add(USAGE, 0, ec2, COMPUTE, cost, price=price, sku=itype, account="platform",
                name=name, region=0,
                tags={"eks:cluster-name": co.K8S_CLUSTER, "team": "platform", "env": "prod",
                      "eks:nodegroup-name": ng}, growth_=0.2, extra={
                    "AllocatedMethodId": "EKS-SplitCostAllocation",
                    "AllocatedResourceId": f"{co.K8S_CLUSTER}/namespace/{ns or '__idle__'}",
                    "AllocatedResourceName": ns or "__idle__",
                    "AllocatedTags": json.dumps({"kubernetes-namespace": ns} | (
                        {"team": owner} if owner in ("sre", "platform") else {}))
                    if ns else None,
                    "AllocatedMethodDetails": json.dumps({"Elements": [{
                        "AllocatedRatio": ns_share, "UsageUnit": "vCPU-Hours",
                        "UsageQuantity": round(ns_share * 16 * 24 * (g + 2), 4)}]})})
    for c, cm in enumerate(co.COMMITMENTS):
        cid = _commitment_id(c, cm)
        extra = {"ResourceId": cid, "ResourceName": cm.name, "ResourceType": cm.type,
                 "ChargeDescription": f"{cm.type} {cm.name}"}
        sidx = next(i for i, x in enumerate(co.SERVICES) if x[1] == cm.service)
        acct = "commerce-prod" if cm.provider == 0 else "prod"
        add(PURCHASE, cm.provider, sidx, FLAT, 0.0, account=acct, name=cm.name, tags=None,
            commit=c, extra=extra)
        add(UNUSED, cm.provider, sidx, FLAT, 0.0, account=acct, name=cm.name, tags=None,
            commit=c, extra=extra)
    bigquery = next(i for i, x in enumerate(co.SERVICES) if x[1] == "BigQuery")
    for pv, provider in enumerate(co.PROVIDERS):
        payer = {0: "commerce-prod", 1: "shared", 2: "shared"}[pv]
        if co.TAX_RATES[pv]:
            add(TAX, pv, -1, FLAT, co.TAX_RATES[pv], account=payer, name="tax", tags=None,
                extra={"ChargeDescription": f"Sales tax {co.TAX_RATES[pv]:.2%}"})
        add(SUPPORT, pv, -1, FLAT, (0.03, 1000.0, 0.025)[pv], account=payer, name="support",
            tags=None, extra={"ChargeDescription": f"{provider.name} support plan"})
        if pv != 1:
            add(CREDIT, pv, 0 if pv == 0 else bigquery, FLAT, (0.008, 0.0, 250.0)[pv],
                account=payer, name="credit", tags=None, extra={"ChargeDescription": (
                    "EDP migration credit", "", "Promotional credit")[pv]})

    columns = sorted({k for r in rows for k in r})
    table = pa.table({c: strings([r.get(c) for r in rows])  # type: ignore[misc]
                      for c in columns})
    n = {k: np.array(v) for k, v in nums.items()}
    price_cols = {"ListUnitPrice": n["list"], "ContractedUnitPrice": n["contracted"]}
    for col, vals in price_cols.items():
        arr = decimal(vals.astype(np.int64), PRICE_SCALE, QUANTITY, valid=n["kind"] == USAGE)
        table = table.append_column(col, arr).append_column(f"PricingCurrency{col}", arr)
    return Catalog(
        table=table, kind=n["kind"].astype(np.int8), provider=n["provider"].astype(np.int8),
        shape=n["shape"].astype(np.int8), service=n["service"].astype(np.int64),
        base_cost=n["base"], growth=n["growth"], start_day=n["start"].astype(np.int64),
        weekend=n["weekend"], seasonal=n["seasonal"].astype(bool), noise=n["noise"],
        list_p=n["list"].astype(np.int64), contracted_p=n["contracted"].astype(np.int64),
        effective_p=n["effective"].astype(np.int64), dynamic=n["dynamic"].astype(bool),
        commitment=n["commitment"].astype(np.int64),
        committed_p=n["committed"].astype(np.int64),
        covered_qty=n["covered_qty"].astype(np.int64), team=n["team"].astype(np.int64),
        tagged=n["tagged"].astype(bool), service_names=service_names)


def _commitment_id(c: int, cm: co.Commitment) -> str:
    p = co.PROVIDERS[cm.provider]
    if cm.provider == 0:
        kind = "savingsplan" if cm.category == "Spend" else "reserved-instances"
        return f"arn:aws:{cm.code}::{p.billing_account}:{kind}/{c:02d}a7f3c1-5b2e-4d8a"
    if cm.provider == 1:
        return (f"/providers/Microsoft.Capacity/reservationOrders/7d1e{c:04d}-3b2a-4c5d-9e8f"
                f"/reservations/a1b2c3d4-{c:04d}-4e5f-8a9b-0c1d2e3f4a5b")
    return f"projects/tailspin-prod-284531/regions/us-central1/commitments/cud-n2-{c:02d}"


def commitment_columns() -> pa.Table:
    """One row per commitment (index = position + 1; row 0 is all NULL)."""
    ids: list[str | None] = [None] + [_commitment_id(c, cm)
                                      for c, cm in enumerate(co.COMMITMENTS)]
    return pa.table({
        "CommitmentDiscountId": strings(ids),
        "CommitmentDiscountName": strings([None] + [c.name for c in co.COMMITMENTS]),
        "CommitmentDiscountType": strings([None] + [c.type for c in co.COMMITMENTS]),
        "CommitmentDiscountCategory": strings([None] + [c.category for c in co.COMMITMENTS]),
        "CommitmentDiscountUnit": strings([None] + ["USD" if c.category == "Spend" else "Hours"
                                                    for c in co.COMMITMENTS]),
    })
