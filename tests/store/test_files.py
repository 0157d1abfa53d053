"""File fingerprints: BLAKE3 hashed in the background, copies found by size first, and
the sha256 fingerprints of an older store still recognised."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import blake3
import duckdb
import pytest

from cloudledger.ingest import NothingToLoad, ingest
from cloudledger.ingest.dedupe import drop_copies
from cloudledger.store import Store
from cloudledger.store.files import digest_of, prefetch


def blake(data: bytes) -> str:
    return "blake3:" + blake3.blake3(data).hexdigest()


def test_a_prefetched_digest_is_the_files_blake3(tmp_path: Path) -> None:
    files = [tmp_path / f"f{i}.csv" for i in range(3)]
    for i, f in enumerate(files):
        f.write_bytes(bytes([i]) * (3 << 20))  # several read chunks
    prefetch(files)
    prefetch(files)  # asked twice: hashed once
    for f in files:
        assert digest_of(f) == blake(f.read_bytes())
    files[0].write_bytes(b"changed")  # a new size and mtime: hashed again
    assert digest_of(files[0]) == blake(b"changed")


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
        with fp.dropping_unused(paths):
            fp.prefetch(paths)
            raise RuntimeError("the load failed")
    except RuntimeError:
        pass
    assert not any(fp._key(p) in fp._pending for p in paths)
    assert digest_of(paths[3]) == blake(paths[3].read_bytes())


def test_a_store_with_sha256_fingerprints_is_upgraded_and_still_knows_its_files(
        tmp_path: Path) -> None:
    """A store an older cloudledger wrote (``ingest_log.sha256``, bare sha256 hex) opens
    with the column renamed, and the same file again is still found already loaded."""
    csv = tmp_path / "focus.csv"
    csv.write_text(
        "BillingAccountId,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,"
        "ChargePeriodEnd,BilledCost,EffectiveCost,ListCost,ContractedCost,BillingCurrency,"
        "ChargeCategory,ProviderName\n"
        "a1,2025-01-01,2025-02-01,2025-01-03,2025-01-04,1.5,1.5,1.5,1.5,USD,Usage,X\n")
    db = tmp_path / "old.duckdb"
    store = Store(db)
    ingest(store, [csv])
    store.close()
    con = duckdb.connect(str(db))  # what an older version left: the sha256 column
    con.execute("ALTER TABLE ingest_log RENAME COLUMN digests TO sha256")
    con.execute("UPDATE ingest_log SET sha256 = ?",
                [json.dumps([hashlib.sha256(csv.read_bytes()).hexdigest()])])
    con.close()
    store = Store(db)
    [log] = store.ingest_log().to_pylist()
    assert "sha256" not in log and json.loads(log["digests"])[0] == hashlib.sha256(
        csv.read_bytes()).hexdigest()
    with pytest.raises(NothingToLoad, match=r"already loaded \(ingest 1\)"):
        ingest(store, [csv])
    other = tmp_path / "other.csv"
    other.write_text(csv.read_text().replace("1.5", "2.5"))
    ingest(store, [other])
    assert json.loads(store.ingest_log().to_pylist()[-1]["digests"]) == [
        blake(other.read_bytes())]
    store.close()
