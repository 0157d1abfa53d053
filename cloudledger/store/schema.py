"""Schemas of the store's bookkeeping tables (``focus`` itself is ``focus.canonical_schema``)."""

from __future__ import annotations

import ibis

LOG_SCHEMA = ibis.schema({
    "ingest_id": "int64", "loaded_at": "timestamp", "source": "string", "files": "string",
    "digests": "string", "rows": "int64", "rows_quarantined": "int64", "rows_replaced": "int64",
    "totals": "string", "focus_version": "string", "outcome": "string",
})
TOTALS_SCHEMA = ibis.schema({
    "ingest_id": "int64", "BillingAccountId": "string", "BillingPeriodStart": "timestamp",
    "BillingCurrency": "string", "metric": "string", "source_total": "decimal(38, 18)",
})
ERRORS_SCHEMA = ibis.schema({
    "ingest_id": "int64", "file": "string", "line": "int64", "reason": "string",
    "raw": "string",
})

#: Scratch tables a killed run can leave behind; dropped when the store is next opened
#: for writing (the tables they would have replaced are untouched until the swap).
SCRATCH_PREFIXES = ("allocated__", "allocate__", "focus__", "metrics__", "source_totals__",
                    "ingest_log__")
