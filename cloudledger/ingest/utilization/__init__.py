"""Utilization metrics (CPU, memory, network per resource and timestamp) for rightsizing.

Three shapes are read, told apart by their content:

- CSV with a header ``resource_id,timestamp`` and one or more of ``cpu`` (average CPU % in
  the sample), ``cpu_max`` (maximum CPU % in the sample), ``memory`` (memory used %),
  ``network_out`` (bytes sent in the sample); timestamps ISO 8601 (an offset is converted
  to UTC) or epoch seconds::

      resource_id,timestamp,cpu,memory,network_out
      i-0abc,2026-05-01T00:00:00Z,12.5,40.1,1830221

- CloudWatch JSON: ``aws cloudwatch get-metric-statistics`` output (``Label``,
  ``Datapoints``; it does not name the instance: pass ``resource=``, ``--resource`` on the
  command line) or ``get-metric-data`` output (``MetricDataResults``; a result's ``Label``
  names the resource and metric, e.g. ``i-0abc CPUUtilization Maximum``, else ``resource=``).
  CPUUtilization Average -> cpu, Maximum -> cpu_max; mem_used_percent / MemoryUtilization
  -> memory; NetworkOut Sum -> network_out.
- Azure Monitor metrics JSON (``az monitor metrics list`` output, the REST response body, or
  the REST example document holding it under ``responses.200.body``): the resource is the
  metric id without ``/providers/Microsoft.Insights/metrics/...``. Percentage CPU average ->
  cpu, maximum -> cpu_max; Available Memory Percentage -> memory (100 - available); Network
  Out Total total -> network_out.

Samples go to table ``utilization`` (resource_id, timestamp, cpu, cpu_max, memory,
network_out, interval_s, source). Metrics rightsizing does not use (e.g. BlobCapacity) go to
``utilization_other`` (resource_id, timestamp, metric, dimensions, statistic, value, unit,
source) so nothing read is dropped silently. Loading is idempotent: for each resource in the
file, the stored samples between its first and last timestamp are replaced in one
transaction (columns the file does not carry are kept). A bad file is rejected with its line
(CSV) or record before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from cloudledger.engine import ident, literal
from cloudledger.errors import FormatError, InputError
from cloudledger.ingest.utilization.csv_file import read_csv
from cloudledger.ingest.utilization.model import (
    OTHER,
    OTHER_SCHEMA,
    SCHEMA,
    TABLE,
    VALUES,
    UtilizationFile,
    UtilizationLoad,
)
from cloudledger.ingest.utilization.monitor import read_json
from cloudledger.store import Store

__all__ = ["OTHER", "TABLE", "UtilizationFile", "UtilizationLoad", "load_utilization",
           "looks_like_utilization", "read_utilization_file", "utilization_summary"]

_SQL_TYPES = {pa.string(): "VARCHAR", pa.timestamp("us"): "TIMESTAMP", pa.float64(): "DOUBLE",
              pa.int64(): "BIGINT"}


def looks_like_utilization(path: Path) -> bool:
    """True for a CloudWatch / Azure Monitor JSON or a CSV whose header has resource_id."""
    try:
        with path.open("rb") as f:
            head = f.read(4096).decode("utf-8-sig", errors="replace")
    except OSError:
        return False
    if path.suffix.lower() == ".json":
        return any(k in head for k in ('"Datapoints"', '"MetricDataResults"', '"timeseries"',
                                       '"responses"'))
    first = head.splitlines()[0].lower() if head.strip() else ""
    cols = [c.strip().strip('"') for c in first.split(",")]
    return "resource_id" in cols and "timestamp" in cols


def read_utilization_file(path: str | Path, *, resource: str | None = None,
                          store: Store | None = None) -> UtilizationFile:
    """Read and check one utilization file (``store`` parses CSVs in its engine)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}", where="metrics load")
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as e:
            raise FormatError(f"not JSON: {e.msg}", where=f"{path}, line {e.lineno}") from None
        except UnicodeDecodeError as e:
            raise FormatError(f"not UTF-8 text ({e.reason})", where=str(path)) from None
        return read_json(path, doc, resource)
    if store is None:
        store = Store(":memory:")
    return read_csv(path, store)


def ensure_tables(store: Store) -> None:
    tables = set(store.tables())
    for name, schema in ((TABLE, SCHEMA), (OTHER, OTHER_SCHEMA)):
        if name not in tables:
            cols = ", ".join(f"{ident(f.name)} {_SQL_TYPES[f.type]}" for f in schema)
            store.engine.execute(f"CREATE TABLE {ident(name)} ({cols})")


def load_utilization(store: Store, path: str | Path, *, resource: str | None = None
                     ) -> tuple[list[UtilizationLoad], list[str]]:
    """Replace, per resource, the stored samples in the file's time range with the file's."""
    uf = read_utilization_file(path, resource=resource, store=store)
    ensure_tables(store)
    loads = []
    if uf.samples.num_rows:
        loads.append(_replace(store, TABLE, uf.samples, ("resource_id",), uf.carried))
    if uf.other.num_rows:
        loads.append(_replace(store, OTHER, uf.other, ("resource_id", "metric"), None))
    return loads, uf.warnings


def _replace(store: Store, table: str, rows: pa.Table, keys: tuple[str, ...],
             carried: tuple[str, ...] | None) -> UtilizationLoad:
    eng, incoming, spans = store.engine, "cl_utilization_incoming", "cl_utilization_spans"
    eng.register(incoming, rows)
    staged = incoming
    try:
        key_list = ", ".join(ident(k) for k in keys)
        eng.register(spans, eng.query(
            f"SELECT {key_list}, min(timestamp) AS cl_start, max(timestamp) AS cl_end "
            f"FROM {ident(incoming)} GROUP BY ALL"))
        t = ident(table)
        where = (f"EXISTS (SELECT 1 FROM {ident(spans)} s WHERE "
                 + " AND ".join(f"s.{ident(k)} = {t}.{ident(k)}" for k in keys)
                 + f" AND {t}.{ident('timestamp')} BETWEEN s.cl_start AND s.cl_end)")
        summary = eng.fetch(f"SELECT count(DISTINCT resource_id) AS n, min(cl_start) AS a, "
                            f"max(cl_end) AS b "
                            f"FROM {ident(spans)}")[0]
        replaced = int(eng.fetch(f"SELECT count(*) AS n FROM {t} WHERE {where}")[0]["n"])
        if carried is not None and set(carried) != set(VALUES) and replaced:
            staged = "cl_utilization_merged"   # keep the stored columns the file lacks
            pick = ", ".join(f"i.{ident(c)}" if c in carried else f"e.{ident(c)}"
                             for c in VALUES)
            merged = eng.query(
                f"SELECT * FROM (SELECT coalesce(i.resource_id, e.resource_id) AS resource_id,"
                f" coalesce(i.timestamp, e.timestamp) AS timestamp, {pick}, "
                f"coalesce(i.interval_s, e.interval_s) AS interval_s, coalesce(i.source, "
                f"e.source) AS source FROM (SELECT * FROM {t} WHERE {where}) e FULL JOIN "
                f"{ident(incoming)} i ON i.resource_id = e.resource_id AND i.timestamp = "
                f"e.timestamp) WHERE " + " OR ".join(f"{ident(c)} IS NOT NULL" for c in VALUES))
            eng.register(staged, merged.cast(SCHEMA))
        eng.replace_rows(table, where, staged)
    finally:
        for name in {incoming, staged, spans}:
            eng.unregister(name)
    return UtilizationLoad(table=table, resources=int(summary["n"]), start=summary["a"],
                           end=summary["b"], rows=rows.num_rows, replaced=replaced)


def utilization_summary(store: Store) -> pa.Table:
    """Per table: resources, first and last sample, rows."""
    out = []
    for name in (TABLE, OTHER):
        if name in store.tables():
            out += store.engine.fetch(
                f"SELECT {literal(name)} AS table_name, count(DISTINCT resource_id) AS "
                f"resources, min(timestamp) AS start, max(timestamp) AS \"end\", "
                f"count(*) AS rows FROM {ident(name)}")
    return pa.Table.from_pylist(out) if out else pa.table({"table_name": pa.array([],
                                                                                    pa.string())})
