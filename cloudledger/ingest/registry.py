"""The registry of billing-export sources: one module per format, filled by a decorator.

    @register("focus", "FOCUS 1.0-1.3 CSV or Parquet", detect=looks_like_focus)
    def read(store, files, options) -> Frame: ...

``detect(sniff)`` gets the file's path and column names (or parsed JSON) and says whether
the source can read it; the highest ``priority`` among the sources that say yes wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudledger.registry import Registry


@dataclass(frozen=True)
class Sniff:
    """What detection may look at: the path, its column names and, for JSON, the document."""

    path: Path
    columns: tuple[str, ...] = ()
    document: Any = None


@dataclass(frozen=True)
class Options:
    """Reader options that come from the command line."""

    allow_bad_rows: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


Reader = Callable[[Any, list[Path], Options], Any]  # (Store, files, Options) -> Frame


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    detect: Callable[[Sniff], bool]
    read: Reader
    priority: int = 0


#: Entry point group through which other packages add sources: each entry point names a
#: module whose ``@register`` calls run when it is imported, e.g. in a plugin's
#: pyproject.toml ``[project.entry-points."cloudledger.sources"] acme = "acme_cl.source"``.
ENTRY_POINT_GROUP = "cloudledger.sources"
SOURCES: Registry[Source] = Registry(
    "format", where="--source", package="cloudledger.ingest.sources",
    entry_points=ENTRY_POINT_GROUP)


def register(name: str, description: str, *, detect: Callable[[Sniff], bool],
             priority: int = 0) -> Callable[[Reader], Reader]:
    def wrap(read: Reader) -> Reader:
        SOURCES.add(name, Source(name, description, detect, read, priority))
        return read
    return wrap


def get(name: str) -> Source:
    return SOURCES.find(name)


def load_all() -> None:
    """Import every source module (built in, then plugins) so that its @register runs."""
    SOURCES.load()
