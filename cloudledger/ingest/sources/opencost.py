"""Kubernetes cost allocation from OpenCost's ``/allocation`` API (a saved response or a URL).

One FOCUS row per allocation and window (namespace, controller, pod ... whatever the query
aggregated by), splitting the cluster's cost with the FOCUS 1.3 Allocated* columns:
  AllocatedResourceId   cluster/namespace/controllerKind/controller/pod/container (known parts)
  AllocatedResourceName the allocation's name as OpenCost returns it (``__idle__`` kept)
  AllocatedTags         pod labels over namespace labels (JSON object)
  AllocatedMethodId     ``opencost-allocation`` (``opencost-idle`` for __idle__ rows)
  AllocatedMethodDetails {"Elements": [{"x_Resource", "UsageQuantity", "UsageUnit",
                         "x_Cost", "x_CostAdjustment"} per cpu/gpu/ram/pv/network/lb],
                         "x_SharedCost", "x_ExternalCost"}
BillingAccountId = cluster, billing period = the month of the window start, ChargePeriod =
the window; BilledCost = EffectiveCost = ListCost = ContractedCost = totalCost (OpenCost's
figure includes the adjustments; idle can be negative and is loaded as it is).

The response is a small JSON document: it is converted to an Arrow table (numbers kept as
their exact text, parsed to decimals in the engine); the totals are summed separately from
the document's ``totalCost`` values with Python decimals.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import money, quantity, timestamp
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources._common import next_month
from cloudledger.store import Frame

RESOURCES = (  # name, cost field, adjustment field, quantity field, unit
    ("cpu", "cpuCost", "cpuCostAdjustment", "cpuCoreHours", "Core-Hours"),
    ("gpu", "gpuCost", "gpuCostAdjustment", "gpuHours", "GPU-Hours"),
    ("ram", "ramCost", "ramCostAdjustment", "ramByteHours", "Byte-Hours"),
    ("pv", "pvCost", "pvCostAdjustment", "pvByteHours", "Byte-Hours"),
    ("network", "networkCost", "networkCostAdjustment", "networkTransferBytes", "Bytes"),
    ("loadBalancer", "loadBalancerCost", "loadBalancerCostAdjustment", None, None),
)
PROPERTIES = ("cluster", "node", "namespace", "controllerKind", "controller", "pod",
              "container", "providerID")
NUMBERS = ("totalCost", "sharedCost", "externalCost", "minutes", "cpuCoreHours",
           "ramByteHours", "gpuHours", "pvByteHours", "networkTransferBytes", "totalEfficiency")
HOSTS = {"aws": "AWS", "gce": "Google Cloud", "azure": "Microsoft", "kind": "kind"}


def looks_like_opencost(sniff: Sniff) -> bool:
    doc = sniff.document
    return isinstance(doc, dict) and "data" in doc and "code" in doc and isinstance(
        doc["data"], list | dict)


def load_document(path: Path) -> Any:
    """The parsed response, numbers as text; a plain-text error body is a clear error."""
    with fs.open_text(path) as f:
        body = f.read()
    try:
        doc = json.loads(body, parse_float=str, parse_int=str)
    except json.JSONDecodeError:
        first = body.strip().splitlines()[0][:200] if body.strip() else "(empty)"
        raise FormatError(f"not an OpenCost allocation response; the server said: {first}",
                          where=str(path), hint="this is a saved error reply: fix the query "
                          "(e.g. window=24h, aggregate=namespace) and fetch it again") from None
    if not isinstance(doc, dict) or "data" not in doc:
        raise FormatError("not an OpenCost allocation response (no 'data')", where=str(path))
    if str(doc.get("code", "200")) != "200":
        raise FormatError(f"OpenCost answered code {doc.get('code')}: "
                          f"{doc.get('message', '')}".strip(), where=str(path),
                          hint="fix the query and fetch the allocation again")
    return doc


def _allocations(doc: Any) -> list[tuple[str, dict[str, Any]]]:
    windows = doc["data"] if isinstance(doc["data"], list) else [doc["data"]]
    return [(name, a) for w in windows if w for name, a in w.items() if isinstance(a, dict)]


def to_arrow(doc: Any, source: str) -> pa.Table:
    """One record per allocation; every number as its exact JSON text."""
    records = []
    for name, a in _allocations(doc):
        props = a.get("properties") or {}
        labels = dict(props.get("namespaceLabels") or {})
        labels.update(props.get("labels") or {})
        window = a.get("window") or {}
        rec = {"name": a.get("name") or name, "window_start": window.get("start") or a.get("start"),
               "window_end": window.get("end") or a.get("end"), "start": a.get("start"),
               "end": a.get("end"), "file": source,
               "labels": json.dumps(labels, sort_keys=True) if labels else None}
        rec.update({p: props.get(p) or None for p in PROPERTIES})
        rec.update({n: a.get(n) for n in NUMBERS})
        for _, cost, adj, qty, _ in RESOURCES:
            rec[cost], rec[adj] = a.get(cost), a.get(adj)
            if qty:
                rec[qty] = a.get(qty)
        records.append({k: (None if v is None else str(v)) for k, v in rec.items()})
    names = list(records[0]) if records else ["name"]
    return pa.Table.from_pylist(records, schema=pa.schema([(n, pa.string()) for n in names]))


@register("opencost", "Kubernetes cost allocation: OpenCost /allocation API response "
          "(saved JSON or http(s) URL)", detect=looks_like_opencost, priority=5)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    tables: list[Any] = []
    totals: dict[Any, Any] = {}
    for p in paths:
        doc = load_document(p)
        tables.append(to_arrow(doc, str(p)))
        for _, a in _allocations(doc):
            props = a.get("properties") or {}
            start = str((a.get("window") or {}).get("start") or a.get("start"))
            key = (props.get("cluster") or "__unknown__", start[:7] + "-01")
            totals[key] = totals.get(key, Decimal(0)) + Decimal(str(a.get("totalCost", "0")))
    table = pa.concat_tables(tables, promote_options="permissive")
    if table.num_rows == 0:
        raise FormatError("the OpenCost response holds no allocations",
                          where=", ".join(map(str, paths)),
                          hint="query a window in which the cluster ran")
    raw = ibis.memtable(table)
    tot = ibis.memtable(pa.table({
        "BillingAccountId": [k[0] for k in totals],
        "BillingPeriodStart": pa.array([k[1] for k in totals]).cast(pa.timestamp("us")),
        "BillingCurrency": ["USD"] * len(totals),
        "BilledCost": pa.array(list(totals.values()), pa.decimal128(38, 18))}))
    return Frame("opencost", paths, rows(raw, spark=store.is_spark), tot,
                 rows_in=table.num_rows)


def _json_number(v: Any) -> Any:
    return ibis.coalesce(v.cast("string"), "null")


def rows(raw: Any, *, spark: bool = False) -> Any:
    """FOCUS rows of the allocations (``spark``: the expression is for Spark)."""
    start = timestamp(raw.window_start, spark=spark)
    idle = raw.name.re_search(r"(^|/)__idle__$")
    cluster = raw.cluster.fill_null("__unknown__")
    path = ibis.array([cluster] + [raw[p] for p in ("namespace", "controllerKind", "controller",
                                                    "pod", "container")]).filter(
        lambda x: x.notnull()).join("/")
    elements = []
    for res, cost, adj, qty, unit in RESOURCES:
        item = ('{"x_Resource":"' + ibis.literal(res) + '","x_Cost":' + _json_number(raw[cost])
                + ',"x_CostAdjustment":' + _json_number(raw[adj]))
        if qty:
            item = item + ',"UsageQuantity":' + _json_number(raw[qty]) + \
                ',"UsageUnit":"' + ibis.literal(unit) + '"'
        elements.append(item + "}")
    details = ('{"Elements":[' + ibis.literal(",").join(elements) + '],"x_SharedCost":'
               + _json_number(raw.sharedCost) + ',"x_ExternalCost":'
               + _json_number(raw.externalCost) + "}")
    scheme = raw.providerID.re_extract(r"^([a-z]+)://", 1)
    host = ibis.cases(*[(scheme == k, v) for k, v in HOSTS.items()],
                      else_=ibis.literal("Not Applicable"))
    cost = money(raw.totalCost)
    return raw.select(
        BillingAccountId=cluster, BillingAccountName=cluster,
        BillingAccountType=ibis.literal("Kubernetes Cluster"),
        BillingCurrency=ibis.literal("USD"),
        BillingPeriodStart=start.truncate("M"), BillingPeriodEnd=next_month(start),
        ChargePeriodStart=start, ChargePeriodEnd=timestamp(raw.window_end, spark=spark),
        ChargeCategory=ibis.literal("Usage"), ChargeFrequency=ibis.literal("Usage-Based"),
        ChargeDescription=ibis.cases((idle, "Kubernetes idle capacity (OpenCost)"),
                                     else_="Kubernetes allocation (OpenCost)"),
        BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
        PricingCategory=ibis.literal("Standard"),
        ProviderName=ibis.literal("Kubernetes"), PublisherName=ibis.literal("Kubernetes"),
        InvoiceIssuerName=ibis.literal("Kubernetes"),
        ServiceProviderName=ibis.literal("Kubernetes"), HostProviderName=host,
        ServiceName=ibis.literal("Kubernetes"), ServiceCategory=ibis.literal("Compute"),
        ServiceSubcategory=ibis.literal("Containers"),
        ResourceId=ibis.coalesce(raw.providerID, raw.node), ResourceName=raw.node,
        ResourceType=ibis.cases((raw.node.notnull(), "Kubernetes Node"),
                                else_=ibis.null("string")),
        SubAccountId=raw.namespace, SubAccountName=raw.namespace,
        SubAccountType=ibis.cases((raw.namespace.notnull(), "Kubernetes Namespace"),
                                  else_=ibis.null("string")),
        AllocatedResourceId=ibis.cases((idle, cluster + "/__idle__"), else_=path),
        AllocatedResourceName=raw.name,
        AllocatedTags=raw.labels,
        AllocatedMethodId=ibis.cases((idle, "opencost-idle"), else_="opencost-allocation"),
        AllocatedMethodDetails=details,
        x_Namespace=raw.namespace, x_ControllerKind=raw.controllerKind,
        x_Controller=raw.controller, x_Pod=raw.pod, x_Container=raw.container,
        x_Node=raw.node, x_IsIdle=idle,
        x_CpuCost=money(raw.cpuCost), x_GpuCost=money(raw.gpuCost),
        x_RamCost=money(raw.ramCost), x_PvCost=money(raw.pvCost),
        x_NetworkCost=money(raw.networkCost), x_LoadBalancerCost=money(raw.loadBalancerCost),
        x_SharedCost=money(raw.sharedCost), x_ExternalCost=money(raw.externalCost),
        x_CpuCoreHours=quantity(raw.cpuCoreHours), x_RamByteHours=quantity(raw.ramByteHours),
        x_Efficiency=quantity(raw.totalEfficiency),
        x_RunStart=timestamp(raw.start, spark=spark),
        x_RunEnd=timestamp(raw.end, spark=spark),
    )
