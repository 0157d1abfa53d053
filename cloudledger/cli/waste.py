"""recommend waste | accept | dismiss: waste found from billing alone, kept in the ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    emit,
    err,
    guarded,
    open_store,
    out,
)
from cloudledger.cli.recommend import recommend_app
from cloudledger.errors import InputError

COLUMNS = ("id", "kind", "category", "resource", "account", "title", "monthly_savings",
           "currency", "owner", "status", "risk", "evidence")


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date: {text!r}", where="--as-of",
                         hint="YYYY-MM-DD, e.g. --as-of 2026-11-01") from None


@recommend_app.command("waste")
@guarded
def waste(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="only data before this day counts (YYYY-MM-DD; default: all)")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="recommender name(s), e.g. waste.old-snapshot (default: every "
                       "waste.* one)")] = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Waste from billing alone (unattached volumes, old snapshots, idle load balancers and
    IPs, stopped instances' storage, previous-generation types, weekend schedules,
    transfer hot spots); each finding is stored in the ledger with its status kept."""
    from cloudledger.config import load_settings
    from cloudledger.optimize import ledger
    from cloudledger.optimize.registry import RECOMMENDERS, run

    day = _as_of(as_of)
    settings = load_settings(config)
    names = [n.strip() for item in (only or ["waste"]) for n in item.split(",") if n.strip()]
    RECOMMENDERS.load()
    for n in names:
        if n != "waste" and not any(k == n or k.startswith(n + ".") for k in RECOMMENDERS):
            RECOMMENDERS.find(n)
        if n != "waste" and not n.startswith("waste"):
            raise InputError(f"{n!r} is not a waste recommender", where="--only",
                             hint="waste.* names; see `cloudledger recommend --help`")
    st = open_store(store, config=config)
    recs = run(st, settings, names=names, as_of=day)
    kinds = [k for k in RECOMMENDERS if any(k == n or k.startswith(n + ".") for n in names)]
    end = datetime(day.year, day.month, day.day) if day else _data_end(st)
    stored = ledger.record(st, settings, recs, kinds=kinds, data_end=end)
    st.close()
    rows: list[dict[str, Any]] = [{c: r.get(c) for c in COLUMNS} for r in stored]
    if output_format is not OutputFormat.table:
        emit(rows, output_format)
        return
    table = [{"id": r["id"], "category": r["category"], "kind": r["kind"].split(".", 1)[-1],
              "title": r["title"], "monthly_savings": r["monthly_savings"],
              "currency": r["currency"], "owner": _owner(r["owner"], settings),
              "status": r["status"]} for r in rows]
    emit(table, output_format, title=f"Waste ({len(rows)} findings)")
    totals: dict[tuple[str, str], Any] = {}
    for r in rows:
        if r["status"] != "dismissed":
            key = (r["category"], r["currency"])
            totals[key] = totals.get(key, 0) + r["monthly_savings"]
    for (category, currency), total in sorted(totals.items()):
        out.print(f"{category}: {total:,.2f} {currency} a month (open and accepted)",
                  highlight=False)


def _owner(owner: dict[str, str], settings: Any) -> str:
    return owner.get(settings.primary) or "" if owner else ""


def _data_end(st: Any) -> datetime | None:
    f = st.focus
    v = st.execute(f.filter(f.ChargeCategory == "Usage").ChargePeriodEnd.max()).as_py()
    return v.replace(tzinfo=None) if v else None


@recommend_app.command("accept")
@guarded
def accept(
    rid: Annotated[str, typer.Argument(metavar="ID", help="the finding's id")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why (optional)")] = None,
) -> None:
    """Mark a recommendation accepted (its saving counts as realized once its resource's
    cost falls)."""
    _decide(rid, "accepted", reason, store, config)


@recommend_app.command("dismiss")
@guarded
def dismiss(
    rid: Annotated[str, typer.Argument(metavar="ID", help="the finding's id")],
    reason: Annotated[str, typer.Option("--reason", help="why it does not apply")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Dismiss a recommendation with a reason (kept dismissed on later runs)."""
    if not reason.strip():
        raise InputError("a dismissal needs a reason", where="--reason",
                         hint='e.g. --reason "disaster-recovery standby"')
    _decide(rid, "dismissed", reason, store, config)


def _decide(rid: str, status: str, reason: str | None, store: Any, config: Any) -> None:
    from cloudledger.optimize import ledger

    st = open_store(store, config=config)
    row = ledger.decide(st, rid, status, reason=reason)
    st.close()
    err.print(f"{row['id']} {status}: {row['title']} ({row['monthly_savings']:,.2f} "
              f"{row['currency']} a month)", highlight=False)
