"""Utilization metrics: the real CloudWatch and Azure Monitor documents in
shared/data/native/metrics, GetMetricData, CSV (offsets, epoch seconds, reload, partial
columns), and bad files (exit 2 naming the file and line)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.errors import InputError
from cloudledger.ingest.utilization import load_utilization, looks_like_utilization
from cloudledger.store import Store

CW = "native/metrics/aws-cli__cloudwatch_get-metric-statistics_output.json"
AZ = "native/metrics/azure-rest-api-specs__monitor_2018-01-01_GetMetric.json"
AZ_RESOURCE = ("/subscriptions/b324c52b-4073-4807-93af-e07d289c093e/resourceGroups/test/"
               "providers/Microsoft.Storage/storageAccounts/larryshoebox/blobServices/default")


def rows(store: Store, table: str = "utilization") -> list[dict[str, Any]]:
    return store.engine.fetch(f"SELECT * FROM {table} ORDER BY ALL")


def test_cloudwatch_get_metric_statistics(store: Store, shared_data: Path) -> None:
    path = shared_data / CW
    assert looks_like_utilization(path)
    with pytest.raises(InputError, match="does not name the instance"):
        load_utilization(store, path)
    [load], warnings = load_utilization(store, path, resource="i-1234567890abcdef0")
    assert (load.table, load.rows, load.resources, load.replaced) == ("utilization", 21, 1, 0)
    got = {r["timestamp"]: r for r in rows(store)}
    assert len(got) == 21 and warnings == []
    peak = got[datetime(2014, 2, 19, 3, 18)]
    assert peak["cpu_max"] == 99.67 and peak["cpu"] is None
    assert got[datetime(2014, 2, 19, 19, 18)]["cpu_max"] == 8.0
    assert {r["interval_s"] for r in got.values()} == {3600}
    assert {r["resource_id"] for r in got.values()} == {"i-1234567890abcdef0"}
    assert sum(r["cpu_max"] for r in got.values()) == pytest.approx(125.81)
    [again], _ = load_utilization(store, path, resource="i-1234567890abcdef0")
    assert again.replaced == 21 and len(rows(store)) == 21


def test_azure_monitor_example_keeps_other_metrics(store: Store, shared_data: Path) -> None:
    path = shared_data / AZ
    assert looks_like_utilization(path)
    [load], _ = load_utilization(store, path)
    assert (load.table, load.rows) == ("utilization_other", 10)   # 2 series x (4 + 1)
    got = rows(store, "utilization_other")
    assert {r["resource_id"] for r in got} == {AZ_RESOURCE}
    avg = {r["dimensions"]: r["value"] for r in got if r["statistic"] == "average"}
    assert avg == {"blobtype=PageBlob": 0.0, "blobtype=BlockBlob": 245.0}
    counts = [r["value"] for r in got if r["statistic"] == "count"]
    assert sorted(counts) == [0.0] * 6 + [1.0, 1.0]
    assert {r["metric"] for r in got} == {"BlobCapacity"}
    assert rows(store) == []


def test_azure_monitor_cpu_memory_network(store: Store, shared_data: Path,
                                          tmp_path: Path) -> None:
    doc = json.loads((shared_data / AZ).read_text())["responses"]["200"]["body"]
    vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    points = [{"timeStamp": f"2026-05-01T00:0{i}:00Z", "average": 10.0 + i,
               "maximum": 20.0 + i} for i in range(3)]
    doc["value"] = [
        {"id": f"{vm}/providers/Microsoft.Insights/metrics/Percentage CPU",
         "name": {"value": "Percentage CPU"}, "unit": "Percent",
         "timeseries": [{"metadatavalues": [], "data": points}]},
        {"id": f"{vm}/providers/Microsoft.Insights/metrics/Available Memory Percentage",
         "name": {"value": "Available Memory Percentage"}, "unit": "Percent",
         "timeseries": [{"data": [{"timeStamp": p["timeStamp"], "average": 75.0}
                                  for p in points]}]},
        {"id": f"{vm}/providers/Microsoft.Insights/metrics/Network Out Total",
         "name": {"value": "Network Out Total"}, "unit": "Bytes",
         "timeseries": [{"data": [{"timeStamp": p["timeStamp"], "total": 1000.0}
                                  for p in points]}]}]
    path = tmp_path / "vm.json"
    path.write_text(json.dumps(doc))
    [load], _ = load_utilization(store, path)
    got = rows(store)
    assert load.rows == 3 and [r["cpu"] for r in got] == [10.0, 11.0, 12.0]
    assert [r["cpu_max"] for r in got] == [20.0, 21.0, 22.0]
    assert {(r["memory"], r["network_out"], r["interval_s"]) for r in got} == {
        (25.0, 1000.0, 60)}
    assert got[0]["resource_id"] == vm


def test_cloudwatch_get_metric_data(store: Store, tmp_path: Path) -> None:
    doc = {"MetricDataResults": [
        {"Id": "m1", "Label": "i-0abc12345 CPUUtilization Average",
         "Timestamps": ["2026-05-01T00:05:00Z", "2026-05-01T00:00:00Z"], "Values": [5.0, 4.0],
         "StatusCode": "Complete"},
        {"Id": "m2", "Label": "i-0abc12345 CPUUtilization Maximum",
         "Timestamps": ["2026-05-01T00:00:00Z", "2026-05-01T00:05:00Z"], "Values": [9.0, 8.0],
         "StatusCode": "PartialData"}], "Messages": []}
    path = tmp_path / "gmd.json"
    path.write_text(json.dumps(doc))
    [load], warnings = load_utilization(store, path)
    got = rows(store)
    assert [(r["cpu"], r["cpu_max"], r["interval_s"]) for r in got] == [(4.0, 9.0, 300),
                                                                        (5.0, 8.0, 300)]
    assert "PartialData" in warnings[0]


def test_csv_offsets_epoch_reload_and_partial_columns(store: Store, tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("resource_id,timestamp,cpu,memory,network_out\n"
                 "i-1,2026-05-01T00:00:00Z,10,20,100\n"
                 "i-1,2026-05-01T01:05:00+01:00,12,21,\n"       # 00:05 UTC
                 "i-2,1777593600,1.5,,5\n")                    # 2026-05-01T00:00:00Z
    assert looks_like_utilization(a)
    [load], _ = load_utilization(store, a)
    assert (load.rows, load.resources, load.replaced) == (3, 2, 0)
    got = {(r["resource_id"], r["timestamp"]): r for r in rows(store)}
    assert got[("i-1", datetime(2026, 5, 1, 0, 5))]["cpu"] == 12.0
    assert got[("i-1", datetime(2026, 5, 1, 0, 5))]["network_out"] is None
    assert got[("i-2", datetime(2026, 5, 1))]["cpu"] == 1.5
    assert got[("i-1", datetime(2026, 5, 1))]["interval_s"] == 300
    # a memory-only file for i-1 keeps its CPU, replaces its memory
    b = tmp_path / "b.csv"
    b.write_text("resource_id,timestamp,memory\ni-1,2026-05-01T00:00:00Z,50\n"
                 "i-1,2026-05-01T00:05:00Z,55\n")
    [load], _ = load_utilization(store, b)
    assert load.replaced == 2
    got = {(r["resource_id"], r["timestamp"]): r for r in rows(store)}
    assert [(r["cpu"], r["memory"]) for k, r in sorted(got.items()) if k[0] == "i-1"] == [
        (10.0, 50.0), (12.0, 55.0)]
    assert len(got) == 3
    load_utilization(store, a)                                  # idempotent
    assert len(rows(store)) == 3


@pytest.mark.parametrize(("text", "where", "message"), [
    ("resource_id,timestamp,cpu\ni-1,2026-05-01T00:00:00Z,1\ni-1,2026-05-01T00:05:00Z,abc\n",
     "line 3, column cpu", "'abc' is not a number"),
    ("resource_id,timestamp,cpu\ni-1,yesterday,1\n", "line 2, column timestamp",
     "'yesterday' is not a time"),
    ("resource_id,timestamp,cpu\ni-1,2026-05-01T00:00:00Z,1\n,2026-05-01T00:05:00Z,1\n",
     "line 3, column resource_id", "empty resource_id"),
    ("resource_id,timestamp,cpu\ni-1,2026-05-01T00:00:00Z,1\ni-1,2026-05-01T00:00:00Z,2\n",
     "lines 2 and 3", "duplicate sample"),
    ("resource_id,timestamp,cpu\ni-1,2026-05-01T00:00:00Z,inf\n", "line 2, column cpu",
     "'inf' is not a number"),
    ("resource_id,timestamp\ni-1,2026-05-01T00:00:00Z\n", "line 1", "no value column"),
])
def test_bad_csv_exits_2_with_file_and_line(tmp_path: Path, text: str, where: str,
                                            message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    store = tmp_path / "s.duckdb"
    r = CliRunner().invoke(app, ["metrics", "load", str(path), "--store", str(store),
                                 "--kind", "utilization"])
    assert r.exit_code == 2, r.output
    assert f"{path}, {where}" in r.stderr and message in r.stderr
    assert not store.exists()            # a new store is removed when the load fails


@pytest.mark.parametrize(("doc", "message"), [
    ('{"Datapoints": [', "not JSON"),
    ('{"Label": "CPUUtilization", "Datapoints": [{"Timestamp": "soon", "Maximum": 1}]}',
     "'soon' is not an ISO 8601 time"),
    ('{"Label": "CPUUtilization", "Datapoints": [{"Timestamp": "2026-05-01T00:00:00Z", '
     '"Maximum": "high"}]}', "'high' is not a number"),
    ('{"something": "else"}', "not a CloudWatch or Azure Monitor"),
])
def test_bad_json_exits_2(tmp_path: Path, doc: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(doc)
    r = CliRunner().invoke(app, ["metrics", "load", str(path), "--store",
                                 str(tmp_path / "s.duckdb"), "--kind", "utilization",
                                 "--resource", "i-1"])
    assert r.exit_code == 2 and message in r.stderr and str(path) in r.stderr


def test_cli_detects_utilization_and_lists_it(tmp_path: Path, shared_data: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    runner = CliRunner()
    r = runner.invoke(app, ["metrics", "load", str(shared_data / CW), "--store", store,
                            "--resource", "i-1234567890abcdef0", "-f", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["rows"] == 21
    r = runner.invoke(app, ["metrics", "list", "--kind", "utilization", "--store", store,
                            "-f", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["rows"] == 21
    business = tmp_path / "b.csv"
    business.write_text("date,metric,value\n2026-05-01,requests,10\n")
    r = runner.invoke(app, ["metrics", "load", str(business), "--store", store,
                            "--resource", "x"])
    assert r.exit_code == 2 and "--resource" in r.stderr
    r = runner.invoke(app, ["metrics", "load", str(business), "--store", store])
    assert r.exit_code == 0, r.output
