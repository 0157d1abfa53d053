"""Small inline-SVG charts (bar, stacked bar, line) for standalone HTML reports.

No scripts and nothing loaded from the network: each function returns an ``<svg>`` string
to paste into a page. Values are plain floats (already aggregated; money is rounded for
display only). Negative values in stacked bars stack downwards from zero.

    svg = bar_chart(["2026-01", "2026-02"], {"payments": [120.0, 130.5]}, stacked=True)
    svg = line_chart(["2026-01", "2026-02"], {"cost per 1k": [0.42, 0.40]})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape

PALETTE = ("#3b6fd8", "#e07b39", "#3aa17e", "#c94f6d", "#8a63c9", "#b59a2a", "#4aa3c4",
           "#7d7d7d", "#d45fb0", "#5c8a3a", "#a0522d", "#2f4f8f")
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def compact(value: float) -> str:
    """1234567 -> '1.23M', 950 -> '950', 0.0123 -> '0.0123'."""
    a = abs(value)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{value / div:.3g}{suffix}"
    if a == 0:
        return "0"
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (always including 0 when in range)."""
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    v = start
    while v <= hi + step * 0.5 and len(ticks) < 50:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _frame(width: int, height: int, title: str | None, body: list[str],
           legend: list[tuple[str, str]]) -> str:
    items, x, y = [], 8, height - 10
    for name, fill in legend:
        label = name if len(name) <= 28 else name[:27] + "…"
        w = 24 + 7 * len(label)
        if x + w > width and x > 8:
            x, y = 8, y + 16
        items.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{fill}"/>'
                     f'<text x="{x + 14}" y="{y}" font-size="11" fill="#333">'
                     f'{escape(label)}</text>')
        x += w
    total_h = y + 10 if legend else height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" '
             f'viewBox="0 0 {width} {total_h}" role="img" style="{FONT}">']
    if title:
        parts.append(f'<title>{escape(title)}</title>')
        parts.append(f'<text x="8" y="18" font-size="14" font-weight="600" fill="#222">'
                     f'{escape(title)}</text>')
    parts += body + items
    parts.append("</svg>")
    return "".join(parts)


def _axes(ticks: list[float], lo: float, hi: float, left: int, top: int, plot_w: int,
          plot_h: int, fmt: Callable[[float], str]) -> tuple[list[str], Callable[[float], float]]:
    def y_of(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    out = []
    for t in ticks:
        y = y_of(t)
        stroke = "#999" if t == 0 else "#e3e3e3"
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="{stroke}" stroke-width="1"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" fill="#555" '
                   f'text-anchor="end">{escape(fmt(t))}</text>')
    return out, y_of


def svg_open(width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" style="{FONT}">')


def y_grid(ticks: Sequence[float], left: int, plot_w: int,
           y: Callable[[float], float]) -> list[str]:
    """Horizontal grid lines with compact value labels at ``ticks``."""
    return [f'<line x1="{left}" x2="{left + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
            f'stroke="#e3e3e3"/><text x="{left - 6}" y="{y(t) + 4:.1f}" '
            f'font-size="11" fill="#555" text-anchor="end">{compact(t)}</text>'
            for t in ticks]


def _x_labels(labels: Sequence[str], xs: list[float], y: float, plot_w: float,
              rotate: bool = False) -> list[str]:
    """Labels under the x axis: every one turned -35 degrees (``rotate``), or level and
    thinned out to every k-th so they do not overlap."""
    if rotate:
        return [f'<text x="{x:.1f}" y="{y - 4:.1f}" font-size="11" fill="#555" '
                f'text-anchor="end" transform="rotate(-35 {x:.1f} {y - 4:.1f})">'
                f'{escape(_short(lab))}<title>{escape(lab)}</title></text>'
                for lab, x in zip(labels, xs, strict=True)]
    widest = max((len(lab) for lab in labels), default=1) * 6.5 + 10
    step = max(1, math.ceil(len(labels) / max(plot_w / widest, 1)))
    return [f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#555" '
            f'text-anchor="middle">{escape(lab)}</text>'
            for i, (lab, x) in enumerate(zip(labels, xs, strict=True)) if i % step == 0]


def _short(label: str, size: int = 24) -> str:
    return label if len(label) <= size else label[:size - 1] + "…"


def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[float]], *,
              stacked: bool = True, title: str | None = None, width: int = 720,
              height: int = 300, fmt: Callable[[float], str] = compact,
              colors: Sequence[str] | None = None) -> str:
    """Bars per category, one colour per series (stacked, or side by side)."""
    palette = list(colors) if colors else [color(j) for j in range(len(series))]
    names = list(series)
    n = len(categories)
    if stacked:
        pos = [sum(max(series[s][i], 0.0) for s in names) for i in range(n)]
        neg = [sum(min(series[s][i], 0.0) for s in names) for i in range(n)]
    else:
        pos = [max([max(series[s][i], 0.0) for s in names], default=0.0) for i in range(n)]
        neg = [min([min(series[s][i], 0.0) for s in names], default=0.0) for i in range(n)]
    lo, hi = min(neg, default=0.0), max(pos, default=0.0)
    ticks = nice_ticks(lo, hi)
    # a small negative part (credits) does not get a whole tick step of empty axis
    ticks = [t for t in ticks if t >= lo] or ticks
    lo, hi = min(ticks[0], lo, 0.0), ticks[-1]
    left, top, bottom = 64, 30 if title else 12, 48
    plot_w, plot_h = width - left - 12, height - top - bottom
    slot = plot_w / max(n, 1)
    longest = max((len(_short(c)) for c in categories), default=0)
    rotate = n > 1 and slot < longest * 6.5 + 8
    if rotate:  # room for labels turned -35 degrees under the same plot height
        extra = int(longest * 6.5 * 0.57) + 4
        height, bottom = height + extra - 16, bottom + extra - 16
    body, y_of = _axes(ticks, lo, hi, left, top, plot_w, plot_h, fmt)
    bar_w = min(slot * 0.7, 90.0) / (1 if stacked or not names else len(names))
    xs = []
    for i, cat in enumerate(categories):
        x0 = left + slot * (i + 0.5) - bar_w * (1 if stacked else len(names)) / 2
        xs.append(left + slot * (i + 0.5))
        up, down = 0.0, 0.0
        for j, s in enumerate(names):
            v = float(series[s][i])
            if v == 0:
                continue
            if stacked:
                base = up if v >= 0 else down
                y1, y2 = y_of(base), y_of(base + v)
                if v >= 0:
                    up += v
                else:
                    down += v
                x = x0
            else:
                y1, y2 = y_of(0.0), y_of(v)
                x = x0 + j * bar_w
            body.append(f'<rect x="{x:.1f}" y="{min(y1, y2):.1f}" width="{bar_w:.1f}" '
                        f'height="{abs(y2 - y1):.1f}" fill="{palette[j]}">'
                        f'<title>{escape(cat)} · {escape(s)}: {escape(fmt(v))}</title></rect>')
    body += _x_labels(categories, xs, top + plot_h + 16, plot_w, rotate=rotate)
    legend = [(s, palette[j]) for j, s in enumerate(names)] if len(names) > 1 else []
    return _frame(width, height, title, body, legend)


def line_chart(labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *,
               title: str | None = None, width: int = 720, height: int = 260,
               fmt: Callable[[float], str] = compact, zero: bool = True) -> str:
    """One line per series over ``labels``; None values leave a gap."""
    names = list(series)
    values = [v for s in names for v in series[s] if v is not None]
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    ticks = nice_ticks(lo, hi)
    lo, hi = ticks[0], ticks[-1]
    left, top, bottom = 64, 30 if title else 12, 48 if len(names) > 1 else 30
    plot_w, plot_h = width - left - 32, height - top - bottom
    body, y_of = _axes(ticks, lo, hi, left, top, plot_w, plot_h, fmt)
    n = len(labels)
    xs = [left + (plot_w * (i / (n - 1)) if n > 1 else plot_w / 2) for i in range(n)]
    for j, s in enumerate(names):
        segment: list[str] = []
        paths: list[list[str]] = []
        for x, v in zip(xs, series[s], strict=True):
            if v is None:
                if segment:
                    paths.append(segment)
                segment = []
                continue
            segment.append(f"{x:.1f},{y_of(float(v)):.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y_of(float(v)):.1f}" r="2.5" '
                        f'fill="{color(j)}"><title>{escape(s)}: {escape(fmt(float(v)))}'
                        f'</title></circle>')
        if segment:
            paths.append(segment)
        for p in paths:
            if len(p) > 1:
                body.append(f'<polyline points="{" ".join(p)}" fill="none" '
                            f'stroke="{color(j)}" stroke-width="2"/>')
    body += _x_labels(labels, xs, top + plot_h + 16, plot_w)
    legend = [(s, color(j)) for j, s in enumerate(names)] if len(names) > 1 else []
    return _frame(width, height, title, body, legend)
