"""What tag keys and values mean: the vocabulary `cloudledger init --store` proposes
owner dimensions, aliases and value spellings from (see :mod:`cloudledger.allocate.propose`).

    classify("app:Owner-Team")     # -> "team"
    classify("aws:createdBy")      # -> None (written by the provider)
    variant_groups("environment", [Share("production", .4), Share("prd", .1)])
                                   # -> {"prod": ["production", "prd", "live"]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Tag key (lower case, namespace prefix and punctuation removed) -> owner dimension.
VOCABULARY: dict[str, tuple[str, ...]] = {
    "team": ("team", "teams", "teamname", "ownerteam", "owningteam", "owner", "owners",
             "businessowner", "technicalowner", "techowner", "squad", "group", "org",
             "organization", "organisation", "department", "dept", "businessunit", "bu",
             "division", "tribe"),
    "product": ("product", "productname", "app", "application", "appname",
                "applicationname", "appid", "applicationid", "service", "servicename",
                "workload", "workloadname", "project", "projectname", "system", "solution"),
    "environment": ("env", "environment", "envname", "environmentname", "envtype",
                    "environmenttype", "stage", "deploymentenvironment"),
    "cost_center": ("costcenter", "costcentre", "costcenterid", "costcentreid", "costcode",
                    "cc", "chargecode", "billingcode", "glcode"),
}
#: A key ending in one of these (``my-team``, ``PrimaryOwner``) means that dimension too.
SUFFIXES: dict[str, str] = {"costcenter": "cost_center", "costcentre": "cost_center",
                            "environment": "environment", "team": "team", "owner": "team",
                            "department": "team", "application": "product",
                            "product": "product"}
#: Keys that name a shared-cost pool (``cost-pool: observability``).
POOL_KEYS = ("costpool", "sharedcost", "sharedcostpool", "sharedpool", "costallocationpool",
             "pool")
#: Keys providers and tools write themselves: never owner keys.
SYSTEM_PREFIXES = ("aws:", "goog-", "aks-managed-", "hidden-", "kubernetes.io",
                   "k8s-azure", "eks:", "ecs:", "ms-resource", "microsoft", "databricks",
                   "compute.googleapis.com", "cloudformation", "elasticbeanstalk:",
                   "sagemaker:", "map-migrated")
#: Canonical environment -> the spellings that mean it.
ENVIRONMENTS: dict[str, list[str]] = {
    "prod": ["production", "prd", "prod", "live"],
    "staging": ["stage", "stg", "staging", "preprod", "pre-prod", "uat"],
    "test": ["test", "testing", "tst", "qa"],
    "dev": ["development", "dev", "develop"],
    "sandbox": ["sandbox", "sbx"],
}



@dataclass
class Share:
    """Something seen in the store with the share of cost (or rows) it covers."""

    name: str
    share: float



def compact(key: str) -> str:
    """``app:Owner-Team`` -> ``ownerteam``: namespace prefix and punctuation removed."""
    last = re.split(r"[:/]", key)[-1]
    return re.sub(r"[^a-z0-9]", "", last.lower())


def classify(key: str) -> str | None:
    """The owner dimension a tag key means, ``"pool"`` for a shared-cost pool key, or
    None."""
    if key.lower().startswith(SYSTEM_PREFIXES):
        return None
    c = compact(key)
    if not c:
        return None
    if c in POOL_KEYS:
        return "pool"
    for dim, names in VOCABULARY.items():
        if c in names:
            return dim
    for end, dim in SUFFIXES.items():
        if c.endswith(end) and len(c) > len(end):
            return dim
    return None


def variant_groups(dim: str, seen: list[Share]) -> dict[str, list[str]]:
    """canonical value -> other spellings, from values seen (most cost first)."""
    out: dict[str, list[str]] = {}
    rest = seen
    if dim == "environment":
        lowered = {s.name.lower() for s in seen}
        for canon, variants in ENVIRONMENTS.items():
            if lowered & set(variants):
                out[canon] = [v for v in variants if v != canon]
        rest = [s for s in seen if not any(s.name.lower() in v for v in ENVIRONMENTS.values())]
    by_form: dict[str, list[str]] = {}
    for s in rest:  # most cost first: the first spelling of a form is its canonical one
        form = re.sub(r"[^a-z0-9]", "", s.name.lower())
        if dim == "team" and form.endswith("team") and len(form) > 6:
            form = form[:-4]
        if form:
            by_form.setdefault(form, []).append(s.name)
    for spellings in by_form.values():
        if len(spellings) > 1 and spellings[0] not in out:
            out[spellings[0]] = spellings[1:]
    return out
