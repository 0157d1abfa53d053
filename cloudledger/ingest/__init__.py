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

from cloudledger.engine import literal
from cloudledger.errors import CloudledgerError, FormatError, InputError
from cloudledger.ingest import files as fs
from cloudledger.ingest.dedupe import all_loaded, drop_copies
from cloudledger.ingest.registry import SOURCES, Options, Sniff, Source, get, load_all
from cloudledger.store import Frame, LoadReport, Store
from cloudledger.store.files import dropping_unused

__all__ = ["SOURCES", "Options", "detect", "formats", "ingest", "read_frames"]


def sniff(path: Path) -> Sniff:
    if path.stat().st_size == 0:
        raise FormatError("the file is empty", where=str(path),
                          hint="export the report again; a valid export has a header")
    if fs.is_parquet(path):
        return Sniff(path, tuple(fs.parquet_columns(path)))
    if fs.compression(path) == "zstd":
        broken = fs.zstd_incomplete(path)  # DuckDB would read a cut zstd stream silently
        if broken:
            raise FormatError(broken, where=str(path),
                              hint="download the file again; nothing was loaded")
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
        api_error(s)
        from cloudledger import focus

        if len(set(s.columns) & set(focus.NAMES)) >= 6:  # FOCUS with a key column missing
            from cloudledger.ingest.sources.focus import check_columns

            check_columns(list(s.columns), str(path))
        cols = ", ".join(c[:40] for c in s.columns[:8]) + (" ..." if len(s.columns) > 8
                                                            else "")
        raise FormatError(
            "not a billing export cloudledger recognises" + (f" (columns: {cols})" if cols
                                                            else ""),
            where=str(path), hint="pass --source NAME to force a format; known formats: "
            + ", ".join(sorted(SOURCES)))
    return max(hits, key=lambda src: src.priority)


def api_error(s: Sniff) -> None:
    """A JSON document that is an API's error reply, not data: say so, with its message."""
    doc = s.document
    if not isinstance(doc, dict):
        return
    err: dict[str, Any] = doc["error"] if isinstance(doc.get("error"), dict) else doc
    message = err.get("message") or err.get("error_description") or doc.get("error")
    if message and ("error" in doc or "code" in err or "status" in doc) and not any(
            isinstance(v, list) and len(v) > 1 for v in doc.values()):
        code = err.get("code") or doc.get("status") or doc.get("code")
        raise FormatError(f"an API error reply, not billing data: {str(message)[:300]}"
                          + (f" (code {code})" if code else ""), where=f"{s.path}, line 1",
                          hint="fix the request that saved this file (permissions, "
                               "parameters) and save the response again")


def formats() -> list[Source]:
    load_all()
    return sorted(SOURCES.values(), key=lambda s: s.name)


def read_frames(store: Store, paths: list[str | Path], *, fmt: str | None = None,
                options: Options | None = None,
                skipped: list[str] | None = None) -> list[Frame]:
    """Frames (lazy FOCUS rows + source totals) for the files named by ``paths``.

    Byte-identical copies and files already loaded are left out; with ``skipped`` given,
    a warning for each is appended to it (otherwise they are read like any file)."""
    options = options or Options()
    found = fs.expand(paths)
    if not found:
        raise InputError("no files to ingest", where=", ".join(map(str, paths)))
    if skipped is not None:
        found, notes = drop_copies(found)
        skipped.extend(notes)
    groups: dict[str, list[Path]] = {}
    for f in found:
        source = get(fmt) if fmt else detect(f)
        groups.setdefault(source.name, []).append(f)
    frames = []
    for name, group in groups.items():
        done = all_loaded(store, group) if skipped is not None else None
        if done is not None:
            skipped.extend(done)  # type: ignore[union-attr]
            continue
        frames.append(read_source(store, name, group, options, forced=fmt is not None))
    return frames


def read_source(store: Store, name: str, files: list[Path], options: Options, *,
                forced: bool) -> Frame:
    """``SOURCES[name].read``, with what a reader trips over on a file of another format
    (a forced ``--source``) or an engine error while reading turned into a FormatError."""
    import ibis.common.exceptions as ibis_errors

    aside = fs.SET_ASIDE.set([] if options.allow_bad_rows else None)
    try:
        frame: Frame = SOURCES[name].read(store, files, options)
        return with_set_aside(frame, fs.SET_ASIDE.get() or [])
    except CloudledgerError:
        raise
    except (KeyError, AttributeError, ibis_errors.IbisError) as e:
        if not forced:
            raise
        missing = str(e).strip("'\"")
        try:
            actual = detect(files[0]).name
        except CloudledgerError:
            actual = None
        raise FormatError(
            f"cannot read the file as {name}: it has no column {missing!r}",
            where=", ".join(str(f) for f in files[:3]),
            hint=(f"it looks like {actual!r}: drop --source, or pass --source {actual}"
                  if actual and actual != name else "check --source against "
                  "`cloudledger formats`")) from None
    except ENGINE_ERRORS as e:
        raise explain_engine_error(store, [Frame(name, files, None, None)],  # type: ignore[arg-type]
                                   Exception(str(e))) from e
    finally:
        fs.SET_ASIDE.reset(aside)


def with_set_aside(frame: Frame, bad: list[Any]) -> Frame:
    """``frame`` plus the malformed records its CSV reader set aside (--allow-bad-rows)."""
    if not bad:
        return frame
    import ibis
    import pyarrow as pa

    from cloudledger.ingest.parse import union_all

    table = ibis.memtable(pa.table({
        "file": pa.array([b.file for b in bad], pa.string()),
        "line": pa.array([b.line for b in bad], pa.int64()),
        "reason": pa.array([b.reason for b in bad], pa.string()),
        "raw": pa.array([b.raw for b in bad], pa.string())}))
    frame.quarantined = table if frame.quarantined is None else union_all(
        [frame.quarantined, table])
    if frame.rows_in is not None:
        frame.rows_in += len(bad)
    frame.warnings.append(f"{len(bad)} malformed record(s) set aside in table ingest_errors "
                          f"(first: {bad[0].where}); their amounts are not loaded; the raw "
                          "records are kept in ingest_errors.raw")
    return frame


def ingest(store: Store, paths: list[str | Path], *, fmt: str | None = None,
           dry_run: bool = False, allow_bad_rows: bool = False,
           incremental: bool = False, date_format: str | None = None) -> list[LoadReport]:
    """Read, load and reconcile the files; on any error the store is left as it was.

    Each load replaces the (provider, billing account, billing period) scopes it carries
    (``incremental``: only the charge days it carries within them). Files already loaded,
    and byte-identical copies, are skipped with a warning (in the first report's
    ``warnings``; with every file skipped, no report). ``date_format`` (MDY, DMY or a
    strptime pattern) says how FOCUS files write non-ISO dates; without it an ambiguous
    file is an error."""
    from cloudledger.ingest.parse import date_spec

    skipped: list[str] = []
    options = Options(allow_bad_rows=allow_bad_rows,
                      extra={"date_spec": date_spec(date_format)})
    files = fs.expand(paths)
    with dropping_unused(files):  # digests the load asked for and did not use
        frames = read_frames(store, list(files) or paths, fmt=fmt, options=options,
                             skipped=skipped)
        if frames:
            frames[0].warnings[:0] = skipped
        elif skipped:
            raise NothingToLoad(skipped)
        try:  # a frame the engine rejects is read again its slower way (Frame.fallback)
            return store.load_all(frames, dry_run=dry_run, allow_bad_rows=allow_bad_rows,
                                  incremental=incremental)
        except CloudledgerError:
            raise
        except ENGINE_ERRORS as e:  # an engine error while reading: say where it happened
            raise explain_engine_error(store, frames, Exception(str(e))) from e


class NothingToLoad(Exception):
    """Every file named was skipped (already loaded, or a copy); not an error."""

    def __init__(self, warnings: list[str]):
        self.warnings = warnings
        super().__init__("; ".join(warnings))


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
    file = _FILE.search(message)
    line = _LINE.search(message)
    if "not utf-8" in message.lower() or "invalid unicode" in message.lower():
        path = Path(file.group(1)) if file else frames[0].files[0]
        at = int(line.group(1)) if line else 1
        from cloudledger.ingest.bad_rows import _line_bytes

        return fs.not_utf8(path, at, _line_bytes(path, at))
    if "invalid state" in message:  # strict CSV parsing: often mixed line endings
        from cloudledger.ingest.bad_rows import explain_scan_error

        return explain_scan_error([Path(file.group(1))] if file else frames[0].files,
                                  Exception(message))
    if line:
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
            cols = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
            con.raw_sql("SET threads=1")
            try:
                con.raw_sql(
                    f"CREATE TABLE raw AS SELECT row_number() OVER () AS cl_record, * FROM "
                    f"read_csv({literal(str(path))}, header=true, auto_detect=false, "
                    f"columns={cols}, delim=',', quote='\"', escape='\"', parallel=false)")
            except duckdb.Error:
                con.disconnect()
                continue  # not a value: the caller reports the engine's own message
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
