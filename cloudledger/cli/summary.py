"""summary: spend by provider, service, month, account, ... for any cost metric."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    guarded,
    open_store,
    out,
    print_json,
)

MetricOpt = Annotated[str, typer.Option(
    "--metric", "-m", help="BilledCost, EffectiveCost, ListCost or ContractedCost")]


def print_summary(st: Any, metric: str, output: OutputFormat, top: int) -> None:
    """The whole overview: totals, by provider, top services, by month, tags, movers."""
    from cloudledger.analyze import summary as s

    sections = {
        "by_provider": s.by_dimension(st, "provider", metric=metric),
        "by_service": s.by_dimension(st, "service", metric=metric, top=top),
        "by_month": s.by_dimension(st, "month", metric=metric),
        "tag_coverage": s.tag_coverage(st, metric=metric, by="provider"),
        "top_movers": s.top_movers(st, metric=metric, n=top),
    }
    if output is OutputFormat.json:
        print_json({k: t.to_pylist() for k, t in sections.items()})
        return
    if output is OutputFormat.csv:
        # one CSV: a row per section row, the section named in the first column
        columns = ["section"] + list(dict.fromkeys(
            c for t in sections.values() for c in t.column_names))
        rows = [{"section": k, **r} for k, t in sections.items() for r in t.to_pylist()]
        emit([{c: r.get(c) for c in columns} for r in rows], output)
        return
    if output is OutputFormat.table:
        ov = s.overview(st, metric=metric)
        out.print(f"[bold]{metric}[/] {ov.total_text()} over "
                  f"{ov.rows:,} rows, {ov.first_day} to {ov.last_day} (exclusive): "
                  f"{ov.providers} providers, {ov.services} services, {ov.accounts} accounts"
                  + (" (currencies are never added together)" if len(ov.totals) > 1 else ""))
        for cov in s.tag_coverage(st, metric=metric).to_pylist():
            out.print(f"tag coverage ({cov['currency']}): {cov['coverage_pct']:.1f}% of {metric} "
                      f"carries a team tag ({cov['untagged']:,.2f} {cov['currency']} untagged)")
        partial = [r for r in sections["by_month"].to_pylist() if r["partial"]]
        for r in partial:
            out.print(f"partial month: {r['month']:%Y-%m} ({r['currency']}) holds "
                      f"{r['days'].normalize():f} days of data; month-over-month figures "
                      "compare run rates",
                      highlight=False)
    titles = {"by_provider": "By provider", "by_service": f"Top {top} services per currency",
              "by_month": "By billing month", "tag_coverage": "Team-tag coverage by provider",
              "top_movers": "Top movers per currency (latest month vs the one before; "
                            "basis: total, or run rate when a month is partial)"}
    for key, table in sections.items():
        emit(table, output, title=titles[key])


@app.command()
@guarded
def summary(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="provider, service, category, month, day, account, billing_account, "
                     "region, charge_category, pricing_category, publisher, currency "
                     "(default: an overview of the main ones)")] = None,
    metric: MetricOpt = "EffectiveCost",
    top: Annotated[int, typer.Option(
        "--top", help="rows per table and currency (the rest as (other)); at least 1")] = 10,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Spend by provider, service, month, ... with tag coverage and top movers."""
    from cloudledger.analyze import summary as s

    s.check_metric(metric)
    s.check_top(top)
    if by is not None:
        s.check_dimension(by)
    st = open_store(store, config=config, read_only=True)
    if by is None:
        print_summary(st, metric, output, top)
        return
    limit = None if by in ("month", "day") else top
    emit(s.by_dimension(st, by, metric=metric, top=limit), output,
         title=f"{metric} by {by}")
