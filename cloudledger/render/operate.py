"""Report sections for Operate and Optimize results (the demo's report, later the web
pages): anomalies found with their root cause, the month-end forecast band, identified
savings by category. Each takes plain results and returns an HTML ``<section>``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Any

from cloudledger.render.charts import nice_ticks, svg_open, y_grid
from cloudledger.render.page import money, section, table


def anomalies_section(found: Sequence[Any], injected: Sequence[dict[str, Any]] = ()) -> str:
    """Anomalies (``operate.anomalies.Anomaly``), newest first, each with its top root cause;
    ``injected`` (the demo's known answers) are matched by day (within 1) and service."""
    rows = []
    for a in found:
        top = a.root_cause[0] if a.root_cause else None
        scope = ", ".join(f"{k}={v}" for k, v in a.dimensions.items()) or "total"
        rows.append({"first day": a.first_day.isoformat(), "scope": scope,
                     "expected": money(a.expected, a.currency),
                     "actual": money(a.actual, a.currency),
                     "impact": money(a.impact, a.currency), "severity": a.severity,
                     "top cause": f"{top.dimension}={top.value} ({money(top.impact)})"
                     if top else "–"})
    note = None
    if injected:
        hits = [i for i in injected if any(_matches(a, i) for a in found)]
        note = (f"The demo injected {len(injected)} anomalies; {len(hits)} found within a day "
                f"of their start. Alerts: {len(found)}.")
    body = table(rows, ["first day", "scope", "expected", "actual", "impact", "severity",
                        "top cause"]) if rows else "<p>No anomalies.</p>"
    return section("Anomalies found, with root cause", body, note=note)


def _matches(a: Any, injected: dict[str, Any]) -> bool:
    start = date.fromisoformat(injected["start"])
    values = set(a.dimensions.values()) | {c.value for c in a.root_cause[:3]}
    return abs((a.first_day - start).days) <= 1 and injected["service"] in values


def forecast_section(history: Sequence[tuple[date, float]],
                     daily: Sequence[dict[str, Any]], month: dict[str, Any]) -> str:
    """The last weeks of actual daily cost, then the daily forecast with its 80% and 95%
    bands, and the month-end total with its interval."""
    svg = _band_chart(history, daily)
    cur = month.get("currency", "")
    note = (f"{month['month']}: {money(month['actual_to_date'], cur)} so far, "
            f"{money(month['month_total'], cur)} expected at month end "
            f"(80%: {money(month['lo80'])} to {money(month['hi80'])}; 95%: "
            f"{money(month['lo95'])} to {money(month['hi95'])}).")
    return section("Month-end forecast", svg, note=note)


def _band_chart(history: Sequence[tuple[date, float]], daily: Sequence[dict[str, Any]], *,
                width: int = 1080, height: int = 280) -> str:
    left, top, bottom = 64, 12, 30
    plot_w, plot_h = width - left - 16, height - top - bottom
    fc = [(r["ds"], float(r["forecast"]), float(r["lo80"]), float(r["hi80"]),
           float(r["lo95"]), float(r["hi95"])) for r in daily]
    values = [v for _, v in history] + [x for r in fc for x in r[1:]]
    hi = max(values, default=1.0)
    lo = min(0.0, min(values, default=0.0))
    ticks = nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    n = max(len(history) + len(fc) - 1, 1)

    def x(i: float) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / ((hi - lo) or 1) * plot_h

    parts = [svg_open(width, height), *y_grid(ticks, left, plot_w, y)]
    start = len(history)
    for lo_i, hi_i, fill in ((4, 5, "#c7d7fe"), (2, 3, "#84a9ff")):
        upper = [f"{x(start + i):.1f},{y(r[hi_i]):.1f}" for i, r in enumerate(fc)]
        lower = [f"{x(start + i):.1f},{y(r[lo_i]):.1f}" for i, r in enumerate(fc)][::-1]
        if upper:
            parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{fill}" '
                         f'opacity="0.7"/>')
    actual = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(history))
    parts.append(f'<polyline points="{actual}" fill="none" stroke="#344054" '
                 f'stroke-width="1.6"><title>actual</title></polyline>')
    point = " ".join(f"{x(start + i):.1f},{y(r[1]):.1f}" for i, r in enumerate(fc))
    parts.append(f'<polyline points="{point}" fill="none" stroke="#1d4ed8" '
                 f'stroke-width="1.6" stroke-dasharray="5 3"><title>forecast</title>'
                 f'</polyline>')
    days = [d for d, _ in history] + [r[0] for r in fc]
    for i, d in enumerate(days):
        if d.day == 1 or i == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 17}" font-size="11" '
                         f'fill="#555" text-anchor="middle">{escape(d.strftime("%d %b"))}'
                         f'</text>')
    parts.append("</svg>")
    return "".join(parts)


def savings_section(rows: Sequence[dict[str, Any]]) -> str:
    """Identified monthly savings per category (``optimize.ledger.savings`` total rows)."""
    shown = [{"category": r["category"], "findings": str(r.get("findings", "")),
              "monthly savings": money(r["monthly_savings"], r.get("currency", "")),
              "% of spend": "–" if r.get("savings_pct") is None
              else f"{r['savings_pct']:.2f}%"} for r in rows]
    body = table(shown, ["category", "findings", "monthly savings", "% of spend"]) \
        if shown else "<p>No savings identified.</p>"
    return section("Identified savings by category", body,
                   note="Open recommendations (`cloudledger recommend waste|rightsizing|"
                        "commitments`); % of the last full month's spend.")
