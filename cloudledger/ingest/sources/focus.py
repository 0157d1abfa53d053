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
from cloudledger.ingest import checked, fast
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import union_all
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.relations import Source
from cloudledger.store import Frame
from cloudledger.store.frame import VerifiedFrame


def looks_like_focus(sniff: Sniff) -> bool:
    cols = set(sniff.columns)
    return len(cols & set(focus.NAMES)) >= 6 and "BilledCost" in cols


def header_names(columns: list[str], where: str) -> None:
    """FormatError for a header the engine cannot take as column names: an empty name, or
    the same name twice (DuckDB compares names without case)."""
    for i, name in enumerate(columns, start=1):
        if not name.strip():
            raise FormatError(f"column {i} of the header has no name", where=f"{where}, line 1",
                              hint="remove the empty column (a trailing comma?) or name it; "
                                   "nothing was loaded")
    seen: dict[str, int] = {}
    for i, name in enumerate(columns, start=1):
        first = seen.setdefault(name.lower(), i)
        if first != i:
            same = "twice" if columns[first - 1] == name else \
                f"twice (as {columns[first - 1]!r}; names are compared without case)"
            raise FormatError(f"duplicate column name: {name!r} appears {same}, at columns "
                              f"{first} and {i}", where=f"{where}, line 1",
                              hint="rename or remove one of them; nothing was loaded")


def check_columns(columns: list[str], where: str) -> tuple[str, list[str]]:
    """FOCUS version and warnings for a header; FormatError when it cannot be loaded."""
    header_names(columns, where)
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
            "; use --source to pick a native format, or `cloudledger formats` to list them")
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


@register("focus", "FOCUS 1.0-1.3 CSV (plain, gz, zstd) or Parquet, from any provider",
          detect=looks_like_focus, priority=10)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    if store.is_spark:  # the checked path: the one-pass path is DuckDB's
        return read_checked(store, paths, options)
    return read_fast(store, paths, options) or read_checked(store, paths, options)


def _sources(paths: list[Path]) -> tuple[list[Source], set[str], list[str]]:
    """Files grouped as they are read (CSV sharing a header; Parquet), versions, warnings."""
    versions, warnings = set(), []
    header: list[str] | None = None
    csvs, parquets, pq_columns = [], [], []
    for p in paths:
        cols = fs.columns_of(p)
        version, notes = check_columns(cols, str(p))
        versions.add(version)
        warnings += notes
        if fs.is_parquet(p):
            parquets.append(p)
            pq_columns += [c for c in cols if c not in pq_columns]
            continue
        if header is not None and cols != header:
            raise FormatError("CSV files of one load must share a header; this one "
                              "differs from the first", where=str(p),
                              hint="ingest files with different columns separately")
        header = cols
        csvs.append(p)
    out = []
    if csvs:
        assert header is not None
        out.append(Source("csv", csvs, header))
    if parquets:
        out.append(Source("parquet", parquets, pq_columns))
    return out, versions, warnings


def read_fast(store: Any, paths: list[Path], options: Options) -> Frame | None:
    """FOCUS rows of ``paths`` loaded in one pass and checked inside the load
    (``fast.fast_rows``, ``fast.verify``); anything those do not take rolls the load
    back and reads the files with ``read_checked``. None where a column's type rules the
    fast path out."""
    sources, versions, warnings = _sources(paths)
    parts = [fast.fast_rows(store, src) for src in sources]
    if any(p is None for p in parts):
        return None
    rows = union_all([p for p in parts if p is not None])
    columns = list(dict.fromkeys(c for src in sources for c in src.columns))
    return VerifiedFrame(
        "focus", paths, rows, fast.fast_totals(rows), version=max(versions),
        warnings=warnings, verify=lambda st, new: fast.verify(st, new, columns),
        fallback=lambda: read_checked(store, paths, options))


def read_checked(store: Any, paths: list[Path], options: Options) -> Frame:
    """FOCUS rows of ``paths`` after the row checks (``ingest.checks``): bad rows are the
    load's error, or set aside with ``--allow-bad-rows``; totals cover the good rows."""
    sources, versions, warnings = _sources(paths)
    spec = options.extra.get("date_spec")
    done = [checked.check_source(store, src, spec, options.allow_bad_rows)
            for src in sources]
    quarantined = [c.quarantined for c in done if c.quarantined is not None]

    def frame(rows: list[ir.Table]) -> Frame:
        return Frame("focus", paths, union_all(rows), union_all([c.totals for c in done]),
                     version=max(versions),
                     warnings=warnings + [w for c in done for w in c.warnings],
                     quarantined=union_all(quarantined) if quarantined else None,
                     rows_in=sum(c.rows_in for c in done))

    out = frame([c.rows for c in done])
    if any(c.fallback for c in done):  # the reader met an amount it parses otherwise
        out.fallback = lambda: frame([c.fallback() if c.fallback else c.rows for c in done])
    return out
