"""Ingest billing exports: detect each file's format, read it into FOCUS rows, load atomically.

    ingest(store, ["exports/"])            -> [LoadReport, ...]
    detect(path)                          -> Source

All files of one call that share a format form one load (one transaction); every load of the
call commits together or not at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cloudledger.errors import CloudledgerError, FormatError, InputError
from cloudledger.ingest import files as fs
from cloudledger.ingest.registry import SOURCES, Options, Sniff, Source, get, load_all
from cloudledger.store import Frame, LoadReport, Store

__all__ = ["SOURCES", "Options", "detect", "formats", "ingest", "read_frames"]


def sniff(path: Path) -> Sniff:
    if path.stat().st_size == 0:
        raise FormatError("the file is empty", where=str(path),
                          hint="export the report again; a valid export has a header")
    if fs.is_parquet(path):
        return Sniff(path, tuple(fs.parquet_columns(path)))
    if path.name.lower().endswith((".json", ".json.gz")):
        head = fs.open_text(path).read(1)
        if head in "[{" and not path.name.lower().endswith(".ndjson"):
            try:
                return Sniff(path, (), fs.sniff_json(path))
            except FormatError:
                pass  # newline-delimited JSON: look at its first record
        first = fs.open_text(path).readline()
        import json

        try:
            return Sniff(path, tuple(json.loads(first)), None)
        except (json.JSONDecodeError, TypeError):
            raise FormatError(f"not valid JSON; it starts with {first.strip()[:120]!r}",
                              where=f"{path}, line 1",
                              hint="a saved error reply of an API? fix the request and save "
                                   "the response again") from None
    return Sniff(path, tuple(fs.sniff_header(path)))


def detect(path: Path) -> Source:
    """The source that reads ``path``, from its header, manifest or document."""
    load_all()
    s = sniff(path)
    hits = [src for src in SOURCES.values() if src.detect(s)]
    if not hits:
        cols = ", ".join(c[:40] for c in s.columns[:8]) + (" ..." if len(s.columns) > 8
                                                            else "")
        raise FormatError(
            "not a billing export cloudledger recognises" + (f" (columns: {cols})" if cols
                                                            else ""),
            where=str(path), hint="pass --format NAME to force a format; known formats: "
            + ", ".join(sorted(SOURCES)))
    return max(hits, key=lambda src: src.priority)


def formats() -> list[Source]:
    load_all()
    return sorted(SOURCES.values(), key=lambda s: s.name)


def read_frames(store: Store, paths: list[str | Path], *, fmt: str | None = None,
                options: Options | None = None) -> list[Frame]:
    """Frames (lazy FOCUS rows + source totals) for the files named by ``paths``."""
    options = options or Options()
    found = fs.expand(paths)
    if not found:
        raise InputError("no files to ingest", where=", ".join(map(str, paths)))
    groups: dict[str, list[Path]] = {}
    for f in found:
        source = get(fmt) if fmt else detect(f)
        groups.setdefault(source.name, []).append(f)
    frames = []
    for name, group in groups.items():
        frames.append(SOURCES[name].read(store, group, options))
    return frames


def ingest(store: Store, paths: list[str | Path], *, fmt: str | None = None,
           dry_run: bool = False, allow_bad_rows: bool = False) -> list[LoadReport]:
    """Read, load and reconcile the files; on any error the store is left as it was."""
    frames = read_frames(store, paths, fmt=fmt,
                         options=Options(allow_bad_rows=allow_bad_rows))
    try:
        return store.load_all(frames, dry_run=dry_run, allow_bad_rows=allow_bad_rows)
    except CloudledgerError:
        raise
    except ENGINE_ERRORS as e:  # an engine error while reading: say where it happened
        if not any(f.fallback for f in frames):
            raise explain_engine_error(store, frames, Exception(str(e))) from e
    # a fast path met a value it cannot take: read those files the lenient way
    frames = [f.fallback() if f.fallback else f for f in frames]
    try:
        return store.load_all(frames, dry_run=dry_run, allow_bad_rows=allow_bad_rows)
    except CloudledgerError:
        raise
    except ENGINE_ERRORS as e:
        raise explain_engine_error(store, frames, Exception(str(e))) from e


def _engine_errors() -> tuple[type[BaseException], ...]:
    import duckdb

    errors: list[type[BaseException]] = [duckdb.Error]
    try:
        from pyspark.errors import PySparkException

        errors.append(PySparkException)
        from py4j.protocol import Py4JJavaError

        errors.append(Py4JJavaError)
    except ImportError:
        pass
    return tuple(errors)


ENGINE_ERRORS = _engine_errors()
_LINE = re.compile(r"CSV Error on Line: (\d+)")
_FILE = re.compile(r"file = (\S+)")


def explain_engine_error(store: Store, frames: list[Frame], error: Exception) -> InputError:
    """Turn an engine exception during a load into an InputError naming file/line/column."""
    message = str(error)
    first = message.splitlines()[0] if message else type(error).__name__
    for frame in frames:
        for path in frame.files:
            broken = fs.truncated(path)
            if broken:
                return FormatError(broken, where=str(path),
                                   hint="download the file again; nothing was loaded")
    line = _LINE.search(message)
    if line:
        file = _FILE.search(message)
        detail = next((ln.strip() for ln in message.splitlines()
                       if ln.startswith("Expected Number of Columns")), first)
        return FormatError(f"malformed CSV record: {detail}",
                           where=f"{file.group(1) if file else frames[0].files[0]}, line "
                                 f"{line.group(1)}",
                           hint="fix or re-export the file; nothing was loaded")
    if "GZIP" in message or "zstd" in message.lower() or "compressed" in message.lower():
        return FormatError(f"cannot decompress: {first}",
                           where=", ".join(str(f) for f in frames[0].files[:3]),
                           hint="the file is truncated or corrupt; download it again")
    located = locate_bad_value(frames)
    if located:
        return located
    return FormatError(first, where=", ".join(str(f) for f in frames[0].files[:3]),
                       hint="nothing was loaded; check the file against `cloudledger "
                            "formats`")


def locate_bad_value(frames: list[Frame]) -> InputError | None:
    """Find the first value that cannot be parsed (error path: re-reads files one by one)."""
    import duckdb
    import ibis

    from cloudledger import focus
    from cloudledger.ingest.parse import try_parse_failed

    for frame in frames:
        for path in frame.files:
            if fs.is_parquet(path):
                continue
            try:
                header = fs.sniff_header(path)
            except FormatError as e:
                return e
            con = ibis.duckdb.connect()
            cols = "{" + ", ".join(f"'{c.replace(chr(39), chr(39) * 2)}': 'VARCHAR'"
                                   for c in header) + "}"
            con.raw_sql("SET threads=1")
            con.raw_sql(
                f"CREATE TABLE raw AS SELECT row_number() OVER () AS cl_record, * FROM "
                f"read_csv('{path}', header=true, auto_detect=false, columns={cols}, "
                f"delim=',', quote='\"', escape='\"', parallel=false)")
            raw = con.table("raw")
            for name in header:
                column = focus.BY_NAME.get(name)
                if column is None or column.kind in ("string", "json"):
                    continue
                bad = raw.filter(try_parse_failed(raw[name], column.kind)).select(
                    "cl_record", value=raw[name]).limit(1)
                try:
                    hit = con.to_pyarrow(bad).to_pylist()
                except duckdb.Error:
                    continue
                if hit:
                    rec = hit[0]
                    return FormatError(
                        f"column {name} holds {rec['value']!r}, not a {column.kind}",
                        where=f"{path}, line {rec['cl_record'] + 1}, column {name}",
                        hint="fix the value or re-export the file; nothing was loaded")
            con.disconnect()
    return None


def source_for(name: str) -> Any:
    return get(name)
