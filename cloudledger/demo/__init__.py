"""Realistic synthetic multi-cloud FOCUS data for a fictional company, deterministic by seed.

    data = generate(rows=300_000, seed=7, end=date(2026, 7, 1), out_dir="demo-data")
    data.paths        # FOCUS 1.3 Parquet files, one per provider and month
    data.metrics      # business metrics CSV: date, metric, value, product
    data.anomalies    # the injected anomalies with their dates
    load(store, data) # through the normal ingest path, reconciled

Tailspin Commerce (see ``company.py``) runs on AWS, Azure and Google Cloud: 13 teams over 8
products in prod/staging/dev, 45 services, about a quarter of spend without a team tag and
inconsistent tag keys/values, Savings Plans, RIs, reservations and CUDs with used and unused
parts, credits, tax, support, marketplace and shared costs (networking, security tooling, a
Kubernetes cluster split to namespaces). Rows are generated with numpy and written with
pyarrow, month by month; nothing loops over rows in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cloudledger.demo import company as co
from cloudledger.demo import resources
from cloudledger.demo import rows as rowgen

DEFAULT_ROWS = 300_000
DEFAULT_MONTHS = 13


@dataclass
class DemoData:
    """What ``generate`` wrote."""

    paths: list[Path]
    metrics: Path
    anomalies: list[dict[str, Any]]
    rows: int
    start: date
    end: date                        # exclusive
    files: dict[str, list[Path]] = field(default_factory=dict)   # by format

    @property
    def focus_dir(self) -> Path:
        return self.paths[0].parent.parent


def last_full_month_end(today: date | None = None) -> date:
    """The first day of the current month: data ends with the last full month."""
    today = today or date.today()
    return today.replace(day=1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return date(y, m + 1, 1)


def generate(rows: int = DEFAULT_ROWS, seed: int = 7, end: date | None = None,
             out_dir: str | Path = "cloudledger-demo-data", *, months: int = DEFAULT_MONTHS,
             formats: Sequence[str] = ("parquet",), single_file: bool = False,
             on_month: Callable[[int, int, int], None] | None = None) -> DemoData:
    """Write about ``rows`` FOCUS rows covering ``months`` full months before ``end``.

    ``end`` is exclusive and rounded down to a month start (default: the current month, so
    the data ends with the last full month). Files go to ``out_dir/focus/<provider>/<month>``
    (or ``out_dir/focus.<fmt>`` with ``single_file``), the business metrics to
    ``out_dir/metrics/business_metrics.csv`` and the anomalies to ``out_dir/anomalies.json``.
    Same seed, rows, end and months: identical files. ``on_month(done, total, rows)``
    reports progress.
    """
    end = (end or last_full_month_end()).replace(day=1)
    start = _add_months(end, -months)
    epoch = np.datetime64(start.isoformat(), "D")
    days = (end - start).days
    month_starts = np.array([(_add_months(start, i) - start).days for i in range(months + 1)])
    rng = np.random.default_rng(seed)
    fixed = len(co.SHARED) * 2 + len(co.K8S_NODEGROUPS) * len(co.K8S_NAMESPACES)
    n_team = int(max(0, rows / days - fixed) / 0.91)
    cat = resources.build(rng, n_team, days, month_starts)
    svc_index = {name: i for i, name in enumerate(cat.service_names)}
    anomalies, specs = [], []
    for before, length, provider, service, mult, what in co.ANOMALIES:
        first = days - before
        specs.append((first, length, svc_index[(provider, service)], mult))
        anomalies.append({
            "start": (start + timedelta(days=first)).isoformat(),
            "end": (start + timedelta(days=first + length - 1)).isoformat(),
            "days": length, "provider": co.PROVIDERS[provider].name, "service": service,
            "factor": mult, "description": what})
    win = rowgen.Window(epoch, days, month_starts, specs)
    commit_start = np.array([month_starts[c.start_month] for c in co.COMMITMENTS])

    out = Path(out_dir)
    focus_dir = out / "focus"
    focus_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[Path]] = {f: [] for f in formats}
    writers: dict[str, Any] = {}
    total = 0
    try:
        for m in range(months):
            table = rowgen.month(cat, win, m, np.random.default_rng([seed, m]), commit_start)
            total += table.num_rows
            label = str(_add_months(start, m))[:7]
            if single_file:
                _append(writers, files, focus_dir.parent, table)
            else:
                _write_split(cat, table, focus_dir, label, formats, files)
            if on_month:
                on_month(m + 1, months, total)
    finally:
        for w in writers.values():
            w.close()
    metrics = write_metrics(out / "metrics" / "business_metrics.csv", win, seed)
    (out / "anomalies.json").write_text(json.dumps(anomalies, indent=1))
    paths = files.get("parquet") or next(iter(files.values()))
    return DemoData(paths=paths, metrics=metrics, anomalies=anomalies, rows=total,
                    start=start, end=end, files=files)


_SLUG = {"AWS": "aws", "Microsoft": "azure", "Google Cloud": "gcp"}


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings and date-times as FOCUS's YYYY-MM-DDTHH:mm:ssZ
    (for CSV)."""
    import pyarrow.compute as pc

    def plain(c: pa.ChunkedArray) -> pa.ChunkedArray:
        if pa.types.is_dictionary(c.type):
            return c.cast(pa.string())
        if pa.types.is_timestamp(c.type):
            return pc.strftime(c, format="%Y-%m-%dT%H:%M:%SZ")
        return c

    return pa.table([plain(c) for c in table.columns], names=table.column_names)


def _write_split(cat: resources.Catalog, table: pa.Table, focus_dir: Path, label: str,
                 formats: Sequence[str], files: dict[str, list[Path]]) -> None:
    providers = table.column("ProviderName").combine_chunks()
    names = providers.dictionary.to_pylist()
    counts = np.bincount(providers.indices.to_numpy(), minlength=len(names))
    # rows are sorted by provider, so each provider is one contiguous slice
    order = np.argsort([co.PROVIDERS.index(next(p for p in co.PROVIDERS if p.name == n))
                        for n in names])
    offset = 0
    for i in order:
        part = table.slice(offset, int(counts[i]))
        offset += int(counts[i])
        if part.num_rows == 0:
            continue
        folder = focus_dir / _SLUG[names[i]]
        folder.mkdir(exist_ok=True)
        for fmt in formats:
            path = folder / f"{label}.{fmt}"
            if fmt == "parquet":
                pq.write_table(part, path, compression="snappy")
            else:
                pacsv.write_csv(_plain(part), path)
            files[fmt].append(path)


def _append(writers: dict[str, Any], files: dict[str, list[Path]], out: Path,
            table: pa.Table) -> None:
    for fmt in files:
        if fmt not in writers:
            path = out / f"focus.{fmt}"
            files[fmt].append(path)
            writers[fmt] = (pq.ParquetWriter(path, table.schema, compression="snappy")
                            if fmt == "parquet" else
                            pacsv.CSVWriter(path, _plain(table.slice(0, 0)).schema))
        writers[fmt].write_table(table if fmt == "parquet" else _plain(table))


def write_metrics(path: Path, win: rowgen.Window, seed: int) -> Path:
    """Daily requests and active users per customer-facing product (CSV)."""
    rng = np.random.default_rng([seed, 10_000])
    products = list(co.METRIC_PRODUCTS)
    day = np.tile(np.arange(win.days), len(products) * 2)
    prod = np.repeat(np.tile(np.arange(len(products)), 2), win.days)
    metric = np.repeat([0, 1], len(products) * win.days)
    base = np.array([[co.METRIC_PRODUCTS[p][k] for p in products] for k in (0, 1)])
    growth = rng.normal(0.3, 0.1, len(products))
    weekend = ((win.epoch.astype(np.int64) + day + 3) % 7) >= 5
    value = (base[metric, prod] * np.exp(growth[prod] * (day - win.days) / 365.0)
             * np.where(weekend, 0.85, 1.0) * win.season()[day]
             * rng.lognormal(0, 0.04, len(day)))
    table = pa.table({
        "date": pa.array((win.epoch + day.astype("timedelta64[D]")).astype("datetime64[D]")),
        "metric": pa.array(np.array(["requests", "active_users"])[metric]),
        "value": pa.array(np.rint(value).astype(np.int64)),
        "product": pa.array(np.array(products)[prod]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table.sort_by([("date", "ascending"), ("product", "ascending")]), path)
    return path


def load(store: Any, data: DemoData) -> list[Any]:
    """Load the generated FOCUS files through the normal ingest path (reconciled); files
    a previous demo run already loaded (same bytes) are skipped, so a rerun changes
    nothing."""
    from cloudledger.ingest import NothingToLoad, ingest

    try:
        return ingest(store, [str(p) for p in data.paths])
    except NothingToLoad:
        return []


__all__ = ["DEFAULT_ROWS", "DemoData", "generate", "last_full_month_end", "load",
           "write_metrics"]
