"""commitments, recommend commitments: coverage and utilization of RIs, Savings Plans,
reservations and CUDs; what commitment to buy next (see docs/optimize.md)."""

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
    err,
    guarded,
    open_store,
    out,
    print_json,
)
from cloudledger.cli.recommend import recommend_app
from cloudledger.errors import InputError

AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", help="only charges before this day count, YYYY-MM-DD (default: the end of the "
                    "latest charge in the store)")]


def parse_day(text: str | None, where: str = "--as-of") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"not a date: {text!r}", where=where,
                         hint="write it as YYYY-MM-DD, e.g. 2026-05-01") from None


def _by(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


COMMITMENT_TABLE = ("provider", "billing_account", "commitment_id", "type", "currency",
                    "status", "end", "expires_in_days", "used_cost", "unused_cost",
                    "utilization_pct", "utilization_quantity_pct", "savings")


@app.command("commitments")
@guarded
def commitments_cmd(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="total per these dimensions, e.g. ProviderName,BillingAccountId "
                     "(default: one total per currency)")] = None,
    as_of: AsOfOpt = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Commitment coverage, utilization, unused cost, savings and expirations: per
    commitment and in total."""
    from cloudledger.optimize.commitments import commitments

    day = parse_day(as_of)
    st = open_store(store, config=config, read_only=True)
    report = commitments(st, by=_by(by), as_of=day)
    if output_format is OutputFormat.json:
        print_json({"as_of": report.as_of, "by": report.by, "totals": report.totals,
                    "commitments": report.commitments, "notes": report.notes})
        return
    if output_format is OutputFormat.csv:
        rows = ([{"section": "total", **t} for t in report.totals]
                + [{"section": "commitment", **c} for c in report.commitments])
        cols: list[str] = []
        for r in rows:
            cols += [k for k in r if k not in cols]
        emit([{c: r.get(c) for c in cols} for r in rows], OutputFormat.csv)
        return
    emit(report.totals, OutputFormat.table,
         title=f"Commitments as of {report.as_of:%Y-%m-%d}"
               + (f" by {', '.join(report.by)}" if report.by else ""))
    if report.commitments:
        emit([{k: c.get(k) for k in COMMITMENT_TABLE} for c in report.commitments],
             OutputFormat.table, title="Per commitment")
    for note in report.notes:
        err.print(f"note: {note}", highlight=False, markup=False)


class Term(StrEnum):
    one = "1y"
    three = "3y"


class Payment(StrEnum):
    no = "no"
    partial = "partial"
    all = "all-upfront"


class PlanFormat(StrEnum):
    table = "table"
    json = "json"


PLAN_TABLE = ("ledger_id", "scope_key", "currency", "discount", "discount_source",
              "hourly_commitment", "hourly_cost", "expected_monthly_savings",
              "utilization_pct", "coverage_pct", "break_even_utilization_pct")


@recommend_app.command("commitments")
@guarded
def recommend_commitments(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    as_of: AsOfOpt = None,
    lookback: Annotated[int | None, typer.Option(
        "--lookback", help="days of usage the plan rests on (default: 30, or the config)")
    ] = None,
    term: Annotated[Term | None, typer.Option("--term", help="1y or 3y (default: 1y)")] = None,
    payment: Annotated[Payment | None, typer.Option(
        "--payment", help="no, partial or all-upfront (recorded with the plan; the discount "
                          "comes from your billing, --discount or the config)")] = None,
    discount: Annotated[float | None, typer.Option(
        "--discount", help="discount off on-demand, 0-1, where your billing shows none "
                           "(default: optimize: commitments.purchase: discount)")] = None,
    output_format: Annotated[PlanFormat, typer.Option(
        "--format", "-f", help="table or json")] = PlanFormat.table,
    record: Annotated[bool, typer.Option(
        "--record/--no-record", help="keep the chosen plans in the savings ledger (table "
                                     "recommendations; see `cloudledger savings`)")] = True,
) -> None:
    """Commitment purchase plans: Savings Plans per billing account, RIs per instance family
    and region, with utilization, coverage, tranches and usage-drop scenarios."""
    from cloudledger.config import load_settings
    from cloudledger.optimize import ledger
    from cloudledger.optimize.commitments import data_end
    from cloudledger.optimize.recommenders.commitments import (
        PurchaseOptions,
        purchase_plans,
        to_recommendations,
    )

    day = parse_day(as_of)
    settings = load_settings(config)
    raw: dict[str, Any] = dict((settings.optimize or {}).get("commitments.purchase", {}))
    try:
        opts = PurchaseOptions.model_validate(raw)
    except ValueError as e:
        raise InputError(f"bad options: {e}", where="optimize: commitments.purchase") from None
    update: dict[str, Any] = {}
    if lookback is not None:
        if lookback < 1:
            raise InputError(f"the lookback must be at least 1 day, not {lookback}",
                             where="--lookback", hint="e.g. --lookback 30")
        update["lookback"] = lookback
    if term is not None:
        update["term"] = term.value
    if payment is not None:
        update["payment"] = payment.value
    if discount is not None:
        if not 0 < discount < 1:
            raise InputError(f"the discount must be between 0 and 1, not {discount}",
                             where="--discount", hint="e.g. --discount 0.28 for 28% off")
        update["discount"] = discount
    opts = opts.model_copy(update=update)
    st = open_store(store, config=config, read_only=not record)
    plans = purchase_plans(st, opts, as_of=day)
    if record:  # the savings ledger keeps one choice per account, status kept across runs
        recs = to_recommendations(plans)
        ledger.record(st, settings, recs, kinds=["commitments.purchase"],
                      data_end=data_end(st, day))
        ids = {r.resource: r.id for r in recs}
        for p in plans:
            p["ledger_id"] = ids.get(p["scope_key"])
    st.close()
    if output_format is PlanFormat.json:
        print_json(plans)
        return
    emit([{k: p.get(k) for k in PLAN_TABLE} for p in plans], OutputFormat.table,
         title="Commitment purchase plans")
    for p in plans:
        for note in p.get("notes", []):
            out.print(f"{p['scope_key']}: {note}", highlight=False, markup=False)
