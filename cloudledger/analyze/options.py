"""The checks every analysis shares: metric, owner dimensions, row counts, the allocated
table. Each raises ``InputError`` naming the option and a close match."""

from __future__ import annotations

import difflib
from typing import Any

import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.config import Settings
from cloudledger.errors import InputError


def suggest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def check_metric(metric: str) -> str:
    """``metric`` must be a FOCUS cost column (``EffectiveCost``, ``BilledCost``, ...)."""
    if metric not in focus.COST_METRICS:
        raise InputError(f"unknown cost metric {metric!r}", where="--metric",
                         hint=" ".join(filter(None, [
                             suggest(metric, focus.COST_METRICS),
                             "metrics: " + ", ".join(focus.COST_METRICS)])))
    return metric


def check_top(top: int | None, where: str = "--top") -> int | None:
    """``top`` must be a positive row count (None: all rows)."""
    if top is not None and top < 1:
        raise InputError(f"the number of rows must be at least 1, not {top}", where=where,
                         hint=f"e.g. {where} 10")
    return top


def allocated_table(store: Any) -> ir.Table:
    if "allocated" not in store.tables():
        raise InputError("the store has no allocated table",
                         hint="run `cloudledger allocate` first")
    return store.table("allocated")


def check_dimensions(t: ir.Table, settings: Settings, by: list[str]) -> list[str]:
    """``by`` must name owner dimensions of the config that the allocated table carries."""
    known = list(settings.owners.dimensions)
    if not by:
        raise InputError("no owner dimension given", where="--by",
                         hint=f"choose from {', '.join(known)}")
    for name in by:
        if name not in known:
            raise InputError(f"unknown owner dimension {name!r}", where="--by",
                             hint=suggest(name, known) or f"choose from {', '.join(known)}")
        if name not in t.columns:
            raise InputError(f"the allocated table has no column {name!r}", where="--by",
                             hint="re-run `cloudledger allocate` with this config")
    return by
