"""What every command shares: the Typer app, --store/--format options, output, errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from cloudledger import encode
from cloudledger.errors import CloudledgerError, InputError, RunError

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
    "--store", help="DuckDB store file (default: $CLOUDLEDGER_STORE, else `store:` in the "
                    "config, else ./cloudledger.duckdb)")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="settings file (default: ./cloudledger.yaml if present)")]
FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", help="output: table, json (a list of row objects; decimals as exact "
                           "strings) or csv")]


def rows_of(data: pa.Table | Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return data.to_pylist() if isinstance(data, pa.Table) else list(data)


def _cell(value: Any) -> str:
    """Human text of one table cell (JSON and CSV use :mod:`cloudledger.encode`)."""
    from cloudledger.render.tables import display

    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.hour or value.minute else \
            value.strftime("%Y-%m-%d")
    if isinstance(value, (list, dict)):
        return encode.to_json(value, indent=None)
    return display(value)


def emit(data: pa.Table | Sequence[dict[str, Any]], fmt: OutputFormat,
         title: str | None = None) -> None:
    """Print rows as a Rich table, JSON (a list of row objects) or CSV.

    The one place command output goes through: JSON and CSV use :mod:`cloudledger.encode`
    (decimals as exact strings, never float; ISO dates; CSV lines end in LF)."""
    rows = rows_of(data)
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    columns = (data.column_names if isinstance(data, pa.Table)
               else list(rows[0]) if rows else [])
    if fmt is OutputFormat.csv:
        sys.stdout.write(encode.to_csv(rows, columns))
        return
    # cells and titles are text, never markup (a tag value "[/prod]" is data)
    table = Table(title=Text(title) if title else None, title_justify="left",
                  header_style="bold")
    for c in columns:
        numeric = any(isinstance(r.get(c), (int, float, Decimal)) and not isinstance(
            r.get(c), bool) for r in rows[:50])
        table.add_column(Text(c), justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*[Text(_cell(r.get(c))) for c in columns])
    out.print(table)


def print_json(data: Any) -> None:
    """Print any JSON document (rows, an object of sections) through the one encoder."""
    sys.stdout.write(encode.to_json(data) + "\n")


def fail(error: CloudledgerError) -> typer.Exit:
    from rich.markup import escape

    where = f"{error.where}: " if error.where else ""
    err.print(f"[bold red]error:[/] {escape(where + error.message)}", highlight=False)
    if error.hint:
        err.print(f"  [yellow]hint:[/] {escape(error.hint)}", highlight=False)
    return typer.Exit(error.exit_code)


def warn(message: str) -> None:
    """``warning: MESSAGE`` on stderr (the message is text, never markup)."""
    from rich.markup import escape

    err.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: turn cloudledger errors, and errors of the engine (DuckDB, Spark), into a
    clear message and exit code 2 (no traceback)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CloudledgerError as e:
            _discard_new_stores()
            raise fail(e) from None
        except Exception as e:
            _discard_new_stores()
            mapped = engine_error(e)
            if mapped is None:
                raise
            raise fail(mapped) from None
        except BaseException:
            _discard_new_stores()
            raise
        finally:
            _new_stores.clear()
    return wrapper


def engine_error(e: BaseException) -> RunError | None:
    """A :class:`RunError` for an error the engine raised (DuckDB, PySpark, Py4J), else None.

    The engine's first line says what went wrong; the hint says what to try."""
    kind = _engine_kind(e)
    if kind is None:
        return None
    name, detail = kind
    first = next((line.strip() for line in str(e).splitlines() if line.strip()),
                 type(e).__name__)
    lower = first.lower()
    if "out of memory" in lower or "outofmemory" in type(e).__name__.lower():
        hint = ("raise the memory limit (CLOUDLEDGER_MEMORY_LIMIT, e.g. 4GB) or free disk "
                "space for spilling; then run the command again")
    elif "no space left" in lower or "disk" in lower:
        hint = "free disk space (DuckDB spills to disk next to the store), then run again"
    elif name == "DuckDB":
        hint = ("loads and allocations are all or nothing: run the command again; if it "
                "fails the same way, report this message")
    else:
        hint = "check the Spark session and its driver log, then run the command again"
    return RunError(f"the {name} engine failed ({detail}): {first}", hint=hint)


def _engine_kind(e: BaseException) -> tuple[str, str] | None:
    """("DuckDB" | "Spark", exception class name) if ``e`` comes from an engine."""
    duckdb = sys.modules.get("duckdb")
    if duckdb is not None and isinstance(e, duckdb.Error):
        return "DuckDB", type(e).__name__
    errors = sys.modules.get("pyspark.errors")
    base = getattr(errors, "PySparkException", None) if errors is not None else None
    if base is not None and isinstance(e, base):
        return "Spark", type(e).__name__
    protocol = sys.modules.get("py4j.protocol")
    java = getattr(protocol, "Py4JError", None) if protocol is not None else None
    if java is not None and isinstance(e, java):
        return "Spark", type(e).__name__
    return None


#: Stores this command created (a new --store path); deleted again if the command fails,
#: so a failed first ingest leaves no empty store file behind.
_new_stores: list[Any] = []


def keep_new_stores() -> None:
    """What the command wrote stands even if it exits non-zero from here on (e.g. `run`:
    a failed notify step must not delete the store the ingest step filled)."""
    _new_stores.clear()


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


DEFAULT_STORE = Path("cloudledger.duckdb")


def resolve_store(store: Path | None = None, config: Path | None = None) -> Path:
    """The store path every command uses: ``--store``, else ``$CLOUDLEDGER_STORE``, else
    ``store:`` in the config (``--config``, else ./cloudledger.yaml if present), else
    ./cloudledger.duckdb. Relative paths are relative to the current directory."""
    if store is not None:
        return store
    env = os.environ.get("CLOUDLEDGER_STORE")
    if env:
        return Path(env)
    configured = configured_store(config)
    return Path(configured) if configured else DEFAULT_STORE


def configured_store(config: Path | None) -> str | None:
    """``store:`` of the settings file (only that key is read: a command that needs no
    settings does not fail on the rest of the file). ``--config`` must exist."""
    from cloudledger.config import DEFAULT_CONFIG, parse_yaml, read_config_text

    target = config or DEFAULT_CONFIG
    if not target.exists():
        if config is not None:
            raise InputError(f"no config file at {target}", where="--config",
                             hint="run `cloudledger init` to write a starter file")
        return None
    data, lines = parse_yaml(read_config_text(target), str(target))
    value = data.get("store")
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        line = lines.get(("store",))
        raise InputError("store: must be a file path", where=f"{target}, line {line}"
                         if line else str(target), hint="e.g. store: cloudledger.duckdb")
    return value


def open_store(path: Path | None, *, config: Path | None = None,
               read_only: bool = False, create: bool = False) -> Any:
    """The store the command works on (see :func:`resolve_store`).

    ``read_only``: a missing path is an error (exit 2), never a new empty store. Otherwise
    the store is opened for writing; a missing path is an error too unless ``create``: then
    a new store file is made and deleted again if the command fails."""
    from cloudledger.store import Store

    target = resolve_store(path, config)
    if not create and not read_only and str(target) != ":memory:" and not target.exists():
        raise InputError(f"no store at {target}", hint="run `cloudledger ingest FILE` or "
                         "`cloudledger demo` first, or pass --store PATH")
    st = Store(target, read_only=read_only)
    if create and st.created:
        _new_stores.append(st)
    return st
