"""Reading export files as bytes and text on the error path and for sniffing: compression
by magic bytes, the strictly decoded first line (encoding, BOM, binary, over-long line),
truncated compressed streams, and mapping engine positions to physical line numbers.

Nothing here reads billing rows for the load; the engine does (``files.read_csv``).
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path
from typing import IO

from cloudledger.errors import FormatError


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


def engine_compression(path: Path) -> str:
    """DuckDB's ``compression=`` for a file, from its first bytes rather than its name (a
    gzip file named .csv reads; a plain file named .gz too)."""
    kind = compression(path)
    if kind == "zip":
        raise FormatError("a zip archive: this format is read from plain, gzip or zstd "
                          "files only", where=str(path),
                          hint="unzip it and ingest the extracted file or folder")
    return kind or "none"


def open_binary(path: Path) -> IO[bytes]:
    """Byte stream of a plain, gzip, zstd or single-member zip file (decompressed)."""
    kind = compression(path)
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # noqa: SIM115
    if kind == "zstd":
        import zstandard

        stream = path.open("rb")  # noqa: SIM115 - closed with the reader
        return zstandard.ZstdDecompressor().stream_reader(stream)  # type: ignore[return-value]
    if kind == "zip":
        import zipfile

        zf = zipfile.ZipFile(path)
        members = [n for n in zf.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise FormatError(f"zip archive holds {len(members)} files; cloudledger reads a "
                              "zip with exactly one", where=str(path),
                              hint="unzip it and ingest the directory")
        return zf.open(members[0])
    return path.open("rb")


def open_text(path: Path, errors: str = "replace") -> IO[str]:
    """Text stream of a plain, gzip, zstd or single-member zip file (BOM stripped).

    ``errors="replace"`` (the default, for sniffing) never fails on a byte that is not
    UTF-8; ``header_line`` checks the encoding of the first line strictly and the engine
    checks every other line (``INVALID ENCODING``)."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors=errors,
                            newline="")

#: A header line longer than this is not a header (a file that is one huge line).
MAX_HEADER_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
_CONVERT = ("convert it to UTF-8 and ingest again, e.g. `iconv -f {enc} -t UTF-8 FILE > "
            "FILE.utf8.csv`; nothing was loaded")


def guess_encoding(data: bytes) -> str:
    """A human name for the 8-bit encoding of ``data`` that is not UTF-8 (error path)."""
    if any(0x80 <= b <= 0x9F for b in data):
        return "Windows-1252 (cp1252)"
    try:
        data.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return "an unknown 8-bit encoding"
    return "Latin-1/cp1252"


def not_utf8(path: Path, line: int, data: bytes) -> FormatError:
    enc = guess_encoding(data)
    iconv = "CP1252" if "1252" in enc else "LATIN1"
    return FormatError(f"the file is not UTF-8 (looks like {enc}), line {line}",
                       where=f"{path}, line {line}", hint=_CONVERT.format(enc=iconv))


def _head(path: Path, size: int) -> bytes:
    try:
        with open_binary(path) as f:
            return f.read(size)
    except FormatError:
        raise
    except Exception as e:  # gzip/zlib/zstandard/zipfile raise their own error types
        broken = truncated(path)
        raise FormatError(broken or f"cannot read the file: {e}", where=str(path),
                          hint="the file may be truncated or not compressed as named; "
                               "download it again; nothing was loaded") from e


def header_line(path: Path) -> str:
    """The first line of a text file, decoded strictly as UTF-8 (one BOM stripped).

    FormatError for what is not a delimited UTF-8 text file: empty, truncated
    compression, UTF-16/32, binary, a second byte-order mark, a first line longer than
    ``MAX_HEADER_BYTES``, bytes that are not UTF-8."""
    raw = _head(path, MAX_HEADER_BYTES + 1)
    if not raw.strip():
        broken = truncated(path) if path.stat().st_size > 0 else None
        if broken:
            raise FormatError(broken, where=str(path),
                              hint="download the file again; nothing was loaded")
        raise FormatError("the file is empty (no header line)", where=f"{path}, line 1",
                          hint="export the report again; an empty export has no header")
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        raise FormatError("the file is UTF-32 encoded, not UTF-8", where=str(path),
                          hint=_CONVERT.format(enc="UTF-32"))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("the file is UTF-16 encoded, not UTF-8", where=str(path),
                          hint=_CONVERT.format(enc="UTF-16"))
    probe = raw[:64]
    if len(probe) >= 8 and (probe[1::2].count(0) >= len(probe) // 2 - 1
                            or probe[0::2].count(0) >= len(probe) // 2 - 1):
        order = "LE" if probe[1::2].count(0) > probe[0::2].count(0) else "BE"
        raise FormatError(f"the file is UTF-16 encoded ({order}, no byte-order mark), not "
                          "UTF-8", where=str(path), hint=_CONVERT.format(enc=f"UTF-16{order}"))
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
        if raw.startswith(_BOM):
            raise FormatError("the file starts with a second UTF-8 byte-order mark (two "
                              "files joined together?)", where=f"{path}, line 1",
                              hint="remove the extra bytes EF BB BF at the start; nothing "
                                   "was loaded")
    ends = [i for i in (raw.find(b"\n"), raw.find(b"\r")) if i >= 0]
    end = min(ends) if ends else len(raw)
    if end > MAX_HEADER_BYTES:
        raise FormatError(f"the first line is longer than {MAX_HEADER_BYTES:,} bytes, so it "
                          "is not a CSV header", where=f"{path}, line 1",
                          hint="check that this is the export (not a single-line dump or a "
                               "binary file); nothing was loaded")
    first = raw[:end]
    if b"\x00" in first or b"\x00" in raw[:4096]:
        raise FormatError("a binary file, not delimited text", where=str(path),
                          hint="cloudledger reads CSV (plain, gz, zstd, zip), Parquet and JSON")
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError:
        raise not_utf8(path, 1, first) from None

def truncated(path: Path) -> str | None:
    """Why a compressed file cannot be read to its end, or None (error path only)."""
    kind = compression(path)
    if kind not in ("gzip", "zstd"):
        return None
    if kind == "zstd":
        broken = zstd_incomplete(path)
        if broken:
            return broken
    try:
        with open_binary(path) as f:
            while f.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as e:
        return f"the {kind} stream is truncated or corrupt ({e})"
    except Exception as e:  # zstandard raises its own error type
        return f"the {kind} stream is truncated or corrupt ({e})"
    return None


def zstd_incomplete(path: Path) -> str | None:
    """Why a zstd file is cut short, from its frame and block headers alone (cheap: one
    seek per block, no decompression), or None. DuckDB reads a truncated zstd stream as if
    it ended there, so this is checked before a load."""
    import struct

    size = path.stat().st_size
    with path.open("rb") as f:
        pos = 0
        while pos < size:
            f.seek(pos)
            magic = f.read(4)
            if len(magic) < 4:
                return "the zstd stream is truncated (it ends inside a frame header)"
            number = struct.unpack("<I", magic)[0]
            if 0x184D2A50 <= number <= 0x184D2A5F:  # skippable frame
                skip = f.read(4)
                if len(skip) < 4:
                    return "the zstd stream is truncated (it ends inside a frame header)"
                pos += 8 + struct.unpack("<I", skip)[0]
                continue
            if number != 0xFD2FB528:
                return f"the zstd stream is corrupt (no frame starts at byte {pos})"
            descriptor = f.read(1)
            if not descriptor:
                return "the zstd stream is truncated (it ends inside a frame header)"
            d = descriptor[0]
            single = bool(d & 0x20)
            fcs = {0: 1 if single else 0, 1: 2, 2: 4, 3: 8}[d >> 6]
            header = 5 + (0 if single else 1) + {0: 0, 1: 1, 2: 2, 3: 4}[d & 3] + fcs
            pos += header
            while True:
                f.seek(pos)
                block = f.read(3)
                if len(block) < 3:
                    return "the zstd stream is truncated (it ends inside a block)"
                value = int.from_bytes(block, "little")
                kind, length = (value >> 1) & 3, value >> 3
                pos += 3 + (1 if kind == 1 else length)
                if pos > size:
                    return "the zstd stream is truncated (it ends inside a block)"
                if value & 1:
                    break
            pos += 4 if d & 0x04 else 0
            if pos > size:
                return "the zstd stream is truncated (it ends before its checksum)"
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


def physical_lines(path: Path, offsets: list[int]) -> dict[int, int]:
    """Line number (1-based) at each byte offset of the decompressed file (error path).

    DuckDB's rejects name a record's logical line, which does not count the line breaks
    inside quoted fields; the byte offset it gives does locate the physical line."""
    wanted = sorted(set(offsets))
    out: dict[int, int] = {}
    if not wanted:
        return out
    lines, pos, i = 1, 0, 0
    with open_binary(path) as f:
        while i < len(wanted):
            chunk = f.read(1 << 20)
            if not chunk:
                break
            while i < len(wanted) and wanted[i] <= pos + len(chunk):
                out[wanted[i]] = lines + chunk.count(b"\n", 0, wanted[i] - pos)
                i += 1
            lines += chunk.count(b"\n")
            pos += len(chunk)
    for o in wanted[i:]:
        out[o] = lines
    return out


def record_lines(path: Path, ncols: int, wanted: set[int], rejected: set[int],
                 delimiter: str = ",") -> dict[int, tuple[int, list[str]]]:
    """Physical first line and fields of the k-th well-formed record (k in ``wanted``,
    1-based, as the engine numbers them when it skips the ``rejected`` lines), from a
    Python CSV scan that stops after the last wanted record (error path only)."""
    out: dict[int, tuple[int, list[str]]] = {}
    if not wanted:
        return out
    last = max(wanted)
    k = 0
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        start = 1
        for i, row in enumerate(reader):
            first, start = start, reader.line_num + 1
            if i == 0 or not row or first in rejected or len(row) != ncols:
                continue  # header, blank line, or a record the engine set aside
            k += 1
            if k in wanted:
                out[k] = (first, row)
                if k >= last:
                    break
    return out


def line_endings(path: Path) -> tuple[str, int, str] | None:
    """(first line ending, first line that ends otherwise, its ending) when a file mixes
    CRLF, LF and CR line ends, else None (error path only; quotes are not considered)."""
    import re

    names = {b"\r\n": "CRLF (\\r\\n)", b"\n": "LF (\\n)", b"\r": "CR (\\r)"}
    other = {b"\r\n": re.compile(rb"(?<!\r)\n|\r(?!\n)"),
             b"\n": re.compile(rb"\r"), b"\r": re.compile(rb"\n")}
    first: bytes | None = None
    lines = 1
    carry = b""
    with open_binary(path) as f:
        while chunk := f.read(1 << 20):
            data = carry + chunk
            cut = len(data) - 1 if data.endswith(b"\r") else len(data)  # CR|LF split
            data, carry = data[:cut], data[cut:]
            if first is None:
                m = re.search(rb"\r\n|\n|\r", data)
                if m is None:
                    continue
                first = m.group()
            hit = other[first].search(data)
            if hit:
                before = data[:hit.start()]
                line = lines + (before.count(b"\n") if first != b"\r" else before.count(b"\r"))
                end = data[hit.start():hit.start() + 2]
                end = b"\r\n" if end == b"\r\n" else end[:1]
                return names[first], line, names[end]
            lines += data.count(b"\n") if first != b"\r" else data.count(b"\r")
    return None
