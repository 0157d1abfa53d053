"""metrics load / list, unit-costs: business metrics and the cost of one unit of them."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    err,
    guarded,
    open_store,
    out,
    warn,
)
from cloudledger.errors import InputError

metrics_app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                          help="Business metrics (requests, active users, ...) for unit costs, and "
                               "utilization metrics (CPU, memory, network) for rightsizing.")
app.add_typer(metrics_app, name="metrics")


class Grain(StrEnum):
    day = "day"
    month = "month"


class Kind(StrEnum):
    auto = "auto"
    business = "business"
    utilization = "utilization"


@metrics_app.command("load")
@guarded
def load(
    path: Annotated[Path, typer.Argument(help="business metrics: CSV, Parquet or JSON with "
                                         "columns date, metric, value (owner, product); "
                                         "utilization: CloudWatch or Azure Monitor JSON, or "
                                         "CSV with resource_id, timestamp, cpu, memory, "
                                         "network_out")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    kind: Annotated[Kind, typer.Option(
        "--kind", help="auto (utilization when the file is CloudWatch / Azure Monitor JSON "
                       "or a CSV with resource_id and timestamp), business or utilization")
    ] = Kind.auto,
    resource: Annotated[str | None, typer.Option(
        "--resource", help="utilization: the resource a CloudWatch GetMetricStatistics "
                           "file is about (its output does not name it), e.g. an instance id")
    ] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Load a metrics file: business metrics replace each metric's rows in the file's date
    range; utilization metrics replace each resource's samples in the file's time range."""
    from cloudledger.ingest.metrics import load_metrics
    from cloudledger.ingest.utilization import load_utilization, looks_like_utilization

    utilization = kind is Kind.utilization or (kind is Kind.auto
                                               and looks_like_utilization(path))
    if resource is not None and not utilization:
        raise InputError("--resource applies to utilization files", where="--resource",
                         hint="add --kind utilization")
    st = open_store(store, config=config, create=True)
    if utilization:
        uloads, warnings = load_utilization(st, path, resource=resource)
        for w in warnings:
            warn(w)
        emit([{"table": u.table, "resources": u.resources, "from": u.start, "to": u.end,
               "rows": u.rows, "replaced": u.replaced} for u in uloads], output,
             title=f"Loaded utilization from {path.name}")
        return
    loads, warnings = load_metrics(st, path)
    for w in warnings:
        warn(w)
    emit([{"metric": m.metric, "from": m.start, "to": m.end, "rows": m.rows,
           "replaced": m.replaced} for m in loads], output, title=f"Loaded {path.name}")


@metrics_app.command("list")
@guarded
def list_metrics(store: StoreOpt = None, config: ConfigOpt = None,
                 kind: Annotated[Kind, typer.Option(
                     "--kind", help="business or utilization (auto: business)")] = Kind.auto,
                 output: FormatOpt = OutputFormat.table) -> None:
    """The metrics in the store: business metrics (date range, rows, owners, products) or
    utilization (resources, first and last sample, rows)."""
    from cloudledger.ingest.metrics import metrics_summary
    from cloudledger.ingest.utilization import utilization_summary

    st = open_store(store, config=config, read_only=True)
    if kind is Kind.utilization:
        emit(utilization_summary(st), output, title="Utilization metrics")
        return
    emit(metrics_summary(st), output, title="Metrics")


@app.command("unit-costs")
@guarded
def unit_costs(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="business metric (default: the only one stored, or the first in "
                         "the config's metrics)")] = None,
    per: Annotated[float, typer.Option("--per", help="units per price, e.g. 1000 for cost "
                                       "per 1k requests")] = 1.0,
    by: Annotated[str | None, typer.Option(
        "--by", help="product (matched to the metrics' product column) or another owner "
                     "dimension such as team (matched to the owner column); default: total")
    ] = None,
    grain: Annotated[Grain, typer.Option("--grain", help="day or month")] = Grain.month,
    cost: Annotated[str, typer.Option("--cost", help="cost metric (EffectiveCost, "
                                      "BilledCost, ...)")] = "EffectiveCost",
    summary: Annotated[bool, typer.Option(
        "--summary", help="print only the per-owner summary (trend and elasticity)")] = False,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="also write an HTML page with a chart per product")] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Cost per unit of a business metric, with its trend and the cost-to-usage elasticity."""
    from cloudledger.analyze.unit_economics import unit_costs as run
    from cloudledger.config import load_settings
    from cloudledger.render.unit_costs import html

    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    uc = run(st, settings, metric=metric, per=per, by=by, grain=grain.value, cost_metric=cost)
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_text(html(uc), encoding="utf-8")
        err.print(f"wrote the unit-cost chart to {chart}", highlight=False)
    label = f"{uc.cost_metric} per {uc.unit_label}"
    if not summary:
        emit(uc.rows, output, title=f"{label} by {uc.grain}"
             + (f" and {uc.by}" if uc.by else ""))
    if summary or output is OutputFormat.table:
        emit(uc.summary, output, title=f"{label}: trend and elasticity "
             "(d ln cost / d ln usage; < 1 = economies of scale)")
    if output is OutputFormat.table:
        for w in uc.warnings:
            out.print(f"note: {w}", highlight=False)
