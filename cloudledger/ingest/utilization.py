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
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from cloudledger.engine import ident, literal
from cloudledger.errors import FormatError, InputError
from cloudledger.store import Store

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
_SQL_TYPES = {pa.string(): "VARCHAR", pa.timestamp("us"): "TIMESTAMP", pa.float64(): "DOUBLE",
              pa.int64(): "BIGINT"}

# (metric name lower-cased) -> {statistic: column}
CLOUDWATCH = {"cpuutilization": {"Average": "cpu", "Maximum": "cpu_max"},
              "mem_used_percent": {"Average": "memory", "Maximum": "memory"},
              "memoryutilization": {"Average": "memory", "Maximum": "memory"},
              "networkout": {"Sum": "network_out"}}
AZURE = {"percentage cpu": {"average": "cpu", "maximum": "cpu_max"},
         "available memory percentage": {"average": "memory"},
         "network out total": {"total": "network_out"},
         "network out": {"total": "network_out"}}
_CW_STATS = ("Average", "Maximum", "Minimum", "Sum", "SampleCount")
_AZ_STATS = ("average", "maximum", "minimum", "total", "count")


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
        return _read_json(path, doc, resource)
    if store is None:
        store = Store(":memory:")
    return _read_csv(path, store)


# ------------------------------------------------------------------------------ JSON
def _ts(text: Any, where: str) -> datetime:
    try:
        t = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"timestamp {text!r} is not an ISO 8601 time", where=where,
                         hint="write times as 2026-05-01T00:00:00Z") from None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def _num(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"value {value!r} is not a number", where=where)
    return float(value)


class _Rows:
    """Collects wide samples keyed by (resource, timestamp) and long 'other' rows."""

    def __init__(self, source: str):
        self.source = source
        self.wide: dict[tuple[str, datetime], dict[str, float | None]] = {}
        self.other: list[dict[str, Any]] = []
        self.carried: set[str] = set()
        self.interval: dict[str, int] = {}

    def put(self, rid: str, ts: datetime, column: str, value: float | None) -> None:
        self.carried.add(column)
        self.wide.setdefault((rid, ts), {})[column] = value

    def samples(self) -> pa.Table:
        keys = sorted(self.wide)
        cols: dict[str, list[Any]] = {"resource_id": [k[0] for k in keys],
                                      "timestamp": [k[1] for k in keys]}
        for c in VALUES:
            cols[c] = [self.wide[k].get(c) for k in keys]
        cols["interval_s"] = [self.interval.get(k[0]) for k in keys]
        cols["source"] = [self.source] * len(keys)
        return pa.table(cols, schema=SCHEMA)

    def others(self) -> pa.Table:
        return pa.Table.from_pylist(self.other, schema=OTHER_SCHEMA)


def _read_json(path: Path, doc: Any, resource: str | None) -> UtilizationFile:
    if isinstance(doc, dict) and isinstance(doc.get("responses"), dict):
        doc = (doc["responses"].get("200") or {}).get("body", doc)  # Azure REST example
    if isinstance(doc, dict) and "Datapoints" in doc:
        rows, warnings = _cloudwatch_statistics(path, doc, resource)
    elif isinstance(doc, dict) and "MetricDataResults" in doc:
        rows, warnings = _cloudwatch_data(path, doc, resource)
    elif isinstance(doc, dict) and isinstance(doc.get("value"), list):
        rows, warnings = _azure(path, doc)
    else:
        raise FormatError("not a CloudWatch or Azure Monitor metrics document", where=str(path),
                          hint="expected GetMetricStatistics (Datapoints), GetMetricData "
                               "(MetricDataResults) or Azure Monitor (value[].timeseries)")
    samples = rows.samples()
    if samples.num_rows == 0 and not rows.other:
        raise InputError("the file has no data points", where=str(path))
    return UtilizationFile(path, rows.source, samples, tuple(c for c in VALUES
                           if c in rows.carried), rows.others(), warnings)


def _step(times: list[datetime]) -> int | None:
    s = sorted(set(times))
    gaps = [int((b - a).total_seconds()) for a, b in zip(s, s[1:], strict=False)]
    return min((g for g in gaps if g > 0), default=None)


def _cloudwatch_statistics(path: Path, doc: dict[str, Any],
                           resource: str | None) -> tuple[_Rows, list[str]]:
    label = str(doc.get("Label") or "")
    rid = resource or _resource_in(label)
    if not rid:
        raise InputError("GetMetricStatistics output does not name the instance",
                         where=str(path), hint="pass --resource ID (e.g. --resource "
                         "i-1234567890abcdef0), the InstanceId dimension you queried")
    rows = _Rows("cloudwatch")
    mapping = CLOUDWATCH.get(_metric_in(label).lower(), {})
    times = []
    for i, dp in enumerate(doc.get("Datapoints") or []):
        where = f"{path}, Datapoints[{i}]"
        if not isinstance(dp, dict) or "Timestamp" not in dp:
            raise InputError("a data point without Timestamp", where=where)
        ts = _ts(dp["Timestamp"], where)
        times.append(ts)
        for stat in _CW_STATS:
            if stat not in dp:
                continue
            value = _num(dp[stat], f"{where}, {stat}")
            if stat in mapping:
                rows.put(rid, ts, mapping[stat], value)
            else:
                rows.other.append({"resource_id": rid, "timestamp": ts,
                                   "metric": _metric_in(label) or label, "dimensions": None,
                                   "statistic": stat, "value": value, "unit": dp.get("Unit"),
                                   "source": "cloudwatch"})
    step = _step(times)
    if step:
        rows.interval[rid] = step
    return rows, []


_RID = re.compile(r"(arn:aws:\S+|i-[0-9a-f]{8,17})")


def _resource_in(label: str) -> str | None:
    m = _RID.search(label)
    return m.group(1) if m else None


def _metric_in(label: str) -> str:
    for word in label.split():
        if word.lower() in CLOUDWATCH:
            return word
    words = [w for w in label.split() if not _RID.fullmatch(w) and w not in _CW_STATS]
    return words[0] if words else label


def _cloudwatch_data(path: Path, doc: dict[str, Any],
                     resource: str | None) -> tuple[_Rows, list[str]]:
    rows, warnings = _Rows("cloudwatch"), []
    for j, res in enumerate(doc.get("MetricDataResults") or []):
        where = f"{path}, MetricDataResults[{j}]"
        label = str(res.get("Label") or res.get("Id") or "")
        rid = _resource_in(label) or resource
        if not rid:
            raise InputError(f"result {res.get('Id')!r} does not name its resource",
                             where=where, hint="label the query '<instance-id> <metric> "
                             "<stat>' or pass --resource ID")
        metric = _metric_in(label)
        stat = next((s for s in _CW_STATS if s in label.split()), "Average")
        column = CLOUDWATCH.get(metric.lower(), {}).get(stat)
        stamps, values = res.get("Timestamps") or [], res.get("Values") or []
        if len(stamps) != len(values):
            raise InputError(f"{len(stamps)} Timestamps but {len(values)} Values",
                             where=where)
        times = [_ts(t, f"{where}, Timestamps[{i}]") for i, t in enumerate(stamps)]
        for i, (ts, v) in enumerate(zip(times, values, strict=True)):
            value = _num(v, f"{where}, Values[{i}]")
            if column:
                rows.put(rid, ts, column, value)
            else:
                rows.other.append({"resource_id": rid, "timestamp": ts, "metric": metric,
                                   "dimensions": None, "statistic": stat, "value": value,
                                   "unit": None, "source": "cloudwatch"})
        step = _step(times)
        if step:
            rows.interval[rid] = min(step, rows.interval.get(rid, step))
        if res.get("StatusCode") == "PartialData":
            warnings.append(f"{where}: StatusCode PartialData (more pages to fetch)")
    return rows, warnings


_DURATION = re.compile(r"^PT?(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$")


def _iso_seconds(text: Any) -> int | None:
    m = _DURATION.match(str(text or "").upper())
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def _azure(path: Path, doc: dict[str, Any]) -> tuple[_Rows, list[str]]:
    rows = _Rows("azure-monitor")
    interval = _iso_seconds(doc.get("interval"))
    for j, metric in enumerate(doc["value"]):
        where = f"{path}, value[{j}]"
        mid = str(metric.get("id") or "")
        rid = re.split(r"/providers/microsoft\.insights/metrics/", mid, flags=re.I)[0]
        if not rid:
            raise InputError("a metric without id (its resource)", where=where)
        name = (metric.get("name") or {}).get("value") or ""
        mapping = AZURE.get(str(name).lower(), {})
        for k, series in enumerate(metric.get("timeseries") or []):
            dims = ",".join(f"{(d.get('name') or {}).get('value')}={d.get('value')}"
                            for d in series.get("metadatavalues") or []) or None
            times = []
            for i, point in enumerate(series.get("data") or []):
                pw = f"{where}, timeseries[{k}].data[{i}]"
                ts = _ts(point.get("timeStamp"), pw)
                times.append(ts)
                for stat in _AZ_STATS:
                    if stat not in point:
                        continue
                    value = _num(point[stat], f"{pw}, {stat}")
                    if stat in mapping and not dims:
                        col = mapping[stat]
                        if col == "memory" and value is not None:
                            value = 100.0 - value
                        rows.put(rid, ts, col, value)
                    else:
                        rows.other.append({"resource_id": rid, "timestamp": ts,
                                           "metric": name, "dimensions": dims,
                                           "statistic": stat, "value": value,
                                           "unit": metric.get("unit"),
                                           "source": "azure-monitor"})
            step = interval or _step(times)
            if step:
                rows.interval[rid] = step
    return rows, []


# ------------------------------------------------------------------------------- CSV
def _read_csv(path: Path, store: Store) -> UtilizationFile:
    try:
        header = path.open(encoding="utf-8-sig").readline()
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 text ({e.reason})", where=str(path)) from None
    names = [c.strip().strip('"').lower() for c in header.rstrip("\r\n").split(",")]
    for c in ("resource_id", "timestamp"):
        if c not in names:
            raise InputError(f"missing column {c!r} (found: {', '.join(names)})",
                             where=f"{path}, line 1", hint="a utilization CSV has columns "
                             "resource_id, timestamp and cpu, cpu_max, memory, network_out")
    carried = tuple(c for c in VALUES if c in names)
    if not carried:
        raise InputError("no value column (cpu, cpu_max, memory or network_out)",
                         where=f"{path}, line 1")
    try:
        raw = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=names,
                             skip_rows=1),
                             convert_options=pacsv.ConvertOptions(
                                 column_types={n: pa.string() for n in names},
                                 strings_can_be_null=True))
    except pa.ArrowInvalid as e:
        raise FormatError(f"cannot read as CSV: {str(e).splitlines()[0]}",
                          where=str(path)) from None
    if raw.num_rows == 0:
        raise InputError("the file has no rows", where=str(path))
    raw = raw.select(["resource_id", "timestamp", *carried]).append_column(
        "cl_line", pa.array(range(2, raw.num_rows + 2), pa.int64()))
    view = "cl_utilization_raw"
    eng = store.engine
    eng.register(view, raw)
    try:
        return _parse_csv(path, store, view, carried)
    finally:
        eng.unregister(view)


def _parse_csv(path: Path, store: Store, view: str, carried: tuple[str, ...]) -> UtilizationFile:
    eng, v = store.engine, ident(view)
    ts_text = "trim(timestamp)"
    ts = (f"CASE WHEN regexp_full_match({ts_text}, '[0-9]+(\\.[0-9]+)?') THEN "
          f"to_timestamp(TRY_CAST({ts_text} AS DOUBLE))::TIMESTAMP "
          f"ELSE TRY_CAST({ts_text} AS TIMESTAMPTZ)::TIMESTAMP END")
    nums = ", ".join(f"TRY_CAST(nullif(trim({ident(c)}), '') AS DOUBLE) AS {ident(c)}"
                     for c in carried)
    parsed = (f"SELECT cl_line, nullif(trim(resource_id), '') AS resource_id, {ts_text} AS "
              f"ts_text, {ts} AS timestamp, {nums}, "
              + ", ".join(f"{ident(c)} AS {ident('raw_' + c)}" for c in carried)
              + f" FROM {v}")
    checks = [("resource_id IS NULL", "empty resource_id", "resource_id", "ts_text")]
    checks.append(("timestamp IS NULL", "timestamp {!r} is not a time", "timestamp", "ts_text"))
    for c in carried:
        checks.append((f"({ident(c)} IS NULL AND nullif(trim({ident('raw_' + c)}), '') IS NOT "
                       f"NULL) OR NOT isfinite(coalesce({ident(c)}, 0))",
                       "value {!r} is not a number", c, "raw_" + c))
    for cond, msg, col, shown in checks:
        bad = eng.fetch(f"SELECT cl_line, {ident(shown)} AS shown FROM ({parsed}) "
                        f"WHERE {cond} ORDER BY cl_line LIMIT 1")
        if bad:
            hint = ("times are ISO 8601 (2026-05-01T00:00:00Z) or epoch seconds"
                    if col == "timestamp" else "values are plain numbers, e.g. 12.5")
            raise InputError(msg.format(bad[0]["shown"]), hint=hint,
                             where=f"{path}, line {bad[0]['cl_line']}, column {col}")
    dup = eng.fetch(f"SELECT resource_id, timestamp, min(cl_line) AS a, max(cl_line) AS b "
                    f"FROM ({parsed}) GROUP BY ALL HAVING count(*) > 1 ORDER BY a LIMIT 1")
    if dup:
        d = dup[0]
        raise InputError(f"duplicate sample for {d['resource_id']!r} at {d['timestamp']}",
                         where=f"{path}, lines {d['a']} and {d['b']}",
                         hint="keep one row per resource_id and timestamp")
    cols = ", ".join(f"{ident(c)}" if c in carried else f"NULL::DOUBLE AS {ident(c)}"
                     for c in VALUES)
    samples = eng.query(
        f"WITH p AS ({parsed}), s AS (SELECT resource_id, timestamp, {cols}, "
        f"epoch(timestamp) - epoch(lag(timestamp) OVER (PARTITION BY resource_id ORDER BY "
        f"timestamp)) AS gap FROM p) SELECT resource_id, timestamp, "
        + ", ".join(ident(c) for c in VALUES)
        + ", (min(gap) OVER (PARTITION BY resource_id))::BIGINT AS interval_s, "
        f"{literal('csv')} AS source FROM s")
    return UtilizationFile(path, "csv", samples.cast(SCHEMA), carried,
                           OTHER_SCHEMA.empty_table())


# ------------------------------------------------------------------------------ load
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
