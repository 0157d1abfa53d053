"""Settings of allocation: owner dimensions, tag aliases and values, rules, shared pools,
commitments, Kubernetes namespaces, the chargeback journal; and their semantic checks."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from cloudledger.config.base import IDLE, SHARED, UNALLOCATED, Strict

if TYPE_CHECKING:
    from cloudledger.config.settings import Settings


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
    #: dimensions whose values are codes: trimmed but not case-folded (Cost001 stays Cost001)
    keep_case: list[str] = Field(default_factory=lambda: ["cost_center"])


class Match(Strict):
    """Conditions on FOCUS dimensions; all given conditions must hold.

    Strings compare exactly (a list means any of them); ``resource_regex`` is a regular
    expression searched in ResourceId; ``tag`` values compare trimmed and case-folded
    (``true``: the key is present, ``false``: absent); ``column`` names any FOCUS or ``x_``
    column. ``owner`` (shared pools only) selects rows by their current owner values, so a
    pool can redistribute what rules or an earlier pool gave an owner.
    """

    provider: str | list[str] | None = None
    account: str | list[str] | None = None          # BillingAccountId/Name or SubAccountId/Name
    service: str | list[str] | None = None
    service_category: str | list[str] | None = None
    region: str | list[str] | None = None
    resource_regex: str | None = None
    charge_category: str | list[str] | None = None
    tag: dict[str, str | list[str] | bool] | None = None   # key -> value(s); true = present
    column: dict[str, str | list[str]] | None = None       # any FOCUS / x_ column -> value(s)
    owner: dict[str, str | list[str]] | None = None        # owner dimension -> value(s)

    def is_empty(self) -> bool:
        return not any(v is not None for v in self.__dict__.values())


class Rule(Strict):
    """An ordered allocation rule: the first rule whose ``match`` holds sets ``set``.

    Tag values win over a rule's values unless ``override: true``.
    """

    name: str
    match: Match
    set: dict[str, str]
    override: bool = False


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
    #: split: proportional uses the recipients' direct cost under this metric
    basis: Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"] = \
        "EffectiveCost"


class Commitments(Strict):
    """Purchases follow EffectiveCost to the usage they covered; unused goes here."""

    unused_owner: dict[str, str] = Field(default_factory=lambda: {"team": "platform"})


class Kubernetes(Strict):
    """Rows split by a Kubernetes cost tool (OpenCost, EKS split cost allocation) carry the
    namespace in AllocatedTags (``namespace_keys``), or, from OpenCost, in SubAccountId
    (SubAccountType ``Kubernetes Namespace``) and ``x_Namespace``; idle capacity rows are
    named ``__idle__`` and are shared within their cluster (BillingAccountId)."""

    idle: Literal["share", "keep"] = "share"
    #: namespace -> owner values, e.g. checkout: {team: payments}
    namespaces: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: AllocatedTags keys that hold the namespace
    namespace_keys: list[str] = Field(default_factory=lambda: [
        "namespace", "kubernetes-namespace", "kubernetes.io/namespace", "k8s-namespace"])


class Chargeback(Strict):
    """Journal entries for the billable owners. ``__unallocated__``, ``__shared__`` and
    ``__idle__`` are never billed; ``exclude`` adds owners. A journal line's cost center is
    the row's own code, except on shares of shared pools split across another dimension
    (they carry the pool's source code) and rows without a code: those go to the owner's
    (``cost_centers``, else the one code the owner's other rows carry in the period)."""

    billable_dimension: str = "team"
    cost_center_dimension: str = "cost_center"
    exclude: list[str] = Field(default_factory=lambda: [UNALLOCATED, SHARED, IDLE])
    #: owner -> its default cost center, e.g. payments: CC-1010
    cost_centers: dict[str, str] = Field(default_factory=dict)


def check_allocation(settings: Settings) -> None:
    """Semantic checks that need no data: owner dimensions, splits, regexes, pool cycles."""
    import re

    from cloudledger.errors import InputError

    dims = settings.owners.dimensions
    if not dims:
        raise InputError("owners.dimensions is empty", where=settings.where("owners"),
                         hint="list at least one owner dimension, e.g. [team]")
    for d in dims:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", d) or d in ("focus", "allocated"):
            raise InputError(f"owner dimension {d!r} must be a lower-case identifier",
                             where=settings.where("owners", "dimensions"))
        if d.startswith("x_") or any(d.lower() == n.lower() for n in _focus_names()):
            raise InputError(f"owner dimension {d!r} collides with a FOCUS column",
                             where=settings.where("owners", "dimensions"))

    def dim(name: str, *path: str | int) -> None:
        if name not in dims:
            close = difflib.get_close_matches(name, dims, n=1)
            raise InputError(
                f"unknown owner dimension {name!r}" + (
                    f"; did you mean {close[0]!r}?" if close else ""),
                where=settings.where(*path),
                hint=f"owner dimensions: {', '.join(dims)} (owners.dimensions)")

    for d in settings.tags.aliases:
        dim(d, "tags", "aliases", d)
    for d in settings.tags.values:
        dim(d, "tags", "values", d)
    for d in settings.tags.required:
        dim(d, "tags", "required")
    if "keep_case" in settings.tags.model_fields_set:  # the default may name a missing one
        for d in settings.tags.keep_case:
            dim(d, "tags", "keep_case")
    names: set[str] = set()
    for i, rule in enumerate(settings.rules):
        if rule.name in names:
            raise InputError(f"two rules are named {rule.name!r}",
                             where=settings.where("rules", i, "name"))
        names.add(rule.name)
        if not rule.set:
            raise InputError(f"rule {rule.name!r} sets no owner dimension",
                             where=settings.where("rules", i, "set"))
        for d in rule.set:
            dim(d, "rules", i, "set", d)
        if rule.match.owner:
            raise InputError(f"rule {rule.name!r}: match.owner is only for shared pools",
                             where=settings.where("rules", i, "match", "owner"),
                             hint="rules decide owners; match FOCUS columns or tags instead")
        _check_match(settings, rule.match, ("rules", i, "match"))
    reserved = {UNALLOCATED, SHARED, IDLE, "tags", "kubernetes", "commitments"}
    for i, pool in enumerate(settings.shared):
        where = settings.where("shared", i)
        if pool.name in names or pool.name in reserved:
            raise InputError(f"pool name {pool.name!r} is already used by a rule or reserved",
                             where=where)
        names.add(pool.name)
        if pool.match.is_empty():
            raise InputError(f"pool {pool.name!r} matches every row",
                             where=settings.where("shared", i, "match"),
                             hint="give the pool a match (e.g. service: Support)")
        _check_match(settings, pool.match, ("shared", i, "match"))
        if pool.dimension is not None:
            dim(pool.dimension, "shared", i, "dimension")
        for d in (pool.match.owner or {}):
            dim(d, "shared", i, "match", "owner", d)
        if pool.split == "fixed":
            if not pool.percentages:
                raise InputError(f"pool {pool.name!r} splits fixed but has no percentages",
                                 where=where, hint="add percentages: {owner: 60, other: 40}")
            from decimal import Decimal

            total = sum(Decimal(str(v)) for v in pool.percentages.values())
            if total != 100 or any(v < 0 for v in pool.percentages.values()):
                raise InputError(
                    f"pool {pool.name!r}: fixed percentages sum to {total}, not 100",
                    where=settings.where("shared", i, "percentages"),
                    hint="make the percentages non-negative and add up to exactly 100")
        elif pool.percentages:
            raise InputError(f"pool {pool.name!r} has percentages but splits {pool.split}",
                             where=settings.where("shared", i, "percentages"),
                             hint="set split: fixed, or remove percentages")
        if pool.split == "metric" and not pool.metric:
            raise InputError(f"pool {pool.name!r} splits by metric but names none",
                             where=where, hint="add metric: <name of a business metric>")
        if pool.to is not None and not pool.to:
            raise InputError(f"pool {pool.name!r} has an empty recipient list (to)",
                             where=settings.where("shared", i, "to"))
    for d in settings.commitments.unused_owner:
        dim(d, "commitments", "unused_owner", d)
    for ns, owner in settings.kubernetes.namespaces.items():
        for d in owner:
            dim(d, "kubernetes", "namespaces", ns, d)
    pool_order(settings)


def _focus_names() -> tuple[str, ...]:
    from cloudledger import focus

    return focus.NAMES


def _check_match(settings: Settings, match: Match, path: tuple[str | int, ...]) -> None:
    import re

    from cloudledger.errors import InputError

    if match.resource_regex is not None:
        try:
            re.compile(match.resource_regex)
        except re.error as e:
            raise InputError(f"resource_regex is not a valid regular expression: {e}",
                             where=settings.where(*path, "resource_regex")) from e
    for column in (match.column or {}):
        if column in settings.owners.dimensions:
            raise InputError(f"{column!r} is an owner dimension, not a column",
                             where=settings.where(*path, "column", column),
                             hint="use match.owner in a shared pool")


def pool_order(settings: Settings) -> list[SharedPool]:
    """Shared pools in the order they run: a pool runs after every pool whose output it may
    match (its ``match.owner`` condition on the dimension the other pool splits across names
    one of that pool's recipients, or the other pool has no fixed recipient list). A cycle
    (A takes B's output and B takes A's, or a pool takes its own) is an error."""
    from cloudledger.errors import InputError

    dims = settings.owners.dimensions
    pools = settings.shared

    def outputs(p: SharedPool) -> tuple[str, set[str] | None]:
        d = p.dimension or dims[0]
        if p.split == "fixed" and p.percentages:
            return d, set(p.percentages) | {SHARED}
        return d, (set(p.to) | {SHARED}) if p.to else None

    def takes(a: SharedPool, b: SharedPool) -> bool:
        d, produced = outputs(b)
        want = (a.match.owner or {}).get(d)
        if want is None:
            return False
        wanted = {want} if isinstance(want, str) else set(want)
        return produced is None or bool(produced & wanted)

    after = {i: [j for j, b in enumerate(pools) if takes(a, b)] for i, a in enumerate(pools)}
    order: list[int] = []
    state: dict[int, int] = {}

    def visit(i: int, trail: list[int]) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            cycle = trail[trail.index(i):] + [i]
            text = " -> ".join(repr(pools[k].name) for k in cycle)
            raise InputError(
                f"shared pools form a cycle: {text} (each takes rows the next one produces)",
                where=settings.where("shared", i, "match", "owner"),
                hint="a pool's match.owner must not select what a later pool hands out; "
                     "narrow match.owner or the recipients (to)")
        state[i] = 1
        for j in after[i]:
            visit(j, trail + [i])
        state[i] = 2
        order.append(i)

    for i in range(len(pools)):
        visit(i, [])
    return [pools[i] for i in order]
