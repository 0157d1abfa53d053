"""File fingerprints: sha256 hashed in the background, and copies found by size first."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cloudledger.ingest.dedupe import drop_copies
from cloudledger.store.files import prefetch, sha256_of


def test_a_prefetched_digest_is_the_files_sha256(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.csv" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * (3 << 20))  # several read chunks
    prefetch(files)
    prefetch(files)  # asked twice: hashed once
    for f in files:
        assert sha256_of(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    files[0].write_bytes(b"changed")  # a new size and mtime: hashed again
    assert sha256_of(files[0]) == hashlib.sha256(b"changed").hexdigest()


def test_copies_are_byte_identical_files_not_files_of_one_size(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv", "d.csv"))
    a.write_bytes(b"x,y\n1,2\n")
    b.write_bytes(b"x,y\n1,2\n")  # a copy of a
    c.write_bytes(b"x,y\n1,3\n")  # the same size, other bytes
    d.write_bytes(b"x,y\n10,20\n")
    keep, warnings = drop_copies([a, b, c, d])
    assert keep == [a, c, d]
    assert len(warnings) == 1 and str(b) in warnings[0] and str(a) in warnings[0]


def test_digests_a_failed_load_did_not_use_are_discarded(tmp_path: Path) -> None:
    from cloudledger.store import files as fp

    paths = [tmp_path / f"g{i}.csv" for i in range(4)]
    for i, p in enumerate(paths):
        p.write_bytes(bytes([i + 7]) * (1 << 20))
    try:
        with fp.prefetched(paths):
            raise RuntimeError("the load failed")
    except RuntimeError:
        pass
    assert not any(fp._key(p) in fp._pending for p in paths)
    assert sha256_of(paths[3]) == hashlib.sha256(paths[3].read_bytes()).hexdigest()
