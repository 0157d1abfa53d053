"""showback, chargeback: what each owner spends, and the journal entries to bill it."""

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
    print_json,
)
from cloudledger.errors import InputError


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    markdown = "markdown"
    html = "html"


MonthOpt = Annotated[str | None, typer.Option(
    "--month", help="one billing period, YYYY-MM (default: every period)")]
MetricOpt = Annotated[str, typer.Option(
    "--metric", help="cost metric: EffectiveCost (amortized), BilledCost, ListCost, "
                     "ContractedCost")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="write to this file instead of standard output")]
PrecisionOpt = Annotated[int, typer.Option(
    "--precision", help="decimals of journal amounts (2 = cents; 12 = exact)")]


def _by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _write(text: str, output: Path | None, what: str) -> None:
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    err.print(f"wrote {what} to {output}", highlight=False)


@app.command()
@guarded
def showback(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="owner dimension(s), e.g. team or team,product (default: the first "
                     "owner dimension)")] = None,
    month: MonthOpt = None,
    metric: MetricOpt = "EffectiveCost",
    output_format: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="table, json, csv, xlsx, markdown or html")] = ReportFormat.table,
    output: OutputOpt = None,
    chargeback_mode: Annotated[bool, typer.Option(
        "--chargeback", help="bill the owners: journal entries (see `cloudledger "
                             "chargeback`)")] = False,
    precision: PrecisionOpt = 2,
) -> None:
    """Cost per owner and month: direct, shared, amortized commitment, credits, total, change."""
    from cloudledger.analyze.showback import showback as run_showback
    from cloudledger.config import load_settings
    from cloudledger.render.showback import render

    if chargeback_mode:
        fmt = {ReportFormat.json: OutputFormat.json, ReportFormat.csv: OutputFormat.csv,
               ReportFormat.table: OutputFormat.table}.get(output_format)
        if fmt is None:
            raise InputError(f"--chargeback writes table, json or csv, not "
                             f"{output_format.value}", where="--format")
        chargeback(store=store, config=config, month=month, metric=metric, output_format=fmt,
                   output=output, precision=precision)
        return
    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    sb = run_showback(st, settings, by=_by(by), month=month, metric=metric)
    if output_format is ReportFormat.table:
        emit(sb.rows, OutputFormat.table,
             title=f"Showback by {', '.join(sb.by)} ({sb.metric})")
        for (period, currency), total in sorted(sb.totals.items()):
            out.print(f"{period} {currency}: total {total:,.2f} (= the allocated table)",
                      highlight=False)
        return
    if output_format is ReportFormat.xlsx:
        if output is None:
            raise InputError("xlsx is a binary format", where="--format xlsx",
                             hint="add --output PATH.xlsx")
        render(sb, "xlsx", output)
        err.print(f"wrote showback to {output}", highlight=False)
        return
    text = render(sb, output_format.value)
    assert text is not None
    _write(text, output, "showback")


@app.command()
@guarded
def chargeback(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    month: MonthOpt = None,
    metric: MetricOpt = "EffectiveCost",
    output_format: FormatOpt = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="write the journal-entry CSV to this file")] = None,
    precision: PrecisionOpt = 2,
) -> None:
    """Journal entries (owner, cost center, amount, currency, period) for billable owners."""
    from cloudledger.analyze.showback import chargeback as run_chargeback
    from cloudledger.config import load_settings
    from cloudledger.render.showback import journal_csv

    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    cb = run_chargeback(st, settings, month=month, metric=metric, precision=precision)
    if output is not None:
        _write(journal_csv(cb), output, f"{len(cb.entries)} journal entries")
    if output_format is OutputFormat.table:
        emit(cb.entries, output_format,
             title=f"Chargeback journal by {cb.dimension} ({cb.metric})")
        emit(cb.summary, output_format, title="Billable vs non-billable per period")
        if cb.non_billable:
            emit(cb.non_billable, output_format,
                 title=f"Not billed (chargeback.exclude: {cb.dimension} values)")
        return
    if output_format is OutputFormat.csv and output is None:
        typer.echo(journal_csv(cb), nl=False)
        return
    if output_format is OutputFormat.json:
        print_json({"entries": cb.entries, "summary": cb.summary,
                    "non_billable": cb.non_billable})
