"""File fingerprints: the digest that identifies a file already loaded.

A fingerprint is ``blake3:<hex>``, BLAKE3 of the file's bytes: a cryptographic hash like
sha256 at about 5 GB/s on one core, where sha256 takes ~0.8 GB/s (7 CPU seconds for a
5.6 GB export, on a machine whose two cores the load itself uses). Stores written before
hold bare sha256 hex; ``loaded_id`` still recognises those files.

A load asks for a frame's fingerprints once its rows are inserted (``prefetch``) and
reads them when it writes ``ingest_log``: the hashing runs on a background thread (BLAKE3
releases the GIL) while the load checks the inserted rows. The insert keeps both cores
busy; the checks of a first load leave one idle (DuckDB scans rows not yet committed on
one thread when the table has none committed).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import blake3

PREFIX = "blake3:"

_Key = tuple[str, int, int]
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudledger-digest")
_pending: dict[_Key, Future[str]] = {}
_lock = threading.Lock()


def _key(path: Path) -> _Key:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def digest_of(path: Path) -> str:
    """``blake3:<hex>`` of a file's bytes (cached per path, size and modification time)."""
    key = _key(path)
    with _lock:
        pending = _pending.pop(key, None)
    return pending.result() if pending is not None else _digest(*key)


def loaded_id(path: Path, loaded: Mapping[str, int]) -> int | None:
    """The ingest id that loaded ``path``'s exact bytes, from ``Store.loaded_files()``;
    a store's older entries (bare sha256) are matched by the file's sha256."""
    if not path.is_file():
        return None
    found = loaded.get(digest_of(path))
    if found is None and any(not d.startswith(PREFIX) for d in loaded):
        found = loaded.get(_legacy_sha256(*_key(path)))
    return found


def prefetch(paths: Iterable[Path]) -> None:
    """Start hashing ``paths`` (files only) in the background; ``digest_of`` waits for it."""
    with _lock:
        for p in paths:
            if p.is_file():
                key = _key(p)
                if key not in _pending:
                    _pending[key] = _pool.submit(_digest, *key)


def discard(paths: Iterable[Path]) -> None:
    """Drop the digests of ``paths`` nobody asked for (a load that failed): those not
    started are cancelled, so the process does not hash them on its way out."""
    with _lock:
        for p in paths:
            if p.is_file():
                pending = _pending.pop(_key(p), None)
                if pending is not None:
                    pending.cancel()


@contextmanager
def dropping_unused(paths: list[Path]) -> Iterator[None]:
    """The length of a load: digests of ``paths`` it asked for and did not use (a load
    that failed) are discarded at the end."""
    try:
        yield
    finally:
        discard(paths)


@functools.lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    return PREFIX + _hash(blake3.blake3(), path, size, mtime_ns)


@functools.lru_cache(maxsize=4096)
def _legacy_sha256(path: str, size: int, mtime_ns: int) -> str:
    """The fingerprint stores written before BLAKE3 hold (asked once per file version)."""
    return _hash(hashlib.sha256(), path, size, mtime_ns)


def _hash(h: Any, path: str, size: int, mtime_ns: int) -> str:
    """Hex digest of ``path`` through ``h`` (one reused buffer: no copy per chunk)."""
    buf = bytearray(1 << 22)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return str(h.hexdigest())
