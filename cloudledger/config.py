"""One typed settings object: defaults < cloudledger.yaml < CLOUDLEDGER_* env < flags.

    settings = load_settings("cloudledger.yaml")     # or None: ./cloudledger.yaml if present
    settings.owners.dimensions                       # ["team", "product", ...]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CONFIG = Path("cloudledger.yaml")
UNALLOCATED = "__unallocated__"
SHARED = "__shared__"
IDLE = "__idle__"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Owners(Strict):
    """The owner dimensions every allocated row carries, as columns named after them."""

    dimensions: list[str] = ["team", "product", "environment", "cost_center"]


class Tags(Strict):
    """Tag key aliases and value normalization (values are trimmed and case-folded first)."""

    #: owner dimension -> tag keys that mean it, e.g. team: [Team, team, owner]
    aliases: dict[str, list[str]] = Field(default_factory=lambda: {
        "team": ["team", "Team", "owner", "Owner"],
        "product": ["product", "Product", "application", "app"],
        "environment": ["environment", "Environment", "env", "Env"],
        "cost_center": ["cost_center", "CostCenter", "costcenter", "cost-center"],
    })
    #: dimension -> canonical value -> variants, e.g. environment: {prod: [production, prd]}
    values: dict[str, dict[str, list[str]]] = Field(default_factory=lambda: {
        "environment": {"prod": ["production", "prd", "prod"],
                        "dev": ["development", "dev"],
                        "staging": ["stage", "stg", "staging"]},
    })
    required: list[str] = ["team", "environment"]


class Match(Strict):
    """Conditions on FOCUS dimensions; all given conditions must hold (regex for *_regex)."""

    provider: str | list[str] | None = None
    account: str | list[str] | None = None          # BillingAccountId/Name or SubAccountId/Name
    service: str | list[str] | None = None
    service_category: str | list[str] | None = None
    region: str | list[str] | None = None
    resource_regex: str | None = None
    charge_category: str | list[str] | None = None
    tag: dict[str, str | list[str] | bool] | None = None   # key -> value(s); true = present
    column: dict[str, str | list[str]] | None = None       # any FOCUS / x_ column -> value(s)


class Rule(Strict):
    name: str
    match: Match
    set: dict[str, str]


class SharedPool(Strict):
    name: str
    match: Match
    split: Literal["even", "proportional", "fixed", "metric"] = "proportional"
    #: the owner dimension the pool is split across (default: the first dimension)
    dimension: str | None = None
    #: recipients (values of ``dimension``); default: every owner with direct cost
    to: list[str] | None = None
    percentages: dict[str, float] | None = None       # split: fixed (must sum to 100)
    metric: str | None = None                          # split: metric (a business metric)


class Commitments(Strict):
    """Purchases follow EffectiveCost to the usage they covered; unused goes here."""

    unused_owner: dict[str, str] = Field(default_factory=lambda: {"team": "platform"})


class Kubernetes(Strict):
    idle: Literal["share", "keep"] = "share"
    #: namespace -> owner values, e.g. checkout: {team: payments}
    namespaces: dict[str, dict[str, str]] = Field(default_factory=dict)


class MetricSource(Strict):
    name: str
    file: str
    unit: str | None = None     # e.g. "1k requests"


class Chargeback(Strict):
    billable_dimension: str = "team"
    cost_center_dimension: str = "cost_center"
    exclude: list[str] = Field(default_factory=lambda: [UNALLOCATED, SHARED])


class Settings(Strict):
    store: str | None = None
    owners: Owners = Field(default_factory=Owners)
    tags: Tags = Field(default_factory=Tags)
    rules: list[Rule] = Field(default_factory=list)
    shared: list[SharedPool] = Field(default_factory=list)
    commitments: Commitments = Field(default_factory=Commitments)
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    metrics: list[MetricSource] = Field(default_factory=list)
    chargeback: Chargeback = Field(default_factory=Chargeback)
    budgets: list[dict[str, Any]] = Field(default_factory=list)
    notifications: list[dict[str, Any]] = Field(default_factory=list)


def load_settings(path: str | Path | None = None) -> Settings:
    """Settings from ``path`` (or ./cloudledger.yaml if present), then CLOUDLEDGER_* env."""
    import yaml

    from cloudledger.errors import InputError

    target = Path(path) if path else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if target.exists():
        try:
            data = yaml.safe_load(target.read_text()) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{target}, line {mark.line + 1}" if mark else str(target)
            raise InputError(f"not valid YAML: {e}", where=where) from e
    elif path:
        raise InputError(f"no config file at {target}",
                         hint="run `cloudledger init` to write a starter file")
    if os.environ.get("CLOUDLEDGER_STORE"):
        data["store"] = os.environ["CLOUDLEDGER_STORE"]
    from pydantic import ValidationError

    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{first['msg']} at {loc}", where=str(target)) from e
