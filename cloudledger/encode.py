"""One encoder for every machine-readable output (JSON, CSV) of every command.

    encode(Decimal("2252143.986302126800"))   # '2252143.9863021268'  (exact text, never float)
    encode(Decimal("6.183E-15"))             # '0.000000000000006183' (never exponent notation)
    encode(datetime(2026, 5, 1))             # '2026-05-01T00:00:00'
    to_json(rows)                            # json text; decimals as exact strings
    to_csv(rows, columns)                    # CSV text, LF line ends

Conventions (docs/output.md):

- Money and every other decimal leaves as an exact string in fixed-point notation, trailing
  zeros trimmed to at least two decimals (``110.000000000000`` -> ``"110.00"``,
  ``1.234500000000`` -> ``"1.2345"``). A decimal never passes through float.
- Dates and datetimes are ISO 8601 (``2026-05-01``, ``2026-05-01T00:00:00``).
- Percentages are numbers in percent (``12.5`` means 12.5 %) in columns named ``*_pct``.
- A float that is NaN or infinite is ``null`` in JSON and empty in CSV.
- CSV: one header row, comma separated, LF line ends, empty cell for NULL, ``true`` /
  ``false`` for booleans, JSON text for lists and objects.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

__all__ = ["csv_cell", "decimal_text", "encode", "jsonable", "to_csv", "to_json"]


def decimal_text(value: Decimal) -> str:
    """Exact fixed-point text: ``110.000000000000`` -> ``110.00``, ``1.2345000`` ->
    ``1.2345``, ``6.183E-15`` -> ``0.000000000000006183``, ``-0.00`` -> ``0.00``."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")
    if "." in text:
        whole, frac = text.split(".")
        text = f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
    else:
        text += ".00"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def encode(value: Any) -> Any:
    """A JSON-ready scalar for ``value``: the ``default=`` of :func:`json.dumps` and the
    cell encoder of CSV. Decimals become exact strings, dates and datetimes ISO text, paths
    text; str, int, bool and None pass through; anything else becomes ``str(value)``."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return encode(value.item())
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` with every nested scalar encoded (floats included: NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    encoded = encode(value)
    if encoded is value or isinstance(encoded, (str, int, float)) or encoded is None:
        return encoded
    return jsonable(encoded)


def to_json(data: Any, *, indent: int | None = 1) -> str:
    """JSON text of ``data`` (rows, an object of sections, ...), decimals as exact strings."""
    return json.dumps(jsonable(data), indent=indent, ensure_ascii=False, allow_nan=False)


def csv_cell(value: Any) -> str:
    """One CSV cell: empty for NULL, exact decimals, ISO dates, lowercase booleans, JSON
    text for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)
    encoded = encode(value)
    return "" if encoded is None else str(encoded)


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text: a header row, then one line per row (LF line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_cell(r.get(c)) for c in columns])
    return buf.getvalue()
