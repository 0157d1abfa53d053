"""The standalone spend report (``cloudledger demo`` / ``summary``): one HTML file with inline
CSS and SVG charts, no scripts, nothing fetched from the network.

    html = spend_report(report_data(store), anomalies=data.anomalies)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape
from pathlib import Path
from typing import Any

from cloudledger.analyze import summary as s
from cloudledger.render.charts import FONT, bar_chart, color, compact, nice_ticks, svg_open, y_grid
from cloudledger.render.page import card, cards, money, page, pct, section, table


def _hbars(labels: Sequence[str], values: Sequence[float], *, width: int = 1080,
           fmt: Any = compact) -> str:
    """Horizontal bars, one per label, largest first (labels left, values right)."""
    row, left, right = 24, 260, 90
    height = row * len(labels) + 8
    top = max(values, default=1.0) or 1.0
    plot = width - left - right
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" style="{FONT}">']
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * row
        w = max(plot * v / top, 1.0)
        name = lab if len(lab) <= 38 else lab[:37] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="12" fill="#333" text-anchor="end">'
            f'{escape(name)}</text><rect x="{left}" y="{y + 3}" width="{w:.1f}" height="16" '
            f'rx="2" fill="{color(0)}"><title>{escape(lab)}: {fmt(v)}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12" fill="#555">'
            f'{escape(fmt(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _daily(days: Sequence[date], series: Mapping[str, Sequence[float]],
           marks: Sequence[dict[str, Any]], *, width: int = 1080, height: int = 300) -> str:
    """Daily lines per series with shaded, labelled anomaly windows."""
    left, top, bottom = 64, 12, 46
    plot_w, plot_h = width - left - 16, height - top - bottom
    hi = max((v for vals in series.values() for v in vals), default=1.0)
    ticks = nice_ticks(0.0, hi)
    hi = ticks[-1]
    n = max(len(days) - 1, 1)
    index = {d: i for i, d in enumerate(days)}

    def x(i: float) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h - v / hi * plot_h

    parts = [svg_open(width, height), *y_grid(ticks, left, plot_w, y)]
    for k, a in enumerate(marks):
        i0 = index.get(date.fromisoformat(a["start"]))
        i1 = index.get(date.fromisoformat(a["end"]))
        if i0 is None or i1 is None:
            continue
        x0, x1 = x(i0) - 2, x(i1) + 2
        parts.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{plot_h}" '
                     f'fill="#d92d20" opacity="0.18"><title>{escape(a["start"])}: '
                     f'{escape(a["service"])}, {escape(a["description"])}</title></rect>'
                     f'<text x="{x1 + 3:.1f}" y="{top + 12 + 13 * (k % 2)}" font-size="11" '
                     f'fill="#b42318">{k + 1}</text>')
    for j, (name, vals) in enumerate(series.items()):
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color(j)}" '
                     f'stroke-width="1.4"><title>{escape(name)}</title></polyline>')
    for i, d in enumerate(days):
        if d.day == 1:
            parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{top + plot_h}" '
                         f'y2="{top + plot_h + 4}" stroke="#999"/><text x="{x(i):.1f}" '
                         f'y="{top + plot_h + 17}" font-size="11" fill="#555" '
                         f'text-anchor="middle">{d.strftime("%b %y")}</text>')
    lx = left
    for j, name in enumerate(series):
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" '
                     f'fill="{color(j)}"/><text x="{lx + 14}" y="{height - 5}" font-size="11" '
                     f'fill="#333">{escape(name)}</text>')
        lx += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def spend_report(data: s.ReportData, *, title: str = "Cloud spend",
                 anomalies: Sequence[dict[str, Any]] = (), sections: Sequence[str] = ()) -> str:
    """The whole report as an HTML string, drawn from ``summary.report_data(store)``."""
    ov, metric, top = data.overview, data.metric, data.top
    last_day = ov.last_day - timedelta(days=1) if ov.last_day else None
    # charts and cards in the main currency (largest total); amounts are never converted
    cur = ov.currencies[0] if ov.currencies else ""
    others = ov.currencies[1:]

    def mine(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if r.get("currency") == cur]

    months = mine(data.months)
    last = months[-1] if months else None
    prev = next((m for m in months if last and m["month"] == _month_before(last["month"])),
                None)
    change, basis = None, "total"
    if last and prev and prev[metric]:
        before = prev[metric]
        if (last["partial"] or prev["partial"]) and last["days"] and prev["days"]:
            before, basis = before * last["days"] / prev["days"], "run rate"
        change = float((last[metric] - before) / before * 100) if before else None
    coverage = (mine(data.coverage)
                or [{"coverage_pct": 0.0, "untagged": 0}])[0]
    providers = mine(data.providers)
    last_note = (f"{pct(change)} vs previous month" + (
        f" (run rate: {last['days'].normalize():f} days of data)" if basis == "run rate" and
        last else "")) if change is not None else None
    summary_cards = cards([
        card(f"{metric}, {len(months)} months", f"{compact(float(ov.totals.get(cur, 0)))} {cur}",
             f"{ov.first_day} to {last_day}" + (
                 f"; also {ov.total_text()}" if others else "")),
        card(f"last month ({last['month']:%b %Y})" + (" partial" if last["partial"] else "")
             if last else "last month",
             f"{compact(float(last[metric]))} {cur}" if last else "–",
             last_note, change),
        card("team-tag coverage", f"{coverage['coverage_pct']:.1f}%",
             f"{compact(float(coverage['untagged']))} {cur} untagged"),
        card("scope", f"{ov.providers} providers",
             f"{ov.services} services · {ov.accounts} accounts · {ov.rows:,} rows"),
    ])
    per_month = mine(data.per_month)
    labels = [m["month"].strftime("%b %y") + ("*" if m["partial"] else "") for m in months]
    names = [p["provider"] for p in providers]
    stacked = {n: [0.0] * len(months) for n in names}
    pos = {m["month"]: i for i, m in enumerate(months)}
    for r in per_month:
        stacked[r["provider"]][pos[r["month"]]] = float(r[metric] or 0)
    monthly_svg = bar_chart(labels, stacked, width=1080, height=320)
    daily_rows = mine(data.daily)
    days = sorted({r["day"] for r in daily_rows})
    di = {d: i for i, d in enumerate(days)}
    lines: dict[str, list[float]] = {n: [0.0] * len(days) for n in names}
    for r in daily_rows:
        lines[r["provider"]][di[r["day"]]] = float(r[metric] or 0)
    services = mine(data.services)
    movers, cov_rows = data.movers, data.coverage_by_provider
    body = [summary_cards,
            section(f"Monthly {metric} by provider", monthly_svg),
            section(f"Daily {metric} by provider", _daily(days, lines, anomalies)
                    + (_anomaly_table(anomalies) if anomalies else ""),
                    note="Usage charges only (monthly purchase, tax, support and credit rows "
                         "are left out). Shaded: the injected anomalies."),
            section(f"Top {top} services", _hbars(
                [r["service"] for r in services if r["service"] != "(other)"],
                [float(r[metric]) for r in services if r["service"] != "(other)"]),
                note="; ".join(f"all other services: {compact(float(r[metric]))} {cur} "
                               f"({r['share_pct']:.0f}%)" for r in services
                               if r["service"] == "(other)") or None),
            section("Top movers, " + (f"{last['month']:%b %Y} vs {prev['month']:%b %Y}"
                                      if last and prev else "month over month"),
                    table([{"service": r["service"], "currency": r["currency"],
                            "previous": money(r["previous"]), "current": money(r["current"]),
                            "change": money(r["change"]), "change %": pct(r["change_pct"]),
                            "basis": r["basis"]} for r in movers],
                          ["service", "currency", "previous", "current", "change", "change %",
                           "basis"]),
                    note="basis run rate: a month's data covers only part of it, so the "
                         "previous month is scaled to the same number of days."
                    if any(r["basis"] == "run rate" for r in movers) else None),
            section("Team-tag coverage by provider", table(
                [{"provider": r["provider"], "currency": r["currency"],
                  "tagged": money(r["tagged"]), "untagged": money(r["untagged"]),
                  "coverage": f"{r['coverage_pct']:.1f}%"} for r in cov_rows],
                ["provider", "currency", "tagged", "untagged", "coverage"]),
                note="Rows whose Tags carry a team or owner key (any case). Allocation "
                     "(`cloudledger allocate`) assigns the rest through rules and pools."),
            *sections]
    return page(title, f"{metric} in {cur}, {ov.first_day} to {last_day}" + (
        f"; charts in {cur}, the tables in every currency ({', '.join(others)} too)"
        if others else "") + ("; * partial month" if any(m["partial"] for m in months)
                              else ""), body)


def _month_before(d: Any) -> Any:
    return d.replace(year=d.year - 1, month=12) if d.month == 1 else d.replace(
        month=d.month - 1)


def _anomaly_table(anomalies: Sequence[dict[str, Any]]) -> str:
    rows = [{"#": str(i + 1), "dates": a["start"] if a["start"] == a["end"] else
             f"{a['start']} to {a['end']}", "provider": a["provider"], "service": a["service"],
             "what": a["description"], "factor": f"x{a['factor']:g}"}
            for i, a in enumerate(anomalies)]
    return ('<h3 style="font-size:14px;margin:14px 0 6px">Injected anomalies (known answers)'
            '</h3>' + table(rows, ["#", "dates", "provider", "service", "what", "factor"]))


def write_report(path: str | Path, html: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    return target
