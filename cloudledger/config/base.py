"""What every settings model shares: strict keys, the reserved owner names."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

DEFAULT_CONFIG = Path("cloudledger.yaml")
UNALLOCATED = "__unallocated__"
SHARED = "__shared__"
IDLE = "__idle__"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
