"""Finding export files and exposing them to the engine as (lazy) tables.

Readers never pull rows into Python: a CSV becomes an engine view over the file (DuckDB's
``read_csv`` or Spark's CSV source) with every column as text; Parquet and JSON keep their
types. Headers are sniffed here (first line only) so the engine skips its own guessing.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import itertools
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ibis.expr.types as ir

from cloudledger.errors import FormatError, InputError

TEXT_SUFFIXES = (".csv", ".csv.gz", ".csv.zst", ".gz", ".zst", ".txt", ".tsv", ".zip")
_counter = itertools.count()


def expand(paths: list[str | Path]) -> list[Path]:
    """Files named by paths, directories (recursively) and globs, sorted, de-duplicated."""
    out: list[Path] = []
    for p in paths:
        text = str(p)
        if text.startswith(("http://", "https://")):
            out.append(fetch(text))
        elif any(ch in text for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            if not matches:
                raise InputError(f"no file matches {text!r}", hint="check the pattern")
            out.extend(m for m in matches if m.is_file())
        elif Path(text).is_dir():
            out.extend(sorted(f for f in Path(text).rglob("*")
                              if f.is_file() and not f.name.startswith(".")))
        elif Path(text).is_file():
            out.append(Path(text))
        else:
            raise InputError(f"no such file or directory: {text}",
                             hint="check the path (globs like 'exports/*.csv.gz' work)")
    unique: dict[Path, Path] = {}
    for f in out:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def fetch(url: str, timeout: float = 60.0) -> Path:
    """GET ``url`` (an API such as OpenCost's /allocation) into a temporary file."""
    import hashlib
    import tempfile
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


def compression(path: Path) -> str | None:
    with path.open("rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if magic[:2] == b"PK":
        return "zip"
    return None


def open_text(path: Path) -> IO[str]:
    """Text stream of a plain, gzip, zstd or single-member zip file (BOM stripped)."""
    kind = compression(path)
    raw: IO[bytes]
    if kind == "gzip":
        raw = gzip.open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
    elif kind == "zstd":
        import zstandard

        stream = path.open("rb")  # noqa: SIM115 - closed with the reader
        raw = zstandard.ZstdDecompressor().stream_reader(stream)  # type: ignore[assignment]
    elif kind == "zip":
        import zipfile

        zf = zipfile.ZipFile(path)
        members = [n for n in zf.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise FormatError(f"zip archive holds {len(members)} files; cloudledger reads a "
                              "zip with exactly one", where=str(path),
                              hint="unzip it and ingest the directory")
        raw = zf.open(members[0])
    else:
        raw = path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def is_parquet(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PAR1"


def sniff_header(path: Path, delimiter: str = ",") -> list[str]:
    """Column names from the first line of a delimited text file."""
    try:
        with open_text(path) as f:
            first = f.readline()
    except (OSError, EOFError, zlib.error) as e:
        raise FormatError(f"cannot read the file: {e}", where=str(path),
                          hint="the file may be truncated or not compressed as named; "
                               "download it again") from e
    if "\x00" in first:
        raise FormatError("a binary file, not delimited text", where=str(path),
                          hint="cloudledger reads CSV (plain, gz, zstd, zip), Parquet and JSON")
    if not first.strip():
        raise FormatError("the file is empty (no header line)", where=f"{path}, line 1",
                          hint="export the report again; an empty export has no header")
    return next(csv.reader([first], delimiter=delimiter))


def sniff_json(path: Path) -> Any:
    """The parsed JSON document of a small JSON file (manifests, API responses)."""
    try:
        with open_text(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON: {e.msg}", where=f"{path}, line {e.lineno}, "
                          f"column {e.colno}") from e


def parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(path).names)


def columns_of(path: Path) -> list[str]:
    return parquet_columns(path) if is_parquet(path) else sniff_header(path)


def iter_lines(path: Path) -> Iterator[str]:
    with open_text(path) as f:
        yield from f


def _view_name() -> str:
    return f"cl_raw_{next(_counter)}"


def _sql_list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"


def read_csv(store: Any, files: list[Path], columns: list[str], *, delimiter: str = ",",
             header: bool = True, quote: str = '"', escape: str = '"',
             null: str | None = None, strict: bool = True,
             types: dict[str, str] | None = None,
             nulls: tuple[str, ...] | None = None) -> ir.Table:
    """Engine table over delimited files that share the header ``columns``: every column
    text, except those ``types`` names (DuckDB type names) which the reader parses itself.

    ``strict=False`` accepts files that mix CRLF and LF line ends (Azure exports do);
    ``nulls`` are the spellings the reader turns into NULL.
    """
    types = types or {}
    name = _view_name()
    if store.is_spark:
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(c, StringType()) for c in columns])  # text only
        reader = store.spark.read.option("header", header).option("sep", delimiter).option(
            "quote", quote).option("escape", escape).option("multiLine", True)
        if null is not None:
            reader = reader.option("nullValue", null)
        reader.schema(schema).csv([str(f) for f in files]).createOrReplaceTempView(name)
        return store.con.table(name)
    cols = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': '{types.get(c, 'VARCHAR')}'"
                           for c in columns) + "}"
    opts = (f"header={str(header).lower()}, auto_detect=false, columns={cols}, "
            f"delim='{delimiter}', quote='{quote}', escape='{escape}', "
            f"filename='x_cl_file'")
    if null is not None:
        opts += f", nullstr='{null}'"
    elif nulls:
        opts += ", nullstr=[" + ", ".join(f"'{n}'" for n in nulls) + "]"
    if not strict:
        opts += ", strict_mode=false"
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_csv("
              f"{_sql_list(files)}, {opts})")
    return store.con.table(name)


def read_parquet(store: Any, files: list[Path]) -> ir.Table:
    name = _view_name()
    if store.is_spark:
        store.spark.read.parquet(*[str(f) for f in files]).createOrReplaceTempView(name)
        return store.con.table(name)
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet("
              f"{_sql_list(files)}, union_by_name=true, filename='x_cl_file')")
    return store.con.table(name)


def read_ndjson(store: Any, files: list[Path]) -> ir.Table:
    name = _view_name()
    if store.is_spark:
        store.spark.read.json([str(f) for f in files]).createOrReplaceTempView(name)
        return store.con.table(name)
    store.raw(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_json("
              f"{_sql_list(files)}, format='newline_delimited', union_by_name=true, "
              f"filename='x_cl_file')")
    return store.con.table(name)


def truncated(path: Path) -> str | None:
    """Why a compressed file cannot be read to its end, or None (error path only)."""
    kind = compression(path)
    if kind not in ("gzip", "zstd"):
        return None
    try:
        with open_text(path) as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        return f"the {kind} stream is truncated or corrupt ({e})"
    except Exception as e:  # zstandard raises its own error type
        return f"the {kind} stream is truncated or corrupt ({e})"
    return None


def first_bad_line(path: Path, expected: int, delimiter: str = ",") -> tuple[int, int] | None:
    """(line, fields) of the first record whose field count differs (error path only)."""
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        for _ in reader:
            break
        for row in reader:
            if len(row) != expected and row:
                return reader.line_num, len(row)
    return None
