"""Rows (lists of dicts, already aggregated) to CSV, Markdown, XLSX and JSON.

Money stays exact: CSV, Markdown and JSON write decimals as text with every significant
digit (trailing zeros trimmed to at least two decimals); XLSX stores numbers (the sheet's
own float) with a money number format.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

Rows = Sequence[dict[str, Any]]


def money_text(value: Decimal) -> str:
    """Exact decimal text: 110.000000000000 -> '110.00', 1.234500000000 -> '1.2345'."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0")
        text = f"{whole}.{frac.ljust(2, '0')}"
    else:
        text += ".00"
    return "0.00" if text in ("-0.00",) else text


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def to_csv(rows: Rows, columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow(["" if r.get(c) is None else plain(r.get(c)) for c in columns])
    return buf.getvalue()


def to_json(rows: Rows, columns: Sequence[str]) -> str:
    """A JSON list of row objects; decimals as exact strings."""
    return json.dumps([{c: plain(r.get(c)) for c in columns} for r in rows], indent=1)


def display(value: Any) -> str:
    """Human text for one cell: money with thousands separators and 2 decimals."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if abs(value) >= Decimal("0.005") or value == 0 \
            else f"{value:.4g}"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(plain(value))


def _numeric(rows: Rows, column: str) -> bool:
    return any(isinstance(r.get(column), (int, float, Decimal)) for r in rows)


def to_markdown(rows: Rows, columns: Sequence[str], title: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    lines = [f"## {title}", ""] if title else []
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---:" if _numeric(rows, c) else "---" for c in columns)
                 + "|")
    for r in rows:
        cells = [display(r.get(c)).replace("|", "\\|") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_xlsx(path: str | Path, sheets: dict[str, tuple[Sequence[str], Rows]]) -> Path:
    """One worksheet per entry (name -> (columns, rows)); header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for name, (columns, rows) in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append([_xlsx_value(r.get(c)) for c in columns])
        for i, c in enumerate(columns, start=1):
            letter = get_column_letter(i)
            if any(isinstance(r.get(c), Decimal) for r in rows):
                for cell in ws[letter][1:]:
                    cell.number_format = "#,##0.00"
            width = max([len(str(c))] + [len(display(r.get(c))) for r in rows[:200]])
            ws.column_dimensions[letter].width = min(max(width + 2, 8), 40)
        ws.freeze_panes = "A2"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (str, int, float, bool, datetime, date)) or value is None:
        return value
    return str(value)
