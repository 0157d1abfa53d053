"""CloudWatch (GetMetricStatistics, GetMetricData) and Azure Monitor metrics JSON, read into
utilization samples; metrics rightsizing does not use become ``utilization_other`` rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from cloudledger.errors import FormatError, InputError
from cloudledger.ingest.utilization.model import OTHER_SCHEMA, SCHEMA, VALUES, UtilizationFile

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


def read_json(path: Path, doc: Any, resource: str | None) -> UtilizationFile:
    """One CloudWatch or Azure Monitor metrics document, checked."""
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
