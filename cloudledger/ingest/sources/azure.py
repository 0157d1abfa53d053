"""Azure Cost Management cost details (EA, MCA, legacy v1) into FOCUS.

Reads actual and amortized exports, PascalCase or camelCase headers, the legacy v1 layout
(PreTaxCost, UsageDateTime, SubscriptionGuid), UTF-8 BOM, MM/DD/YYYY or ISO dates, and
partitioned exports through their ``manifest.json``.

Actual and amortized (which dataset a file is):
  ``--option azure_dataset=actual|amortized``, else the file name (``Actual`` /
  ``Amortized``), else the manifest's ``exportConfig.type``, else the content: Unused* rows
  or commitment-covered usage with a cost mean amortized; anything else is read as actual
  (without commitments both datasets are the same rows).

One FOCUS set per billing account and period (mapping after the FinOps toolkit):
  - both datasets present: rows of both are aggregated on their natural key (every column
    except the cost, quantity and price measures) and summed per side, so no charge is
    duplicated or dropped; BilledCost = the actual cost, EffectiveCost = the amortized cost.
    Purchases exist only in actual (EffectiveCost 0); Unused* rows only in amortized
    (BilledCost 0). Totals: BilledCost = sum(actual cost), EffectiveCost = sum(amortized).
  - actual alone: BilledCost = cost; EffectiveCost = cost, except 0 on commitment purchases
    and refunds (FOCUS: a purchase covering future charges has EffectiveCost 0). Usage that a
    commitment covered costs 0 in actual, so EffectiveCost understates until the amortized
    export of the period is loaded with it (a warning says so).
  - amortized alone: EffectiveCost = cost; BilledCost = cost except 0 on commitment-covered
    usage and Unused* rows (they were paid by a purchase, which amortized data omits); a
    warning says to load the actual export with it.
ChargeType: Usage -> Usage; Purchase -> Purchase; Refund -> Purchase + ChargeClass
Correction; UnusedReservation / UnusedSavingsPlan -> Usage, CommitmentDiscountStatus Unused;
Tax -> Tax; RoundingAdjustment and others -> Adjustment. PricingModel Spot -> Dynamic,
Reservation / SavingsPlan usage -> Committed, else Standard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import money, source_total, text
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources import _azure_map as m
from cloudledger.ingest.sources._common import column
from cloudledger.store import Frame

COST = ("CostInBillingCurrency", "Cost", "PreTaxCost")
ACTUAL, AMORTIZED = "actual", "amortized"


def looks_like_azure(sniff: Sniff) -> bool:
    if isinstance(sniff.document, dict):
        return "blobs" in sniff.document and ("manifestVersion" in sniff.document
                                              or "exportConfig" in sniff.document)
    cols = {c.lower() for c in sniff.columns}
    return bool(cols & {c.lower() for c in COST}) and bool(
        cols & {"metercategory", "meterid"}) and bool(cols & {"date", "usagedatetime"})


def manifest_blobs(path: Path) -> tuple[list[Path], str | None]:
    """The data files a cost-export manifest lists (next to it) and its export type."""
    doc = fs.sniff_json(path)
    blobs = [b.get("blobName", "") for b in doc.get("blobs", [])]
    found, missing = [], []
    for name in blobs:
        here = [path.parent / name, path.parent / Path(name).name]
        hit = next((p for p in here if p.is_file()), None)
        (found.append(hit) if hit else missing.append(name))
    if missing or not blobs:
        raise FormatError(
            f"the manifest lists {len(blobs)} data file(s); missing next to it: "
            + (", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "") if missing
               else "(none listed)"), where=str(path),
            hint="download the export's blobs into the manifest's folder (keeping their "
                 "names or paths), or ingest the CSV files directly")
    kind = str(doc.get("exportConfig", {}).get("type", "")).lower()
    dataset = AMORTIZED if "amortized" in kind else ACTUAL if "actual" in kind else None
    if "focus" in kind:
        raise FormatError("this manifest is a FOCUS export", where=str(path),
                          hint="ingest its files with --source focus")
    return found, dataset


def _dataset_by_name(path: Path) -> str | None:
    name = path.name.lower()
    if "amortized" in name or "amortised" in name:
        return AMORTIZED
    if "actual" in name:
        return ACTUAL
    return None


def _dataset_by_content(store: Any, raw: ir.Table) -> str:
    charge = text(column(raw, "ChargeType")).lower()
    model = text(column(raw, "PricingModel")).lower()
    cost = money(column(raw, *COST))
    amort = (charge.startswith("unused") | (model.isin(["reservation", "savingsplan"]) &
                                            (charge == "usage") & (cost != 0)))
    hit = store.execute(raw.filter(amort.fill_null(False)).count()).as_py()
    return AMORTIZED if hit else ACTUAL


@register("azure", "Azure cost details (EA, MCA, legacy v1; actual and amortized; "
          "manifest.json)", detect=looks_like_azure, priority=5)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    forced = options.extra.get("azure_dataset")
    files: list[tuple[Path, str | None]] = []
    for p in paths:
        if p.name.lower().endswith(".json"):
            blobs, kind = manifest_blobs(p)
            files += [(b, kind or _dataset_by_name(b)) for b in blobs]
        else:
            files.append((p, _dataset_by_name(p)))
    seen: set[Path] = set()
    files = [(p, k) for p, k in files if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]
    groups: dict[tuple[tuple[str, ...], bool], list[tuple[Path, str | None]]] = {}
    for p, k in files:
        groups.setdefault((tuple(fs.columns_of(p)), fs.is_parquet(p)), []).append((p, k))
    parts, totals, warnings, datasets = [], [], [], set()
    for (header, parquet), group in groups.items():
        for p, _ in group:
            if not looks_like_azure(Sniff(p, header)):
                raise FormatError("not an Azure cost details file (needs a cost, a meter and "
                                  "a date column)", where=str(p),
                                  hint="ingest it with the format it is in; see "
                                       "`cloudledger formats`")
        by_kind: dict[str | None, list[Path]] = {}
        for p, k in group:
            by_kind.setdefault(forced or k, []).append(p)
        for kind, fileset in by_kind.items():
            raw = fs.read_parquet(store, fileset) if parquet else fs.read_csv(
                store, fileset, list(header), strict=False)
            if kind is None:
                kind = _dataset_by_content(store, raw)
            datasets.add(kind)
            parts.append(m.normalize(raw, kind, spark=store.is_spark))
            totals.append(native_totals(raw, kind, spark=store.is_spark))
    empty = [str(p) for p, _ in files if _is_empty(p)]
    if empty and len(empty) == len(files):
        raise FormatError("the export has a header but no data rows", where=", ".join(empty),
                          hint="export a period that has charges; nothing was loaded")
    if empty:
        warnings.append(f"no data rows in: {', '.join(empty)}")
    if datasets == {ACTUAL}:
        warnings.append("actual cost only: EffectiveCost of commitment-covered usage is 0 "
                        "and of commitment purchases 0; ingest the amortized export of the "
                        "same period together with it for amortized EffectiveCost")
    elif datasets == {AMORTIZED}:
        warnings.append("amortized cost only: BilledCost of commitment-covered usage and "
                        "unused commitments is 0 and purchases are absent; ingest the actual "
                        "export of the same period together with it for the invoice view")
    union = parts[0]
    for part in parts[1:]:
        union = union.union(part, distinct=False)
    total = totals[0]
    for t in totals[1:]:
        total = total.union(t, distinct=False)
    return Frame("azure", paths, m.focus_rows(union), combine_totals(total),
                 warnings=warnings)


def _is_empty(path: Path) -> bool:
    if fs.is_parquet(path):
        import pyarrow.parquet as pq

        return bool(pq.read_metadata(path).num_rows == 0)
    with fs.open_text(path) as f:
        f.readline()
        return not any(line.strip() for line in (f.readline(), f.readline()))


def native_totals(raw: ir.Table, kind: str, *, spark: bool = False) -> ir.Table:
    """The export's own sums of its cost column, per key, split into what the dataset
    states (actual -> BilledCost, amortized -> EffectiveCost) and the commitment parts the
    single-dataset rules set to 0."""
    cost = source_total(column(raw, *COST))
    charge = text(column(raw, "ChargeType")).lower().fill_null("usage")
    model = text(column(raw, "PricingModel")).lower().fill_null("")
    commit_id = ibis.coalesce(text(column(raw, "benefitId")), text(column(raw, "ReservationId")))
    zero = ibis.literal(0).cast(cost.type())
    covered = charge.startswith("unused") | (
        (charge == "usage") & model.isin(["reservation", "savingsplan"]))
    purchase = charge.isin(["purchase", "refund"]) & (
        model.isin(["reservation", "savingsplan"]) | commit_id.notnull())
    keys = m.account_period(raw, spark=spark)
    is_actual = kind == ACTUAL
    mine = cost * 0 + cost  # a column expression (a literal cannot be summed)
    none = cost * 0
    return raw.group_by(**keys).aggregate(
        actual=(mine if is_actual else none).sum(),
        amortized=(none if is_actual else mine).sum(),
        actual_purchase=ibis.cases((purchase & is_actual, cost), else_=zero).sum(),
        amortized_covered=ibis.cases((covered & (not is_actual), cost), else_=zero).sum(),
        n_actual=(raw.count() if is_actual else raw.count() * 0),
        n_amortized=(raw.count() * 0 if is_actual else raw.count()))


def combine_totals(t: ir.Table) -> ir.Table:
    g = t.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency").aggregate(
        actual=t.actual.sum(), amortized=t.amortized.sum(),
        actual_purchase=t.actual_purchase.sum(), amortized_covered=t.amortized_covered.sum(),
        n_actual=t.n_actual.sum(), n_amortized=t.n_amortized.sum())
    return g.select(
        "BillingAccountId", "BillingPeriodStart", "BillingCurrency",
        BilledCost=ibis.cases((g.n_actual > 0, g.actual),
                              else_=g.amortized - g.amortized_covered),
        EffectiveCost=ibis.cases((g.n_amortized > 0, g.amortized),
                                 else_=g.actual - g.actual_purchase))

