"""forecast: cost at the end of the month (quarter, 12 months) with intervals, and its measured
accuracy on this store (--backtest)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
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
from cloudledger.errors import InputError

BARS = "▁▂▃▄▅▆▇█"


class Horizon(StrEnum):
    month_end = "month-end"
    quarter_end = "quarter-end"
    twelve = "12m"


def parse_day(text: str | None, where: str = "--as-of") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"not a date: {text!r}", where=where,
                         hint="write it as YYYY-MM-DD, e.g. 2026-05-01") from None


def split_by(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def sparkline(values: list[float], width: int = 31) -> str:
    """``values`` as block characters (bucketed by mean to at most ``width`` characters)."""
    vals = [v for v in values if v == v]
    if not vals:
        return ""
    if len(vals) > width:
        size = -(-len(vals) // width)
        vals = [sum(vals[i:i + size]) / len(vals[i:i + size])
                for i in range(0, len(vals), size)]
    lo, hi = min(vals), max(vals)
    if hi - lo <= 1e-9 * max(1.0, abs(hi)):
        return BARS[3] * len(vals)
    return "".join(BARS[round((v - lo) / (hi - lo) * (len(BARS) - 1))] for v in vals)


def _trends(run: Any) -> dict[str, str]:
    """Per series: the last 14 days, a bar, the forecast days (daily; bucketed when more
    than 8: about weekly)."""
    out_: dict[str, str] = {}
    if run.history is None or run.result is None:
        return out_
    hist = run.history
    daily = run.result.daily
    for uid in run.series:
        h = hist[hist["unique_id"] == uid].sort_values("ds")["y"].tolist()[-14:]
        f = daily[daily["unique_id"] == uid].sort_values("ds")["forecast"].tolist()
        if len(f) > 8:   # one character per bucket of days, on the history scale
            size = -(-len(f) // 8)
            f = [sum(f[i:i + size]) / len(f[i:i + size]) for i in range(0, len(f), size)]
        both = sparkline(h + f, width=len(h) + len(f))
        out_[uid] = f"{both[:len(h)]}|{both[len(h):]}"
    return out_


VISIBLE = ("series", "currency", "month", "period", "actual_to_date", "forecast",
           "month_total", "total", "lo80", "hi80", "lo95", "hi95", "known_changes", "model")


@app.command()
@guarded
def forecast(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="owner dimension(s) (team, ...: read `allocated`) or FOCUS column(s) "
                     "(ServiceName, SubAccountId, ...: read `focus`), comma separated; the "
                     "total is always included")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="forecast from the data before this day, YYYY-MM-DD (default: the "
                        "day after the last day with usage)")] = None,
    horizon: Annotated[Horizon, typer.Option(
        "--horizon", help="month-end, quarter-end or 12m")] = Horizon.month_end,
    metric: Annotated[str, typer.Option(
        "--metric", help="cost metric: EffectiveCost (amortized), BilledCost, ListCost, "
                         "ContractedCost")] = "EffectiveCost",
    output_format: FormatOpt = OutputFormat.table,
    run_backtest: Annotated[bool, typer.Option(
        "--backtest", help="measure instead: month-end error of forecasts made on day 7 and "
                           "day 15 of each of the last 6 complete months, and daily MASE "
                           "against seasonal naive")] = False,
) -> None:
    """Forecast cost to the end of the month (quarter, 12 months) with 80%/95% intervals."""
    from cloudledger.config import load_settings
    from cloudledger.operate.forecast import backtest_costs, run_forecast

    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    dims = split_by(by)
    day = parse_day(as_of)
    if run_backtest:
        bt = backtest_costs(st, settings, by=dims, as_of=day, metric=metric)
        if output_format is OutputFormat.json:
            print_json({"as_of": bt.as_of, "metric": bt.metric, "summary": bt.summary,
                        "months": bt.months, "notes": bt.notes})
        elif output_format is OutputFormat.csv:
            emit(bt.summary, output_format)
        else:
            emit(bt.summary, output_format,
                 title=f"Forecast accuracy before {bt.as_of} ({bt.metric}): month-end error "
                       "of forecasts made on day 7 and 15, daily MASE (seasonal naive = the "
                       "same week repeated)")
            total = [r for r in bt.months if r["series"] == "total"]
            if total:
                emit(total, output_format, title="Per month (total)")
            for note in bt.notes:
                out.print(f"note: {note}", highlight=False)
        return
    run = run_forecast(st, settings, by=dims, as_of=day, horizon=horizon.value, metric=metric)
    if output_format is not OutputFormat.table:
        emit(run.rows, output_format)
        return
    trends = _trends(run)
    labels = {(m["series"], m["currency"]): uid for uid, m in run.series.items()}
    changes = any(r["known_changes"] for r in run.rows)
    rows, seen = [], set()
    for r in run.rows:
        if run.by:
            row = {d: ("(total)" if r["series"] == "total" and i == 0 else r[d])
                   for i, d in enumerate(run.by)}
        else:
            row = {"series": r["series"]}
        row.update({k: r[k] for k in VISIBLE if k in r and k != "series"})
        if not changes:
            row.pop("known_changes", None)
        uid = labels.get((r["series"], r["currency"]), "")
        row["14 days | forecast"] = "" if uid in seen else trends.get(uid, "")
        seen.add(uid)
        rows.append(row)
    emit(rows, output_format,
         title=f"Forecast of {run.metric} to {horizon.value}, from the data before "
               f"{run.as_of} (last day {run.last_day})")
    for s in run.steps:
        out.print(f"known change: commitment {s['commitment_id']} ends, {s['unique_id']} "
                  f"{s['per_day']:+,.2f} a day from {s['from']}", highlight=False)
    for r in run.rows:
        for note in r["notes"]:
            out.print(f"note: {r['series']}: {note}", highlight=False)
    for note in run.notes:
        out.print(f"note: {note}", highlight=False)
