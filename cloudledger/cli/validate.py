"""validate: FOCUS conformance of a file or of the store (exit 1 when a rule with severity
error fails, 0 when only warnings or clean, 2 on bad input)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudledger.cli.common import OutputFormat, app, emit, guarded, open_store, out
from cloudledger.errors import InputError


class ValidateFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    junit = "junit"


ValidateFormatOpt = Annotated[ValidateFormat, typer.Option(
    "--format", "-f", help="output: table, json (the report object), csv (one row per "
    "rule) or junit (JUnit XML, one testcase per rule)")]


def _rows(report: Any) -> list[dict[str, Any]]:
    return [{"rule": f.rule, "severity": f.severity, "status": f.status, "count": f.count,
             "unit": f.unit, "title": f.title,
             "detail": ", ".join(f"{k}: {v}" for k, v in f.detail.items()) or f.note}
            for f in report.findings]


def _print_table(report: Any) -> None:
    emit(_rows(report), OutputFormat.table,
         title=f"FOCUS {report.version} conformance of {report.target} ({report.rows:,} rows)")
    for f in report.findings:
        if f.status == "fail" and f.examples:
            emit(f.examples, OutputFormat.table, title=f"{f.rule} examples ({f.reference})")
    color = "red" if report.errors else "yellow" if report.warnings else "green"
    out.print(f"[{color}]{report.errors} error rule(s), {report.warnings} warning rule(s) "
              f"failed[/] out of {len(report.findings)} rules", highlight=False)


@app.command()
@guarded
def validate(
    file: Annotated[Path | None, typer.Argument(
        help="a FOCUS CSV (plain, gz, zstd) or Parquet file; omit with --store")] = None,
    store: Annotated[Path | None, typer.Option(
        "--store", help="validate table focus of this DuckDB store instead of a file")] = None,
    output: ValidateFormatOpt = ValidateFormat.table,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="also write JUnit XML to this path")] = None,
    version: Annotated[str | None, typer.Option(
        "--focus-version", help="validate a file against this FOCUS version (default: "
        "detected from its columns)")] = None,
    rules: Annotated[list[str] | None, typer.Option(
        "--rule", help="run only this rule id or id prefix (repeatable), e.g. CL-VAL")] = None,
) -> None:
    """Check FOCUS conformance rules on a file or on the store; exit 1 on errors."""
    from cloudledger.quality.validate import FAST_IN, validate_file, validate_store

    if (file is None) == (store is None):
        raise InputError("give either a FILE or --store PATH (not both)",
                         hint="cloudledger validate export.csv | cloudledger validate "
                              "--store cloudledger.duckdb")
    if file is not None:
        report = validate_file(file, version=version, rules=rules)
    else:
        if version is not None:
            raise InputError("--focus-version applies to files; the store holds FOCUS "
                             "1.3 columns", where="--focus-version")
        st = open_store(store, read_only=True)
        try:
            st.raw(FAST_IN)
            report = validate_store(st, rules=rules)
        finally:
            st.close()
    if junit is not None:
        junit.write_text(report.to_junit(), encoding="utf-8")
    if output is ValidateFormat.json:
        print(report.to_json())
    elif output is ValidateFormat.junit:
        print(report.to_junit())
    elif output is ValidateFormat.csv:
        emit(_rows(report), OutputFormat.csv)
    else:
        _print_table(report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)
