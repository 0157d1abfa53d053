"""The one registry pattern: plug-ins (sources, validation rules, recommenders, gate checks)
add themselves by name from a decorator when their module is imported.

    SOURCES = Registry[Source]("format", where="--source",
                               package="cloudledger.ingest.sources",
                               entry_points="cloudledger.sources")
    SOURCES.add("focus", Source(...))      # what a module's decorator does
    SOURCES.find("fcous")                  # InputError: ... did you mean 'focus'?
    SOURCES.load()                         # import the package's modules and the entry points

A registry is a plain ``dict`` (name -> item) that knows where its plug-ins live: every
module of ``package`` whose name does not start with ``_``, the ``modules`` it lists, and the
modules named by the Python entry point group ``entry_points`` (third-party packages). Two
plug-ins with one name are an error, never a silent override.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import pkgutil
from typing import Generic, TypeVar

from cloudledger.errors import InputError

T = TypeVar("T")


class Registry(dict[str, T], Generic[T]):
    def __init__(self, kind: str, *, where: str, package: str | None = None,
                 modules: tuple[str, ...] = (), entry_points: str | None = None) -> None:
        super().__init__()
        self.kind, self.where = kind, where
        self.package, self.modules, self.entry_points = package, modules, entry_points

    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name``; a second, different plug-in with the same name is
        an error."""
        old = self.get(name)
        if old is not None and old != item:
            raise InputError(f"two {self.kind}s are named {name!r}", where=self.where,
                             hint="rename one of them")
        self[name] = item
        return item

    def find(self, name: str) -> T:
        """The plug-in called ``name``, else an InputError with a close match."""
        self.load()
        if name not in self:
            close = difflib.get_close_matches(name, list(self), n=1)
            raise InputError(f"unknown {self.kind} {name!r}", where=self.where,
                             hint=(f"did you mean {close[0]!r}? " if close else "")
                             + f"known {self.kind}s: {', '.join(sorted(self))}")
        return self[name]

    def load(self) -> Registry[T]:
        """Import every plug-in module (built in, then entry points); Python imports each
        module once, so a second call only looks for newly installed entry points."""
        names = list(self.modules)
        if self.package:
            pkg = importlib.import_module(self.package)
            names += [f"{self.package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
                      if not m.name.startswith("_")]
        for name in names:
            importlib.import_module(name)
        if self.entry_points:
            for ep in importlib.metadata.entry_points(group=self.entry_points):
                try:
                    ep.load()
                except Exception as e:  # a broken plugin is named, never silently ignored
                    raise InputError(
                        f"the {self.kind} plugin {ep.name!r} ({ep.value}) failed to load: {e}",
                        where=f"entry point group {self.entry_points}",
                        hint="fix or uninstall that package") from e
        return self
