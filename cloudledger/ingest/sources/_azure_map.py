"""Azure cost details: column-name normalization and the FOCUS mapping (see azure.py).

``normalize`` turns any variant (EA / MCA / legacy v1, PascalCase / camelCase) into one
intermediate shape: typed key columns plus per-dataset measures. ``focus_rows`` aggregates
the union of actual and amortized rows on every non-measure column (NULL-safe, in the
engine) and derives the FOCUS columns.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cloudledger.ingest.parse import money, quantity, text, timestamp
from cloudledger.ingest.sources import _regions as regions
from cloudledger.ingest.sources._common import braced_json, category, column, next_month

#: intermediate name -> candidate export column names (case-insensitive, first wins)
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "account_name": ("BillingAccountName",),
    "profile_id": ("BillingProfileId",),
    "profile_name": ("BillingProfileName",),
    "invoice_id": ("InvoiceId",),
    "section_id": ("InvoiceSectionId",),
    "section_name": ("InvoiceSectionName", "InvoiceSection"),
    "subscription_id": ("SubscriptionId", "SubscriptionGuid"),
    "subscription_name": ("SubscriptionName",),
    "resource_group": ("ResourceGroup", "ResourceGroupName"),
    "product": ("Product", "ProductName"),
    "product_id": ("ProductId", "PartNumber"),
    "meter_id": ("MeterId",),
    "meter_name": ("MeterName",),
    "meter_category": ("MeterCategory",),
    "meter_subcategory": ("MeterSubCategory", "MeterSubcategory"),
    "meter_region": ("MeterRegion",),
    "service_family": ("ServiceFamily",),
    "unit": ("UnitOfMeasure",),
    "unit_price": ("UnitPrice",),
    "payg_price": ("PayGPrice",),
    "pricing_currency": ("PricingCurrency", "PricingCurrencyCode"),
    "location": ("ResourceLocation",),
    "region_name": ("Location",),
    "zone": ("AvailabilityZone",),
    "consumed_service": ("ConsumedService",),
    "resource_id": ("ResourceId", "InstanceId", "InstanceName"),
    "resource_name": ("ResourceName",),
    "resource_type": ("ResourceType",),
    "additional_info": ("AdditionalInfo",),
    "tags": ("Tags",),
    "cost_center": ("CostCenter",),
    "reservation_id": ("ReservationId",),
    "reservation_name": ("ReservationName",),
    "order_id": ("ProductOrderId",),
    "order_name": ("ProductOrderName",),
    "offer_id": ("OfferId",),
    "publisher_name": ("PublisherName",),
    "publisher_type": ("PublisherType",),
    "charge_type": ("ChargeType",),
    "frequency": ("Frequency",),
    "pricing_model": ("PricingModel",),
    "benefit_id": ("benefitId",),
    "benefit_name": ("benefitName",),
}
MEASURES = ("cost", "payg_cost", "qty")
COMMITTED_MODELS = ("reservation", "savingsplan")

SERVICE_CATEGORY = {
    "microsoft.compute": "Compute", "microsoft.containerservice": "Compute",
    "microsoft.capacity": "Compute", "microsoft.billingbenefits": "Compute",
    "microsoft.storage": "Storage", "microsoft.sql": "Databases",
    "microsoft.dbformysql": "Databases", "microsoft.dbforpostgresql": "Databases",
    "microsoft.documentdb": "Databases", "microsoft.cache": "Databases",
    "microsoft.network": "Networking", "microsoft.cdn": "Networking",
    "microsoft.keyvault": "Security", "microsoft.security": "Security",
    "microsoft.operationalinsights": "Management and Governance",
    "microsoft.insights": "Management and Governance",
    "microsoft.costmanagement": "Management and Governance",
    "microsoft.machinelearningservices": "AI and Machine Learning",
    "microsoft.cognitiveservices": "AI and Machine Learning",
    "microsoft.databricks": "Analytics", "microsoft.synapse": "Analytics",
    "microsoft.web": "Web", "microsoft.logic": "Integration",
    "microsoft.servicebus": "Integration", "microsoft.eventhub": "Analytics",
}


#: An ARM resource id's type: the namespace and type segments after its last /providers/
#: (up to two nested types), e.g. .../providers/Microsoft.Sql/servers/s/databases/d ->
#: Microsoft.Sql/servers/databases.
ARM_TYPE = (r"(?i)^.*/providers/([^/]+)/([^/]+)/[^/]*(?:/([^/]+)/[^/]*)?"
            r"(?:/([^/]+)/[^/]*)?/?$")
ARM_GROUP = r"(?i)^/subscriptions/[^/]+/resourcegroups/[^/]+/?$"
ARM_SUBSCRIPTION = r"(?i)^/subscriptions/[^/]+/?$"


def region_id(location: ir.StringValue) -> ir.StringValue:
    """RegionId from ResourceLocation: the region id it spells ("US East 2", "eastus2",
    "EastUS2" -> eastus2), NULL for "Unassigned", else the value lower-cased."""
    key = location.lower().re_replace(r"[^0-9a-z]", "")
    known = regions.id_of(location, regions.AZURE, regions.AZURE_ALIASES)
    return ibis.cases(  # type: ignore[return-value]
        (location.isnull() | key.isin(list(regions.AZURE_NO_REGION)),
         ibis.null("string")),
        else_=ibis.coalesce(known, location.lower()))


def region_name(rid: ir.StringValue, named: ir.StringValue,
                meter_region: ir.StringValue) -> ir.StringValue:
    """RegionName: the export's own Location, else the table's name, else MeterRegion when
    it spells the same region (a display name the table does not know yet)."""
    key = meter_region.lower().re_replace(r"[^0-9a-z]", "")
    same = ibis.cases((key == rid.re_replace(r"[^0-9a-z]", ""), meter_region),
                      else_=ibis.null("string"))
    return ibis.cases(  # type: ignore[return-value]
        (rid.notnull(), ibis.coalesce(named, regions.name_of(rid, regions.AZURE), same)),
        else_=ibis.null("string"))


def resource_type(resource_id: ir.StringValue, native: ir.StringValue,
                  fallback: ir.StringValue) -> ir.StringValue:
    """ResourceType: the export's own, else the ARM type of the resource id (lower case:
    ARM types are case-insensitive and ids are written in any case), else ``fallback``
    (the consumed service) for ids that are not ARM ids."""
    parts = [resource_id.re_extract(ARM_TYPE, i) for i in (1, 2, 3, 4)]
    arm = parts[0] + "/" + parts[1]
    for extra in parts[2:]:
        arm = arm + ibis.cases((extra != "", "/" + extra), else_="")
    derived = ibis.cases(
        (parts[0] != "", arm.lower()),
        (resource_id.re_search(ARM_GROUP), "microsoft.resources/resourcegroups"),
        (resource_id.re_search(ARM_SUBSCRIPTION), "microsoft.resources/subscriptions"),
        else_=ibis.null("string"))
    return ibis.cases(  # type: ignore[return-value]
        (resource_id.notnull(), ibis.coalesce(native, derived, fallback)),
        else_=ibis.null("string"))


def account_period(raw: ir.Table, *, spark: bool = False) -> dict[str, ir.Value]:
    """BillingAccountId, BillingPeriodStart, BillingCurrency of each export row.

    Legacy v1 files have no billing account or period: the subscription and the month of
    the usage date stand in for them. ``spark``: the expressions are for Spark.
    """
    date = timestamp(column(raw, "Date", "UsageDateTime", "UsageDate"), spark=spark)
    start = timestamp(column(raw, "BillingPeriodStartDate"), spark=spark)
    return {
        "BillingAccountId": ibis.coalesce(text(column(raw, "BillingAccountId")),
                                          text(column(raw, "SubscriptionId",
                                                      "SubscriptionGuid"))),
        "BillingPeriodStart": ibis.coalesce(start, date.truncate("M")),
        "BillingCurrency": text(column(raw, "BillingCurrency", "BillingCurrencyCode",
                                       "Currency")).upper(),
    }


def normalize(raw: ir.Table, dataset: str, *, spark: bool = False) -> ir.Table:
    """One intermediate row per export row: typed keys, text attributes, side measures.

    Built in layers (clean text, then parse, then derive) so that the engine plans each
    cell's parse once instead of a deeply repeated expression tree. ``spark``: the
    expression is for Spark.
    """
    has_account = any(c.lower() == "billingaccountid" for c in raw.columns)
    t = raw.select(
        s_account=text(column(raw, "BillingAccountId")),
        s_start=text(column(raw, "BillingPeriodStartDate")),
        s_end=text(column(raw, "BillingPeriodEndDate")),
        s_date=text(column(raw, "Date", "UsageDateTime", "UsageDate")),
        s_currency=text(column(raw, "BillingCurrency", "BillingCurrencyCode", "Currency")),
        s_cost=column(raw, "CostInBillingCurrency", "Cost", "PreTaxCost"),
        s_payg=column(raw, "PaygCostInBillingCurrency"),
        s_qty=column(raw, "Quantity", "UsageQuantity"),
        **{name: text(column(raw, *candidates)) for name, candidates in ATTRIBUTES.items()})
    t = t.mutate(p_start=timestamp(t.s_start, spark=spark),
                 p_end=timestamp(t.s_end, spark=spark),
                 p_date=timestamp(t.s_date, spark=spark),
                 cost=money(t.s_cost), payg=money(t.s_payg), qty=quantity(t.s_qty))
    t = t.mutate(BillingAccountId=ibis.coalesce(t.s_account, t.subscription_id),
                 BillingPeriodStart=ibis.coalesce(t.p_start, t.p_date.truncate("M")),
                 BillingCurrency=t.s_currency.upper())
    actual = dataset == "actual"
    zero, qzero = ibis.literal(0).cast(t.cost.type()), ibis.literal(0).cast(t.qty.type())
    none = ibis.null(t.cost.type())
    return t.select(
        "BillingAccountId", "BillingPeriodStart", "BillingCurrency",
        *ATTRIBUTES,
        period_end=ibis.coalesce(t.p_end + ibis.interval(days=1),
                                 next_month(t.BillingPeriodStart)),
        charge_date=t.p_date,
        has_billing_account=ibis.literal(has_account),
        a_cost=t.cost if actual else zero, m_cost=zero if actual else t.cost,
        a_payg=t.payg if actual else none, m_payg=none if actual else t.payg,
        a_qty=t.qty if actual else qzero, m_qty=qzero if actual else t.qty,
        a_n=ibis.literal(1 if actual else 0), m_n=ibis.literal(0 if actual else 1))


def focus_rows(t: ir.Table) -> ir.Table:
    """Aggregate actual + amortized rows on their natural key and map them to FOCUS."""
    key = [c for c in t.columns if c[:2] not in ("a_", "m_")]
    g = t.group_by(key).aggregate(
        a_cost=t.a_cost.sum(), m_cost=t.m_cost.sum(), a_payg=t.a_payg.sum(),
        m_payg=t.m_payg.sum(), a_qty=t.a_qty.sum(), m_qty=t.m_qty.sum(),
        a_n=t.a_n.sum(), m_n=t.m_n.sum())
    period = ibis.window(group_by=["BillingAccountId", "BillingPeriodStart",
                                   "BillingCurrency"])
    g = g.mutate(has_a=(g.a_n.sum().over(period) > 0), has_m=(g.m_n.sum().over(period) > 0))
    charge = g.charge_type.lower().fill_null("usage")
    model = g.pricing_model.lower().replace(" ", "").fill_null("")
    commit_id = ibis.coalesce(g.benefit_id, g.reservation_id)
    unused = charge.startswith("unused")
    covered = unused | ((charge == "usage") & model.isin(COMMITTED_MODELS))
    purchase = charge.isin(["purchase", "refund"])
    commit_purchase = purchase & (model.isin(COMMITTED_MODELS) | commit_id.notnull())
    is_commit = covered | commit_purchase
    zero = ibis.literal(0).cast(g.a_cost.type())
    billed = ibis.cases((g.has_a, g.a_cost), (covered, zero), else_=g.m_cost)
    effective = ibis.cases((g.has_m, g.m_cost), (commit_purchase, zero), else_=g.a_cost)
    qty = ibis.cases((g.m_n > 0, g.m_qty), else_=g.a_qty)
    payg = ibis.cases((g.a_n > 0, g.a_payg), else_=g.m_payg)
    payg_price = quantity(g.payg_price)
    unit_price = quantity(g.unit_price)
    list_cost = ibis.cases(
        (purchase | (charge == "refund"), billed),
        (payg.notnull(), payg),
        ((payg_price > 0) & qty.notnull(), (payg_price * qty).cast(zero.type())),
        ((unit_price > 0) & qty.notnull(), (unit_price * qty).cast(zero.type())),
        else_=effective)
    contracted = ibis.cases(
        (purchase, billed),
        ((unit_price > 0) & qty.notnull(), (unit_price * qty).cast(zero.type())),
        else_=effective)
    spend = model.contains("savingsplan") | (charge == "unusedsavingsplan") | \
        commit_id.lower().contains("savingsplan")
    chg_cat = ibis.cases(
        (charge.isin(["usage"]) | unused, "Usage"), (purchase, "Purchase"),
        (charge == "tax", "Tax"), (charge == "credit", "Credit"), else_="Adjustment")
    frequency = g.frequency.lower()
    sa = ibis.cases(((g.a_n > 0) & (g.m_n > 0), "actual+amortized"), (g.a_n > 0, "actual"),
                    else_="amortized")
    resource_name = ibis.coalesce(g.resource_name, g.resource_id.re_extract(r"([^/]+)/?$", 1))
    rid = region_id(g.location)
    commit = {
        "CommitmentDiscountId": commit_id,
        "CommitmentDiscountName": ibis.coalesce(g.benefit_name, g.reservation_name),
        "CommitmentDiscountCategory": ibis.cases((spend, "Spend"), else_="Usage"),
        "CommitmentDiscountType": ibis.cases((spend, "Savings Plan"), else_="Reservation"),
        "CommitmentDiscountStatus": ibis.cases((unused, "Unused"), (covered, "Used"),
                                               else_=ibis.null("string")),
    }
    rows = g.select(
        BillingAccountId=g.BillingAccountId,
        BillingAccountName=g.account_name,
        BillingAccountType=ibis.cases((g.has_billing_account, "Billing Account"),
                                      else_="Subscription"),
        BillingCurrency=g.BillingCurrency,
        BillingPeriodStart=g.BillingPeriodStart,
        BillingPeriodEnd=g.period_end,
        ChargePeriodStart=g.charge_date,
        ChargePeriodEnd=g.charge_date + ibis.interval(days=1),
        BilledCost=billed, EffectiveCost=effective, ListCost=list_cost,
        ContractedCost=contracted,
        ChargeCategory=chg_cat,
        ChargeClass=ibis.cases((charge == "refund", "Correction"), else_=ibis.null("string")),
        ChargeDescription=ibis.coalesce(g.product, g.meter_name),
        ChargeFrequency=ibis.cases(
            (frequency == "onetime", "One-Time"), (frequency == "recurring", "Recurring"),
            (frequency == "usagebased", "Usage-Based"),
            (chg_cat == "Usage", "Usage-Based"), else_=ibis.null("string")),
        PricingCategory=ibis.cases(
            (model == "spot", "Dynamic"), (covered & ~unused, "Committed"),
            (unused, "Committed"), (purchase, ibis.null("string")),
            (chg_cat == "Usage", "Standard"), else_=ibis.null("string")),
        **{k: ibis.cases((is_commit, v), else_=ibis.null("string"))
           for k, v in commit.items()},
        ConsumedQuantity=ibis.cases(((chg_cat == "Usage") & ~unused, qty),
                                    else_=ibis.null(qty.type())),
        ConsumedUnit=ibis.cases(((chg_cat == "Usage") & ~unused, g.unit),
                                else_=ibis.null("string")),
        PricingQuantity=qty, PricingUnit=g.unit,
        ListUnitPrice=payg_price, ContractedUnitPrice=unit_price,
        PricingCurrency=ibis.coalesce(g.pricing_currency, g.BillingCurrency),
        InvoiceId=g.invoice_id,
        InvoiceIssuerName=ibis.literal("Microsoft"),
        ProviderName=ibis.literal("Microsoft"),
        ServiceProviderName=ibis.literal("Microsoft"),
        HostProviderName=ibis.literal("Microsoft"),
        PublisherName=ibis.coalesce(g.publisher_name, ibis.literal("Microsoft")),
        RegionId=rid, RegionName=region_name(rid, g.region_name, g.meter_region),
        AvailabilityZone=g.zone,
        ResourceId=g.resource_id, ResourceName=resource_name,
        ResourceType=resource_type(g.resource_id, g.resource_type,
                                   ibis.coalesce(g.consumed_service, g.meter_category)),
        ServiceName=ibis.coalesce(g.meter_category, g.consumed_service, g.service_family),
        ServiceCategory=category(ibis.coalesce(g.consumed_service, ""), SERVICE_CATEGORY),
        ServiceSubcategory=ibis.null("string"),
        SkuId=ibis.coalesce(g.product_id, g.meter_id), SkuMeter=g.meter_name,
        SkuPriceId=ibis.null("string"),
        # legacy exports name no subscription: its id stands in for the name
        SubAccountId=g.subscription_id,
        SubAccountName=ibis.cases((g.subscription_id.notnull(), ibis.coalesce(
            g.subscription_name, g.subscription_id)), else_=ibis.null("string")),
        SubAccountType=ibis.cases((g.subscription_id.notnull(), "Subscription"),
                                  else_=ibis.null("string")),
        Tags=braced_json(g.tags),
        x_ChargeType=g.charge_type, x_PricingModel=g.pricing_model,
        x_ResourceGroupName=g.resource_group, x_MeterId=g.meter_id,
        x_MeterCategory=g.meter_category, x_MeterSubcategory=g.meter_subcategory,
        x_MeterRegion=g.meter_region, x_ServiceFamily=g.service_family,
        x_ConsumedService=g.consumed_service, x_AdditionalInfo=g.additional_info,
        x_BillingProfileId=g.profile_id, x_BillingProfileName=g.profile_name,
        x_InvoiceSectionId=g.section_id, x_InvoiceSectionName=g.section_name,
        x_CostCenter=g.cost_center, x_ReservationId=g.reservation_id,
        x_ProductOrderId=g.order_id, x_ProductOrderName=g.order_name,
        x_OfferId=g.offer_id, x_PublisherType=g.publisher_type,
        x_AzureDataset=sa, x_AzureRowsActual=g.a_n.cast("int64"),
        x_AzureRowsAmortized=g.m_n.cast("int64"),
    )
    return rows
