"""Google Cloud Billing export (standard and detailed) and the deprecated file export.

Layouts read:
  - BigQuery export saved as CSV: dotted column names (``service.description``), nested
    fields as JSON or as Python-repr text (``[{'key': 'a', 'value': 'b'}]``, as pandas
    writes them); both are parsed in the engine.
  - newline-delimited JSON and Parquet with nested ``service``, ``credits`` ... columns.
  - the deprecated daily file export (``Account ID``, ``Line Item``, ``Credit1 Amount``).

Mapping: ``cost`` -> BilledCost = EffectiveCost of a Usage row (cost_type tax -> Tax,
adjustment / rounding_error -> Adjustment); every entry of ``credits`` becomes its own
FOCUS row with ChargeCategory Credit, the credit amount (negative) as Billed/Effective/
List/ContractedCost and the charge's dimensions, so BilledCost totals equal
sum(cost) + sum(credits.amount). ``invoice.month`` -> billing period (else the month of the
usage start), project -> SubAccount, labels > system_labels > tags -> Tags (earlier wins on a
repeated key), ``cost_at_list`` -> ListCost when present (else cost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.parse import (
    money,
    quantity,
    source_total,
    text,
    timestamp,
    union_all,
)
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources import _regions as regions
from cloudledger.ingest.sources._common import (
    category,
    json_records,
    kv_json,
    kv_list,
    kv_merge,
    next_month,
    null_str,
    repr_to_json,
)
from cloudledger.store import Frame

SERVICE_CATEGORY = {
    "compute engine": "Compute", "kubernetes engine": "Compute", "cloud run": "Compute",
    "cloud functions": "Compute", "app engine": "Compute", "cloud storage": "Storage",
    "bigquery": "Analytics", "cloud sql": "Databases", "cloud spanner": "Databases",
    "firestore": "Databases", "cloud bigtable": "Databases", "memorystore": "Databases",
    "networking": "Networking", "cloud dns": "Networking", "cloud cdn": "Networking",
    "stackdriver logging": "Management and Governance", "cloud logging":
    "Management and Governance", "cloud monitoring": "Management and Governance",
    "stackdriver monitoring": "Management and Governance",
    "security command center": "Security", "secret manager": "Security",
    "cloud key management service (kms)": "Security", "vertex ai": "AI and Machine Learning",
    "pub/sub": "Integration", "cloud pub/sub": "Integration",
    "compute-engine": "Compute", "cloud-storage": "Storage", "logging": (
        "Management and Governance"), "bigquery-json": "Analytics",
}
CREDIT_FIELDS = ("name", "amount", "full_name", "id", "type")


def looks_like_gcp(sniff: Sniff) -> bool:
    cols = set(sniff.columns)
    export = "billing_account_id" in cols and "cost" in cols and (
        "service.description" in cols or "service" in cols)
    legacy = {"Account ID", "Line Item", "Start Time", "Cost"} <= cols
    return export or legacy


def _is_ndjson(path: Path) -> bool:
    return path.name.lower().endswith((".json", ".jsonl", ".ndjson", ".json.gz"))


@register("gcp", "Google Cloud Billing export (standard/detailed: BigQuery CSV, NDJSON, "
          "Parquet) and the deprecated file export", detect=looks_like_gcp, priority=5)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    groups: dict[tuple[str, tuple[str, ...]], list[Path]] = {}
    for p in paths:
        if fs.is_parquet(p):
            groups.setdefault(("parquet", ()), []).append(p)
        elif _is_ndjson(p):
            groups.setdefault(("ndjson", ()), []).append(p)
        else:
            groups.setdefault(("csv", tuple(fs.sniff_header(p))), []).append(p)
    rows, totals = [], []
    for (kind, header), group in groups.items():
        if kind == "parquet":
            raw = fs.read_parquet(store, group)
        elif kind == "ndjson":
            raw = fs.read_ndjson(store, group)
        else:
            raw = fs.read_csv(store, group, list(header))
        if "Account ID" in raw.columns:
            r, t = legacy_rows(raw, spark=store.is_spark), legacy_totals(raw)
        elif "billing_account_id" in raw.columns:
            r, t = (export_rows(raw, spark=store.is_spark),
                    export_totals(raw, spark=store.is_spark))
        else:
            raise FormatError("not a Cloud Billing export (no billing_account_id column)",
                              where=", ".join(map(str, group)),
                              hint="see `cloudledger formats` for what gcp reads")
        rows.append(r)
        totals.append(t)
    return Frame("gcp", paths, union_all(rows), union_all(totals))


def field(raw: ir.Table, path: str) -> ir.Value:
    """A (possibly nested) export field: ``service.description`` as a dotted CSV column or
    as a struct field; NULL when the export has no such field."""
    if path in raw.columns:
        return raw[path]
    head, *rest = path.split(".")
    if head not in raw.columns:
        return ibis.null("string")
    value: Any = raw[head]
    for name in rest:
        if not value.type().is_struct() or name not in value.type().names:
            return ibis.null("string")
        value = value[name]
    return value


def _invoice_month(raw: ir.Table, usage_start: ir.TimestampValue) -> ir.TimestampValue:
    month = text(field(raw, "invoice.month"))
    parsed = (month.substr(0, 4) + "-" + month.substr(4, 2) + "-01").cast("timestamp")
    return ibis.coalesce(parsed, usage_start.truncate("M"))  # type: ignore[return-value]


def _credits(value: ir.Value) -> ir.ArrayValue:
    if value.type().is_array():
        return value.map(lambda c: ibis.struct({  # type: ignore[attr-defined,no-any-return]
            f: (c[f].cast("string") if f in c.type().names else null_str())
            for f in CREDIT_FIELDS}))
    return json_records(value, CREDIT_FIELDS, is_json=True)


def _nested_layers(raw: ir.Table) -> ir.Table:
    """Nested cells parsed in layers (text -> JSON text -> lists -> merged tags), so each
    regex and JSON parse runs once per cell instead of once per reference."""
    names = {"_labels": "labels", "_system": "system_labels", "_tags": "tags",
             "_project": "project.labels", "_credits": "credits"}
    cells = {k: field(raw, v) for k, v in names.items()}
    texts = {k: (v if v.type().is_array() else repr_to_json(text(v))) for k, v in
             cells.items()}
    t = raw.mutate(**texts)
    t = t.mutate(**{k: kv_list(t[k], is_json=True)
                    for k in ("_labels", "_system", "_tags", "_project")},
                 _credits=_credits(t._credits))
    t = t.mutate(_merged=kv_merge(t._labels, t._system, t._tags), _project=kv_merge(t._project))
    return t.mutate(_tag_json=kv_json(t._merged), _project_json=kv_json(t._project))


def export_rows(raw: ir.Table, *, spark: bool = False) -> ir.Table:
    raw = _nested_layers(raw)
    start = timestamp(field(raw, "usage_start_time"), spark=spark)
    period = _invoice_month(raw, start)
    cost = money(field(raw, "cost"))
    cost_type = text(field(raw, "cost_type")).lower().fill_null("regular")
    at_list = field(raw, "cost_at_list")
    base = raw.select(
        BillingAccountId=text(field(raw, "billing_account_id")),
        BillingCurrency=text(field(raw, "currency")).upper(),
        BillingPeriodStart=period, BillingPeriodEnd=next_month(period),
        ChargePeriodStart=start,
        ChargePeriodEnd=timestamp(field(raw, "usage_end_time"), spark=spark),
        ChargeCategory=ibis.cases((cost_type == "tax", "Tax"),
                                  (cost_type.isin(["adjustment", "rounding_error"]),
                                   "Adjustment"), else_="Usage"),
        ChargeDescription=text(field(raw, "sku.description")),
        BilledCost=cost, EffectiveCost=cost, ContractedCost=cost,
        ListCost=ibis.coalesce(money(at_list), cost) if at_list.type().is_string() or
        at_list.type().is_numeric() else cost,
        PricingQuantity=quantity(field(raw, "usage.amount_in_pricing_units")),
        PricingUnit=text(field(raw, "usage.pricing_unit")),
        ConsumedQuantity=quantity(field(raw, "usage.amount")),
        ConsumedUnit=text(field(raw, "usage.unit")),
        ServiceName=text(field(raw, "service.description")),
        SkuId=text(field(raw, "sku.id")), SkuMeter=text(field(raw, "sku.description")),
        SubAccountId=text(field(raw, "project.id")),
        SubAccountName=text(field(raw, "project.name")),
        RegionId=ibis.coalesce(text(field(raw, "location.region")),
                               text(field(raw, "location.location"))),
        AvailabilityZone=text(field(raw, "location.zone")),
        ResourceId=text(field(raw, "resource.global_name")),
        ResourceName=text(field(raw, "resource.name")),
        PublisherName=ibis.coalesce(text(field(raw, "seller_name")), "Google Cloud"),
        Tags=raw._tag_json,
        x_ServiceId=text(field(raw, "service.id")), x_CostType=cost_type,
        x_ProjectNumber=text(field(raw, "project.number")),
        x_ProjectAncestryNumbers=text(field(raw, "project.ancestry_numbers")),
        x_ProjectLabels=raw._project_json,
        x_Location=text(field(raw, "location.location")),
        x_Country=text(field(raw, "location.country")),
        x_ExportTime=timestamp(field(raw, "export_time"), spark=spark),
        x_CurrencyConversionRate=quantity(field(raw, "currency_conversion_rate")),
        x_CreditType=null_str(), x_CreditId=null_str(),
        credits=raw._credits,
    )
    usage = base.drop("credits")
    credit = base.select(*[c for c in base.columns if c != "credits"],
                         c=base.credits.unnest())
    amount = money(credit.c["amount"])
    credit = credit.mutate(
        ChargeCategory=ibis.literal("Credit"),
        ChargeDescription=ibis.coalesce(credit.c["full_name"], credit.c["name"]),
        BilledCost=amount, EffectiveCost=amount, ListCost=amount, ContractedCost=amount,
        PricingQuantity=ibis.null(usage.PricingQuantity.type()),
        PricingUnit=null_str(), ConsumedQuantity=ibis.null(usage.ConsumedQuantity.type()),
        ConsumedUnit=null_str(), x_CreditType=credit.c["type"],
        x_CreditId=ibis.coalesce(credit.c["id"], credit.c["name"])).drop("c")
    return _finish(usage.union(credit, distinct=False))


#: The collection of a full resource name (//compute.googleapis.com/projects/p/zones/z/
#: instances/vm -> instances; //storage.googleapis.com/projects/_/buckets/b -> buckets).
RESOURCE_COLLECTION = r"^//[^/]+/(?:[^/]+/[^/]+/)*([^/]+)/[^/]+$"


def _names(t: ir.Table) -> dict[str, ir.Value]:
    """RegionName, ResourceType, SubAccountName where the export has the id but not the
    name: the region table, the collection of the resource's full name (else the service),
    the project id (for a project without a name)."""
    out: dict[str, ir.Value] = {}
    none = null_str()
    if "RegionId" in t.columns:
        out["RegionName"] = ibis.cases((t.RegionId.notnull(), regions.name_of(
            t.RegionId.lower(), regions.GCP)), else_=none)
    if "ResourceId" in t.columns:
        kind = t.ResourceId.re_extract(RESOURCE_COLLECTION, 1)
        out["ResourceType"] = ibis.cases((t.ResourceId.notnull(), ibis.coalesce(
            ibis.cases((kind != "", kind), else_=none), t.ServiceName)), else_=none)
    out["SubAccountName"] = ibis.cases((t.SubAccountId.notnull(), ibis.coalesce(
        t.SubAccountName, t.SubAccountId)), else_=none)
    return out


def _finish(t: ir.Table) -> ir.Table:
    """Constant provider columns and ServiceCategory, common to both layouts."""
    t = t.mutate(**_names(t))
    return t.mutate(
        ProviderName=ibis.literal("Google Cloud"),
        ServiceProviderName=ibis.literal("Google Cloud"),
        HostProviderName=ibis.literal("Google Cloud"),
        InvoiceIssuerName=ibis.literal("Google Cloud"),
        BillingAccountType=ibis.literal("Billing Account"),
        SubAccountType=ibis.cases((t.SubAccountId.notnull(), "Project"),
                                  else_=null_str()),
        ChargeFrequency=ibis.cases((t.ChargeCategory == "Usage", "Usage-Based"),
                                   else_=null_str()),
        PricingCategory=ibis.cases((t.ChargeCategory == "Usage", "Standard"),
                                   else_=null_str()),
        ServiceCategory=category(ibis.coalesce(t.ServiceName, ""), SERVICE_CATEGORY))


def export_totals(raw: ir.Table, *, spark: bool = False) -> ir.Table:
    """sum(cost) + sum(credits.amount) per account, invoice month and currency, read from
    the raw cells (credit amounts by pattern in text cells) independently of the rows."""
    credits = field(raw, "credits")
    if credits.type().is_array():
        credit_sum = credits.map(lambda c: c.amount.cast("decimal(38, 18)")).sums()
    else:
        amounts = text(credits).re_split(r"""['"]amount['"]\s*:\s*""")
        credit_sum = amounts[1:].map(lambda a: a.re_extract(
            r"^(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)", 1).cast("decimal(38, 18)")).sums()
    start = timestamp(field(raw, "usage_start_time"), spark=spark)
    cost = source_total(field(raw, "cost"))
    t = raw.select(
        BillingAccountId=text(field(raw, "billing_account_id")),
        BillingPeriodStart=_invoice_month(raw, start),
        BillingCurrency=text(field(raw, "currency")).upper(),
        v=cost + credit_sum.fill_null(0))
    return t.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency").aggregate(
        BilledCost=t.v.sum())


def _legacy_credit_columns(raw: ir.Table) -> list[int]:
    return sorted(int(c[6:-7]) for c in raw.columns
                  if c.startswith("Credit") and c.endswith(" Amount") and c[6:-7].isdigit())


def _legacy_base(raw: ir.Table) -> dict[str, ir.Value]:
    start_text = text(raw["Start Time"])
    period = (start_text.substr(0, 7) + "-01").cast("timestamp")  # the export's local month
    return {"BillingAccountId": text(raw["Account ID"]),
            "BillingCurrency": text(raw["Currency"]).upper(),
            "BillingPeriodStart": period}


def legacy_rows(raw: ir.Table, *, spark: bool = False) -> ir.Table:
    """The deprecated file export: one Usage row per line, one Credit row per CreditN."""
    keys = _legacy_base(raw)
    line_item = text(raw["Line Item"])
    service = line_item.re_extract(r"services/([^/]+)", 1)
    cost = money(raw["Cost"])
    project = "Project ID" if "Project ID" in raw.columns else "Project"
    unit = "Measurement1 Units" if "Measurement1 Units" in raw.columns else None
    consumed = "Measurement1 Total Consumption"
    credits = _legacy_credit_columns(raw)
    base = raw.select(
        **keys, BillingPeriodEnd=next_month(keys["BillingPeriodStart"]),  # type: ignore[arg-type]
        ChargePeriodStart=timestamp(raw["Start Time"], spark=spark),
        ChargePeriodEnd=timestamp(raw["End Time"], spark=spark),
        ChargeCategory=ibis.literal("Usage"),
        ChargeDescription=text(raw["Description"]) if "Description" in raw.columns
        else line_item,
        BilledCost=cost, EffectiveCost=cost, ListCost=cost, ContractedCost=cost,
        PricingQuantity=quantity(raw[consumed]) if consumed in raw.columns
        else ibis.null("decimal(38, 16)"),
        PricingUnit=text(raw[unit]) if unit else null_str(),
        ConsumedQuantity=quantity(raw[consumed]) if consumed in raw.columns
        else ibis.null("decimal(38, 16)"),
        ConsumedUnit=text(raw[unit]) if unit else null_str(),
        ServiceName=service, SkuId=line_item, SkuMeter=line_item,
        SubAccountId=text(raw[project]),
        SubAccountName=text(raw["Project Name"]) if "Project Name" in raw.columns
        else null_str(),
        PublisherName=ibis.literal("Google Cloud"),
        x_ProjectNumber=text(raw["Project Number"]) if "Project Number" in raw.columns
        else null_str(),
        x_ProjectLabels=text(raw["Project Labels"]) if "Project Labels" in raw.columns
        else null_str(),
        x_CreditType=null_str(), x_CreditId=null_str(),
        **{f"_amount{n}": money(raw[f"Credit{n} Amount"]) for n in credits},
        **{f"_name{n}": text(raw[f"Credit{n}"]) if f"Credit{n}" in raw.columns
           else null_str() for n in credits})
    helpers = [c for c in base.columns if c.startswith(("_amount", "_name"))]
    out = base.drop(*helpers)
    for n in credits:
        amount = base[f"_amount{n}"]
        credit = base.filter(amount.notnull()).mutate(
            ChargeCategory=ibis.literal("Credit"), ChargeDescription=base[f"_name{n}"],
            BilledCost=amount, EffectiveCost=amount, ListCost=amount, ContractedCost=amount,
            PricingQuantity=ibis.null(base.PricingQuantity.type()), PricingUnit=null_str(),
            ConsumedQuantity=ibis.null(base.ConsumedQuantity.type()), ConsumedUnit=null_str(),
            x_CreditId=base[f"_name{n}"])
        out = out.union(credit.drop(*helpers), distinct=False)
    return _finish(out)


def legacy_totals(raw: ir.Table) -> ir.Table:
    keys = _legacy_base(raw)
    value = source_total(raw["Cost"])
    for n in _legacy_credit_columns(raw):
        value = value + source_total(raw[f"Credit{n} Amount"]).fill_null(0)
    t = raw.select(**keys, v=value)
    return t.group_by("BillingAccountId", "BillingPeriodStart", "BillingCurrency").aggregate(
        BilledCost=t.v.sum())
