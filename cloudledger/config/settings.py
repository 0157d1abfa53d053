"""The one settings object: every area's model under its key of cloudledger.yaml."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PrivateAttr

from cloudledger.config.allocate import (
    Chargeback,
    Commitments,
    Kubernetes,
    Owners,
    Rule,
    SharedPool,
    Tags,
)
from cloudledger.config.base import Strict
from cloudledger.config.metrics import MetricSource
from cloudledger.config.operate import Anomalies, Budget, Notify, Run
from cloudledger.config.sql import Sql


class Settings(Strict):
    store: str | None = None
    owners: Owners = Field(default_factory=Owners)
    tags: Tags = Field(default_factory=Tags)
    rules: list[Rule] = Field(default_factory=list)
    shared: list[SharedPool] = Field(default_factory=list)
    commitments: Commitments = Field(default_factory=Commitments)
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    metrics: list[MetricSource] = Field(default_factory=list)
    chargeback: Chargeback = Field(default_factory=Chargeback)
    sql: Sql = Field(default_factory=Sql)
    anomalies: Anomalies = Field(default_factory=Anomalies)
    budgets: list[Budget] = Field(default_factory=list)
    notify: Notify = Field(default_factory=Notify)
    run: Run = Field(default_factory=Run)
    #: recommender name -> its options (each recommender's own model checks them when it runs)
    optimize: dict[str, dict[str, Any]] = Field(default_factory=dict)

    #: (path in the YAML document) -> line number, for messages; empty for defaults
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _source: str = PrivateAttr(default="settings")

    @property
    def primary(self) -> str:
        """The first owner dimension: what "named owner" means in coverage figures."""
        return self.owners.dimensions[0]

    def where(self, *path: str | int) -> str:
        """``file, line N`` of the deepest known part of ``path`` (for error messages)."""
        for end in range(len(path), 0, -1):
            line = self._lines.get(tuple(path[:end]))
            if line:
                return f"{self._source}, line {line}"
        return self._source
