"""run: the scheduled job (ingest, allocate, anomalies, forecast, budgets, notify)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

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
    keep_new_stores,
    open_store,
    out,
)
from cloudledger.errors import InputError


@app.command("run")
@guarded
def run_job(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="run as on this day (YYYY-MM-DD): only data before it counts; "
                        "nothing is stored by anomalies")] = None,
    step: Annotated[list[str] | None, typer.Option(
        "--step", help="run only these steps (repeatable): ingest, allocate, anomalies, "
                       "forecast, budgets, notify")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="load nothing, store nothing, send nothing: say what would "
                          "happen")] = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """The daily job: ingest new files of `run.sources`, allocate, detect anomalies,
    forecast, evaluate budgets, notify. Safe to rerun; one run per store at a time; every
    step is logged in table run_log. Exit 1 when a step failed (the others still ran)."""
    from cloudledger.config import load_settings
    from cloudledger.operate.run import STEPS, run

    settings = load_settings(config)
    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"--as-of {as_of!r} is not a date", hint="use YYYY-MM-DD") \
                from None
    steps = tuple(s.strip() for item in (step or []) for s in item.split(",") if s.strip())
    # a new store only when there is something to load into it
    st = open_store(store, config=config, create=bool(settings.run.sources))
    try:
        result = run(st, settings, as_of=day, dry_run=dry_run, steps=steps or STEPS,
                     on_step=lambda s: err.print(
                         f"{s.name}: {s.status} ({s.seconds:.1f}s)", highlight=False)
                     if output is OutputFormat.table else None)
    finally:
        st.close()
    keep_new_stores()
    rows: list[dict[str, Any]] = [{"run_id": result.run_id, "step": s.name, "status": s.status,
             "seconds": round(s.seconds, 2), "detail": s.detail} for s in result.steps]
    if output is OutputFormat.table:
        for r in rows:
            detail = "; ".join(f"{k}: {v}" for k, v in r["detail"].items())
            out.print(f"{r['step']:<10} {r['status']:<8} {detail}", highlight=False,
                      markup=False)
    else:
        emit(rows, output)
    if not result.ok:
        raise typer.Exit(1)
