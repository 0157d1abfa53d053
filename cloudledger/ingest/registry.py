"""The registry of billing-export sources: one module per format, filled by a decorator.

    @register("focus", "FOCUS 1.0-1.3 CSV or Parquet", detect=looks_like_focus)
    def read(store, files, options) -> Frame: ...

``detect(sniff)`` gets the file's path and column names (or parsed JSON) and says whether
the source can read it; the highest ``priority`` among the sources that say yes wins.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudledger.errors import InputError


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


SOURCES: dict[str, Source] = {}


def register(name: str, description: str, *, detect: Callable[[Sniff], bool],
             priority: int = 0) -> Callable[[Reader], Reader]:
    def wrap(read: Reader) -> Reader:
        SOURCES[name] = Source(name, description, detect, read, priority)
        return read
    return wrap


def get(name: str) -> Source:
    load_all()
    if name not in SOURCES:
        close = difflib.get_close_matches(name, list(SOURCES), n=1)
        raise InputError(f"unknown format {name!r}", where="--source",
                         hint=(f"did you mean {close[0]!r}? " if close else "") +
                         f"known formats: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


#: Entry point group through which other packages add sources: each entry point names a
#: module whose ``@register`` calls run when it is imported, e.g. in a plugin's
#: pyproject.toml ``[project.entry-points."cloudledger.sources"] acme = "acme_cl.source"``.
ENTRY_POINT_GROUP = "cloudledger.sources"


def load_all() -> None:
    """Import every source module (built in, then plugins) so that its @register runs."""
    import importlib
    import importlib.metadata
    import pkgutil

    import cloudledger.ingest.sources as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name.startswith("_"):
            continue  # shared helpers of the source modules, not sources
        importlib.import_module(f"cloudledger.ingest.sources.{mod.name}")
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:  # a broken plugin is named, never silently ignored
            raise InputError(f"the source plugin {ep.name!r} ({ep.value}) failed to load: {e}",
                             where=f"entry point group {ENTRY_POINT_GROUP}",
                             hint="fix or uninstall that package") from e
