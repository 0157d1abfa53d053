"""SQL generated once, in DuckDB's dialect, and run on DuckDB or (transpiled with sqlglot)
on Spark. Only aggregates (drivers, totals) come back to Python; rows stay in the engine.

    run = Runner(store)
    run.fetch("SELECT ...")        # -> list of dicts (small results only)
    run.create("t", "SELECT ...")  # CREATE TABLE t AS ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlglot

from cloudledger.config import Match, Settings
from cloudledger.engine import ident, literal
from cloudledger.store import Store

#: Money is multiplied by a share as DECIMAL(22,12) x DECIMAL(15,14): the product fits in 38
#: digits exactly on both engines (Spark would otherwise round it to 9 decimals), which
#: bounds one row's cost at 1e10.
CALC_MONEY = "DECIMAL(22, 12)"
SHARE_TYPE = "DECIMAL(15, 14)"
MONEY = "DECIMAL(38, 12)"
SHARE_PLACES = 14


q = ident  # one quoting function for the whole code base (cloudledger.engine)
lit = literal


def in_list(expr: str, values: str | Iterable[str]) -> str:
    vals = [values] if isinstance(values, str) else list(values)
    if len(vals) == 1:
        return f"{expr} = {lit(vals[0])}"
    return f"{expr} IN ({', '.join(lit(v) for v in vals)})"


class Runner:
    """Runs DuckDB-dialect SQL on the store's engine (``cloudledger.engine``)."""

    def __init__(self, store: Store):
        self.store = store
        self.spark = store.spark
        self.engine = store.engine
        self.dialect = self.engine.dialect

    def text(self, sql: str) -> str:
        if self.spark is None:
            return sql
        return sqlglot.transpile(sql, read="duckdb", write="spark")[0]

    def exec(self, sql: str) -> None:
        self.engine.execute(sql)

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        return self.engine.fetch(sql)

    def create(self, name: str, sql: str) -> None:
        self.engine.create(name, sql)

    def register(self, name: str, table: Any) -> None:
        """Make a small Arrow table (all string columns) queryable as ``name``."""
        self.engine.register(name, table)

    def unregister(self, name: str) -> None:
        self.engine.unregister(name)

    def drop(self, name: str) -> None:
        self.engine.drop(name)

    def rename(self, old: str, new: str) -> None:
        self.engine.swap(old, new)

    def columns(self, table: str) -> list[str]:
        return list(self.store.con.table(table).columns)

    @property
    def row_id(self) -> str:
        """A per-row id of the focus table (DuckDB's rowid; Spark's monotonic id)."""
        return "monotonically_increasing_id()" if self.spark is not None else "f.rowid"

    def json_text(self, column: str, key: str) -> str:
        """The text of a top-level JSON key (NULL when absent or not valid JSON)."""
        path = "$." + json.dumps(key)
        if self.spark is not None:
            if not key.replace("_", "a").isalnum():
                # sqlglot's JSON-path transpile breaks on quotes in a key: look the key up
                # as a plain string in the parsed object instead
                return (f"try_element_at(from_json({column}, 'map<string,string>'), "
                        f"{lit(key)})")
            return f"json_extract_string({column}, {lit(path)})"
        return f"TRY(json_extract_string({column}, {lit(path)}))"


def norm(expr: str) -> str:
    """Trimmed, case-folded, NULL when empty."""
    return f"NULLIF(LOWER(TRIM({expr})), '')"


def trim(expr: str) -> str:
    """Trimmed (case kept), NULL when empty."""
    return f"NULLIF(TRIM({expr}), '')"


def match_sql(match: Match, settings: Settings, tag_columns: dict[str, str],
              owner_prefix: str = "") -> str:
    """One boolean SQL expression for a rule's or pool's ``match`` (TRUE when empty)."""
    parts: list[str] = []

    def col(name: str) -> str:
        return q(name)

    if match.provider is not None:
        parts.append(in_list(col("ProviderName"), match.provider))
    if match.account is not None:
        parts.append("(" + " OR ".join(in_list(col(c), match.account) for c in (
            "BillingAccountId", "BillingAccountName", "SubAccountId", "SubAccountName")) + ")")
    if match.service is not None:
        parts.append(in_list(col("ServiceName"), match.service))
    if match.service_category is not None:
        parts.append(in_list(col("ServiceCategory"), match.service_category))
    if match.region is not None:
        parts.append("(" + in_list(col("RegionId"), match.region) + " OR " +
                     in_list(col("RegionName"), match.region) + ")")
    if match.charge_category is not None:
        parts.append(in_list(col("ChargeCategory"), match.charge_category))
    if match.resource_regex is not None:
        parts.append(f"regexp_matches({col('ResourceId')}, {lit(match.resource_regex)})")
    for key, want in (match.tag or {}).items():
        c = tag_columns[key]
        if want is True:
            parts.append(f"{c} IS NOT NULL")
        elif want is False:
            parts.append(f"{c} IS NULL")
        else:
            values = [want] if isinstance(want, str) else want
            parts.append(in_list(c, [v.strip().lower() for v in values]))
    for name, want in (match.column or {}).items():
        parts.append(in_list(f"CAST({col(name)} AS VARCHAR)", want))
    for dim, want in (match.owner or {}).items():
        parts.append(in_list(col(owner_prefix + dim), want))
    return "(" + " AND ".join(f"COALESCE({p}, FALSE)" for p in parts) + ")" if parts else "TRUE"


def tag_keys(settings: Settings) -> list[str]:
    """Every tag key a rule or pool matches on, in first-seen order."""
    keys: dict[str, None] = {}
    for m in [r.match for r in settings.rules] + [p.match for p in settings.shared]:
        for k in (m.tag or {}):
            keys[k] = None
    return list(keys)
