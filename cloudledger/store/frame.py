"""What a source hands to the store (``Frame``) and what a load reports back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from cloudledger import focus
from cloudledger.store.reconcile import Reconciliation


@dataclass
class Frame:
    """What a source hands to the store: FOCUS rows plus the source's own totals."""

    source: str
    files: list[Path]
    rows: ir.Table
    #: BillingAccountId, BillingPeriodStart, BillingCurrency, BilledCost, EffectiveCost as
    #: the native file states them (computed by a path independent of ``rows``).
    totals: ir.Table
    version: str = focus.CANONICAL_VERSION
    warnings: list[str] = field(default_factory=list)
    #: Rows the source set aside (file, line, reason, raw); loaded only with allow_bad_rows.
    quarantined: ir.Table | None = None
    rows_in: int | None = None
    #: A slower, lenient re-read to try when the engine rejects a value of this frame
    #: (e.g. the typed fast path of a CSV meets an amount that needs 38 digits).
    fallback: Callable[[], Frame] | None = None


@dataclass
class Replaced:
    """Rows of earlier loads that a load replaced, for one scope and currency."""

    provider: str
    billing_account: str
    billing_period: str
    currency: str
    rows: int
    billed_cost: Decimal
    effective_cost: Decimal
    #: source formats and ingest ids the replaced rows came from
    sources: list[str]
    ingests: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "billing_account": self.billing_account,
                "billing_period": self.billing_period, "currency": self.currency,
                "rows": self.rows, "BilledCost": self.billed_cost,
                "EffectiveCost": self.effective_cost, "sources": self.sources,
                "ingests": self.ingests}


@dataclass
class LoadReport:
    ingest_id: int
    source: str
    files: list[str]
    rows: int
    rows_replaced: int
    rows_quarantined: int
    version: str
    dry_run: bool
    reconciliation: list[Reconciliation]
    replaced: list[Replaced]
    warnings: list[str]

    @property
    def replaced_totals(self) -> dict[str, Decimal]:
        """BilledCost of the replaced rows per currency."""
        out: dict[str, Decimal] = {}
        for r in self.replaced:
            out[r.currency] = out.get(r.currency, Decimal(0)) + r.billed_cost
        return out

    def totals_by_currency(self, metric: str = "BilledCost") -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for r in self.reconciliation:
            if r.metric == metric:
                out[r.currency] = out.get(r.currency, Decimal(0)) + r.store_total
        return out


class Recheck(Exception):
    """A frame's checks on its inserted rows found something that only its fallback (the
    full check pass) can report: the load rolls back and is tried again with it."""


@dataclass
class Verified:
    """What a frame's in-load checks found: the rows inserted and their totals, which are
    the source's (the fast path inserts every amount exactly as the file states it)."""

    rows: int
    #: BilledCost (and EffectiveCost where the file has it) per account, period, currency
    totals: ir.Table
    #: the same sums with both metrics, as the store holds them (for the reconciliation)
    loaded: ir.Table
    #: the load's replace scope: provider ``p`` and account ``a`` ('' for none), period ``s``
    scope: pa.Table


@dataclass
class VerifiedFrame(Frame):
    """A frame whose rows are checked inside the load, after they are inserted.

    ``rows`` fail (an engine error) on a value the fast path does not take, and
    ``verify(store, inserted)`` returns the row count and source totals (``Verified``) of
    the inserted rows or raises
    ``Recheck``; either way the load rolls back and runs again with ``fallback()``, the
    frame read the checked way. ``totals`` is the lazy, independent form used when the
    frame is loaded without ``verify``."""

    verify: Callable[[Any, ir.Table], Verified] | None = None
