"""OpenCost /allocation responses: the shared saved response, its error body, and a local
HTTP server (127.0.0.1 only) returning a response with negative __idle__."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest

from cloudledger.errors import FormatError, InputError
from cloudledger.ingest import detect, ingest
from cloudledger.store import Store

SAVED = "finfocus-plugin-opencost__allocation-namespace-60m.json"
ERROR = "finfocus-plugin-opencost__error-bad-window.json"


@pytest.fixture()
def opencost(shared_data: Path) -> Path:
    return shared_data / "native" / "opencost"


def test_saved_response(store: Store, opencost: Path) -> None:
    path = opencost / SAVED
    assert detect(path).name == "opencost"
    [report] = ingest(store, [path])
    assert report.rows == 5 and all(r.ok for r in report.reconciliation)
    native = duckdb.sql(
        f"SELECT sum(CAST(json_extract_string(w, '$.\"' || k || '\".totalCost') AS "
        f"DECIMAL(38, 18))) FROM (SELECT w, unnest(json_keys(w)) k FROM (SELECT unnest("
        f"json_extract(content::JSON, '$.data[*]')) w FROM read_text('{path}')))").fetchone()[0]
    got = store.sql("SELECT sum(BilledCost) b, sum(EffectiveCost) e FROM focus").to_pylist()[0]
    assert got["b"] == got["e"] == native == Decimal("0.36187")
    row = store.sql("SELECT * FROM focus WHERE AllocatedResourceName = 'opencost'").to_pylist()[0]
    assert row["BillingAccountId"] == "default-cluster"
    assert row["BillingPeriodStart"].isoformat() == "2026-10-01T00:00:00"
    assert row["ChargePeriodStart"].isoformat() == "2026-10-03T09:58:00"
    assert row["AllocatedResourceId"] == ("default-cluster/opencost/deployment/opencost/"
                                          "opencost-5d94f4cb5f-6b429/opencost")
    assert json.loads(row["AllocatedTags"])["app_kubernetes_io_name"] == "opencost"
    details = json.loads(row["AllocatedMethodDetails"])
    assert details["Elements"][0] == {"x_Resource": "cpu", "x_Cost": 0.00094,
                                      "x_CostAdjustment": 0, "UsageQuantity": 0.00047,
                                      "UsageUnit": "Core-Hours"}
    assert row["x_RamCost"] == Decimal("0.00257") and row["HostProviderName"] == "kind"
    pv = store.sql("SELECT x_PvCost FROM focus WHERE SubAccountId = 'prometheus-system'")
    assert pv.column(0)[0].as_py() == Decimal("0.09392")


def test_error_body(store: Store, opencost: Path) -> None:
    with pytest.raises(FormatError, match="illegal window: notawindow"):
        ingest(store, [opencost / ERROR])
    with pytest.raises(FormatError, match="the server said: Invalid 'window' parameter"):
        ingest(store, [opencost / ERROR], fmt="opencost")


RESPONSE = {"code": 200, "data": [{
    "c1/team-a/deployment/api/api-1": {
        "name": "c1/team-a/deployment/api/api-1",
        "properties": {"cluster": "c1", "namespace": "team-a", "controllerKind": "deployment",
                       "controller": "api", "pod": "api-1", "node": "n1",
                       "providerID": "aws:///us-east-1a/i-0abc",
                       "labels": {"app": "api"}, "namespaceLabels": {"team": "a"}},
        "window": {"start": "2024-05-31T23:00:00Z", "end": "2024-06-01T00:00:00Z"},
        "start": "2024-05-31T23:00:00Z", "end": "2024-06-01T00:00:00Z",
        "cpuCost": 1.25, "cpuCostAdjustment": 0.05, "ramCost": 0.5, "ramCostAdjustment": 0,
        "gpuCost": 0, "pvCost": 0.2, "networkCost": 0.01, "loadBalancerCost": 0,
        "sharedCost": 0, "externalCost": 0, "totalCost": 2.01},
    "c1/__idle__": {
        "name": "__idle__", "properties": {"cluster": "c1"},
        "window": {"start": "2024-05-31T23:00:00Z", "end": "2024-06-01T00:00:00Z"},
        "cpuCost": -0.4, "ramCost": 0.1, "totalCost": -0.3},
}]}


@pytest.fixture()
def server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if "window=bad" in self.path:
                body, code = b"Invalid 'window' parameter: illegal window: bad", 400
            else:
                body, code = json.dumps(RESPONSE).encode(), 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_with_negative_idle(store: Store, server: str) -> None:
    [report] = ingest(store, [f"{server}/allocation?window=1h&aggregate=pod"])
    assert report.rows == 2 and all(r.ok for r in report.reconciliation)
    rows = {r["AllocatedResourceName"]: r for r in store.sql("SELECT * FROM focus").to_pylist()}
    idle = rows["__idle__"]
    assert idle["BilledCost"] == Decimal("-0.3") and idle["x_IsIdle"]
    assert idle["AllocatedMethodId"] == "opencost-idle"
    assert idle["AllocatedResourceId"] == "c1/__idle__"
    pod = rows["c1/team-a/deployment/api/api-1"]
    assert pod["BilledCost"] == Decimal("2.01") and pod["HostProviderName"] == "AWS"
    assert json.loads(pod["AllocatedTags"]) == {"app": "api", "team": "a"}
    assert pod["BillingPeriodStart"].isoformat() == "2024-05-01T00:00:00"
    total = store.sql("SELECT sum(BilledCost) FROM focus").column(0)[0].as_py()
    assert total == Decimal("1.71")


def test_url_error_is_clear(store: Store, server: str) -> None:
    with pytest.raises(InputError, match="HTTP 400: Invalid 'window' parameter"):
        ingest(store, [f"{server}/allocation?window=bad"])
