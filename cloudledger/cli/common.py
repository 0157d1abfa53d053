"""What every command shares: the Typer app, --store/--format options, output, errors."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cloudledger.errors import CloudledgerError

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="cloudledger: every cloud dollar in one FOCUS table, reconciled, "
                       "allocated and explained.")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


StoreOpt = Annotated[Path | None, typer.Option(
    "--store", help="DuckDB store file (default: $CLOUDLEDGER_STORE or ./cloudledger.duckdb)")]
FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", help="output: table, json (a list of row objects) or csv")]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        deep = isinstance(exponent, int) and abs(exponent) > 6
        return float(value) if value == value.to_integral_value() or deep else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return _plain(value)


def rows_of(data: pa.Table | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return data.to_pylist() if isinstance(data, pa.Table) else list(data)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if abs(value) >= Decimal("0.01") or value == 0 else f"{value:.6g}"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.hour or value.minute else \
            value.strftime("%Y-%m-%d")
    return str(value)


def emit(data: pa.Table | Sequence[dict[str, Any]], fmt: OutputFormat,
         title: str | None = None) -> None:
    """Print rows as a Rich table, JSON (a list of row objects) or CSV."""
    rows = rows_of(data)
    if fmt is OutputFormat.json:
        print(json.dumps([{k: _json_value(v) for k, v in r.items()} for r in rows], indent=1))
        return
    columns = (data.column_names if isinstance(data, pa.Table)
               else list(rows[0]) if rows else [])
    if fmt is OutputFormat.csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if r[c] is None else _plain(r[c]) for c in columns])
        sys.stdout.write(buf.getvalue())
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        numeric = any(isinstance(r.get(c), (int, float, Decimal)) for r in rows[:50])
        table.add_column(c, justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*[_cell(r[c]) for c in columns])
    out.print(table)


def fail(error: CloudledgerError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error.where + ': ' if error.where else ''}"
              f"{error.message}", highlight=False, markup=True)
    if error.hint:
        err.print(f"  [yellow]hint:[/] {error.hint}", highlight=False)
    return typer.Exit(error.exit_code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: turn cloudledger errors into a clear message and exit code 2."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudledgerError as e:
            _discard_new_stores()
            raise fail(e) from None
        except BaseException:
            _discard_new_stores()
            raise
        finally:
            _new_stores.clear()
    return wrapper


#: Stores this command created (a new --store path); deleted again if the command fails,
#: so a failed first ingest leaves no empty store file behind.
_new_stores: list[Any] = []


def _discard_new_stores() -> None:
    import contextlib

    for st in _new_stores:
        with contextlib.suppress(Exception):  # best effort, on the error path
            st.discard()


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Callable[..., None]]:
    """A Rich progress bar on stderr (hidden when not a terminal); yields advance(n, desc)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: float = 1, desc: str | None = None) -> None:
            bar.update(task, advance=n, description=desc or description)
        yield advance


def open_store(path: Path | None, *, read_only: bool = False, create: bool = False) -> Any:
    """The store at ``path`` (default: $CLOUDLEDGER_STORE or ./cloudledger.duckdb).

    ``read_only``: a missing path is an error, never a new empty store. ``create``: a new
    store file is made if needed and deleted again if the command then fails."""
    from cloudledger.store import Store

    st = Store(path, read_only=read_only)
    if create and st.created:
        _new_stores.append(st)
    return st
