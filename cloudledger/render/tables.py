"""Rows (lists of dicts, already aggregated) to CSV, Markdown, XLSX and JSON.

Money stays exact: CSV and JSON go through the one encoder (:mod:`cloudledger.encode`:
decimals as exact text, ISO dates, LF line ends); Markdown shows money with two decimals;
XLSX stores numbers (the sheet's own float) in a money number format that names the row's
currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudledger import encode

Rows = Sequence[dict[str, Any]]

def plain(value: Any) -> Any:
    """A JSON-ready value: exact decimal text, ISO dates (see :mod:`cloudledger.encode`)."""
    return encode.jsonable(value)


def to_csv(rows: Rows, columns: Sequence[str]) -> str:
    return encode.to_csv(rows, columns)


def to_json(rows: Rows, columns: Sequence[str]) -> str:
    """A JSON list of row objects; decimals as exact strings."""
    return encode.to_json([{c: r.get(c) for c in columns} for r in rows])


def display(value: Any) -> str:
    """Human text for one cell: money with thousands separators and 2 decimals."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        if value == 0 or abs(value) >= Decimal("0.005") or not value.is_finite():
            return f"{value:,.2f}"
        return encode.decimal_text(value)  # a sub-cent amount: every digit, no exponent
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(plain(value))


def number_text(value: float) -> str:
    """A float (a percentage, a ratio) for people: ``12.5``, ``0.8234``, ``1,234.57``;
    never exponent notation."""
    import math

    if not math.isfinite(value):
        return ""
    if abs(value) >= 100:
        return f"{value:,.2f}"
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


#: Decimal columns that are not money (XLSX shows them as plain numbers).
NOT_MONEY = frozenset({"days"})


def is_money(column: str, rows: Rows) -> bool:
    """A column of decimals that are amounts (not ``days`` or a ``*Quantity``)."""
    return (column not in NOT_MONEY and not column.endswith("Quantity")
            and any(isinstance(r.get(column), Decimal) for r in rows))


def money_format(currency: Any) -> str:
    """The XLSX number format of an amount in ``currency``: ``#,##0.00 "USD"``."""
    code = str(currency or "").replace('"', "")
    return f'#,##0.00 "{code}"' if code and code != "(none)" else "#,##0.00"


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
    """One worksheet per entry (name -> (columns, rows)); header row bold and frozen.

    Amounts are numbers (Excel's own float) in a money format naming the row's
    ``currency`` (``#,##0.00 "USD"``); ``*_pct`` columns are numbers in percent."""
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
            if is_money(c, rows):
                for cell, r in zip(ws[letter][1:], rows, strict=True):
                    cell.number_format = money_format(r.get("currency"))
            elif c.endswith("_pct"):
                for cell in ws[letter][1:]:
                    cell.number_format = "0.00"
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
