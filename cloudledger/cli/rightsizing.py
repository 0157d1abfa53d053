"""recommend rightsizing: shutdown and downsize recommendations from utilization metrics."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    emit,
    guarded,
    open_store,
    out,
    print_json,
)
from cloudledger.cli.recommend import recommend_app
from cloudledger.errors import InputError

COLUMNS = ("id", "resource", "account", "action", "current_type", "target_type", "cpu_p_pct",
           "cpu_p99_pct", "memory_p_pct", "predicted_cpu_pct", "coverage_pct", "monthly_cost",
           "monthly_savings", "currency", "price_source", "owner", "risk")


def _rows(recs: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in recs:
        e = r.evidence
        rows.append({
            "id": r.id, "resource": r.resource, "account": r.account, "action": e["action"],
            "current_type": e["current_type"], "target_type": e["target_type"],
            "cpu_p_pct": e["cpu_p_pct"], "cpu_p99_pct": e["cpu_p99_pct"],
            "memory_p_pct": e["memory_p_pct"], "predicted_cpu_pct": e["predicted_cpu_pct"],
            "coverage_pct": e["coverage_pct"], "monthly_cost": e["monthly_cost"],
            "monthly_savings": r.monthly_savings, "currency": r.currency,
            "price_source": e["price_source"],
            "owner": ", ".join(f"{k}={v}" for k, v in sorted(r.owner.items())) or None,
            "risk": r.risk})
    return rows


@recommend_app.command("rightsizing")
@guarded
def rightsizing(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="only metrics and billing before this day count, YYYY-MM-DD "
                        "(default: the day after the last sample)")] = None,
    lookback: Annotated[int | None, typer.Option(
        "--lookback", help="days of metrics the percentiles cover (default 14, or "
                           "optimize.rightsizing.lookback_days)")] = None,
    headroom: Annotated[float | None, typer.Option(
        "--headroom", help="percent the target size keeps above the percentile (default "
                           "20, or optimize.rightsizing.headroom x 100)")] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Shut down idle VMs and downsize over-provisioned ones: P95/P99 CPU and memory over
    the lookback with headroom, Azure Advisor's shutdown rule, monthly savings and the risk
    (peaks the smaller size would clip). Resources that cannot be judged are listed with
    the reason."""
    from cloudledger.config import load_settings
    from cloudledger.optimize.recommenders.rightsizing import NAME, analyze
    from cloudledger.optimize.registry import RECOMMENDERS, options_for
    from cloudledger.optimize.rightsizing import RightsizingOptions

    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"{as_of!r} is not a date", where="--as-of",
                             hint="write it as YYYY-MM-DD") from None
    settings = load_settings(config)
    RECOMMENDERS.load()
    opts = options_for(RECOMMENDERS.find(NAME), settings)
    assert isinstance(opts, RightsizingOptions)
    changes: dict[str, Any] = {}
    if lookback is not None:
        if lookback < 1:
            raise InputError("--lookback must be at least 1 day", where="--lookback")
        changes["lookback_days"] = lookback
    if headroom is not None:
        if not 0 <= headroom <= 400:
            raise InputError("--headroom is a percentage in 0-400", where="--headroom",
                             hint="e.g. --headroom 20 for 20 %")
        changes["headroom"] = headroom / 100
    opts = RightsizingOptions.model_validate({**opts.model_dump(), **changes})
    st = open_store(store, config=config, read_only=True)
    res = analyze(st, opts, as_of=day, settings=settings)
    rows = _rows(res.recommendations)
    if output is OutputFormat.json:
        print_json({"recommendations": [r.to_dict() for r in res.recommendations],
                    "skipped": res.skipped})
        return
    if output is OutputFormat.csv:
        columns = ["section", *COLUMNS, "reason"]
        emit([{c: r.get(c) for c in columns} for r in
              [{"section": "recommendation", **r} for r in rows]
              + [{"section": "skipped", "resource": s["resource_id"], "reason": s["reason"]}
                 for s in res.skipped]], output)
        return
    span = ""
    if res.window:
        a, b = res.window
        span = f" ({_day(a)} to {_day(b)}, {res.resources} resources with metrics)"
    title = f"Rightsizing: P{opts.percentile:g}, headroom {opts.headroom * 100:g}%{span}"
    if rows:
        emit(rows, output, title=title)
    else:
        out.print(f"{title}: no recommendations", highlight=False)
    if res.skipped:
        emit([{"resource": s["resource_id"], "reason": s["reason"]} for s in res.skipped],
             output, title="Skipped (not judged)")
    total: dict[str, Any] = {}
    for r in res.recommendations:
        total[r.currency] = total.get(r.currency, 0) + r.monthly_savings
    for cur, amount in sorted(total.items()):
        out.print(f"total monthly savings: {amount:,.2f} {cur}", highlight=False)


def _day(t: datetime) -> str:
    return t.date().isoformat()
