"""Recommenders: each finds one kind of saving and registers itself with its own options.

    @recommender("waste.unattached-volume", category="waste", options=UnattachedOptions,
                 description="block volumes billed with no instance attached")
    def unattached(ctx: Context, opts: UnattachedOptions) -> list[Recommendation]: ...

    RECOMMENDERS.find("waste.unattached-volume")   # close-match error for a typo
    run(store, settings, names=["waste"])           # every recommender whose name starts so

A recommender reads the store through the engine (Ibis expressions or SQL, never a Python
loop over billing rows) and returns ``Recommendation``s: a stable ``id`` (the same finding
keeps its id across runs, so its status survives), the resource or scope it is about, an
owner (filled from ``allocated`` when the store has it), evidence (the figures the
recommendation rests on, JSON-able), and a monthly saving in the billing currency as an
exact Decimal. Options are a pydantic model per recommender, set in ``optimize:`` of
cloudledger.yaml under the recommender's name (e.g. ``optimize: {rightsizing: {headroom:
0.3}}``); an unknown key is an error with a close match, like every other setting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cloudledger.registry import Registry

Category = Literal["commitments", "rightsizing", "waste", "schedule"]


class Options(BaseModel):
    """Base of every recommender's options (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Recommendation:
    kind: str                      # the recommender's registered name
    category: Category
    resource: str                  # ResourceId, or a scope key (e.g. account/family/region)
    title: str                     # one line a person reads: "downsize m5.2xlarge to m5.xlarge"
    monthly_savings: Decimal       # expected, in ``currency``; >= 0
    currency: str
    evidence: dict[str, Any] = field(default_factory=dict)   # figures it rests on (JSON-able)
    owner: dict[str, str] = field(default_factory=dict)      # owner dimension -> value
    risk: str | None = None        # what could go wrong (e.g. "clips 3 peaks above 90% CPU")
    account: str | None = None     # SubAccountId or BillingAccountId the resource bills to

    @property
    def id(self) -> str:
        """Stable across runs: the kind and the resource (not the figures, which move)."""
        digest = hashlib.sha256(f"{self.kind}\x1f{self.resource}".encode()).hexdigest()
        return f"{self.kind.split('.')[0][:4]}-{digest[:10]}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "category": self.category,
                "resource": self.resource, "account": self.account, "title": self.title,
                "monthly_savings": self.monthly_savings, "currency": self.currency,
                "owner": self.owner, "risk": self.risk,
                "evidence": json.loads(json.dumps(self.evidence, default=str))}


@dataclass(frozen=True)
class Context:
    """What a recommender may read: the store, the settings, and the day it runs as of
    (only data before ``as_of`` counts; None: everything)."""

    store: Any
    settings: Any
    as_of: date | None = None


RecommendFn = Callable[[Context, Any], list[Recommendation]]


@dataclass(frozen=True)
class Recommender:
    name: str
    category: Category
    description: str
    options: type[Options]
    run: RecommendFn


RECOMMENDERS: Registry[Recommender] = Registry(
    "recommender", where="--only", package="cloudledger.optimize.recommenders",
    entry_points="cloudledger.recommenders")


def recommender(name: str, *, category: Category, description: str,
                options: type[Options] = Options) -> Callable[[RecommendFn], RecommendFn]:
    def wrap(fn: RecommendFn) -> RecommendFn:
        RECOMMENDERS.add(name, Recommender(name, category, description, options, fn))
        return fn
    return wrap


def options_for(rec: Recommender, settings: Any) -> Options:
    """The recommender's options from ``optimize: {<name>: {...}}`` (defaults if absent)."""
    raw = (getattr(settings, "optimize", None) or {}).get(rec.name, {}) if settings else {}
    return rec.options.model_validate(raw)


def run(store: Any, settings: Any, *, names: list[str] | None = None,
        as_of: date | None = None) -> list[Recommendation]:
    """Every registered recommender whose name equals or starts with one of ``names`` (all
    when None), largest saving first."""
    RECOMMENDERS.load()
    chosen = [r for n, r in sorted(RECOMMENDERS.items())
              if names is None or any(n == p or n.startswith(p + ".") for p in names)]
    ctx = Context(store, settings, as_of)
    out = [rec for r in chosen for rec in r.run(ctx, options_for(r, settings))]
    return sorted(out, key=lambda r: (-r.monthly_savings, r.kind, r.resource))
