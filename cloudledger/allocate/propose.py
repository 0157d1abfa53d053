"""Propose allocation settings from the store itself (`cloudledger init --store S`).

    proposal = propose(store)          # a few aggregate queries over table focus
    proposal.data()                    # plain settings data (what the YAML holds)
    render(proposal)                   # the commented cloudledger.yaml (propose_render.py)

What it looks at (each an engine aggregate; no focus row comes back to Python):

- tag keys of ``Tags`` weighted by ABS(EffectiveCost, else BilledCost) (by row count when
  the store's cost is all zero). Keys are put in owner dimensions by name (``team``,
  ``Team``, ``owner-team``, ``app:team`` -> team; ``env``/``Stage`` -> environment; ``app``,
  ``application``, ``workload`` -> product; ``CostCenter`` -> cost_center), spelling
  variants become aliases, most cost first. Keys that providers write themselves
  (``aws:createdBy``, ``goog-...``, ``aks-managed-...``) are never owners.
- the values of each dimension: spellings that differ only in punctuation (``data-eng``,
  ``data_eng``) and the usual environment names (``production``, ``prd`` -> prod) are
  grouped under the spelling with the most cost.
- the first (primary) dimension is the owner tag group covering the most cost when it
  covers at least half of it; else ``account``: one rule per sub account (AWS account,
  Azure subscription, GCP project, Kubernetes namespace), so untagged bills still land on
  a named owner. ``account`` is proposed as a dimension in every case.
- shared pools: tag values of a ``cost-pool`` style key, and support, tax and network
  charges without an owner tag, split in proportion to the owners' direct cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cloudledger.allocate.propose_names import Share, classify, variant_groups
from cloudledger.allocate.sql import Runner, in_list, norm, q
from cloudledger.config import UNALLOCATED, Settings, settings_from
from cloudledger.errors import InputError
from cloudledger.store import Store

#: The dimensions a tag group can make primary (environment never owns cost).
OWNER_DIMS = ("team", "product", "cost_center")
DIM_ORDER = ("team", "product", "environment", "cost_center")
ACCOUNT = "account"
#: An owner tag group becomes the primary dimension when it covers this share of cost.
PRIMARY_MIN = 0.5
#: A tag group becomes a dimension when it covers this share of cost.
DIM_MIN = 0.01
#: At most this many sub accounts get a rule (the rest land on __unallocated__).
ACCOUNT_CAP = 100


@dataclass
class Dimension:
    name: str
    aliases: list[Share]                 # tag keys, most cost first
    share: float                         # cost carrying any of them
    values: dict[str, list[str]] = field(default_factory=dict)   # canonical -> variants
    top: list[Share] = field(default_factory=list)              # values with most cost


@dataclass
class Account:
    column: str                          # SubAccountId or BillingAccountId
    id: str
    value: str                           # the owner value the rule sets
    kind: str                            # "AWS Linked Account", "Google Cloud Project", ...
    share: float


@dataclass
class Pool:
    name: str
    match: dict[str, Any]
    share: float
    what: str                            # one line for the comment


@dataclass
class Proposal:
    rows: int
    total: float                         # ABS cost (or rows) the shares are of
    weight: str                          # "EffectiveCost" or "rows"
    dimensions: list[Dimension]          # tag dimensions, primary first when tag-based
    primary: str
    accounts: list[Account]
    accounts_left: Share | None          # sub accounts beyond ACCOUNT_CAP
    pools: list[Pool]
    other_keys: list[Share]              # tag keys seen that no dimension uses
    namespaces: list[Share]              # Kubernetes namespaces, most cost first
    tagged: float                        # share of cost with any Tags

    @property
    def dimension_names(self) -> list[str]:
        tags = [d.name for d in self.dimensions]
        if self.primary == ACCOUNT:
            return [ACCOUNT, *tags]
        return [*tags, ACCOUNT] if self.accounts else tags

    def dimension(self, name: str) -> Dimension | None:
        return next((d for d in self.dimensions if d.name == name), None)

    def data(self) -> dict[str, Any]:
        """The proposed settings as plain data (what :func:`render` writes)."""
        dims = self.dimension_names
        aliases: dict[str, list[str]] = {d.name: [a.name for a in d.aliases]
                                         for d in self.dimensions}
        if ACCOUNT in dims:
            aliases[ACCOUNT] = []
        tags: dict[str, Any] = {
            "aliases": {d: aliases[d] for d in dims},
            "values": {d.name: d.values for d in self.dimensions if d.values},
            "required": [d.name for d in self.dimensions],
            "keep_case": ["cost_center"] if "cost_center" in dims else [],
        }
        rules = [{"name": rule_name(a), "match": {"column": {a.column: a.id}},
                  "set": {ACCOUNT: a.value}} for a in self.accounts]
        cost_center = "cost_center" if "cost_center" in dims else self.primary
        return {
            "owners": {"dimensions": dims},
            "tags": tags,
            "rules": rules,
            "shared": [{"name": p.name, "match": p.match, "split": "proportional"}
                       for p in self.pools],
            "commitments": {"unused_owner": {self.primary: UNALLOCATED}},
            "kubernetes": {"idle": "share"},
            "chargeback": {"billable_dimension": self.primary,
                           "cost_center_dimension": cost_center},
        }

    def settings(self) -> Settings:
        return settings_from(self.data(), source="proposed settings")


def rule_name(a: Account) -> str:
    return f"{ACCOUNT}-{slug(a.id)}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


# ------------------------------------------------------------------ the analysis
def propose(store: Store) -> Proposal:
    """Analyse table ``focus`` and propose settings; :class:`InputError` on an empty store."""
    run = Runner(store)
    if "focus" not in store.tables():
        raise InputError("the store has no focus table", hint="run `cloudledger ingest` first")
    cols = set(run.columns("focus"))
    cost = 'ABS(COALESCE("EffectiveCost", "BilledCost"))'
    tot = run.fetch(f"SELECT COUNT(*) AS n, SUM({cost}) AS c, "
                    f"SUM(CASE WHEN \"Tags\" IS NOT NULL THEN {cost} END) AS t, "
                    "SUM(CASE WHEN \"Tags\" IS NOT NULL THEN 1 ELSE 0 END) AS tn FROM focus")[0]
    if not tot["n"]:
        raise InputError("the store has no billing rows to propose settings from",
                         hint="run `cloudledger ingest FILE` first, or `cloudledger init` "
                              "without --store for the commented starter file")
    by_rows = not tot["c"]
    w = "1" if by_rows else cost
    total = float(tot["n"] if by_rows else tot["c"])
    tagged = float(tot["tn"] if by_rows else tot["t"] or 0) / total
    base = (f"SELECT \"Tags\" AS t, SUM({w}) AS w FROM focus WHERE \"Tags\" IS NOT NULL "
            "GROUP BY 1")
    keys = [Share(str(r["k"]), float(r["w"] or 0) / total) for r in _keys(run, base)]
    groups: dict[str, list[Share]] = {}
    others: list[Share] = []
    for k in keys:
        dim = classify(k.name)
        if dim is None:
            others.append(k)
        else:
            groups.setdefault(dim, []).append(k)
    pool_keys = groups.pop("pool", [])
    dims = _dimensions(run, base, total, groups)
    for d in dims:
        _values(run, base, total, d, dims)
    owners = [d for d in dims if d.name in OWNER_DIMS]
    best = max(owners, key=lambda d: (d.share, -OWNER_DIMS.index(d.name)), default=None)
    primary = best.name if best is not None and best.share >= PRIMARY_MIN else ACCOUNT
    if primary != ACCOUNT:
        dims.sort(key=lambda d: (d.name != primary, DIM_ORDER.index(d.name)))
    accounts, left = _accounts(run, w, total, cols)
    if primary == ACCOUNT and not accounts:
        raise InputError("the store has no account ids and too few owner tags to propose "
                         "an owner", hint="write the settings by hand: `cloudledger init`")
    untagged = [a.name for a in best.aliases] if primary != ACCOUNT and best else []
    pools = _pools(run, w, total, cols, pool_keys, untagged)
    return Proposal(rows=int(tot["n"]), total=total,
                    weight="rows" if by_rows else "EffectiveCost", dimensions=dims,
                    primary=primary, accounts=accounts, accounts_left=left, pools=pools,
                    other_keys=others[:10], namespaces=_namespaces(run, w, total, cols),
                    tagged=tagged)


def _keys(run: Runner, base: str) -> list[dict[str, Any]]:
    """Tag keys with a non-empty value and the weight of the rows carrying them."""
    if run.spark is not None:  # Spark SQL, not transpiled: the map functions differ
        sql = (f"SELECT k, SUM(w) AS w FROM (SELECT explode(from_json(t, "
               f"'map<string,string>')) AS (k, v), w FROM ({run.text(base)}) AS b) AS e "
               "WHERE NULLIF(TRIM(v), '') IS NOT NULL GROUP BY k ORDER BY 2 DESC, 1 LIMIT 1000")
        return [r.asDict() for r in run.spark.sql(sql).collect()]
    return run.fetch(
        f"SELECT k, SUM(w) AS w FROM (SELECT k, w, t FROM (SELECT unnest(json_keys("
        f"TRY_CAST(t AS JSON))) AS k, w, t FROM ({base}) AS b) AS u WHERE "
        f"NULLIF(TRIM(TRY(json_extract_string(t, '$.\"' || replace(k, '\"', '\\\"') || "
        f"'\"'))), '') IS NOT NULL) AS p GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1000")


def _any_key(run: Runner, keys: list[str], column: str = "t") -> str:
    return "COALESCE(" + ", ".join(norm(run.json_text(column, k)) for k in keys) + ", NULL)"


def _dimensions(run: Runner, base: str, total: float,
                groups: dict[str, list[Share]]) -> list[Dimension]:
    """Tag groups with their union coverage; those covering DIM_MIN of cost."""
    names = [d for d in DIM_ORDER if d in groups]
    if not names:
        return []
    cols = ", ".join(f"SUM(CASE WHEN {_any_key(run, [k.name for k in groups[d]])} IS NOT "
                     f"NULL THEN w ELSE 0 END) AS {q(d)}" for d in names)
    row = run.fetch(f"SELECT {cols} FROM ({base}) AS b")[0]
    return [Dimension(d, groups[d], float(row[d] or 0) / total) for d in names
            if float(row[d] or 0) / total >= DIM_MIN]


def _values(run: Runner, base: str, total: float, dim: Dimension,
            dims: list[Dimension]) -> None:
    """The dimension's top values (normalized as allocation will) and variant groups."""
    from cloudledger.allocate.tags import dimension_sql

    draft = settings_from({"owners": {"dimensions": [d.name for d in dims]},
                           "tags": {"aliases": {d.name: [a.name for a in d.aliases]
                                                for d in dims},
                                    "values": {}, "required": [],
                                    "keep_case": [d.name for d in dims
                                                  if d.name == "cost_center"]}},
                          check=False)
    value = dimension_sql(run, draft, dim.name, "t")
    rows = run.fetch(f"SELECT v, SUM(w) AS w FROM (SELECT {value} AS v, w FROM ({base}) AS b)"
                     f" AS x WHERE v IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 500")
    seen = [Share(str(r["v"]), float(r["w"] or 0) / total) for r in rows]
    dim.top = seen[:8]
    dim.values = variant_groups(dim.name, seen)


def _accounts(run: Runner, w: str, total: float,
              cols: set[str]) -> tuple[list[Account], Share | None]:
    """One rule per sub account (most cost first, ACCOUNT_CAP at most); rows without a sub
    account by their billing account (only when every sub account got a rule)."""
    kind = ("COALESCE(\"ProviderName\", '') || ' ' || COALESCE(\"SubAccountType\", "
            "'account')") if "SubAccountType" in cols else "COALESCE(\"ProviderName\", '')"
    rows = run.fetch(
        f"SELECT \"SubAccountId\" AS id, MAX(\"SubAccountName\") AS name, MAX({kind}) AS kind, "
        f"SUM({w}) AS w FROM focus WHERE \"SubAccountId\" IS NOT NULL GROUP BY 1 "
        f"ORDER BY 4 DESC, 1 LIMIT {ACCOUNT_CAP + 1000}")
    found = [("SubAccountId", r) for r in rows]
    left: Share | None = None
    if len(rows) > ACCOUNT_CAP:
        rest = rows[ACCOUNT_CAP:]
        left = Share(f"{len(rest)}{'+' if len(rows) == ACCOUNT_CAP + 1000 else ''}",
                     sum(float(r["w"] or 0) for r in rest) / total)
        found = found[:ACCOUNT_CAP]
    else:
        found += [("BillingAccountId", r) for r in run.fetch(
            f"SELECT \"BillingAccountId\" AS id, MAX(\"BillingAccountName\") AS name, "
            f"MAX(COALESCE(\"ProviderName\", '') || ' billing account') AS kind, "
            f"SUM({w}) AS w FROM focus WHERE \"SubAccountId\" IS NULL AND "
            f"\"BillingAccountId\" IS NOT NULL GROUP BY 1 ORDER BY 4 DESC, 1")]
    names: dict[str, int] = {}
    for _, r in found:
        n = str(r["name"] or r["id"]).strip() or str(r["id"])
        names[n] = names.get(n, 0) + 1
    out = []
    for column, r in found:
        n = str(r["name"] or r["id"]).strip() or str(r["id"])
        value = n if names[n] == 1 or n == str(r["id"]) else f"{n} ({r['id']})"
        out.append(Account(column, str(r["id"]), value, _kind(str(r["kind"])),
                           float(r["w"] or 0) / total))
    return out, left


def _kind(text: str) -> str:
    """``Kubernetes Kubernetes Namespace`` -> ``Kubernetes Namespace``."""
    words = text.split()
    if len(words) > 1 and words[1] == words[0]:
        words = words[1:]
    return " ".join(words) or "account"


def _pools(run: Runner, w: str, total: float, cols: set[str], pool_keys: list[Share],
           untagged: list[str]) -> list[Pool]:
    """Pools for cost-pool tag values, then untagged support, tax and network charges."""
    pools: list[Pool] = []
    used: set[str] = set()
    for key in pool_keys:
        rows = run.fetch(f"SELECT {norm(run.json_text(q('Tags'), key.name))} AS v, "
                         f"SUM({w}) AS w FROM focus WHERE \"Tags\" IS NOT NULL GROUP BY 1 "
                         f"HAVING v IS NOT NULL ORDER BY 2 DESC, 1 LIMIT 20")
        for r in rows:
            name = _unique(slug(str(r["v"])), used)
            pools.append(Pool(name, {"tag": {key.name: str(r["v"])}},
                              float(r["w"] or 0) / total,
                              f"rows tagged {key.name}: {r['v']}"))
    absent = {k: False for k in untagged}
    none = (" AND " + " AND ".join(f"{norm(run.json_text(q('Tags'), k))} IS NULL"
                                   for k in untagged) if untagged else "")
    support = "LOWER(\"ServiceName\") LIKE '%support%'"
    if "ServiceSubcategory" in cols:
        support = f"({support} OR \"ServiceSubcategory\" = 'Support')"
    services = [str(r["s"]) for r in run.fetch(
        f"SELECT DISTINCT \"ServiceName\" AS s FROM focus WHERE {support} AND "
        f"\"ServiceName\" IS NOT NULL ORDER BY 1 LIMIT 50")]
    candidates: list[tuple[str, dict[str, Any], str, str]] = []
    if services:
        candidates.append(("support", {"service": services}, in_list(q("ServiceName"), services),
                           "support plans"))
    candidates.append(("tax", {"charge_category": "Tax"}, "\"ChargeCategory\" = 'Tax'",
                       "taxes"))
    candidates.append(("network", {"service_category": "Networking"},
                       "\"ServiceCategory\" = 'Networking'", "networking (transfer, DNS, CDN, "
                       "load balancers, gateways)"))
    for name, match, where, what in candidates:
        r = run.fetch(f"SELECT COUNT(*) AS n, SUM({w}) AS w FROM focus WHERE {where}{none}")[0]
        if r["n"]:
            if absent:
                match = {**match, "tag": dict(absent)}
            pools.append(Pool(_unique(name, used), match, float(r["w"] or 0) / total,
                              what + (" without an owner tag" if absent else "")))
    return pools


def _unique(name: str, used: set[str]) -> str:
    reserved = {"tags", "kubernetes", "commitments", "kubernetes-idle"}
    out, i = name, 2
    if out in reserved or out.startswith(f"{ACCOUNT}-"):
        name = out = f"{name}-pool"
    while out in used:
        out, i = f"{name}-{i}", i + 1
    used.add(out)
    return out


def _namespaces(run: Runner, w: str, total: float, cols: set[str]) -> list[Share]:
    """Kubernetes namespaces (as allocation reads them) with the most cost."""
    from cloudledger.config import Kubernetes

    parts = [norm(run.json_text(q("AllocatedTags"), k)) for k in Kubernetes().namespace_keys]
    if {"SubAccountType", "SubAccountId"} <= cols:
        parts.append(f"CASE WHEN \"SubAccountType\" = 'Kubernetes Namespace' THEN "
                     f"{norm(q('SubAccountId'))} END")
    if "x_Namespace" in cols:
        parts.append(norm("CAST(\"x_Namespace\" AS VARCHAR)"))
    rows = run.fetch(f"SELECT ns, SUM(w) AS w FROM (SELECT COALESCE({', '.join(parts)}) "
                     f"AS ns, {w} AS w FROM focus) AS k WHERE ns IS NOT NULL GROUP BY 1 "
                     f"ORDER BY 2 DESC, 1 LIMIT 10")
    return [Share(str(r["ns"]), float(r["w"] or 0) / total) for r in rows]
