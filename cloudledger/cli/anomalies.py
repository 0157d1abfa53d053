"""anomalies: detect cost anomalies with their root cause, keep them, take feedback.

    cloudledger anomalies [--by team] [--by SubAccountId,ServiceName] [--as-of DATE]
                          [--since DATE] [--no-save] [--format table|json|csv]
    cloudledger anomalies ack|resolve|dismiss ID [--note TEXT]
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
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
    err,
    guarded,
    open_store,
    print_json,
    resolve_store,
    warn,
)
from cloudledger.errors import InputError

anomalies_app = typer.Typer(
    invoke_without_command=True, no_args_is_help=False,
    help="Cost anomalies of the total and of dimension values, with their root cause. "
         "Detects and stores them (repeated runs update, never re-create); `ack`, "
         "`resolve` and `dismiss` record feedback. See docs/anomalies.md.")
app.add_typer(anomalies_app, name="anomalies")

_CENT = Decimal("0.01")
NoteOpt = Annotated[str | None, typer.Option("--note", help="a note kept with the anomaly")]
IdArg = Annotated[str, typer.Argument(help="anomaly id (or a unique prefix of it)")]


def _date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date: {text!r}", where=option,
                         hint="write it as YYYY-MM-DD, e.g. 2026-06-01") from None


def _sets(by: list[str] | None) -> list[list[str]] | None:
    """Each --by is one dimension set ("team" or "SubAccountId,ServiceName")."""
    if not by:
        return None
    return [[v.strip() for v in item.split(",") if v.strip()] for item in by]


def _writable(store: Path | None, config: Path | None) -> bool:
    target = resolve_store(store, config)
    return str(target) == ":memory:" or not target.exists() or os.access(target, os.W_OK)


def _table_rows(found: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for a in found:
        top = a.root_cause[0] if a.root_cause else None
        rows.append({
            "id": a.id, "date": a.first_day, "days": a.days, "scope": a.scope,
            "currency": a.currency, "expected": a.expected.quantize(_CENT),
            "actual": a.actual.quantize(_CENT), "impact": a.impact.quantize(_CENT),
            "impact_pct": a.impact_pct, "severity": a.severity, "status": a.status,
            "top cause": (f"{top.dimension}={top.value} ({top.share_pct:.0f}%)"
                          if top and top.share_pct is not None else
                          f"{top.dimension}={top.value}" if top else "")})
    return rows


@anomalies_app.callback()
@guarded
def anomalies(
    ctx: typer.Context,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="a dimension set, e.g. team or SubAccountId,ServiceName (FOCUS columns "
                     "or owner dimensions); repeat for several (default: anomalies.by of "
                     "the config); the total is always scanned")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="use only data before this day, YYYY-MM-DD (a look at the past: "
                        "nothing is saved)")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="list only anomalies starting on or after this day")] = None,
    status: Annotated[list[str] | None, typer.Option(
        "--status", help="list only these statuses (open, acknowledged, resolved, "
                         "false_positive); repeatable")] = None,
    metric: Annotated[str, typer.Option("--metric", help="cost metric")] = "EffectiveCost",
    top: Annotated[int, typer.Option("--top", help="root-cause values per anomaly")] = 5,
    save: Annotated[bool, typer.Option(
        "--save/--no-save", help="store the anomalies (default) or only print them")] = True,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Detect cost anomalies (total + --by dimension sets) with their root cause."""
    if ctx.invoked_subcommand is not None:
        return
    from cloudledger.analyze.options import check_metric, check_top
    from cloudledger.config import load_settings
    from cloudledger.operate.anomalies import STATUSES, scan

    check_metric(metric)
    check_top(top)
    for s in status or []:
        if s not in STATUSES:
            raise InputError(f"unknown status {s!r}", where="--status",
                             hint="one of " + ", ".join(STATUSES))
    day = _date(as_of, "--as-of")
    first = _date(since, "--since")
    settings = load_settings(config)
    if save and day is None and not _writable(store, config):
        warn("the store is read-only: anomalies are detected but not saved")
        save = False
    read_only = not save or day is not None
    st = open_store(store, config=config, read_only=read_only)
    try:
        result = scan(st, settings, by=_sets(by), as_of=day, save=save, since=first,
                      metric=metric, top=top)
    finally:
        st.close()
    for note in result.notes:
        err.print(f"note: {note}", highlight=False, markup=False)
    found = [a for a in result.anomalies if not status or a.status in status]
    if output_format is OutputFormat.json:
        print_json([a.as_dict() for a in found])
        return
    if output_format is OutputFormat.csv:
        emit([a.as_dict() for a in found], output_format)
        return
    emit(_table_rows(found), output_format,
         title=f"Anomalies ({metric}, {result.series} series"
               + (f", data before {day}" if day else "") + ")")
    new = sum(a.new for a in found)
    err.print(f"{len(found)} anomalies ({new} new); "
              + ("saved to the store" if result.saved else "not saved")
              + "; details: --format json; feedback: cloudledger anomalies ack|resolve|"
                "dismiss ID", highlight=False, markup=False)


def _feedback(store: Path | None, config: Path | None, anomaly_id: str, status: str,
              note: str | None, output_format: OutputFormat) -> None:
    from cloudledger.operate.anomalies import set_status

    st = open_store(store, config=config)
    try:
        a = set_status(st, anomaly_id, status, note=note)
    finally:
        st.close()
    if output_format is OutputFormat.table:
        err.print(f"{a.id} ({a.scope}, {a.first_day}): {a.status}", highlight=False,
                  markup=False)
        return
    emit([a.as_dict()], output_format)


@anomalies_app.command("ack")
@guarded
def ack(anomaly_id: IdArg, store: StoreOpt = None, config: ConfigOpt = None,
        note: NoteOpt = None, output_format: FormatOpt = OutputFormat.table) -> None:
    """Acknowledge an anomaly: someone is on it (no further alerts)."""
    _feedback(store, config, anomaly_id, "acknowledged", note, output_format)


@anomalies_app.command("resolve")
@guarded
def resolve(anomaly_id: IdArg, store: StoreOpt = None, config: ConfigOpt = None,
            note: NoteOpt = None, output_format: FormatOpt = OutputFormat.table) -> None:
    """Mark an anomaly resolved (the cause was fixed)."""
    _feedback(store, config, anomaly_id, "resolved", note, output_format)


@anomalies_app.command("dismiss")
@guarded
def dismiss(anomaly_id: IdArg, store: StoreOpt = None, config: ConfigOpt = None,
            note: NoteOpt = None, output_format: FormatOpt = OutputFormat.table) -> None:
    """Mark an anomaly a false positive (expected spend; no further alerts)."""
    _feedback(store, config, anomaly_id, "false_positive", note, output_format)

