"""savings: identified savings by category and owner, and the realized savings trend."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cloudledger.cli.common import (
    ConfigOpt,
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


class SavingsFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


@app.command()
@guarded
def savings(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="owner dimension (default: the first one, e.g. team)")] = None,
    output_format: Annotated[SavingsFormat, typer.Option(
        "--format", "-f", help="table, json (object of lists), csv (section column) or "
                               "xlsx (needs --output)")] = SavingsFormat.table,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="write to this file (xlsx)")] = None,
) -> None:
    """The savings ledger: identified savings by category and owner as % of spend, and
    realized savings per month (negotiated rates, commitments, accepted findings)."""
    from cloudledger.config import load_settings
    from cloudledger.encode import to_csv
    from cloudledger.optimize.ledger import savings as run_savings

    settings = load_settings(config)
    st = open_store(store, config=config, read_only=True)
    report = run_savings(st, settings, by=by)
    st.close()
    if output_format is SavingsFormat.xlsx:
        from cloudledger.render.tables import to_xlsx

        if output is None:
            raise InputError("xlsx is a binary format", where="--format xlsx",
                             hint="add --output PATH.xlsx")
        to_xlsx(output, {
            "identified": (_columns(report.identified), report.identified),
            "realized": (_columns(report.realized), report.realized)})
        err.print(f"wrote savings to {output}", highlight=False)
        return
    if output is not None:
        raise InputError("--output writes xlsx only", where="--output",
                         hint="add --format xlsx, or redirect standard output")
    if output_format is SavingsFormat.json:
        print_json({"by": report.by, "spend_month": report.month,
                    "identified": report.identified, "realized": report.realized})
        return
    if output_format is SavingsFormat.csv:
        rows = [{"section": "identified", **r} for r in report.identified] + \
            [{"section": "realized", **r} for r in report.realized]
        cols = ["section"] + _columns(report.identified) + [
            c for c in _columns(report.realized) if c not in _columns(report.identified)]
        typer.echo(to_csv(rows, cols), nl=False)
        return
    emit(report.identified, OutputFormat.table,
         title=f"Identified savings by category and {report.by} (a month; % of "
               f"{report.month or 'no'} spend)")
    if not report.identified:
        out.print("no open findings: run `cloudledger recommend waste` first",
                  highlight=False)
    emit(report.realized, OutputFormat.table, title="Realized savings per month")


def _columns(rows: list[dict[str, object]]) -> list[str]:
    return list(rows[0]) if rows else []
