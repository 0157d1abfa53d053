"""The read surface: SQL text a user typed (``cloudledger sql``, the read API), run as typed,
read-only, bounded in time and rows.

    table = run(store, "SELECT ServiceName, sum(EffectiveCost) FROM focus GROUP BY 1",
                time_limit=30, row_limit=1001)        # pyarrow.Table, names made unique

Three layers, the last one the real lock:

1. A statement check (``check_duckdb`` / ``check_spark``): one statement, and a read:
   SELECT / WITH / FROM / VALUES / DESCRIBE / SHOW / SUMMARIZE / PRAGMA table_info /
   EXPLAIN (of a read). On DuckDB the engine's own parser classifies the text (run on a
   separate, locked in-memory connection), so what is checked is what would run.
2. On a store opened ``read_only``, the DuckDB connection is locked before the first query
   (``lock``): ``enable_external_access=false`` (no local files, URLs, COPY, ATTACH of
   files, extension install or load), ``autoinstall_known_extensions=false``,
   ``autoload_known_extensions=false``, then ``lock_configuration=true`` (no SET of any
   setting). The lock holds for the store's database in this process until it is closed.
   A store opened for writing is not locked (its own loads read files): the check and the
   limits still apply, but open a store ``read_only`` for text you do not trust.
3. A time limit (the connection is interrupted after ``time_limit`` seconds) and a row cap
   (at most ``row_limit`` rows are fetched; the rest of the result is never built).

Spark cannot lock a session's configuration. There the check also refuses file tables
(``csv.`/path```) and JVM calls (``reflect``, ``java_method``), the query runs with
``spark.sql.runSQLOnFiles=false``, and the time limit cancels the query's jobs (a job tag). What the
session can read through catalog tables, it can read here.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cloudledger.errors import InputError

if TYPE_CHECKING:
    from cloudledger.store import Store

DEFAULT_TIME_LIMIT = 30.0
#: What the statement check lets through (for messages and docs).
ALLOWED = ("SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, PRAGMA table_info, "
           "EXPLAIN")
READ_ONLY_HINT = (f"sql runs one read-only query ({ALLOWED}); the store is changed only by "
                  "`cloudledger ingest` and `cloudledger allocate`")
#: DuckDB settings that close the engine to everything but the store's own tables.
LOCKED_SETTINGS = {"enable_external_access": False, "autoinstall_known_extensions": False,
                   "autoload_known_extensions": False}
#: Spark: file tables (``csv.`/etc/passwd```) and JVM calls.
SPARK_FILE_SOURCES = frozenset({"csv", "json", "parquet", "orc", "text", "avro",
                                "binaryfile", "delta", "xml", "hive", "jdbc", "libsvm"})
SPARK_REFUSED_FUNCTIONS = frozenset({"reflect", "java_method", "try_reflect", "read_files"})
_BATCH_ROWS = 100_000


def run(store: Store, text: str, *, time_limit: float | None = DEFAULT_TIME_LIMIT,
        row_limit: int | None = None) -> pa.Table:
    """``text`` run read-only on ``store`` as typed: at most ``row_limit`` rows (None: all),
    stopped after ``time_limit`` seconds (None: no limit). Output column names are made
    unique (``count_star()``, ``count_star()_2``). A refused statement, an engine error and
    the time limit are each an ``InputError`` (exit 2)."""
    if time_limit is not None and time_limit <= 0:
        raise InputError(f"the time limit must be above 0 seconds (got {time_limit:g})",
                         hint="set sql.time_limit in cloudledger.yaml, or --time-limit")
    if row_limit is not None and row_limit < 1:
        raise InputError(f"the row limit must be at least 1 (got {row_limit})",
                         hint="set sql.row_limit in cloudledger.yaml, or --limit")
    if store.is_spark:
        table = _run_spark(store, text, time_limit, row_limit)
    else:
        table = _run_duckdb(store, text, time_limit, row_limit)
    return table.rename_columns(unique_names(table.column_names))


def unique_names(names: Sequence[str]) -> list[str]:
    """Names with repeats numbered: ``a, a, b`` -> ``a, a_2, b``."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        candidate, n = name, 2
        while candidate in seen:
            candidate, n = f"{name}_{n}", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


# ------------------------------------------------------------------------ statement check
_WORD = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/)*([A-Za-z_]+)", re.S)


def _first_word(text: str) -> str:
    m = _WORD.match(text)
    return m.group(1).upper() if m else "?"


def _refuse(kind: str) -> InputError:
    return InputError(f"only read-only queries run here; this statement is {kind}",
                      where="sql", hint=READ_ONLY_HINT)


def _parser() -> Any:
    """A locked in-memory DuckDB connection, used only to classify text (parsing some
    statements, e.g. IMPORT DATABASE, touches files)."""
    import duckdb

    return duckdb.connect(":memory:", config={**LOCKED_SETTINGS, "lock_configuration": True})


def check_duckdb(text: str) -> None:
    """Refuse ``text`` unless it is one read-only DuckDB statement (see module doc)."""
    con = _parser()
    try:
        statements = _statements(con, text)
        if not statements:
            raise InputError("the query is empty", where="sql",
                             hint="e.g. cloudledger sql 'SELECT * FROM focus LIMIT 10'")
        kinds = [s.type.name for s in statements]
        # PIVOT without IN (...) is one statement the parser expands into CREATE TYPE +
        # SELECT, neither with text of its own
        pivot = kinds == ["CREATE", "SELECT"] and not any(s.query for s in statements) \
            and _first_word(text) == "PIVOT"
        if len(statements) > 1 and not pivot:
            raise InputError(f"one statement at a time; the text holds {len(statements)}",
                             where="sql", hint="run them one by one (drop the `;` between)")
        stmt = statements[-1]
        if kinds[-1] == "EXPLAIN":
            inner = re.sub(r"^\s*explain\s+(analy[sz]e\s+)?", "", stmt.query, flags=re.I)
            if inner == stmt.query:
                raise _refuse("EXPLAIN")
            nested = _statements(con, inner)
            if [n.type.name for n in nested] != ["SELECT"]:
                raise _refuse(f"EXPLAIN {_first_word(inner)}")
        elif kinds[-1] != "SELECT":
            raise _refuse(_first_word(stmt.query or text))
    finally:
        con.close()


def _statements(con: Any, text: str) -> list[Any]:
    import duckdb

    try:
        return list(con.extract_statements(text))
    except duckdb.PermissionException as e:
        raise _file_error(e) from None
    except duckdb.Error as e:
        raise InputError(_message(e), where="sql") from None


def check_spark(text: str) -> None:
    """Refuse ``text`` unless it is one read-only Spark statement, with no file table and no
    JVM call (see module doc)."""
    import sqlglot
    import sqlglot.expressions as sge

    try:
        statements = [s for s in sqlglot.parse(text, read="spark") if s is not None]
    except sqlglot.errors.ParseError as e:
        raise InputError(f"cannot parse the query: {str(e).splitlines()[0]}",
                         where="sql") from e
    if not statements:
        raise InputError("the query is empty", where="sql")
    if len(statements) > 1:
        raise InputError(f"one statement at a time; the text holds {len(statements)}",
                         where="sql", hint="run them one by one (drop the `;` between)")
    stmt = statements[0]
    if isinstance(stmt, sge.Command) and str(stmt.this).upper() == "SHOW":
        return
    if not isinstance(stmt, (sge.Query, sge.Describe)):
        raise _refuse(_first_word(text))
    for table in stmt.find_all(sge.Table):
        if table.db.lower() in SPARK_FILE_SOURCES or "/" in table.name:
            raise InputError(f"the query reads a file ({table.db}.`{table.name}`); sql reads "
                             "only the store's tables", where="sql",
                             hint="load files with `cloudledger ingest`")
    for fn in stmt.find_all(sge.Func):
        name = (fn.name if isinstance(fn, sge.Anonymous) else fn.sql_name()).lower()
        if name in SPARK_REFUSED_FUNCTIONS:
            raise InputError(f"the function {name}() is not allowed in sql", where="sql",
                             hint="it reaches outside the store's tables")


# ------------------------------------------------------------------------ DuckDB
def lock(con: Any) -> None:
    """Close a DuckDB connection's database to files, URLs, extensions and setting changes
    (irreversible for that database in this process)."""
    if con.execute("SELECT current_setting('lock_configuration')").fetchone()[0]:
        return
    for name, value in LOCKED_SETTINGS.items():
        con.execute(f"SET {name}={str(value).lower()}")
    con.execute("SET lock_configuration=true")


def _run_duckdb(store: Store, text: str, time_limit: float | None,
                row_limit: int | None) -> pa.Table:
    import duckdb

    check_duckdb(text)
    con = store.con.con  # the DuckDB connection the Ibis backend wraps
    if store.read_only:
        lock(con)
    with _deadline(time_limit, con.interrupt) as expired:
        try:
            reader = con.execute(text).to_arrow_reader(
                min(row_limit or _BATCH_ROWS, _BATCH_ROWS))
            return _take(reader, row_limit)
        except duckdb.PermissionException as e:
            raise _file_error(e) from None
        # an error while batches stream (the interrupt too) comes through Arrow as OSError
        except (duckdb.Error, pa.ArrowException, OSError) as e:
            if expired():
                raise _too_long(time_limit) from None
            raise InputError(_message(e), where="sql",
                             hint=f"tables: {', '.join(sorted(store.tables()))}") from None


def _take(reader: pa.RecordBatchReader, row_limit: int | None) -> pa.Table:
    """At most ``row_limit`` rows from ``reader``; stops reading (and so the query) there."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        if row_limit is not None and rows + batch.num_rows >= row_limit:
            batches.append(batch.slice(0, row_limit - rows))
            break
        batches.append(batch)
        rows += batch.num_rows
    reader.close()
    return pa.Table.from_batches(batches, schema=reader.schema)


# ------------------------------------------------------------------------ Spark
def _run_spark(store: Store, text: str, time_limit: float | None,
               row_limit: int | None) -> pa.Table:
    check_spark(text)
    spark = store.spark
    context = spark.sparkContext
    tag = f"cloudledger-sql-{uuid.uuid4().hex}"
    files = spark.conf.get("spark.sql.runSQLOnFiles", "true")
    spark.conf.set("spark.sql.runSQLOnFiles", "false")
    # a job tag (a local property) reaches the thread that collects Arrow; a session tag
    # (addTag / interruptTag) did not cancel a toArrow() in local mode
    context.addJobTag(tag)
    try:
        with _deadline(time_limit, lambda: context.cancelJobsWithTag(tag)) as expired:
            try:
                df = spark.sql(text)
                if row_limit is not None:
                    df = df.limit(row_limit)
                return df.toArrow()
            except Exception as e:  # Py4J / captured Spark errors: the message is the part
                if expired():
                    raise _too_long(time_limit) from None
                raise InputError(_message(e), where="sql",
                                 hint=f"tables: {', '.join(sorted(store.tables()))}") from None
    finally:
        context.removeJobTag(tag)
        spark.conf.set("spark.sql.runSQLOnFiles", files)


# ------------------------------------------------------------------------ shared
@contextmanager
def _deadline(seconds: float | None, interrupt: Callable[[], Any]) -> Iterator[
        Callable[[], bool]]:
    """Call ``interrupt`` after ``seconds`` unless the block ended; yields ``expired()``."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        interrupt()

    timer = threading.Timer(seconds, fire) if seconds is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield fired.is_set
    finally:
        if timer is not None:
            timer.cancel()


def _too_long(seconds: float | None) -> InputError:
    return InputError(f"the query ran longer than {seconds:g} s and was stopped", where="sql",
                      hint="narrow it (WHERE, LIMIT, fewer joins), or raise the limit: "
                           "sql.time_limit in cloudledger.yaml, or --time-limit SECONDS")


def _file_error(e: Exception) -> InputError:
    detail = re.sub(r"^Permission Error: ", "", _message(e))
    return InputError(f"the query reaches outside the store (a file, URL, database or "
                      f"extension): {detail}", where="sql",
                      hint="sql reads only the store's tables; load files with "
                           "`cloudledger ingest`")


def _message(e: Exception) -> str:
    """The engine's message without its query excerpt (``LINE 1: ...``) or JVM trace."""
    lines = []
    for line in str(e).strip().splitlines():
        if not line.strip():
            continue
        if line.startswith(("LINE ", "JVM stacktrace", "\tat ", "== SQL")):
            break
        lines.append(line.strip())
    return " ".join(lines[:3]) or type(e).__name__
