"""A standalone HTML page for :class:`cloudledger.analyze.unit_economics.UnitCosts`: the summary
table, then per product (or owner) the unit cost, cost and usage over time."""

from __future__ import annotations

from cloudledger.analyze.unit_economics import UnitCosts
from cloudledger.render import charts, page

SUMMARY_HEADERS = {"unit_cost": "unit cost", "first": "first", "last": "last",
                   "change_pct": "change %", "trend_pct": "trend % / period",
                   "elasticity": "elasticity", "r2": "r²"}


def html(uc: UnitCosts) -> str:
    label = f"{uc.cost_metric} per {uc.unit_label}"
    key = uc.key
    sections = []
    if uc.summary:
        cols = [key, "currency", "periods", "cost", "usage", "unit_cost", "first", "last",
                "change_pct", "trend_pct", "elasticity", "r2"]
        sections.append(page.section(
            "Summary", page.table(uc.summary, cols, SUMMARY_HEADERS),
            note="elasticity = d ln cost / d ln usage over the periods (log-log slope): 1 = "
                 "cost grows in step with usage, below 1 = economies of scale, above 1 = "
                 "cost outgrowing usage. trend = log-linear fit of the unit cost per "
                 f"{uc.grain}."))
    for s in uc.summary:
        owner, currency = str(s[key]), s["currency"]
        series = [r for r in uc.rows
                  if str(r.get(key, "total")) == owner and r["currency"] == currency]
        periods = [r["period"] for r in series]
        unit = [float(r["unit_cost"]) if r["unit_cost"] is not None else None
                for r in series]
        cost = [float(r["cost"] or 0) for r in series]
        usage = [float(r["usage"]) if r["usage"] is not None else None for r in series]
        w, h = 370, 230
        body = ('<div class="charts">'
                + charts.line_chart(periods, {label: unit}, title=f"{label} ({currency})",
                                    fmt=_unit_fmt, width=w, height=h)
                + charts.bar_chart(periods, {"cost": cost}, title=f"{uc.cost_metric} "
                                   f"({currency})", width=w, height=h)
                + charts.line_chart(periods, {uc.metric: usage}, title=f"{uc.metric}",
                                    width=w, height=h)
                + "</div>")
        facts = (f"unit cost {_unit_fmt(s['unit_cost'])} {currency} per {uc.unit_label} "
                 f"over {s['periods']} {uc.grain}(s); change {page.pct(s['change_pct'])}; "
                 f"elasticity {s['elasticity'] if s['elasticity'] is not None else '–'}")
        sections.append(page.section(owner if uc.by else "All products", body, note=facts))
    if uc.warnings:
        sections.append(page.section("Notes", "".join(
            f"<p>{page.escape(w)}</p>" for w in uc.warnings)))
    if not uc.summary:
        sections.append(page.section("No data", "<p>No period has both cost and "
                                     f"{page.escape(uc.metric)}.</p>"))
    by = f" by {uc.by}" if uc.by else ""
    return page.page(f"Unit costs: {label}{by}",
                     f"{uc.grain}ly, {uc.cost_metric} from the allocated table", sections)


def _unit_fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else charts.compact(value)
