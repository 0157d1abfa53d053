"""Oracle Cloud Infrastructure cost reports (CSV, plain or gz) into FOCUS.

Columns (OCI documentation, "Cost and Usage Reports"): ``lineItem/referenceNo``,
``lineItem/tenantId``, ``lineItem/intervalUsageStart`` / ``End``, ``lineItem/isCorrection``,
``lineItem/backreferenceNo``, ``product/service``, ``product/resource``,
``product/compartmentId`` / ``Name``, ``product/region``, ``product/availabilityDomain``,
``product/resourceId``, ``usage/billedQuantity``, ``cost/subscriptionId``,
``cost/productSku``, ``product/Description``, ``cost/unitPrice``, ``cost/myCost``,
``cost/currencyCode``, ``cost/skuUnitDescription``, ``cost/overageFlag``, ``tags/<key>``.

Mapping: tenant -> BillingAccountId; compartment -> SubAccount; ``cost/myCost`` ->
BilledCost = EffectiveCost = ContractedCost; ListCost = myCost as well (the report carries
no list price); billing period = month of intervalUsageStart; ``isCorrection`` true ->
ChargeClass Correction; every non-empty ``tags/*`` cell -> Tags (OCI defined tags keep
their ``Namespace.key`` name, e.g. ``Oracle-Tags.CreatedBy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import money, quantity, source_total, text, timestamp
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources import _regions as regions
from cloudledger.ingest.sources._common import category, column, next_month, tags_from_columns
from cloudledger.store import Frame

SERVICE_CATEGORY = {
    "compute": "Compute", "block_storage": "Storage", "object_storage": "Storage",
    "database": "Databases", "network": "Networking", "load_balancer": "Networking",
    "telemetry": "Management and Governance", "logging": "Management and Governance",
    "vault": "Security", "ai": "AI and Machine Learning",
}


def looks_like_oci(sniff: Sniff) -> bool:
    cols = set(sniff.columns)
    return {"lineItem/tenantId", "cost/myCost"} <= cols


def _time(raw: ir.Table, name: str, spark: bool) -> ir.TimestampValue:
    """OCI writes minutes without seconds (``2024-03-01T00:00Z``). The group is ``$1`` in
    Spark's (Java's) replacement, where ``\\1`` is a literal '1'."""
    group = "$1" if spark else r"\1"
    s = text(column(raw, name)).re_replace(r"T(\d{2}:\d{2})Z$", f"T{group}:00Z")
    return timestamp(s, spark=spark)


def _keys(raw: ir.Table, spark: bool) -> dict[str, ir.Value]:
    start = _time(raw, "lineItem/intervalUsageStart", spark)
    return {"BillingAccountId": text(column(raw, "lineItem/tenantId")),
            "BillingPeriodStart": start.truncate("M"),
            "BillingCurrency": text(column(raw, "cost/currencyCode")).upper()}


@register("oci", "Oracle Cloud Infrastructure cost reports (CSV)", detect=looks_like_oci,
          priority=5)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    groups: dict[tuple[str, ...], list[Path]] = {}
    for p in paths:
        groups.setdefault(tuple(fs.sniff_header(p)), []).append(p)
    rows, totals = [], []
    for header, group in groups.items():
        raw = fs.read_csv(store, group, list(header))
        rows.append(focus_rows(raw, spark=store.is_spark))
        keys = _keys(raw, store.is_spark)
        t = raw.select(**keys, v=source_total(raw["cost/myCost"]))
        totals.append(t.group_by("BillingAccountId", "BillingPeriodStart",
                                 "BillingCurrency").aggregate(BilledCost=t.v.sum()))
    out, tot = rows[0], totals[0]
    for r in rows[1:]:
        out = out.union(r, distinct=False)
    for t in totals[1:]:
        tot = tot.union(t, distinct=False)
    return Frame("oci", paths, out, tot)


#: The resource type an OCID names: ocid1.<type>.<realm>.[region].<id> -> <type>.
OCID_TYPE = r"^ocid[0-9]+\.([a-z0-9_-]+)\."


def focus_rows(raw: ir.Table, *, spark: bool = False) -> ir.Table:
    """FOCUS rows of an OCI cost report (``spark``: the expression is for Spark)."""
    keys = _keys(raw, spark)
    region = text(column(raw, "product/region"))
    rid = ibis.coalesce(regions.id_of(region, regions.OCI, regions.OCI_ALIASES),
                        region.lower())
    resource_id = text(column(raw, "product/resourceId"))
    ocid_type = resource_id.re_extract(OCID_TYPE, 1)
    compartment = text(column(raw, "product/compartmentId"))
    cost = money(raw["cost/myCost"])
    correction = text(column(raw, "lineItem/isCorrection")).lower() == "true"
    service = text(column(raw, "product/service"))
    qty = quantity(column(raw, "usage/billedQuantity"))
    unit = text(column(raw, "cost/skuUnitDescription"))
    tags = tags_from_columns((c[len("tags/"):], raw[c]) for c in raw.columns
                             if c.startswith("tags/"))
    return raw.select(
        **keys, BillingPeriodEnd=next_month(keys["BillingPeriodStart"]),  # type: ignore[arg-type]
        BillingAccountType=ibis.literal("Tenancy"),
        ChargePeriodStart=_time(raw, "lineItem/intervalUsageStart", spark),
        ChargePeriodEnd=_time(raw, "lineItem/intervalUsageEnd", spark),
        ChargeCategory=ibis.literal("Usage"),
        ChargeClass=ibis.cases((correction, "Correction"), else_=ibis.null("string")),
        ChargeFrequency=ibis.literal("Usage-Based"),
        ChargeDescription=text(column(raw, "product/Description")),
        BilledCost=cost, EffectiveCost=cost, ContractedCost=cost, ListCost=cost,
        ContractedUnitPrice=quantity(column(raw, "cost/unitPrice")),
        PricingQuantity=qty, PricingUnit=unit, ConsumedQuantity=qty, ConsumedUnit=unit,
        PricingCategory=ibis.literal("Standard"),
        ProviderName=ibis.literal("Oracle Cloud Infrastructure"),
        PublisherName=ibis.literal("Oracle Cloud Infrastructure"),
        InvoiceIssuerName=ibis.literal("Oracle Cloud Infrastructure"),
        ServiceProviderName=ibis.literal("Oracle Cloud Infrastructure"),
        HostProviderName=ibis.literal("Oracle Cloud Infrastructure"),
        ServiceName=service,
        ServiceCategory=category(ibis.coalesce(service, "").lower(), SERVICE_CATEGORY,
                                 contains=True),
        RegionId=rid,
        RegionName=ibis.cases((rid.notnull(), regions.name_of(rid, regions.OCI)),
                              else_=ibis.null("string")),
        AvailabilityZone=text(column(raw, "product/availabilityDomain")),
        ResourceId=resource_id,
        ResourceType=ibis.cases((resource_id.notnull(), ibis.coalesce(
            text(column(raw, "product/resource")),
            ibis.cases((ocid_type != "", ocid_type), else_=ibis.null("string")), service)),
            else_=ibis.null("string")),
        SkuId=text(column(raw, "cost/productSku")),
        SubAccountId=compartment,
        SubAccountName=ibis.cases((compartment.notnull(), ibis.coalesce(
            text(column(raw, "product/compartmentName")), compartment)),
            else_=ibis.null("string")),
        SubAccountType=ibis.literal("Compartment"),
        Tags=tags,
        x_ReferenceNo=text(column(raw, "lineItem/referenceNo")),
        x_BackreferenceNo=text(column(raw, "lineItem/backreferenceNo")),
        x_SubscriptionId=text(column(raw, "cost/subscriptionId")),
        x_OverageFlag=text(column(raw, "cost/overageFlag")),
    )
