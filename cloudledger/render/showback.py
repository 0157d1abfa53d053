"""Render a :class:`cloudledger.analyze.showback.Showback` / ``Chargeback`` as CSV, Markdown, XLSX,
JSON or a standalone HTML page with charts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudledger.analyze.showback import PARTS, Chargeback, Showback
from cloudledger.render import charts, page
from cloudledger.render.tables import to_csv, to_json, to_markdown, to_xlsx

TOP = 8
JOURNAL_COLUMNS = ["owner", "cost_center", "amount", "currency", "period"]
PART_LABELS = {"direct": "direct", "shared": "shared", "commitment": "commitment",
               "commitment_unused": "unused commitment", "credits": "credits",
               "other": "tax & adj."}


def render(sb: Showback, fmt: str, path: str | Path | None = None) -> str | None:
    """Text of ``sb`` in ``fmt`` (csv, json, markdown, html); xlsx is written to ``path``."""
    if fmt == "csv":
        return to_csv(sb.rows, sb.columns)
    if fmt == "json":
        return to_json(sb.rows, sb.columns)
    if fmt == "markdown":
        return markdown(sb)
    if fmt == "html":
        return html(sb)
    if fmt == "xlsx":
        if path is None:
            raise ValueError("xlsx needs a path")
        totals = [{"period": p, "currency": c, "total": t}
                  for (p, c), t in sorted(sb.totals.items())]
        to_xlsx(path, {"showback": (sb.columns, sb.rows),
                       "totals": (["period", "currency", "total"], totals)})
        return None
    raise ValueError(f"unknown format {fmt}")


def _owner(sb: Showback, r: dict[str, Any]) -> str:
    return " / ".join(str(r[d]) for d in sb.by)


def markdown(sb: Showback) -> str:
    out = [f"# Showback by {', '.join(sb.by)} ({sb.metric})", ""]
    for period in sb.periods:
        rows = [r for r in sb.rows if r["period"] == period]
        for currency in sorted({r["currency"] for r in rows}):
            cur = [r for r in rows if r["currency"] == currency]
            total = {"period": "total", "currency": currency,
                     **{k: sum((r[k] for r in cur), Decimal(0)) for k in (*PARTS, "total")}}
            cols = [c for c in sb.columns if c != "period"]
            out.append(to_markdown([*cur, total], cols, title=f"{period} ({currency})"))
    return "\n".join(out)


def html(sb: Showback) -> str:
    """A standalone page: headline cards, three charts and the tables."""
    periods = sb.periods
    if not sb.rows:
        return page.page(f"Showback by {', '.join(sb.by)}", sb.metric,
                         [page.section("No data", "<p>The allocated table has no rows for "
                                       "this selection.</p>")])
    by_currency: dict[str, Decimal] = {}
    for (_, c), t in sb.totals.items():
        by_currency[c] = by_currency.get(c, Decimal(0)) + abs(t)
    currency = max(by_currency, key=lambda c: by_currency[c])
    rows = [r for r in sb.rows if r["currency"] == currency]
    latest = max(r["period"] for r in rows)
    last = [r for r in rows if r["period"] == latest]
    total_latest = sb.totals.get((latest, currency), Decimal(0))
    change = [r["change"] for r in last if r["change"] is not None]
    mom = sum(change, Decimal(0)) if change else None
    before = total_latest - mom if mom is not None else None
    mom_pct = float(mom / before * 100) if mom is not None and before else None
    run_rate = any(r.get("basis") == "run rate" for r in last)
    partial = next((r for r in last if r.get("partial")), None)
    special = {"__unallocated__", "__shared__", "__idle__"}
    unalloc = sum((r["total"] for r in last if any(r[d] in special for d in sb.by)),
                  Decimal(0))
    named = len({_owner(sb, r) for r in last if not any(r[d] in special for d in sb.by)})

    cards = [
        page.card(f"Total {latest}", page.money(total_latest, currency),
                  f"{sb.metric}"),
        page.card("Month over month", page.money(mom, currency) if mom is not None else "–",
                  (page.pct(mom_pct) + (" (run rate)" if run_rate else ""))
                  if mom is not None else "no earlier month",
                  trend=float(mom) if mom is not None else None),
        page.card("Owners", str(named), f"with cost in {latest}"),
        page.card("Unallocated / shared / idle", page.money(unalloc, currency),
                  page.pct(float(unalloc / total_latest * 100)).lstrip("+")
                  + " of total" if total_latest else None),
    ]

    # chart 1: total per period, stacked by the top owners
    totals_by_owner: dict[str, Decimal] = {}
    for r in rows:
        totals_by_owner[_owner(sb, r)] = totals_by_owner.get(_owner(sb, r), Decimal(0)) \
            + r["total"]
    top = sorted(totals_by_owner, key=lambda o: -abs(totals_by_owner[o]))[:TOP]
    series: dict[str, list[float]] = {o: [0.0] * len(periods) for o in top}
    rest = [0.0] * len(periods)
    for r in rows:
        i = periods.index(r["period"])
        o = _owner(sb, r)
        if o in series:
            series[o][i] += float(r["total"])
        else:
            rest[i] += float(r["total"])
    if any(rest):
        series["all other owners"] = rest
    trend = charts.bar_chart(periods, series, title=f"{sb.metric} per month by owner "
                             f"({currency})", width=1100, height=320)

    # chart 2: latest period, per owner, stacked by part
    owners_latest = [_owner(sb, r) for r in last][:15]
    parts = {PART_LABELS[p]: [float(r[p]) for r in last][:15] for p in PARTS
             if any(r[p] for r in last)}
    split = charts.bar_chart(owners_latest, parts, title=f"{latest}: where each owner's cost "
                             "comes from", width=1100, height=320)

    # chart 3: month-over-month change, latest period
    moved = sorted((r for r in last if r["change"] is not None),
                   key=lambda r: -abs(r["change"]))[:15]
    changes = [float(r["change"]) for r in moved]
    mom_svg = charts.bar_chart([_owner(sb, r) for r in moved],
                               {"increase": [max(c, 0.0) for c in changes],
                                "decrease": [min(c, 0.0) for c in changes]},
                               title=f"{latest}: change against the month before"
                               + (" (run rates: a month is partial)" if run_rate else ""),
                               width=1100, height=300, colors=["#c94f6d", "#3aa17e"]) \
        if moved else \
        "<p class=\"muted\">No earlier month to compare with.</p>"

    cols = [*sb.by, *PARTS, "total", "change", "change_pct", "basis"]
    headers = {p: PART_LABELS[p] for p in PARTS} | {"change_pct": "change %"}
    total_row = {sb.by[0]: "total", **{k: sum((r[k] for r in last), Decimal(0))
                                      for k in (*PARTS, "total")}}
    if mom is not None:
        total_row["change"] = mom
        total_row["change_pct"] = round(mom_pct, 2) if mom_pct is not None else None
    sections = [
        page.cards(cards),
        *([page.section("Partial month", f"<p>The data for {latest} covers "
                        f"{partial['days'].normalize():f} days, not the whole month: changes "
                        "compare run rates (the month before scaled to the same number of "
                        "days).</p>")] if partial is not None and partial.get("days") else []),
        page.section("Trend", trend),
        page.section(f"Breakdown, {latest}", split + page.table(last, cols, headers,
                                                               total_row),
                     note="direct = own usage; shared = shares of shared pools; commitment "
                          "= usage covered by reservations / savings plans at amortized "
                          "cost; unused commitment = the idle part of commitments; credits "
                          "are negative. Parts add up to the total."),
        page.section("Month over month", mom_svg),
        page.section("Totals per period (equal the allocated table)", page.table(
            [{"period": p, "currency": c, "total": t}
             for (p, c), t in sorted(sb.totals.items())], ["period", "currency", "total"])),
        "<section><details><summary>Every owner and period</summary>"
        + page.table(sb.rows, sb.columns, headers) + "</details></section>",
    ]
    subtitle = (f"{sb.metric} by {', '.join(sb.by)}, {periods[0]} to {periods[-1]}"
                + (f"; charts in {currency}" if len(by_currency) > 1 else ""))
    return page.page(f"Showback by {', '.join(sb.by)}", subtitle, sections)


def journal_csv(cb: Chargeback) -> str:
    """The journal entries as CSV: owner, cost_center, amount, currency, period."""
    return to_csv(cb.entries, JOURNAL_COLUMNS)
