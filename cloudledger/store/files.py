"""File fingerprints: the sha256 that identifies a file already loaded.

A load asks for its files' digests at the start (``prefetch``) and reads them when it
writes ``ingest_log``: the hashing (about 2 GB/s) runs on a background thread meanwhile,
mostly while the engine leaves a core idle, instead of before the load starts.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

_Key = tuple[str, int, int]
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cloudledger-sha256")
_pending: dict[_Key, Future[str]] = {}
_lock = threading.Lock()


def _key(path: Path) -> _Key:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes (cached per path, size and modification time)."""
    key = _key(path)
    with _lock:
        pending = _pending.pop(key, None)
    return pending.result() if pending is not None else _sha256(*key)


def prefetch(paths: Iterable[Path]) -> None:
    """Start hashing ``paths`` (files only) in the background; ``sha256_of`` waits for it."""
    with _lock:
        for p in paths:
            if p.is_file():
                key = _key(p)
                if key not in _pending:
                    _pending[key] = _pool.submit(_sha256, *key)


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
def prefetched(paths: list[Path]) -> Iterator[None]:
    """``prefetch`` for the length of a load; whatever it did not use is discarded."""
    prefetch(paths)
    try:
        yield
    finally:
        discard(paths)


@functools.lru_cache(maxsize=4096)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h, buf = hashlib.sha256(), bytearray(1 << 22)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:  # one reused buffer: no copy per chunk
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()
