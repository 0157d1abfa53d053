"""Allocation: every dollar of ``focus`` on an owner, in table ``allocated``.

    from cloudledger.allocate import allocate, explain
    result = allocate(store, settings)
    explain(store, settings, owner={"team": "payments"}, month="2026-05")
"""

from cloudledger.allocate.engine import AllocationResult, Conservation, allocate
from cloudledger.allocate.explain import Explanation, explain

__all__ = ["AllocationResult", "Conservation", "Explanation", "allocate", "explain"]
