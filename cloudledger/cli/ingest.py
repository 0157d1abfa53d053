"""ingest, formats, reconcile, sql: getting bills in and proving they match."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command()
@guarded
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files, directories or globs")],
    store: StoreOpt = None,
    fmt: Annotated[str | None, typer.Option("--source", "--as", help="force a source format "
                                            "(see `cloudledger formats`)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would change; "
                                          "write nothing")] = False,
    allow_bad_rows: Annotated[bool, typer.Option(
        "--allow-bad-rows", help="load good rows; keep bad ones in table ingest_errors")] = False,
    incremental: Annotated[bool, typer.Option(
        "--incremental", help="replace only the charge days the files carry (daily exports "
        "of part of a month); default: replace each account's whole billing period")] = False,
    date_format: Annotated[str | None, typer.Option(
        "--date-format", help="how FOCUS files write non-ISO dates: MDY (04/01/2025), DMY "
        "(01/04/2025) or a strptime pattern ('%d.%m.%Y %H:%M'); needed when a file's slash "
        "dates are ambiguous")] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Load billing exports (FOCUS or native) into the store.

    Each load replaces what it carries: every (provider, billing account, billing period)
    in its rows (with --incremental, only the charge days it carries). Files already
    loaded, and byte-identical copies, are skipped with a warning.
    """
    from cloudledger.ingest import NothingToLoad
    from cloudledger.ingest import ingest as run_ingest

    st = open_store(store, create=True)
    try:
        with progress(f"ingesting {len(paths)} path(s)"):
            reports = run_ingest(st, [str(p) for p in paths], fmt=fmt, dry_run=dry_run,
                                 allow_bad_rows=allow_bad_rows, incremental=incremental,
                                 date_format=date_format)
    except NothingToLoad as nothing:
        for w in nothing.warnings:
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
        if output is not OutputFormat.table:
            emit([], output)
        return
    rows = []
    for r in reports:
        for w in r.warnings:
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
        for rec in r.reconciliation:
            rows.append({"ingest": r.ingest_id, "source": r.source,
                         "billing_account": rec.billing_account,
                         "billing_period": rec.billing_period, "currency": rec.currency,
                         "metric": rec.metric, "source_total": rec.source_total,
                         "loaded_total": rec.store_total, "difference": rec.difference})
            if output is OutputFormat.json:  # the load's warning count, on each of its rows
                rows[-1].update(warnings=len(r.warnings), rows_quarantined=r.rows_quarantined)
    emit(rows, output, title="Reconciliation (source file vs store)"
         + (" [dry run: nothing written]" if dry_run else ""))
    if output is OutputFormat.table:
        for r in reports:
            verb = "would load" if dry_run else "loaded"
            replaced = ", ".join(f"{v} {k}" for k, v in r.replaced_totals.items())
            out.print(f"{verb} {r.rows:,} rows from {len(r.files)} file(s) as {r.source} "
                      f"(FOCUS {r.version}); replaced {r.rows_replaced:,} earlier rows"
                      + (f" (BilledCost {replaced})" if replaced else "")
                      + (f"; {r.rows_quarantined:,} bad rows kept in ingest_errors"
                         if r.rows_quarantined else ""), highlight=False)


@app.command()
@guarded
def formats(output: FormatOpt = OutputFormat.table) -> None:
    """List the billing export formats cloudledger reads."""
    from cloudledger.ingest import formats as all_formats

    emit([{"name": s.name, "description": s.description} for s in all_formats()], output,
         title="Formats")


@app.command()
@guarded
def reconcile(store: StoreOpt = None, output: FormatOpt = OutputFormat.table) -> None:
    """Per provider, account, period and currency: source total vs FOCUS total (exit 1 if off)."""
    st = open_store(store, read_only=True)
    rows = st.reconcile().to_pylist()
    emit(rows, output, title="Reconciliation")
    if any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)
