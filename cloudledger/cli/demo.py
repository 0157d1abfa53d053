"""demo: generate a fictional company's multi-cloud bills, load them, summarize, report."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    err,
    guarded,
    open_store,
    out,
    progress,
)
from cloudledger.cli.summary import MetricOpt, print_summary

DEMO_STORE = Path("cloudledger-demo.duckdb")
DEMO_REPORT = Path("cloudledger-report.html")
DEMO_SHOWBACK = Path("cloudledger-showback.html")


@app.command()
@guarded
def demo(
    store: StoreOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed (same seed, same data)")] = 7,
    rows: Annotated[int, typer.Option("--rows", help="about this many FOCUS rows")] = 300_000,
    out_dir: Annotated[Path, typer.Option("--out", help="where the generated files go")] =
        Path("cloudledger-demo-data"),
    end: Annotated[str | None, typer.Option(
        "--end", help="first month NOT generated, YYYY-MM (default: the current month)")] = None,
    report: Annotated[Path, typer.Option("--report", help="HTML report path")] = DEMO_REPORT,
    showback_report: Annotated[Path, typer.Option(
        "--showback-report", help="HTML showback page path")] = DEMO_SHOWBACK,
    config: Annotated[Path | None, typer.Option(
        "--config", help="allocation settings (default: the starter file, written to "
                         "OUT/cloudledger.yaml)")] = None,
    metric: MetricOpt = "EffectiveCost",
    top: Annotated[int, typer.Option("--top", help="rows per summary table")] = 10,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Generate 13 months of multi-cloud FOCUS data, load it (reconciled), summarize it and
    write a standalone HTML report."""
    from cloudledger.analyze.summary import check_metric, report_data
    from cloudledger.demo import DEFAULT_MONTHS, generate, load
    from cloudledger.errors import InputError
    from cloudledger.render.html import spend_report, write_report

    check_metric(metric)
    try:
        end_date = date.fromisoformat(f"{end}-01") if end else None
    except ValueError:
        raise InputError(f"--end {end!r} is not a month",
                         hint="use YYYY-MM, e.g. 2026-07") from None
    if rows < 1:
        raise InputError("--rows must be positive")
    started = time.perf_counter()
    with progress("generating FOCUS data", total=DEFAULT_MONTHS) as advance:
        data = generate(rows, seed, end_date, out_dir,
                        on_month=lambda done, total, n: advance(
                            1, f"generating FOCUS data ({n:,} rows)"))
    generated = time.perf_counter() - started
    st = open_store(store or DEMO_STORE, create=True)
    with progress(f"loading {len(data.paths)} files through ingest"):
        reports = load(st, data)
    loaded = time.perf_counter() - started - generated
    recon = [r for rep in reports for r in rep.reconciliation]
    if output is OutputFormat.table:
        out.print(f"generated {data.rows:,} rows ({data.start} to {data.end}, exclusive) in "
                  f"{generated:.1f}s into {out_dir}; loaded in {loaded:.1f}s into "
                  f"{st.path}; reconciliation: {sum(r.ok for r in recon)}/{len(recon)} "
                  "totals match the files", highlight=False)
        out.print(f"business metrics: {data.metrics}; anomalies: "
                  + "; ".join(f"{a['start']} {a['service']}" for a in data.anomalies),
                  highlight=False)
    print_summary(st, metric, output, top)
    settings = inform(st, data, out_dir, config, showback_report, output)
    sections = operate(st, settings, data, output) + optimize(st, settings, output)
    html = spend_report(report_data(st, metric=metric), anomalies=data.anomalies,
                        title="Tailspin Commerce: cloud spend (cloudledger demo)",
                        sections=sections)
    path = write_report(report, html)
    (err if output is not OutputFormat.table else out).print(
        f"report: {path.resolve()}", highlight=False)


def inform(st: object, data: object, out_dir: Path, config: Path | None, page: Path,
           output: OutputFormat) -> Any:
    """The Inform phase on the demo: business metrics, allocation, showback, unit costs."""
    from cloudledger.allocate import allocate
    from cloudledger.analyze.showback import showback
    from cloudledger.cli.allocate import STARTER
    from cloudledger.config import load_settings
    from cloudledger.ingest.metrics import load_metrics
    from cloudledger.render.showback import render

    if config is None:
        config = out_dir / "cloudledger.yaml"
        config.write_text(STARTER.read_text())
    settings = load_settings(config)
    load_metrics(st, data.metrics)  # type: ignore[arg-type, attr-defined]
    with progress("allocating every dollar to an owner"):
        result = allocate(st, settings)  # type: ignore[arg-type]
    conserved = sum(c.ok for c in result.conservation)
    last = max(c.period for c in result.conservation)[:7]
    sb = showback(st, settings, month=last)  # type: ignore[arg-type]
    page.write_text(render(showback(st, settings), "html") or "")  # type: ignore[arg-type]
    if output is OutputFormat.table:
        out.print(f"\nallocation ({config}): {result.named_share():.1%} of EffectiveCost on "
                  f"named {settings.owners.dimensions[0]}s; conservation "
                  f"{conserved}/{len(result.conservation)} period totals equal the bill",
                  highlight=False)
        emit([{k: r[k] for k in ("period", *sb.by, "currency", "direct", "shared",
                                 "commitment", "credits", "total", "change_pct")}
              for r in sb.rows], output, title=f"Showback {last} (EffectiveCost)")
        out.print(f"showback: {page.resolve()}", highlight=False)
    return settings


def operate(st: Any, settings: Any, data: Any, output: OutputFormat) -> list[str]:
    """The Operate phase on the demo: anomalies of the total and per account (compared with
    the injected ones; the root cause names the service) and the month-end forecast of the
    total; returns the report's sections."""
    from cloudledger.operate.anomalies import detect_anomalies
    from cloudledger.operate.forecast import run_forecast
    from cloudledger.render.operate import anomalies_section, forecast_section

    with progress("detecting anomalies and forecasting the month"):
        found = detect_anomalies(st, settings, by=[["SubAccountId"]], save=True)
        fc = run_forecast(st, settings, by=[], horizon="month-end")
    sections = [anomalies_section(found, data.anomalies)]
    total = next((r for r in fc.rows if r.get("series") == "total"), None)
    if fc.result is not None and fc.history is not None and total is not None:
        uid = next(u for u, meta in fc.series.items() if meta.get("series") == "total"
                   and meta.get("currency") == total.get("currency"))
        hist = fc.history[fc.history.unique_id == uid].tail(45)
        daily = fc.result.daily[fc.result.daily.unique_id == uid].to_dict("records")
        sections.append(forecast_section(
            [(d.date() if hasattr(d, "date") else d, float(y))
             for d, y in zip(hist.ds, hist.y, strict=True)],
            [{**r, "ds": r["ds"].date() if hasattr(r["ds"], "date") else r["ds"]}
             for r in daily], total))
    if output is OutputFormat.table:
        injected = {(a["start"], a["service"]) for a in data.anomalies}
        out.print(f"\nanomalies: {len(found)} found (total and per account); injected: "
                  f"{len(injected)}, listed above", highlight=False)
        emit([{"first_day": a.first_day,
               "scope": ", ".join(f"{k}={v}" for k, v in a.dimensions.items()) or "total",
               "expected": a.expected, "actual": a.actual, "impact": a.impact,
               "severity": a.severity,
               "top_cause": f"{a.root_cause[0].dimension}={a.root_cause[0].value}"
               if a.root_cause else None} for a in found[:10]], output,
             title="Anomalies (newest first)")
        if total is not None:
            out.print(f"forecast {total['month']}: {total['month_total']:,} "
                      f"{total['currency']} at month end (80%: {total['lo80']:,} to "
                      f"{total['hi80']:,}); {total['actual_to_date']:,} so far",
                      highlight=False)
    return sections


def optimize(st: Any, settings: Any, output: OutputFormat) -> list[str]:
    """The Optimize phase on the demo: waste and commitment recommendations into the
    savings ledger; identified savings by category as % of spend."""
    from cloudledger.optimize import ledger
    from cloudledger.optimize.registry import RECOMMENDERS, run
    from cloudledger.render.operate import savings_section

    with progress("looking for savings"):
        names = ["waste", "commitments"]
        recs = run(st, settings, names=names, as_of=None)
        kinds = [k for k in RECOMMENDERS.load()
                 if any(k == n or k.startswith(n + ".") for n in names)]
        ledger.record(st, settings, recs, kinds=kinds)
        sv = ledger.savings(st, settings)
    totals = [r for r in sv.identified if r[sv.by] == "total"]
    if output is OutputFormat.table:
        emit([{"category": r["category"], "currency": r["currency"],
               "findings": r["findings"], "monthly_savings": r["monthly_savings"],
               "savings_pct": r["savings_pct"]} for r in totals], output,
             title=f"Identified savings by category (% of {sv.month} spend)")
    return [savings_section(totals)]
