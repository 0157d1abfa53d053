"""FOCUS 1.0-1.3 files (CSV plain/gz/zstd, Parquet): any provider's native FOCUS export.

Columns are matched to the canonical model case-sensitively (FOCUS names are PascalCase);
provider ``x_`` columns are kept as they are; any other column is kept as ``x_<name>`` with
a warning. Pre-1.0 files (0.5 / 1.0-preview names such as ChargeType, AmortizedCost) are
rejected with a clear reason rather than guessed at.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import parse, source_total, text, timestamp, union_all
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.store import Frame


def looks_like_focus(sniff: Sniff) -> bool:
    cols = set(sniff.columns)
    return len(cols & set(focus.NAMES)) >= 6 and "BilledCost" in cols


def check_columns(columns: list[str], where: str) -> tuple[str, list[str]]:
    """FOCUS version and warnings for a header; FormatError when it cannot be loaded."""
    present = set(columns)
    old = sorted(present & focus.PRE_1_0_NAMES)
    if old and not (present & {"ChargeCategory", "EffectiveCost"}):
        raise FormatError(
            f"this is a pre-1.0 FOCUS file (columns {', '.join(old)}); cloudledger reads "
            "FOCUS 1.0 to 1.3", where=where,
            hint="export the data again as FOCUS 1.0 or later (ChargeType became "
                 "ChargeCategory, AmortizedCost became EffectiveCost)")
    missing = [c for c in focus.LOAD_KEY if c not in present]
    if missing:
        lower = {c.lower(): c for c in columns}
        notes = []
        for m in missing:
            near = lower.get(m.lower()) or next(iter(difflib.get_close_matches(
                m, columns, n=1, cutoff=0.8)), None)
            notes.append(f"{m} (found {near!r}?)" if near else m)
        raise FormatError(
            f"not loadable as FOCUS: missing mandatory column(s) {', '.join(notes)}",
            where=where, hint="a FOCUS file needs at least " + ", ".join(focus.LOAD_KEY) +
            "; use --format to pick a native format, or `cloudledger formats` to list them")
    version = focus.detect_version(columns)
    warnings = []
    absent = [c for c in focus.mandatory(version) if c not in present]
    if absent:
        warnings.append(f"{where}: FOCUS {version} mandatory column(s) missing, loaded as "
                        f"NULL: {', '.join(absent)}")
    unknown = [c for c in columns if c not in focus.BY_NAME and not focus.is_custom(c)
               and c != "x_cl_file"]
    if unknown:
        warnings.append(f"{where}: non-FOCUS column(s) kept as x_<name>: {', '.join(unknown)}")
    return version, warnings


def focus_rows(raw: ir.Table) -> ir.Table:
    """Canonical FOCUS rows from a raw table with FOCUS column names (text or typed)."""
    cols = []
    for name in raw.columns:
        if name == "x_cl_file":
            continue
        column = focus.BY_NAME.get(name)
        if column is not None:
            cols.append(parse(raw[name], column.kind).name(name))
        elif focus.is_custom(name):
            cols.append(raw[name])
        else:
            cols.append(raw[name].name(f"x_{name}"))
    return raw.select(cols)


def focus_totals(raw: ir.Table) -> ir.Table:
    """The file's own totals, parsed independently of ``focus_rows`` and wider than storage."""
    metrics: dict[str, Any] = {"BilledCost": source_total(raw.BilledCost).sum()}
    if "EffectiveCost" in raw.columns:
        metrics["EffectiveCost"] = source_total(raw.EffectiveCost).sum()
    return raw.group_by(
        BillingAccountId=text(raw.BillingAccountId),
        BillingPeriodStart=timestamp(raw.BillingPeriodStart),
        BillingCurrency=text(raw.BillingCurrency)).aggregate(**metrics)


#: The CSV fast path: the reader itself parses amounts as int64-backed decimals and
#: quantities as doubles (no text columns to build and cast). An amount it cannot take
#: (>= 1e6, or not a number) fails the load, which is then retried on the all-text path.
FAST_TYPES = {"decimal": "DECIMAL(18,12)", "quantity": "DOUBLE"}
NULL_SPELLINGS = ("NULL", "")


@register("focus", "FOCUS 1.0-1.3 CSV (plain, gz, zstd) or Parquet, from any provider",
          detect=looks_like_focus, priority=10)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    return read_focus(store, paths, fast=True)


def read_focus(store: Any, paths: list[Path], *, fast: bool) -> Frame:
    """FOCUS rows and totals of ``paths``; ``fast`` reads CSV amounts typed (see above)."""
    versions, warnings = set(), []
    csvs = [p for p in paths if not fs.is_parquet(p)]
    parquets = [p for p in paths if fs.is_parquet(p)]
    header: list[str] | None = None
    for p in paths:
        cols = fs.columns_of(p)
        version, notes = check_columns(cols, str(p))
        versions.add(version)
        warnings += notes
        if p in csvs:
            if header is not None and cols != header:
                raise FormatError("CSV files of one load must share a header; this one "
                                  "differs from the first", where=str(p),
                                  hint="ingest files with different columns separately")
            header = cols
    tables = []
    fast = fast and bool(csvs) and not store.is_spark
    if csvs:
        assert header is not None
        types = {c: FAST_TYPES[focus.BY_NAME[c].kind] for c in header
                 if c in focus.BY_NAME and focus.BY_NAME[c].kind in FAST_TYPES} if fast else {}
        tables.append(fs.read_csv(store, csvs, header, types=types,
                                  nulls=NULL_SPELLINGS if fast else None))
    if parquets:
        tables.append(fs.read_parquet(store, parquets))
    rows = union_all([focus_rows(t) for t in tables])
    totals = union_all([focus_totals(t) for t in tables])
    return Frame("focus", paths, rows, totals, version=max(versions), warnings=warnings,
                 fallback=(lambda: read_focus(store, paths, fast=False)) if fast else None)
