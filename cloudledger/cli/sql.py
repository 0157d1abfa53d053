"""sql: one read-only query on the store, as typed (see docs/sql.md)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloudledger.cli.common import (
    ConfigOpt,
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

if TYPE_CHECKING:
    from cloudledger.config import Sql

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
    config: ConfigOpt = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", help="rows to show at most (default: sql.row_limit, 1000)")] = None,
    time_limit: Annotated[float | None, typer.Option(
        "--time-limit", help="seconds before the query is stopped (default: sql.time_limit, "
        "30)")] = None,
    output: FormatOpt = OutputFormat.table,
) -> None:
    settings = sql_settings(config)
    rows = settings.row_limit if limit is None else limit
    seconds = settings.time_limit if time_limit is None else time_limit
    if rows < 1:
        raise InputError(f"--limit must be at least 1 (got {rows})")
    if seconds <= 0:
        raise InputError(f"--time-limit must be above 0 seconds (got {seconds:g})")
    st = open_store(store, config=config, read_only=True)
    try:
        table = st.sql(query, time_limit=seconds, row_limit=rows + 1)
    finally:
        st.close()
    if table.num_rows > rows:
        table = table.slice(0, rows)
        err.print(f"showing the first {rows} rows; the query returns more (add a LIMIT, "
                  "or raise --limit / sql.row_limit)", highlight=False)
    emit(table, output)


def sql_settings(config: Path | None) -> Sql:
    """The ``sql:`` section of the settings file (only that key is checked: a query needs
    no allocation settings)."""
    from cloudledger.config import DEFAULT_CONFIG, Sql, parse_yaml, read_config_text, settings_from

    target = config or DEFAULT_CONFIG
    if not target.exists():
        if config is not None:
            raise InputError(f"no config file at {target}", where="--config",
                             hint="run `cloudledger init` to write a starter file")
        return Sql()
    data, lines = parse_yaml(read_config_text(target), str(target))
    section = {"sql": data["sql"]} if "sql" in data else {}
    return settings_from(section, lines, str(target), check=False).sql
