"""A standalone HTML page: inline CSS, inline SVG charts, no scripts, nothing from the network.

    html = page("Showback by team", sections=[card_row(...), chart(svg), table(rows, cols)])
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

__all__ = ["card", "cards", "escape", "money", "page", "pct", "section", "table"]
from typing import Any

from cloudledger.render.tables import display

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;
 background:#f6f7f9;color:#1f2328}
header{background:#1f2a44;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#c9d1e3;font-size:13px}
main{padding:20px 32px;max-width:1200px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:16px 20px;
 margin-bottom:18px}
section h2{font-size:16px;margin:0 0 12px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:18px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:12px 16px;
 min-width:170px}
.card .label{font-size:12px;color:#57606a;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:22px;font-weight:600;margin-top:4px}
.card .note{font-size:12px;color:#57606a;margin-top:2px}
.up{color:#b42318}.down{color:#067647}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #eaecef;white-space:nowrap}
th{background:#f6f8fa;text-align:left;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid #d0d7de}
.muted{color:#57606a;font-size:12px}
details summary{cursor:pointer;font-weight:600;margin-bottom:8px}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.scroll{overflow-x:auto}
th,td{font-size:12.5px}
"""


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)} · generated {stamp} "
            "by cloudledger</p></header><main>" + "".join(sections) + "</main></body></html>\n")


def section(heading: str, body: str, note: str | None = None) -> str:
    extra = f'<p class="muted">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(heading)}</h2>{body}{extra}</section>"


def card(label: str, value: str, note: str | None = None, trend: float | None = None) -> str:
    cls = "" if trend is None or trend == 0 else (" up" if trend > 0 else " down")
    n = f'<div class="note{cls}">{escape(note)}</div>' if note else ""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>{n}</div>')


def cards(items: Sequence[str]) -> str:
    return '<div class="cards">' + "".join(items) + "</div>"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str],
          headers: dict[str, str] | None = None, total: dict[str, Any] | None = None) -> str:
    """An HTML table; numeric columns right-aligned; an optional bold total row."""
    headers = headers or {}
    numeric = {c for c in columns
               if any(isinstance(r.get(c), (int, float, Decimal)) for r in rows)}
    head = "".join(f'<th class="{"num" if c in numeric else ""}">'
                   f'{escape(headers.get(c, c))}</th>' for c in columns)

    def tr(r: dict[str, Any], cls: str = "") -> str:
        cells = "".join(f'<td class="{"num" if c in numeric else ""}">'
                        f'{escape(display(r.get(c)))}</td>' for c in columns)
        return f'<tr class="{cls}">{cells}</tr>'

    body = "".join(tr(r) for r in rows) + (tr(total, "total") if total else "")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def money(value: Decimal | float | None, currency: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.2f} {currency}".strip()


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}%"
