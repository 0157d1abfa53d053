"""AWS CUR (legacy, Athena/Parquet, CUR 2.0) -> FOCUS, as DuckDB SQL over a staged table.

One mapping for every naming style: ``base_sql`` reads each native field through
``Fields`` (legacy name -> this file's column), the rest works on short aliases.

Line items (../shared/reference/focus-mapping-aws-azure.md):

- SavingsPlanCoveredUsage: the matching SavingsPlanNegation rows (same usage account,
  resource, usage type, operation, usage period and plan) are folded in, so BilledCost nets
  to 0; a negation without a covered row stays a row of its own, a covered row without a
  negation keeps its on-demand cost (the file's own sum is what is billed).
- Unused commitment: each RIFee row with unused amortized upfront / recurring fee, and each
  SavingsPlanRecurringFee row with TotalCommitmentToDate > UsedCommitment, adds a Usage row
  with CommitmentDiscountStatus Unused, BilledCost 0 and EffectiveCost = the unused amount.
- Purchases (RIFee, Fee for an RI, Savings Plan fees) have EffectiveCost 0: their cost is
  amortized onto the usage rows (reservation/EffectiveCost, SavingsPlanEffectiveCost) and
  the unused rows.
"""

from __future__ import annotations

from cloudledger.ingest.sources.aws_common import (
    MONEY_FIELDS,
    QUANTITY_FIELDS,
    REQUIRED_PARSE,
    TIME_FIELDS,
    X_COLUMNS,
    Fields,
    literal,
    quote,
    service_category_sql,
    tag_key_sql,
    x_name,
)
from cloudledger.ingest.sources.aws_stage import MONEY, QUANTITY

SOURCE_TOTAL = "DECIMAL(38, 18)"
USAGE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
               "EdpDiscount", "PrivateRateDiscount", "BundledDiscount", "Discount",
               "DistributorDiscount", "SppDiscount")
PURCHASE_TYPES = ("RIFee", "Fee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee")
KNOWN_TYPES = USAGE_TYPES + PURCHASE_TYPES + ("Tax", "Credit", "Refund")
COMMITMENT_TYPES = ("DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation",
                    "RIFee", "SavingsPlanUpfrontFee", "SavingsPlanRecurringFee")

#: alias -> legacy field
ALIASES = {
    "id": "identity/LineItemId", "payer": "bill/PayerAccountId",
    "payer_name": "bill/PayerAccountName", "bp_start": "bill/BillingPeriodStartDate",
    "bp_end": "bill/BillingPeriodEndDate", "invoice_id": "bill/InvoiceId",
    "invoicing_entity": "bill/InvoicingEntity", "bill_type": "bill/BillType",
    "usage_account": "lineItem/UsageAccountId",
    "usage_account_name": "lineItem/UsageAccountName", "lit": "lineItem/LineItemType",
    "u_start": "lineItem/UsageStartDate", "u_end": "lineItem/UsageEndDate",
    "product_code": "lineItem/ProductCode", "usage_type": "lineItem/UsageType",
    "operation": "lineItem/Operation", "az": "lineItem/AvailabilityZone",
    "resource_id": "lineItem/ResourceId", "amount": "lineItem/UsageAmount",
    "currency": "lineItem/CurrencyCode", "cost": "lineItem/UnblendedCost",
    "net": "lineItem/NetUnblendedCost", "description": "lineItem/LineItemDescription",
    "tax_type": "lineItem/TaxType", "legal_entity": "lineItem/LegalEntity",
    "product_name": "product/ProductName", "service_name": "product/servicename",
    "region": "product/region", "region_code": "product/regionCode",
    "location": "product/location", "sku": "product/sku",
    "pod_cost": "pricing/publicOnDemandCost", "pod_rate": "pricing/publicOnDemandRate",
    "rate_code": "pricing/RateCode", "rate_id": "pricing/RateId", "term": "pricing/term",
    "unit": "pricing/unit", "pricing_currency": "pricing/currency",
    "ri_arn": "reservation/ReservationARN", "ri_eff": "reservation/EffectiveCost",
    "ri_unused_upfront": "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "ri_unused_recurring": "reservation/UnusedRecurringFee",
    "ri_units": "reservation/TotalReservedUnits", "ri_unused_qty": "reservation/UnusedQuantity",
    "sp_arn": "savingsPlan/SavingsPlanARN", "sp_eff": "savingsPlan/SavingsPlanEffectiveCost",
    "sp_total": "savingsPlan/TotalCommitmentToDate", "sp_used": "savingsPlan/UsedCommitment",
}


def _text(f: Fields, name: str) -> str:
    col = f.raw(name)
    if col is None:
        return "CAST(NULL AS VARCHAR)"
    if name == "bill/PayerAccountId" and not f.is_text(name):  # ids read as numbers
        return f"lpad(CAST({col} AS VARCHAR), 12, '0')"
    return f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"


def _typed(f: Fields, name: str, target: str) -> str:
    col = f.raw(name)
    if col is None:
        return f"CAST(NULL AS {target})"
    if target == "TIMESTAMP":
        if f.is_text(name):
            return f"CAST(CAST({_text(f, name)} AS TIMESTAMPTZ) AS TIMESTAMP)"
        return f"CAST({col} AS TIMESTAMP)"
    value = _text(f, name) if f.is_text(name) else col
    return f"CAST({value} AS {target})"


def _parsed(f: Fields, name: str, lit: str, target: str) -> str:
    expr = _typed(f, name, target)
    types = REQUIRED_PARSE.get(name)
    if types is not None:  # read only where it means something (see REQUIRED_PARSE)
        expr = f"CASE WHEN {lit} IN ({', '.join(literal(t) for t in types)}) THEN {expr} END"
    return expr


def tags_sql(f: Fields) -> str:
    if f.style == "cur2" and "resource_tags" in f.columns:
        m = f.columns["resource_tags"].upper().startswith("MAP")
        src = "resource_tags" if m else (
            "CAST(CAST(NULLIF(TRIM(resource_tags), '') AS JSON) AS MAP(VARCHAR, VARCHAR))")
        entries = (f"list_transform(list_filter(map_entries({src}), e -> NULLIF(TRIM("
                   f"e.value), '') IS NOT NULL), e -> {{'k': {tag_key_sql('e.key')}, "
                   f"'v': e.value}})")
    else:
        seen: set[str] = set()
        items = []
        for col, key in f.tag_columns():
            if key in seen:
                continue
            seen.add(key)
            items.append(f"{{'k': {literal(key)}, 'v': NULLIF(TRIM(CAST({quote(col)} AS "
                         f"VARCHAR)), '')}}")
        if not items:
            return "CAST(NULL AS VARCHAR)"
        entries = f"list_filter([{', '.join(items)}], e -> e.v IS NOT NULL)"
    return f"NULLIF(CAST(to_json(map_from_entries({entries})) AS VARCHAR), '{{}}')"


def cost_categories(f: Fields, keys: list[str] | None = None) -> dict[str, str]:
    """x_ column name -> SQL for each cost category."""
    out: dict[str, str] = {}
    if f.style == "cur2" and "cost_category" in f.columns:
        m = f.columns["cost_category"].upper().startswith("MAP")
        src = "cost_category" if m else (
            "CAST(CAST(NULLIF(TRIM(cost_category), '') AS JSON) AS MAP(VARCHAR, VARCHAR))")
        for key in keys or []:
            out.setdefault(x_name("CostCategory", key),
                           f"NULLIF(TRIM(element_at({src}, {literal(key)})[1]), '')")
        return out
    for col, key in f.cost_category_columns():
        out.setdefault(x_name("CostCategory", key),
                       f"NULLIF(TRIM(CAST({quote(col)} AS VARCHAR)), '')")
    return out


def base_sql(f: Fields, table: str, cc_keys: list[str] | None = None) -> str:
    lit = _text(f, "lineItem/LineItemType")
    cols = []
    for alias, name in ALIASES.items():
        if name in MONEY_FIELDS:
            expr = _parsed(f, name, lit, MONEY)
        elif name in QUANTITY_FIELDS:
            expr = _parsed(f, name, lit, QUANTITY)
        elif name in TIME_FIELDS:
            expr = _typed(f, name, "TIMESTAMP")
        else:
            expr = _text(f, name)
        cols.append(f"{expr} AS {alias}")
    cols.append(f"{tags_sql(f)} AS tags")
    for x, expr in cost_categories(f, cc_keys).items():
        cols.append(f"{expr} AS {quote(x)}")
    return f"SELECT {', '.join(cols)} FROM {table}"


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(literal(v) for v in values)})"


SP_KEY = ("concat_ws(chr(31), coalesce(usage_account, ''), coalesce(resource_id, ''), "
          "coalesce(usage_type, ''), coalesce(operation, ''), coalesce(CAST(u_start AS "
          "VARCHAR), ''), coalesce(CAST(u_end AS VARCHAR), ''), coalesce(sp_arn, ''))")
RI_UNUSED = "(coalesce(ri_unused_upfront, 0) + coalesce(ri_unused_recurring, 0))"
SP_UNUSED = "(coalesce(sp_total, 0) - coalesce(sp_used, 0))"


def lines_sql(f: Fields, table: str, cc_keys: list[str] | None = None) -> str:
    """CTEs ending in ``lines``: native rows, negations folded, unused rows added."""
    return f"""WITH base AS ({base_sql(f, table, cc_keys)}),
b AS (SELECT *, coalesce(net, cost) AS billed, CASE WHEN lit IN ('SavingsPlanCoveredUsage',
      'SavingsPlanNegation') THEN {SP_KEY} END AS sp_key FROM base),
covered AS (SELECT *, row_number() OVER (PARTITION BY sp_key ORDER BY id) AS sp_rn
            FROM b WHERE lit = 'SavingsPlanCoveredUsage'),
neg AS (SELECT sp_key, sum(billed) AS neg_billed FROM b
        WHERE lit = 'SavingsPlanNegation' GROUP BY sp_key),
lines AS (
  SELECT * EXCLUDE (sp_key), billed AS billed_adj, 'line' AS part FROM b
  WHERE lit IS DISTINCT FROM 'SavingsPlanCoveredUsage' AND (lit IS DISTINCT FROM
        'SavingsPlanNegation' OR sp_key NOT IN (SELECT sp_key FROM covered))
  UNION ALL BY NAME
  SELECT c.* EXCLUDE (sp_key, sp_rn), c.billed + CASE WHEN c.sp_rn = 1
         THEN coalesce(n.neg_billed, 0) ELSE 0 END AS billed_adj, 'line' AS part
  FROM covered c LEFT JOIN neg n ON c.sp_key = n.sp_key
  UNION ALL BY NAME
  SELECT * EXCLUDE (sp_key), CAST(0 AS {MONEY}) AS billed_adj, 'unused' AS part FROM b
  WHERE lit = 'RIFee' AND {RI_UNUSED} <> 0
  UNION ALL BY NAME
  SELECT * EXCLUDE (sp_key), CAST(0 AS {MONEY}) AS billed_adj, 'unused' AS part FROM b
  WHERE lit = 'SavingsPlanRecurringFee' AND {SP_UNUSED} <> 0)"""


def rows_sql(f: Fields, table: str, x_columns: list[str],
             cc_keys: list[str] | None = None) -> str:
    """FOCUS rows (canonical names and types) plus ``x_columns`` (NULL where absent)."""
    unused = "part = 'unused'"
    commit = (f"({unused} OR {_in('lit', COMMITMENT_TYPES)} OR (lit = 'Fee' AND ri_arn IS "
              "NOT NULL))")
    is_sp = ("(lit LIKE 'SavingsPlan%' OR (lit NOT IN ('RIFee', 'DiscountedUsage', 'Fee') "
             "AND sp_arn IS NOT NULL))")
    consumed = ("part = 'line' AND "
                + _in("lit", ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")))
    mapped = f"""m AS (SELECT *,
  CASE WHEN {unused} THEN 'Usage' WHEN {_in('lit', USAGE_TYPES)} THEN 'Usage'
       WHEN {_in('lit', PURCHASE_TYPES)} THEN 'Purchase' WHEN lit = 'Tax' THEN 'Tax'
       WHEN lit = 'Credit' THEN 'Credit'
       WHEN lit = 'Refund' THEN CASE WHEN tax_type IS NOT NULL THEN 'Tax'
            WHEN coalesce(ri_arn, sp_arn) IS NOT NULL THEN 'Purchase' ELSE 'Usage' END
       ELSE 'Adjustment' END AS cat,
  CASE WHEN {commit} THEN CASE WHEN {is_sp} THEN sp_arn ELSE ri_arn END END AS cid,
  CASE WHEN {unused} THEN CASE WHEN lit = 'RIFee' THEN {RI_UNUSED} ELSE {SP_UNUSED} END
       WHEN lit = 'DiscountedUsage' THEN coalesce(ri_eff, 0)
       WHEN lit = 'SavingsPlanCoveredUsage' THEN coalesce(sp_eff, 0)
       WHEN lit IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee',
                    'RIFee') THEN 0
       WHEN lit = 'Fee' AND ri_arn IS NOT NULL THEN 0
       ELSE billed_adj END AS effective FROM lines)"""
    list_cost = (f"CASE WHEN {unused} THEN 0 WHEN {consumed} THEN coalesce(pod_cost, "
                 f"CAST(CAST(pod_rate AS DOUBLE) * CAST(amount AS DOUBLE) AS {MONEY}), "
                 "billed_adj) ELSE billed_adj END")
    out = {
        "AvailabilityZone": "az",
        "BilledCost": f"CAST(CASE WHEN {unused} THEN 0 ELSE billed_adj END AS {MONEY})",
        "BillingAccountId": "payer", "BillingAccountName": "payer_name",
        "BillingCurrency": "currency", "BillingPeriodEnd": "bp_end",
        "BillingPeriodStart": "bp_start",
        "ChargeCategory": "cat",
        "ChargeClass": "CASE WHEN part = 'line' AND lit = 'Refund' AND u_start < bp_start "
                       "THEN 'Correction' END",
        "ChargeDescription": f"CASE WHEN {unused} THEN 'Unused commitment: ' || "
                             "coalesce(description, lit) ELSE description END",
        "ChargeFrequency": f"CASE WHEN {unused} THEN 'Usage-Based' WHEN lit IN ('RIFee', "
                           "'SavingsPlanRecurringFee') THEN 'Recurring' WHEN lit IN ('Fee', "
                           "'SavingsPlanUpfrontFee', 'Tax', 'Credit', 'Refund') THEN "
                           "'One-Time' ELSE 'Usage-Based' END",
        "ChargePeriodEnd": "u_end", "ChargePeriodStart": "u_start",
        "CommitmentDiscountCategory": f"CASE WHEN cid IS NOT NULL THEN CASE WHEN {is_sp} "
                                      "THEN 'Spend' ELSE 'Usage' END END",
        "CommitmentDiscountId": "cid",
        "CommitmentDiscountQuantity": (
            f"CAST(CASE WHEN cid IS NULL THEN NULL WHEN {unused} THEN CASE WHEN lit = 'RIFee' "
            f"THEN ri_unused_qty ELSE {SP_UNUSED} END WHEN lit = 'SavingsPlanRecurringFee' "
            "THEN sp_total WHEN lit = 'RIFee' THEN ri_units WHEN lit = 'DiscountedUsage' "
            "THEN amount WHEN lit = 'SavingsPlanCoveredUsage' THEN sp_eff END AS "
            f"{QUANTITY})"),
        "CommitmentDiscountStatus": f"CASE WHEN cid IS NULL THEN NULL WHEN {unused} THEN "
                                    "'Unused' WHEN lit IN ('DiscountedUsage', "
                                    "'SavingsPlanCoveredUsage') THEN 'Used' END",
        "CommitmentDiscountType": f"CASE WHEN cid IS NOT NULL THEN CASE WHEN {is_sp} THEN "
                                  "'Savings Plan' ELSE 'Reserved Instance' END END",
        "CommitmentDiscountUnit": f"CASE WHEN cid IS NULL THEN NULL WHEN {is_sp} THEN "
                                  "currency ELSE 'Hours' END",
        "ConsumedQuantity": f"CASE WHEN {consumed} THEN amount END",
        "ConsumedUnit": f"CASE WHEN {consumed} THEN unit END",
        "ContractedCost": f"CAST({list_cost} AS {MONEY})",
        "ContractedUnitPrice": f"CASE WHEN NOT ({unused}) THEN pod_rate END",
        "EffectiveCost": f"CAST(effective AS {MONEY})",
        "InvoiceId": "invoice_id",
        "InvoiceIssuerName": "coalesce(invoicing_entity, 'AWS')",
        "ListCost": f"CAST({list_cost} AS {MONEY})",
        "ListUnitPrice": f"CASE WHEN NOT ({unused}) THEN pod_rate END",
        "PricingCategory": (
            f"CASE WHEN cat IN ('Tax', 'Credit') THEN NULL WHEN {unused} OR lit IN "
            "('DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation') THEN "
            "'Committed' WHEN cat = 'Purchase' THEN 'Standard' WHEN lower(term) LIKE "
            "'%spot%' OR usage_type LIKE '%SpotUsage%' THEN 'Dynamic' WHEN term = "
            "'Reserved' THEN 'Committed' ELSE 'Standard' END"),
        "PricingCurrency": "pricing_currency",
        "PricingQuantity": f"CASE WHEN {unused} THEN NULL WHEN lit = 'RIFee' THEN "
                           "coalesce(ri_units, amount) ELSE amount END",
        "PricingUnit": f"CASE WHEN NOT ({unused}) THEN unit END",
        "ProviderName": "'AWS'",
        "PublisherName": "CASE WHEN legal_entity IS NULL OR legal_entity LIKE 'Amazon Web "
                         "Services%' THEN 'AWS' ELSE legal_entity END",
        "RegionId": "coalesce(region_code, region)", "RegionName": "location",
        "ResourceId": "resource_id",
        "ServiceCategory": service_category_sql("product_code"),
        "ServiceName": "coalesce(product_name, service_name, product_code, 'AWS')",
        "SkuId": "sku", "SkuPriceId": "coalesce(rate_code, rate_id)",
        "SubAccountId": "usage_account", "SubAccountName": "usage_account_name",
        "Tags": "tags",
        "HostProviderName": "'AWS'", "ServiceProviderName": "'AWS'",
    }
    x_alias = {x: a for a, n in ALIASES.items() for fx, x in X_COLUMNS.items() if n == fx}
    for x in x_columns:
        if x == "x_LineItemType":
            out[x] = "CASE WHEN part = 'unused' THEN lit || ':Unused' ELSE lit END"
        elif x == "x_LineItemId":
            out[x] = "CASE WHEN part = 'unused' THEN id || ':unused' ELSE id END"
        elif x in x_alias:
            out[x] = x_alias[x]
        elif x in cost_categories(f, cc_keys):
            out[x] = quote(x)
        else:
            out[x] = "CAST(NULL AS VARCHAR)"
    select = ",\n  ".join(f"{expr} AS {quote(name)}" for name, expr in out.items())
    return f"{lines_sql(f, table, cc_keys)},\n{mapped}\nSELECT {select} FROM m"


def x_columns_of(f: Fields, cc_keys: list[str] | None = None) -> list[str]:
    return list(X_COLUMNS.values()) + list(cost_categories(f, cc_keys))


def _native(f: Fields, name: str) -> str:
    """A native money value parsed wider than storage, straight from the staged column."""
    col = f.raw(name)
    if col is None:
        return f"CAST(NULL AS {SOURCE_TOTAL})"
    if f.is_text(name):
        return f"CAST(NULLIF(TRIM({col}), '') AS {SOURCE_TOTAL})"
    return f"CAST({col} AS {SOURCE_TOTAL})"


def totals_sql(f: Fields, table: str) -> str:
    """The file's own totals per payer, billing period and currency (independent of rows).

    BilledCost: sum of NetUnblendedCost (else UnblendedCost), negations included.
    EffectiveCost: what the native columns state: reservation/EffectiveCost on RI usage,
    SavingsPlanEffectiveCost on SP usage, the RIFee's unused upfront + recurring fee, the SP
    fee's TotalCommitmentToDate - UsedCommitment, 0 on purchases, the cost elsewhere.
    """
    lit = _text(f, "lineItem/LineItemType")
    cost = (f"coalesce({_native(f, 'lineItem/NetUnblendedCost')}, "
            f"{_native(f, 'lineItem/UnblendedCost')})")

    def on(types: tuple[str, ...], name: str) -> str:
        return f"CASE WHEN {_in(lit, types)} THEN {_native(f, name)} END"

    effective = f"""CASE
      WHEN {lit} = 'DiscountedUsage' THEN {on(('DiscountedUsage',), 'reservation/EffectiveCost')}
      WHEN {lit} = 'SavingsPlanCoveredUsage' THEN {on(('SavingsPlanCoveredUsage',),
                                                      'savingsPlan/SavingsPlanEffectiveCost')}
      WHEN {lit} = 'RIFee' THEN
        coalesce({on(('RIFee',), 'reservation/UnusedAmortizedUpfrontFeeForBillingPeriod')}, 0)
        + coalesce({on(('RIFee',), 'reservation/UnusedRecurringFee')}, 0)
      WHEN {lit} = 'SavingsPlanRecurringFee' THEN
        coalesce({on(('SavingsPlanRecurringFee',), 'savingsPlan/TotalCommitmentToDate')}, 0)
        - coalesce({on(('SavingsPlanRecurringFee',), 'savingsPlan/UsedCommitment')}, 0)
      WHEN {lit} IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee') THEN 0
      WHEN {lit} = 'Fee' AND {_text(f, 'reservation/ReservationARN')} IS NOT NULL THEN 0
      ELSE {cost} END"""
    return (f"SELECT {_text(f, 'bill/PayerAccountId')} AS BillingAccountId, "
            f"{_typed(f, 'bill/BillingPeriodStartDate', 'TIMESTAMP')} AS BillingPeriodStart, "
            f"{_text(f, 'lineItem/CurrencyCode')} AS BillingCurrency, "
            f"CAST(sum({cost}) AS {SOURCE_TOTAL}) AS BilledCost, "
            f"CAST(sum(coalesce({effective}, 0)) AS {SOURCE_TOTAL}) AS EffectiveCost "
            f"FROM {table} GROUP BY ALL")


def counts_sql(f: Fields, table: str) -> str:
    """Rows the mapping removes (folded negations) and adds (unused commitment)."""
    return f"""{lines_sql(f, table)}
SELECT (SELECT count(*) FROM b WHERE lit = 'SavingsPlanNegation' AND sp_key IN
          (SELECT sp_key FROM covered)) AS folded,
       (SELECT count(*) FROM b WHERE lit = 'SavingsPlanCoveredUsage' AND sp_key NOT IN
          (SELECT sp_key FROM neg)) AS unnegated,
       (SELECT count(*) FROM b WHERE lit = 'SavingsPlanCoveredUsage' AND sp_arn IS NULL)
          AS no_plan,
       (SELECT count(*) FROM b WHERE (lit = 'RIFee' AND {RI_UNUSED} <> 0) OR
          (lit = 'SavingsPlanRecurringFee' AND {SP_UNUSED} <> 0)) AS synthesized,
       (SELECT list(DISTINCT lit) FROM b WHERE lit NOT IN
          ({', '.join(literal(t) for t in KNOWN_TYPES)})) AS unknown"""
