"""ingest, formats, reconcile: getting bills in and proving they match."""

from __future__ import annotations

from pathlib import Path
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
    progress,
    warn,
)


@app.command()
@guarded
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files, directories or globs")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
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
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="also print the full reconciliation table and what each "
                                "load replaced")] = False,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Load billing exports (FOCUS or native) into the store.

    Each load replaces what it carries: every (provider, billing account, billing period)
    in its rows (with --incremental, only the charge days it carries). Files already
    loaded, and byte-identical copies, are skipped with a warning. Prints one line per
    load (--verbose: the reconciliation table too); --format json prints one object per
    load (files, rows, what it replaced per scope, reconciliation, warnings), --format csv
    the reconciliation rows.
    """
    from cloudledger.ingest import NothingToLoad
    from cloudledger.ingest import ingest as run_ingest

    st = open_store(store, config=config, create=True)
    try:
        with progress(f"ingesting {len(paths)} path(s)"):
            reports = run_ingest(st, [str(p) for p in paths], fmt=fmt, dry_run=dry_run,
                                 allow_bad_rows=allow_bad_rows, incremental=incremental,
                                 date_format=date_format)
    except NothingToLoad as nothing:
        for w in nothing.warnings:
            warn(w)
        if output is not OutputFormat.table:
            emit([], output)
        return
    for r in reports:
        for w in r.warnings:
            warn(w)
    if output is OutputFormat.json:
        print_json([load_summary(r) for r in reports])
        return
    if output is OutputFormat.csv:
        emit(reconciliation_rows(reports), output)
        return
    note = " [dry run: nothing written]" if dry_run else ""
    if verbose:
        emit(reconciliation_rows(reports), output,
             title="Reconciliation (source file vs store)" + note)
        replaced = [{"ingest_id": r.ingest_id, **x.as_dict()} for r in reports
                    for x in r.replaced]
        if replaced:
            emit(replaced, output, title="Replaced (rows of earlier loads, per scope)" + note)
    for r in reports:
        out.print(load_line(r), highlight=False, markup=False)


def load_summary(r: Any) -> dict[str, Any]:
    """One load as a JSON object (``ingest --format json``)."""
    return {"ingest_id": r.ingest_id, "source": r.source, "focus_version": r.version,
            "dry_run": r.dry_run, "files": list(r.files), "rows": r.rows,
            "rows_replaced": r.rows_replaced, "rows_quarantined": r.rows_quarantined,
            "warnings": list(r.warnings), "replaced": [x.as_dict() for x in r.replaced],
            "reconciliation": [_reconciliation(x) for x in r.reconciliation]}


def _reconciliation(rec: Any) -> dict[str, Any]:
    return {"billing_account": rec.billing_account, "billing_period": rec.billing_period,
            "currency": rec.currency, "metric": rec.metric, "source_total": rec.source_total,
            "loaded_total": rec.store_total, "difference": rec.difference,
            "status": "ok" if rec.ok else "difference"}


def reconciliation_rows(reports: list[Any]) -> list[dict[str, Any]]:
    """Every load's reconciliation, one row per account, period, currency and metric."""
    return [{"ingest_id": r.ingest_id, "source": r.source, **_reconciliation(rec)}
            for r in reports for rec in r.reconciliation]


def load_line(r: Any) -> str:
    """``loaded 7,850 rows from cur.csv.gz as aws-cur (FOCUS 1.2); ...`` for one load."""
    names = [Path(f).name for f in r.files]
    files = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    replaced = ", ".join(f"{v:,.2f} {k}" for k, v in r.replaced_totals.items())
    matched = sum(x.ok for x in r.reconciliation)
    totals = ", ".join(f"{v:,.2f} {k}" for k, v in r.totals_by_currency().items())
    return (f"{'would load' if r.dry_run else 'loaded'} {r.rows:,} rows from {files} as "
            f"{r.source} (FOCUS {r.version})"
            + (f", BilledCost {totals}" if totals else "")
            + f"; replaced {r.rows_replaced:,} earlier rows"
            + (f" (BilledCost {replaced})" if replaced else "")
            + (f"; {r.rows_quarantined:,} bad rows kept in ingest_errors"
               if r.rows_quarantined else "")
            + f"; reconciled: {matched}/{len(r.reconciliation)} totals match the source")


@app.command()
@guarded
def formats(output: FormatOpt = OutputFormat.table) -> None:
    """List the billing export formats cloudledger reads."""
    from cloudledger.ingest import formats as all_formats

    emit([{"name": s.name, "description": s.description} for s in all_formats()], output,
         title="Formats")


@app.command()
@guarded
def reconcile(store: StoreOpt = None, config: ConfigOpt = None,
              output: FormatOpt = OutputFormat.table) -> None:
    """Per provider, account, period and currency: source total vs FOCUS total (exit 1 if off)."""
    st = open_store(store, config=config, read_only=True)
    rows = st.reconcile().to_pylist()
    emit(rows, output, title="Reconciliation")
    if any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)
