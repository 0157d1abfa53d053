"""Data quality: FOCUS validation of files and of the store (`validate`) and its rules registry
(`rules`). Reconciliation to source totals belongs to the load itself: `store/reconcile.py`."""
