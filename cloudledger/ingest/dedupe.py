"""Files that would count twice, skipped with a warning so re-running an ingest over a
folder of exports is safe:

- a byte-identical copy of another file of the same ingest;
- a group of files (one format) whose exact bytes are all already loaded, with their
  rows still in the store: nothing would change.

A group where some files are new is loaded whole, already-loaded files included: a load
replaces every (provider, account, period) it carries, so leaving a file out would drop
its rows from that scope.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cloudledger.store.files import digest_of, loaded_id


def drop_copies(files: list[Path]) -> tuple[list[Path], list[str]]:
    """``files`` without byte-identical copies (the first one kept), and a warning each.
    Only files that share their size with another are hashed here."""
    sizes = Counter(f.stat().st_size for f in files if f.is_file())
    seen: dict[str, Path] = {}
    keep, warnings = [], []
    for f in files:
        copy = f.is_file() and sizes[f.stat().st_size] > 1
        digest = digest_of(f) if copy else str(f)
        if digest in seen:
            warnings.append(f"{f}: skipped, byte-identical to {seen[digest]} in this ingest "
                            "(it would count twice)")
        else:
            seen[digest] = f
            keep.append(f)
    return keep, warnings


def all_loaded(store: Any, files: list[Path]) -> list[str] | None:
    """A warning per file if every one of ``files`` is already loaded, else None."""
    loaded = store.loaded_files()
    if not loaded:
        return None
    ids = [loaded_id(f, loaded) for f in files]
    if not files or any(i is None for i in ids):
        return None
    return [f"{f}: skipped, these exact bytes are already loaded (ingest {i}); nothing "
            "changed" for f, i in zip(files, ids, strict=True)]
