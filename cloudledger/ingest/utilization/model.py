"""The utilization tables and what a read file holds (shared by the readers and the load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

TABLE = "utilization"
OTHER = "utilization_other"
VALUES = ("cpu", "cpu_max", "memory", "network_out")
SCHEMA = pa.schema([("resource_id", pa.string()), ("timestamp", pa.timestamp("us")),
                    ("cpu", pa.float64()), ("cpu_max", pa.float64()),
                    ("memory", pa.float64()), ("network_out", pa.float64()),
                    ("interval_s", pa.int64()), ("source", pa.string())])
OTHER_SCHEMA = pa.schema([("resource_id", pa.string()), ("timestamp", pa.timestamp("us")),
                          ("metric", pa.string()), ("dimensions", pa.string()),
                          ("statistic", pa.string()), ("value", pa.float64()),
                          ("unit", pa.string()), ("source", pa.string())])


@dataclass
class UtilizationFile:
    path: Path
    source: str                  # csv, cloudwatch, azure-monitor
    samples: pa.Table            # SCHEMA (interval_s may be null: filled on load)
    carried: tuple[str, ...]     # the value columns the file has
    other: pa.Table              # OTHER_SCHEMA
    warnings: list[str] = field(default_factory=list)


@dataclass
class UtilizationLoad:
    table: str
    resources: int
    start: datetime | None
    end: datetime | None
    rows: int
    replaced: int
