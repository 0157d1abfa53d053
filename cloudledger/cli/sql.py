"""sql: one read-only query on the store, as typed (see docs/sql.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloudledger.cli.common import (
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    err,
    guarded,
    open_store,
)
from cloudledger.errors import InputError

SQL_HELP = """Run one read-only SQL query on the store, as typed.

Tables: focus, allocated, ingest_log, ingest_errors, source_totals (see `SHOW TABLES`,
`DESCRIBE focus`). Allowed: SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE,
PRAGMA table_info, EXPLAIN. The query cannot read files or URLs, attach databases, load
extensions or change settings; it is stopped after sql.time_limit seconds (30) and at most
sql.row_limit rows (1000) are shown.
"""


@app.command(help=SQL_HELP)
@guarded
def sql(
    query: Annotated[str, typer.Argument(help="one read-only query, e.g. 'DESCRIBE focus'")],
    store: StoreOpt = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="settings file (default: ./cloudledger.yaml if present)")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="rows to show at most (default: sql.row_limit, 1000)")] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="seconds before the query is stopped (default: sql.time_limit, "
        "30)")] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    from cloudledger.config import load_settings

    settings = load_settings(config, check=False)
    rows = settings.sql.row_limit if limit is None else limit
    seconds = settings.sql.time_limit if time_limit is None else time_limit
    if rows < 1:
        raise InputError(f"--limit must be at least 1 (got {rows})")
    if seconds <= 0:
        raise InputError(f"--time-limit must be above 0 seconds (got {seconds:g})")
    st = open_store(store or (Path(settings.store) if settings.store else None),
                    read_only=True)
    try:
        table = st.sql(query, time_limit=seconds, row_limit=rows + 1)
    finally:
        st.close()
    if table.num_rows > rows:
        table = table.slice(0, rows)
        err.print(f"showing the first {rows} rows; the query returns more (add a LIMIT, "
                  "or raise --limit / sql.row_limit)", highlight=False)
    emit(table, output)
