"""AWS CUR (legacy, Athena/Parquet, CUR 2.0) -> FOCUS, as DuckDB SQL over the file itself.

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

from cloudledger.ingest.sources import _regions as regions
from cloudledger.ingest.sources.aws_common import (
    ARN_SERVICE_TYPES,
    EC2_ID_TYPES,
    MONEY_FIELDS,
    PRODUCT_ID_TYPES,
    QUANTITY_FIELDS,
    TIME_FIELDS,
    USAGE_TYPE_UNITS,
    X_COLUMNS,
    Fields,
    in_sql,
    literal,
    parsed_sql,
    quote,
    service_category_sql,
    tag_key_sql,
    text_sql,
    typed_sql,
    x_name,
)
from cloudledger.ingest.sources.aws_stage import MONEY, QUANTITY

SOURCE_TOTAL = "DECIMAL(38, 18)"
ONE_TIME = ("Fee", "SavingsPlanUpfrontFee", "Tax", "Credit", "Refund")
COMMITTED_USAGE = ("DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")
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
    "product_family": "product/productFamily",
    "pod_cost": "pricing/publicOnDemandCost", "pod_rate": "pricing/publicOnDemandRate",
    "rate_code": "pricing/RateCode", "rate_id": "pricing/RateId", "term": "pricing/term",
    "unit": "pricing/unit", "pricing_currency": "pricing/currency",
    "ri_arn": "reservation/ReservationARN", "ri_eff": "reservation/EffectiveCost",
    "ri_unused_upfront": "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "ri_unused_recurring": "reservation/UnusedRecurringFee",
    "ri_units": "reservation/TotalReservedUnits", "ri_unused_qty": "reservation/UnusedQuantity",
    "sp_arn": "savingsPlan/SavingsPlanARN", "sp_eff": "savingsPlan/SavingsPlanEffectiveCost",
    "sp_total": "savingsPlan/TotalCommitmentToDate", "sp_used": "savingsPlan/UsedCommitment",
    "ri_end": "reservation/EndTime", "sp_end": "savingsPlan/EndTime",
}
#: the commitment's end (text as the CUR writes it) on its rows, for expirations
COMMITMENT_END = "x_CommitmentDiscountEnd"


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


def base_sql(f: Fields, source: str, cc_keys: list[str] | None = None,
             exclude: str | None = None) -> str:
    lit = text_sql(f, "lineItem/LineItemType")
    cols = []
    for alias, name in ALIASES.items():
        if name in MONEY_FIELDS:
            expr = parsed_sql(f, name, lit, MONEY)
        elif name in QUANTITY_FIELDS:
            expr = parsed_sql(f, name, lit, QUANTITY)
        elif name in TIME_FIELDS:
            expr = typed_sql(f, name, "TIMESTAMP")
        else:
            expr = text_sql(f, name)
        cols.append(f"{expr} AS {alias}")
    cols.append(f"{tags_sql(f)} AS tags")
    for x, expr in cost_categories(f, cc_keys).items():
        cols.append(f"{expr} AS {quote(x)}")
    where = f" WHERE NOT ({exclude})" if exclude else ""
    return f"SELECT {', '.join(cols)} FROM {source}{where}"


SP_TYPES = ("SavingsPlanCoveredUsage", "SavingsPlanNegation")
SP_KEY_FIELDS = ("lineItem/UsageAccountId", "lineItem/ResourceId", "lineItem/UsageType",
                 "lineItem/Operation", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
                 "savingsPlan/SavingsPlanARN")


def sp_key_sql(parts: list[str]) -> str:
    """The key a SavingsPlanNegation shares with its covered usage (NULL-safe)."""
    return ("concat_ws(chr(31), " + ", ".join(f"coalesce(CAST({p} AS VARCHAR), '')"
                                             for p in parts) + ")")


SP_KEY = sp_key_sql(["usage_account", "resource_id", "usage_type", "operation", "u_start",
                     "u_end", "sp_arn"])


def ri_unused_sql(upfront: str = "ri_unused_upfront",
                  recurring: str = "ri_unused_recurring") -> str:
    return f"(coalesce({upfront}, 0) + coalesce({recurring}, 0))"


def sp_unused_sql(total: str = "sp_total", used: str = "sp_used") -> str:
    return f"(coalesce({total}, 0) - coalesce({used}, 0))"


def unused_sql(lit: str = "lit", ri: str | None = None, sp: str | None = None) -> str:
    """Rows that add an unused-commitment row."""
    return (f"(({lit} = 'RIFee' AND {ri or ri_unused_sql()} <> 0) OR "
            f"({lit} = 'SavingsPlanRecurringFee' AND {sp or sp_unused_sql()} <> 0))")


def region_id_sql() -> str:
    """RegionId: the file's region code, else the region its location names (legacy CURs
    without product/region write only "US East (N. Virginia)"), else the availability
    zone's region (us-east-1a -> us-east-1)."""
    by_name = regions.sql_case(regions.sql_norm("location"),
                               regions.id_lookup(regions.AWS, regions.AWS_ALIASES))
    by_zone = r"NULLIF(regexp_extract(az, '^([a-z]{2}(-gov)?-[a-z]+-[0-9]+)[a-z]$', 1), '')"
    return f"coalesce(region_code, region, {by_name}, {by_zone})"


def resource_type_sql() -> str:
    """ResourceType of ``resource_id``: the type an ARN names (``...:instance/i-1`` ->
    instance, ``...:function:f`` -> function), else an EC2 id's prefix (``vol-1`` ->
    volume), else the product's resource kind (S3 bucket names), else the product family
    (AWS's classification of the product: "Compute Instance", "Storage"), else the
    service."""
    arn_res = r"regexp_extract(resource_id, '^arn:[^:]+:[^:]*:[^:]*:[^:]*:(.+)$', 1)"
    arn_svc = r"regexp_extract(resource_id, '^arn:[^:]+:([^:]*):', 1)"
    arn_type = (f"CASE WHEN starts_with(resource_id, 'arn:') THEN coalesce("
                f"{regions.sql_case(arn_svc, ARN_SERVICE_TYPES)}, NULLIF(regexp_extract("
                f"{arn_res}, '^([^/:]+)[/:]', 1), '')) END")
    ec2 = regions.sql_case(r"regexp_extract(resource_id, '^([a-z]+)-[0-9a-f]{8,17}$', 1)",
                           EC2_ID_TYPES)
    product = regions.sql_case("product_code", PRODUCT_ID_TYPES)
    return (f"CASE WHEN resource_id IS NOT NULL THEN coalesce({arn_type}, {ec2}, {product}, "
            "product_family, product_name, service_name, product_code, 'AWS') END")


def usage_unit_sql() -> str:
    """The unit a usage type is metered in (see ``USAGE_TYPE_UNITS``), NULL if unknown."""
    whens = " ".join(f"WHEN regexp_matches(usage_type, {literal(p)}) THEN {literal(u)}"
                     for p, u in USAGE_TYPE_UNITS)
    return f"CASE {whens} END"


RI_UNUSED = ri_unused_sql()
SP_UNUSED = sp_unused_sql()
UNUSED = unused_sql()


def lines_sql(f: Fields, source: str, cc_keys: list[str] | None = None,
              exclude: str | None = None, ties: bool = False) -> str:
    """CTEs ending in ``lines``: native rows, negations folded, unused rows added.

    One streaming pass over the file plus a small aggregate of the Savings Plan rows by
    match key (joined back): each key's negations are added to its first covered row (by
    LineItemId) and dropped; RIFee / SavingsPlanRecurringFee rows with unused commitment
    are emitted twice (``part`` 'line' and 'unused'). ``ties``: some key has covered rows
    whose first LineItemId is not unique; pick the first row with a window instead.
    """
    first = ("row_number() OVER (PARTITION BY b.sp_key, lit ORDER BY id) = 1" if ties
             else "id IS NOT DISTINCT FROM sp_first")
    # ``b`` is written out twice rather than referenced twice: DuckDB would materialize a
    # CTE used twice (every column of every row), and the aggregate needs only four columns
    b = (f"SELECT *, coalesce(net, cost) AS billed, CASE WHEN {in_sql('lit', SP_TYPES)} THEN "
         f"{SP_KEY} END AS sp_key FROM ({base_sql(f, source, cc_keys, exclude)})")
    return f"""WITH b AS ({b}),
sp AS (SELECT sp_key, min(id) FILTER (WHERE lit = 'SavingsPlanCoveredUsage') AS sp_first,
         count_if(lit = 'SavingsPlanCoveredUsage') AS sp_covered,
         sum(billed) FILTER (WHERE lit = 'SavingsPlanNegation') AS sp_negated
       FROM ({b}) WHERE sp_key IS NOT NULL GROUP BY sp_key),
j AS (SELECT b.* EXCLUDE (sp_key), sp_first, sp_covered, sp_negated,
        CASE WHEN lit = 'SavingsPlanCoveredUsage' AND sp_negated IS NOT NULL THEN {first}
        END AS sp_fold
      FROM b LEFT JOIN sp ON b.sp_key = sp.sp_key
      WHERE NOT (lit = 'SavingsPlanNegation' AND coalesce(sp_covered, 0) > 0)),
lines AS (SELECT * EXCLUDE (sp_first, sp_covered, sp_negated, sp_fold, part),
    CASE WHEN part = 'unused' THEN CAST(0 AS {MONEY}) WHEN sp_fold THEN billed + sp_negated
         ELSE billed END AS billed_adj, part
  FROM (SELECT *, unnest(CASE WHEN {UNUSED} THEN ['line', 'unused'] ELSE ['line'] END)
        AS part FROM j))"""


def rows_sql(f: Fields, source: str, x_columns: list[str],
             cc_keys: list[str] | None = None, exclude: str | None = None,
             ties: bool = False) -> str:
    """FOCUS rows (canonical names and types) plus ``x_columns`` (NULL where absent)."""
    unused = "part = 'unused'"
    commit = (f"({unused} OR {in_sql('lit', COMMITMENT_TYPES)} OR (lit = 'Fee' AND ri_arn IS "
              "NOT NULL))")
    is_sp = ("(lit LIKE 'SavingsPlan%' OR (NOT (lit = 'RIFee' OR lit = 'DiscountedUsage' OR "
             "lit = 'Fee') AND sp_arn IS NOT NULL))")
    consumed = ("part = 'line' AND "
                + in_sql("lit", ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")))
    mapped = f"""m AS (SELECT *,
  CASE WHEN {unused} THEN 'Usage' WHEN {in_sql('lit', USAGE_TYPES)} THEN 'Usage'
       WHEN {in_sql('lit', PURCHASE_TYPES)} THEN 'Purchase' WHEN lit = 'Tax' THEN 'Tax'
       WHEN lit = 'Credit' THEN 'Credit'
       WHEN lit = 'Refund' THEN CASE WHEN tax_type IS NOT NULL THEN 'Tax'
            WHEN coalesce(ri_arn, sp_arn) IS NOT NULL THEN 'Purchase' ELSE 'Usage' END
       ELSE 'Adjustment' END AS cat,
  CASE WHEN {commit} THEN CASE WHEN {is_sp} THEN sp_arn ELSE ri_arn END END AS cid,
  CASE WHEN {unused} THEN CASE WHEN lit = 'RIFee' THEN {RI_UNUSED} ELSE {SP_UNUSED} END
       WHEN lit = 'DiscountedUsage' THEN coalesce(ri_eff, 0)
       WHEN lit = 'SavingsPlanCoveredUsage' THEN coalesce(sp_eff, 0)
       WHEN lit = 'SavingsPlanNegation' OR lit = 'SavingsPlanUpfrontFee'
            OR lit = 'SavingsPlanRecurringFee' OR lit = 'RIFee' THEN 0
       WHEN lit = 'Fee' AND ri_arn IS NOT NULL THEN 0
       ELSE billed_adj END AS effective,
  {region_id_sql()} AS rid FROM lines)"""
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
        "ChargeFrequency": f"CASE WHEN {unused} THEN 'Usage-Based' WHEN "
                           f"{in_sql('lit', ('RIFee', 'SavingsPlanRecurringFee'))} THEN "
                           f"'Recurring' WHEN {in_sql('lit', ONE_TIME)} THEN 'One-Time' "
                           "ELSE 'Usage-Based' END",
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
                                    "'Unused' WHEN lit = 'DiscountedUsage' OR lit = "
                                    "'SavingsPlanCoveredUsage' THEN 'Used' END",
        "CommitmentDiscountType": f"CASE WHEN cid IS NOT NULL THEN CASE WHEN {is_sp} THEN "
                                  "'Savings Plan' ELSE 'Reserved Instance' END END",
        "CommitmentDiscountUnit": f"CASE WHEN cid IS NULL THEN NULL WHEN {is_sp} THEN "
                                  "currency ELSE 'Hours' END",
        "ConsumedQuantity": f"CASE WHEN {consumed} THEN amount END",
        "ConsumedUnit": f"CASE WHEN {consumed} THEN coalesce(unit, {usage_unit_sql()}) END",
        "ContractedCost": f"CAST({list_cost} AS {MONEY})",
        "ContractedUnitPrice": f"CASE WHEN NOT ({unused}) THEN pod_rate END",
        "EffectiveCost": f"CAST(effective AS {MONEY})",
        "InvoiceId": "invoice_id",
        "InvoiceIssuerName": "coalesce(invoicing_entity, 'AWS')",
        "ListCost": f"CAST({list_cost} AS {MONEY})",
        "ListUnitPrice": f"CASE WHEN NOT ({unused}) THEN pod_rate END",
        "PricingCategory": (
            f"CASE WHEN cat = 'Tax' OR cat = 'Credit' THEN NULL WHEN {unused} OR "
            f"{in_sql('lit', COMMITTED_USAGE)} THEN 'Committed' WHEN cat = 'Purchase' THEN "
            "'Standard' WHEN lower(term) LIKE "
            "'%spot%' OR usage_type LIKE '%SpotUsage%' THEN 'Dynamic' WHEN term = "
            "'Reserved' THEN 'Committed' ELSE 'Standard' END"),
        "PricingCurrency": "pricing_currency",
        "PricingQuantity": f"CASE WHEN {unused} THEN NULL WHEN lit = 'RIFee' THEN "
                           "coalesce(ri_units, amount) ELSE amount END",
        "PricingUnit": f"CASE WHEN NOT ({unused}) THEN unit END",
        "ProviderName": "'AWS'",
        "PublisherName": "CASE WHEN legal_entity IS NULL OR legal_entity LIKE 'Amazon Web "
                         "Services%' THEN 'AWS' ELSE legal_entity END",
        "RegionId": "rid",
        "RegionName": f"CASE WHEN rid IS NOT NULL THEN coalesce(location, "
                      f"{regions.sql_case('rid', regions.AWS)}) END",
        "ResourceId": "resource_id", "ResourceType": resource_type_sql(),
        "ServiceCategory": service_category_sql("product_code"),
        "ServiceName": "coalesce(product_name, service_name, product_code, 'AWS')",
        "SkuId": "sku", "SkuPriceId": "coalesce(rate_code, rate_id)",
        # a legacy CUR names no accounts: the account id stands in for its name
        "SubAccountId": "usage_account",
        "SubAccountName": "CASE WHEN usage_account IS NOT NULL THEN "
                          "coalesce(usage_account_name, usage_account) END",
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
        elif x == COMMITMENT_END:
            out[x] = ("CASE WHEN cid IS NOT NULL THEN nullif(CASE WHEN cid = sp_arn THEN "
                      "sp_end ELSE ri_end END, '') END")
        elif x in cost_categories(f, cc_keys):
            out[x] = quote(x)
        else:
            out[x] = "CAST(NULL AS VARCHAR)"
    select = ",\n  ".join(f"{expr} AS {quote(name)}" for name, expr in out.items())
    return f"{lines_sql(f, source, cc_keys, exclude, ties)},\n{mapped}\nSELECT {select} FROM m"


def x_columns_of(f: Fields, cc_keys: list[str] | None = None) -> list[str]:
    return [*X_COLUMNS.values(), COMMITMENT_END, *cost_categories(f, cc_keys)]
