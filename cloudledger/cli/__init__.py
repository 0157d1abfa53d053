"""The ``cloudledger`` command line: one command = one library call.

Every command module in this package registers its commands on ``app`` when imported.
Shared conventions: ``--store PATH``, ``--format table|json|csv``; exit codes 0 ok,
1 findings, 2 usage or input error.
"""

from __future__ import annotations

import importlib
import pkgutil

from cloudledger.cli.common import app

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "common":
        importlib.import_module(f"cloudledger.cli.{_mod.name}")


def main() -> None:
    app()


__all__ = ["app", "main"]
