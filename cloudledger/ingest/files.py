"""Finding export files and exposing them to the engine as (lazy) tables.

Readers never pull rows into Python: a CSV becomes an engine view over the file (DuckDB's
``read_csv`` or Spark's CSV source) with every column as text; Parquet and JSON keep their
types. Headers are sniffed here (first line only) so the engine skips its own guessing.
"""

from __future__ import annotations

import contextvars
import csv
import glob
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from cloudledger.engine import literal, literal_list
from cloudledger.errors import FormatError, InputError
from cloudledger.ingest.spark_files import parquet_nanos, spark_csv, spark_parquets
from cloudledger.ingest.textfile import (
    MAX_HEADER_BYTES,
    compression,
    engine_compression,
    first_bad_line,
    guess_encoding,
    header_line,
    line_endings,
    not_utf8,
    open_binary,
    open_text,
    physical_lines,
    record_lines,
    truncated,
    zstd_incomplete,
)

__all__ = ["MAX_HEADER_BYTES", "columns_of", "compression", "csv_call", "engine_compression",
           "expand",
           "first_bad_line", "guess_encoding", "header_line", "line_endings", "not_utf8",
           "open_binary", "open_text", "physical_lines", "read_csv", "read_ndjson",
           "read_parquet", "record_lines", "sniff_header", "sniff_json", "truncated",
           "zstd_incomplete"]

#: Set by ``ingest.read_source`` for a load with --allow-bad-rows: ``read_csv`` then sets
#: malformed records aside here (as ``bad_rows.Bad``) instead of failing the load.
SET_ASIDE: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "cloudledger_set_aside", default=None)
TEXT_SUFFIXES = (".csv", ".csv.gz", ".csv.zst", ".gz", ".zst", ".txt", ".tsv", ".zip")
_counter = itertools.count()


def expand(paths: list[str | Path]) -> list[Path]:
    """Files named by paths, directories (recursively) and globs, sorted, de-duplicated.

    An entry that cannot be read as a file (a broken symbolic link, a named pipe, a file
    without read permission) is an error, never skipped: a silently missing file is a
    silently missing month of costs."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        if text.startswith(("http://", "https://")):
            out.append(fetch(text))
        elif any(ch in text for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"no file matches {text!r}", hint="check the pattern")
            out.extend(readable(m) for m in matches if not m.is_dir())
        elif Path(text).is_dir():
            try:
                entries = sorted(f for f in Path(text).rglob("*") if not f.is_dir()
                                 and not f.name.startswith("."))
            except OSError as e:
                raise InputError(f"cannot list the directory: {e.strerror or e}",
                                 where=str(getattr(e, "filename", None) or text),
                                 hint="check the directory's permissions") from e
            out.extend(readable(f) for f in entries)
        elif Path(text).is_file() or Path(text).is_symlink() or os.path.lexists(text):
            out.append(readable(Path(text)))
        else:
            raise InputError(f"no such file or directory: {text}",
                             hint="check the path (globs like 'exports/*.csv.gz' work)")
    unique: dict[Path, Path] = {}
    for f in out:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def readable(path: Path) -> Path:
    """``path`` if it is a regular file this process can read, else an InputError."""
    if path.is_symlink() and not path.exists():
        raise InputError("a broken symbolic link (its target does not exist)",
                         where=str(path), hint="fix or remove the link, then ingest again; "
                                               "nothing was loaded")
    if not path.is_file():
        kind = "a named pipe" if path.is_fifo() else "a socket" if path.is_socket() else \
            "a device" if path.is_block_device() or path.is_char_device() else "not a file"
        raise InputError(f"not a regular file ({kind})", where=str(path),
                         hint="copy the export to a regular file and ingest that; nothing "
                              "was loaded")
    if not os.access(path, os.R_OK):
        raise InputError("permission denied: cannot read the file", where=str(path),
                         hint="give this user read access (chmod u+r) or remove the file "
                              "from the folder; nothing was loaded")
    return path


def fetch(url: str, timeout: float = 60.0) -> Path:
    """GET ``url`` (an API such as OpenCost's /allocation) into a temporary file."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            body = response.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace").strip()[:300]
        raise InputError(f"the server answered HTTP {e.code}: {detail}", where=url,
                         hint="fix the request (e.g. window=24h) and try again") from e
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"cannot fetch the URL: {getattr(e, 'reason', e)}", where=url,
                         hint="check that the service is running and reachable") from e
    folder = Path(tempfile.gettempdir()) / "cloudledger-fetch"
    folder.mkdir(exist_ok=True)
    target = folder / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"
    target.write_bytes(body)
    return target


def is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


_OTHER_DELIMITERS = {";": "semicolons (';')", "\t": "tabs ('\\t', tab-separated)",
                     "|": "pipes ('|')"}


def sniff_header(path: Path, delimiter: str = ",") -> list[str]:
    """Column names from the first line of a delimited text file."""
    first = header_line(path)
    if not first.strip():
        raise FormatError("the file is empty (no header line)", where=f"{path}, line 1",
                          hint="export the report again; an empty export has no header")
    names = next(csv.reader([first], delimiter=delimiter))
    if delimiter == "," and len(names) <= 2:
        for other, label in _OTHER_DELIMITERS.items():
            if len(next(csv.reader([first], delimiter=other))) >= 3:
                raise FormatError(f"the file is delimited by {label}, not commas",
                                  where=f"{path}, line 1",
                                  hint="export it again as comma-separated CSV (or convert "
                                       "it); nothing was loaded")
    return names


def sniff_json(path: Path) -> Any:
    """The parsed JSON document of a small JSON file (manifests, API responses)."""
    try:
        with open_text(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON: {e.msg}", where=f"{path}, line {e.lineno}, "
                          f"column {e.colno}") from e


def parquet_columns(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(size - 4, 0))
        tail = f.read(4)
    if size < 12 or tail != b"PAR1":
        raise FormatError("the Parquet file is truncated (it has no footer)", where=str(path),
                          hint="download or export the file again; nothing was loaded")
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise FormatError(f"the Parquet file is corrupt (its footer cannot be read: "
                          f"{str(e).splitlines()[0][:200]})", where=str(path),
                          hint="download or export the file again; nothing was loaded") from e


def columns_of(path: Path) -> list[str]:
    return parquet_columns(path) if is_parquet(path) else sniff_header(path)


def iter_lines(path: Path) -> Iterator[str]:
    with open_text(path) as f:
        yield from f


def _view_name() -> str:
    return f"cl_raw_{next(_counter)}"


def _sql_list(files: list[Path]) -> str:
    return literal_list(str(f) for f in files)


def by_compression(files: list[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for f in files:
        groups.setdefault(engine_compression(f), []).append(f)
    return groups


def csv_call(files: list[Path], columns: list[str], *, delimiter: str = ",",
             header: bool = True, quote: str = '"', escape: str = '"',
             null: str | None = None, strict: bool = True,
             types: dict[str, str] | None = None, nulls: tuple[str, ...] | None = None,
             compression: str = "auto", extra: str = "") -> str:
    """The SQL ``read_csv(...)`` call over ``files`` (one compression kind)."""
    types = types or {}
    cols = "{" + ", ".join(f"{literal(c)}: {literal(types.get(c, 'VARCHAR'))}"
                           for c in columns) + "}"
    opts = (f"header={str(header).lower()}, auto_detect=false, columns={cols}, "
            f"delim={literal(delimiter)}, quote={literal(quote)}, escape={literal(escape)}, "
            f"filename='x_cl_file', compression={literal(compression)}")
    if null is not None:
        opts += f", nullstr={literal(null)}"
    elif nulls:
        opts += f", nullstr={literal_list(nulls)}"
    if not strict:
        opts += ", strict_mode=false"
    return f"read_csv({_sql_list(files)}, {opts}{', ' + extra if extra else ''})"


def read_csv(store: Any, files: list[Path], columns: list[str], *, delimiter: str = ",",
             header: bool = True, quote: str = '"', escape: str = '"',
             null: str | None = None, strict: bool = True,
             types: dict[str, str] | None = None,
             nulls: tuple[str, ...] | None = None, extra: str = "") -> ir.Table:
    """Engine table over delimited files that share the header ``columns``: every column
    text, except those ``types`` names (DuckDB type names) which the reader parses itself.

    ``strict=False`` accepts files that mix CRLF and LF line ends (Azure exports do);
    ``nulls`` are the spellings the reader turns into NULL; ``extra`` more read_csv options
    (e.g. ``ignore_errors=true``). Compression is taken from each file's first bytes.

    Under ``--allow-bad-rows`` (``SET_ASIDE`` holds a list) the files are first scanned for
    malformed records (DuckDB rejects: wrong field count, broken quotes, a value the
    reader cannot type); those are added to the list and the view skips them.
    """
    name = _view_name()
    if store.is_spark:
        spark_csv(store.spark, files, columns, header=header, delimiter=delimiter,
                  quote=quote, escape=escape, null=null).createOrReplaceTempView(name)
        return store.con.table(name)
    groups = by_compression(files)

    def calls(more: str) -> list[str]:
        return [csv_call(group, columns, delimiter=delimiter, header=header, quote=quote,
                         escape=escape, null=null, strict=strict, types=types, nulls=nulls,
                         compression=kind, extra=", ".join(x for x in (extra, more) if x))
                for kind, group in groups.items()]

    aside = SET_ASIDE.get()
    if aside is not None and "ignore_errors" not in extra and "store_rejects" not in extra:
        from cloudledger.ingest.bad_rows import read_rejects

        tables = []
        for i, call in enumerate(calls("store_rejects=true, rejects_table='cl_rejects_{n}', "
                                       "rejects_scan='cl_scans_{n}'")):
            n = f"{name}_{i}"
            tables.append(f"cl_rejects_{n}")
            store.con.raw_sql(f"SELECT count(*) FROM {call.replace('{n}', n)}").fetchall()
        found = read_rejects(store, tables)
        if found:  # the load reads the other records; the store keeps these in ingest_errors
            aside.extend(found)
            extra = ", ".join(x for x in (extra, "ignore_errors=true") if x)
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS " +
              " UNION ALL BY NAME ".join(f"SELECT * FROM {c}" for c in calls("")))
    return store.con.table(name)


def read_parquet(store: Any, files: list[Path]) -> ir.Table:
    name = _view_name()
    if store.is_spark and any(parquet_nanos(f) for f in files):
        spark_parquets(store.spark, files).createOrReplaceTempView(name)
    else:
        store.engine.view_parquet(name, [str(f) for f in files])
    return store.con.table(name)


def read_ndjson(store: Any, files: list[Path]) -> ir.Table:
    name = _view_name()
    store.engine.view_ndjson(name, [str(f) for f in files])
    return store.con.table(name)
