"""budgets: each budget's period, spend to date, burn rate, forecast and status."""

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
)
from cloudledger.cli.forecast import parse_day


def table_row(r: dict[str, Any]) -> dict[str, Any]:
    """The columns a person reads (JSON and CSV carry every field)."""
    crossed = [f"{p}% actual" for p in r["crossed_actual"]] + \
        [f"{p}% forecast" for p in r["crossed_forecast"]]
    return {"budget": r["budget"], "period": r["period"], "scope": r["scope"],
            "amount": r["amount"], "cur": r["currency"], "actual": r["actual_to_date"],
            "used %": r["used_pct"], "burn/day": r["burn_per_day"],
            "allow/day": r["allowance_per_day"], "burn %": r["burn_pct"],
            "forecast": r["forecast"], "fc lo80": r["forecast_lo80"],
            "fc hi80": r["forecast_hi80"], "fc %": r["forecast_pct"],
            "crossed": ", ".join(crossed), "status": r["status"]}


@app.command()
@guarded
def budgets(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="the data before this day counts, YYYY-MM-DD; the period is the one "
                        "containing it (default: the day after the last day with usage)")
    ] = None,
    budget: Annotated[list[str] | None, typer.Option(
        "--budget", help="only this budget (by name; repeatable)")] = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Budgets (`budgets:` in the config): actual, % used, burn rate, forecast, status."""
    from cloudledger.config import load_settings
    from cloudledger.operate.budgets import evaluate_budgets

    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    statuses = evaluate_budgets(st, settings, as_of=parse_day(as_of), names=budget)
    rows = [s.row() for s in statuses]
    if output_format is not OutputFormat.table:
        emit(rows, output_format)
        return
    if not statuses:
        out.print("no budgets: add `budgets:` to the config (see docs/forecast-and-budgets.md)",
                  highlight=False)
        return
    emit([table_row(r) for r in rows], output_format,
         title=f"Budgets, data before {statuses[0].as_of}")
    for r in rows:
        for note in r["notes"]:
            out.print(f"note: {r['budget']}: {note}", highlight=False)
