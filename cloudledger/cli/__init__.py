"""The ``cloudledger`` command line: one command = one library call.

Every command module in this package registers its commands on ``app`` when imported.
Shared conventions (docs/output.md): ``--store PATH`` > ``$CLOUDLEDGER_STORE`` > ``store:``
in ``--config`` > ./cloudledger.duckdb; ``--format table|json|csv`` through one encoder
(decimals as exact strings); exit codes 0 ok, 1 findings, 2 usage, input or engine error.
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
