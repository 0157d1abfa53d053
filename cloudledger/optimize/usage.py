"""What commitments can cover: the row flags and scope keys every commitment figure shares,
as SQL over the store's ``focus`` table (DuckDB dialect; names and values through
``engine.ident`` / ``engine.literal``).

- ``covered``: a Usage row a commitment paid for: CommitmentDiscountStatus ``Used``, or
  PricingCategory ``Committed`` and not ``Unused`` (some exports, e.g. a CUR whose
  SavingsPlanCoveredUsage rows carry no plan ARN, leave the commitment columns empty).
- ``unused``: a Usage row with CommitmentDiscountStatus ``Unused`` (the unused part of a
  commitment's amortized cost).
- ``eligible``: a Usage row a commitment could cover: ``covered``, or on-demand
  (PricingCategory Standard or empty, never Dynamic/spot) usage of a Compute or Databases
  service metered in hours (ConsumedUnit ``Hrs``, ``Hours``, ``1 Hour``, ``10 Hours``, ...).
  ``ri_eligible`` (usage-based commitments, planned per family and region): ``eligible``
  without the usage a spend-based commitment covered (it is the Savings Plan's).
  ``sp_eligible`` (spend-based commitments: Savings Plans, flexible CUDs): usage covered by a
  spend-based commitment, and covered or on-demand usage of Compute services.
- ``hours``: ConsumedQuantity in hours on rows metered in hours (``10 Hours`` units x 10).
- ``od``: on-demand-equivalent cost: ListCost where it is set (and not 0 on a row that cost
  something), else EffectiveCost on rows no commitment covered (on-demand rows are billed at
  about list), else NULL (a covered row without a list price: reported, never guessed).
- ``family``: the instance family of a row (``m5`` of ``m5.large``, ``db.r4`` of
  ``db.r4.large``, ``r6i`` of ``r6i.4xlarge``) from SkuPriceDetails (``InstanceType``,
  ``x_InstanceType``, ``x_InstanceFamily``, ``x_Size`` when it names a type), the CUR usage
  type (``x_UsageType``, ``BoxUsage:m5.large``) or Azure's meter subcategory
  (``x_MeterSubcategory``), where the store has those columns; else NULL.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from cloudledger.engine import ident, literal

COMPUTE = ("Compute",)
RI_CATEGORIES = ("Compute", "Databases")
HOUR_UNIT = r"^(1 |10 |100 |1000 )?(hrs?|hours?)$"


def q(name: str) -> str:
    return ident(name)


def ts(value: date | datetime) -> str:
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return f"CAST({literal(text)} AS TIMESTAMP)"


def _in(col: str, values: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"{col} = {literal(v)}" for v in values) + ")"


def flags_sql(columns: list[str] | set[str]) -> str:
    """``SELECT *, <flags>`` over ``focus``: covered, unused, eligible, sp_eligible,
    ri_eligible, hours, od, family (see the module docstring)."""
    cols = set(columns)
    unit = f"lower(trim({q('ConsumedUnit')}))"
    hour_unit = f"coalesce(regexp_matches({unit}, {literal(HOUR_UNIT)}), false)"
    factor = (f"coalesce(TRY_CAST(NULLIF(regexp_extract({unit}, '^([0-9]+) ', 1), '') AS "
              "DOUBLE), 1)")
    status = f"coalesce({q('CommitmentDiscountStatus')}, '')"
    usage = f"{q('ChargeCategory')} = 'Usage'"
    covered = (f"({usage} AND {status} <> 'Unused' AND ({status} = 'Used' OR "
               f"coalesce({q('PricingCategory')}, '') = 'Committed'))")
    unused = f"({usage} AND {status} = 'Unused')"
    on_demand = (f"({usage} AND {status} = '' AND coalesce({q('PricingCategory')}, "
                 f"'Standard') = 'Standard' AND {hour_unit})")
    cat = q("ServiceCategory")
    eligible = f"({covered} OR ({on_demand} AND {_in(cat, RI_CATEGORIES)}))"
    spend = f"coalesce({q('CommitmentDiscountCategory')}, '') = 'Spend'"
    sp_eligible = (f"(({covered} AND ({spend} OR {_in(cat, COMPUTE)})) OR ({on_demand} AND "
                   f"{_in(cat, COMPUTE)}))")
    # usage a spend-based commitment covers is not planned for again as an RI
    ri_eligible = f"({eligible} AND NOT ({covered} AND {spend}))"
    list_cost, eff = q("ListCost"), q("EffectiveCost")
    od = (f"CASE WHEN {list_cost} IS NOT NULL AND NOT ({list_cost} = 0 AND {eff} <> 0) "
          f"THEN {list_cost} WHEN NOT {covered} THEN {eff} END")
    return (f"SELECT *, {covered} AS _covered, {unused} AS _unused, {eligible} AS _eligible,"
            f" {sp_eligible} AS _sp_eligible, {ri_eligible} AS _ri_eligible, "
            f"CASE WHEN {hour_unit} THEN CAST({q('ConsumedQuantity')} AS DOUBLE) * {factor} "
            "END AS _hours, "
            f"{od} AS _od, {family_sql(cols)} AS _family FROM {q('focus')}")


def family_sql(cols: set[str]) -> str:
    details = q("SkuPriceDetails")
    valid = f"coalesce(json_valid({details}), false)"
    types = [f"CASE WHEN {valid} THEN json_extract_string({details}, {literal(p)}) END"
             for p in ("$.InstanceType", "$.x_InstanceType")]
    size = f"CASE WHEN {valid} THEN json_extract_string({details}, '$.x_Size') END"
    types.append(f"CASE WHEN contains({size}, '.') THEN {size} END")
    if "x_UsageType" in cols:
        types.append(f"NULLIF(regexp_extract({q('x_UsageType')}, ':([a-z0-9]+(\\.[a-z0-9-]+)+)$'"
                     ", 1), '')")
    itype = "coalesce(" + ", ".join(types) + ")"
    fam = [f"CASE WHEN {valid} THEN json_extract_string({details}, '$.x_InstanceFamily') END",
           f"NULLIF(regexp_extract({itype}, '^(.+)\\.[^.]+$', 1), '')"]
    if "x_MeterSubcategory" in cols:
        fam.append(f"NULLIF(trim({q('x_MeterSubcategory')}), '')")
    return "coalesce(" + ", ".join(fam) + ")"


def focus_columns(store: Any) -> list[str]:
    if "focus" not in store.tables():
        from cloudledger.errors import InputError

        raise InputError("the store has no focus table", hint="run `cloudledger ingest FILE` "
                         "first")
    return list(store.table("focus").columns)
