"""The check pass over an AWS CUR file: what the store and the warnings need to know,
summed straight from the native columns (independent of the mapping in ``aws_mapping``)."""

from __future__ import annotations

from cloudledger.ingest.sources.aws_common import (
    TIME_FIELDS,
    Fields,
    parsed_sql,
    text_sql,
    typed_sql,
)
from cloudledger.ingest.sources.aws_mapping import (
    ALIASES,
    SOURCE_TOTAL,
    SP_KEY_FIELDS,
    ri_unused_sql,
    sp_key_sql,
    sp_unused_sql,
    unused_sql,
)
from cloudledger.ingest.sources.aws_stage import MONEY


def _native(f: Fields, name: str) -> str:
    """A native money value parsed wider than storage, straight from the file's column."""
    col = f.raw(name)
    if col is None:
        return f"CAST(NULL AS {SOURCE_TOTAL})"
    if f.is_text(name):
        # exact fast path: text of at most 13 characters without an exponent has at most
        # 12 decimals, so the int64-backed decimal(18, 12) parse loses nothing
        fast = (f"CASE WHEN strlen({col}) <= 13 AND NOT contains({col}, 'E') AND NOT "
                f"contains({col}, 'e') THEN TRY_CAST({col} AS DECIMAL(18, 12)) END")
        return f"coalesce({fast}, CAST({text_sql(f, name)} AS {SOURCE_TOTAL}))"
    return f"CAST({col} AS {SOURCE_TOTAL})"


def native_effective_sql(f: Fields) -> str:
    """EffectiveCost as the native columns state it (see ``check_sql``)."""
    lit = text_sql(f, "lineItem/LineItemType")
    cost = (f"coalesce({_native(f, 'lineItem/NetUnblendedCost')}, "
            f"{_native(f, 'lineItem/UnblendedCost')})")
    return f"""CASE
      WHEN {lit} = 'DiscountedUsage' THEN {_native(f, 'reservation/EffectiveCost')}
      WHEN {lit} = 'SavingsPlanCoveredUsage' THEN
        {_native(f, 'savingsPlan/SavingsPlanEffectiveCost')}
      WHEN {lit} = 'RIFee' THEN
        coalesce({_native(f, 'reservation/UnusedAmortizedUpfrontFeeForBillingPeriod')}, 0)
        + coalesce({_native(f, 'reservation/UnusedRecurringFee')}, 0)
      WHEN {lit} = 'SavingsPlanRecurringFee' THEN
        coalesce({_native(f, 'savingsPlan/TotalCommitmentToDate')}, 0)
        - coalesce({_native(f, 'savingsPlan/UsedCommitment')}, 0)
      WHEN {lit} = 'SavingsPlanNegation' OR {lit} = 'SavingsPlanUpfrontFee' THEN 0
      WHEN {lit} = 'Fee' AND {text_sql(f, 'reservation/ReservationARN')} IS NOT NULL THEN 0
      ELSE {cost} END"""


def check_sql(f: Fields, source: str, bad: str) -> str:
    """One aggregate pass over a file: what the store and the warnings need to know.

    Grouping set 1, per payer, billing period, currency and line item type: records read
    (``n``), records with a bad value (``n_bad``, predicate ``bad``), the file's own totals
    over the good records (independent of the mapping: summed straight from the native
    columns, parsed as decimal(38, 18)), SavingsPlanCoveredUsage rows without a plan ARN,
    and the unused-commitment rows the mapping adds. Grouping set 2, per Savings Plan match
    key: covered and negation rows, and distinct LineItemIds of the covered rows, summed up
    in one more row (``by_type`` 0): negations folded, covered rows without a negation, and
    keys whose first covered row is not unique by LineItemId (``ties``).

    BilledCost: sum of NetUnblendedCost (else UnblendedCost), negations included.
    EffectiveCost: what the native columns state: reservation/EffectiveCost on RI usage,
    SavingsPlanEffectiveCost on SP usage, the RIFee's unused upfront + recurring fee, the SP
    fee's TotalCommitmentToDate - UsedCommitment, 0 on purchases, the cost elsewhere.
    Values of bad records are never parsed (CASE evaluates its branches lazily).
    """
    lit = text_sql(f, "lineItem/LineItemType")
    cost = (f"coalesce({_native(f, 'lineItem/NetUnblendedCost')}, "
            f"{_native(f, 'lineItem/UnblendedCost')})")
    key = sp_key_sql([typed_sql(f, n, "TIMESTAMP") if n in TIME_FIELDS else text_sql(f, n)
                      for n in SP_KEY_FIELDS])
    p = {a: parsed_sql(f, ALIASES[a], lit, MONEY)
         for a in ("ri_unused_upfront", "ri_unused_recurring", "sp_total", "sp_used")}
    unused = unused_sql("l", ri_unused_sql(p["ri_unused_upfront"], p["ri_unused_recurring"]),
                        sp_unused_sql(p["sp_total"], p["sp_used"]))
    return f"""WITH s AS (SELECT *,
  CASE WHEN bad THEN NULL ELSE {cost} END AS billed_native,
  CASE WHEN bad THEN NULL ELSE coalesce({native_effective_sql(f)}, 0) END AS effective_native,
  CASE WHEN bad THEN NULL ELSE {typed_sql(f, 'bill/BillingPeriodStartDate', 'TIMESTAMP')} END
    AS bp_start,
  CASE WHEN bad THEN false WHEN l = 'SavingsPlanCoveredUsage' THEN
    {text_sql(f, 'savingsPlan/SavingsPlanARN')} IS NULL ELSE false END AS no_plan,
  CASE WHEN bad THEN false WHEN l = 'RIFee' OR l = 'SavingsPlanRecurringFee' THEN {unused}
    ELSE false END AS synthesized,
  CASE WHEN NOT bad AND (l = 'SavingsPlanCoveredUsage' OR l = 'SavingsPlanNegation')
    THEN {key} END AS sp_key
  FROM (SELECT {lit} AS l, {text_sql(f, 'identity/LineItemId')} AS id,
          {text_sql(f, 'bill/PayerAccountId')} AS payer, {text_sql(f, 'lineItem/CurrencyCode')}
          AS currency, {bad} AS bad, * FROM {source})),
g AS (SELECT GROUPING(sp_key) AS by_type, sp_key, payer AS BillingAccountId,
  bp_start AS BillingPeriodStart, currency AS BillingCurrency, l AS lit,
  count(*) AS n, count_if(bad) AS n_bad,
  CAST(sum(billed_native) AS {SOURCE_TOTAL}) AS BilledCost,
  CAST(sum(effective_native) AS {SOURCE_TOTAL}) AS EffectiveCost,
  count_if(no_plan) AS no_plan, count_if(synthesized) AS synthesized,
  count_if(sp_key IS NOT NULL AND l = 'SavingsPlanCoveredUsage') AS covered,
  count_if(sp_key IS NOT NULL AND l = 'SavingsPlanNegation') AS negations,
  count(DISTINCT CASE WHEN sp_key IS NOT NULL AND l = 'SavingsPlanCoveredUsage' THEN id END)
    AS covered_ids
FROM s GROUP BY GROUPING SETS ((payer, bp_start, currency, l), (sp_key)))
SELECT * EXCLUDE (sp_key, covered, negations, covered_ids) FROM g WHERE by_type = 1
UNION ALL BY NAME
SELECT 0 AS by_type,
  coalesce(sum(negations) FILTER (WHERE covered > 0), 0) AS folded,
  coalesce(sum(covered) FILTER (WHERE negations = 0), 0) AS unnegated,
  count_if(covered > 1 AND covered_ids < covered) AS ties
FROM g WHERE by_type = 0 AND sp_key IS NOT NULL"""
