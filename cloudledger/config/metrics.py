"""Settings of business metrics (``metrics:``): named usage files for unit economics."""

from __future__ import annotations

from cloudledger.config.base import Strict


class MetricSource(Strict):
    name: str
    file: str
    unit: str | None = None     # e.g. "1k requests"
