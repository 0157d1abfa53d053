"""The FOCUS conformance rules of ``cloudledger validate``, in the order they are reported.

Each rule is registered with ``@rule(id, severity, title, reference, kind=...)``:

- ``columns``: ``check(data) -> list[dict]``, one dict per offending column (schema rules);
- ``rows``: ``check(data) -> list[Part]``, boolean Ibis predicates, True on a violating row;
- ``groups``: ``check(data) -> ir.Table``, one row per violating group (e.g. commitment).

Example (YAML-ish) of a finding as ``--format json`` prints it::

    rule: CL-VAL-003
    severity: error
    status: fail
    count: 7
    examples: [{row: 12, ChargeFrequency: Usage-based}]
"""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir

from cloudledger import focus
from cloudledger.quality.data import BAD, RAW, Data, on_duckdb, parse_failed, text
from cloudledger.quality.validate import (  # noqa: F401 - RULES re-exported for callers
    RULES,
    Kind,
    Part,
    Rule,
    Scope,
    Severity,
    rule,
)

#: Used + Unused EffectiveCost may differ from the purchases' BilledCost by rounding only.
COMMITMENT_TOLERANCE = Decimal("0.01")
FOCUS_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
JSON_STRING = r'"(?:[^"\\]|\\.)*"'
FLAT_OBJECT = r"^\s*\{[^{}\[\]]*\}\s*$"
KEY_VALUE_COLUMNS = ("Tags", "SkuPriceDetails", "AllocatedTags")
ALLOWED_RULES = ("ChargeCategory", "ChargeClass", "ChargeFrequency", "PricingCategory",
                 "CommitmentDiscountCategory", "CommitmentDiscountStatus", "ServiceCategory",
                 "CapacityReservationStatus")


def present(data: Data, names: list[str] | tuple[str, ...]) -> list[str]:
    return [n for n in names if n in data.columns]


# ---------------------------------------------------------------- columns
@rule("CL-COL-001", "error", "Mandatory columns are present",
      "Column requirement levels: a Mandatory column MUST be present (per FOCUS version)",
      kind="columns", scope="file", unit="columns")
def mandatory_columns(data: Data) -> list[dict[str, Any]]:
    return [{"column": c, "version": data.version}
            for c in focus.mandatory(data.version) if c not in data.columns]


@rule("CL-COL-002", "error", "Custom columns carry the x_ prefix",
      "ColumnNamingAndOrdering / Custom columns: custom columns MUST be prefixed x_",
      kind="columns", unit="columns")
def custom_prefix(data: Data) -> list[dict[str, Any]]:
    out = []
    for c in data.columns:
        if c in focus.BY_NAME or focus.is_custom(c):
            continue
        near = difflib.get_close_matches(c, focus.NAMES, n=1, cutoff=0.8)
        lower = {n.lower(): n for n in focus.NAMES}.get(c.lower())
        out.append({"column": c, "did_you_mean": lower or (near[0] if near else None)})
    return out


# ---------------------------------------------------------------- types (files)
def _unparsable(data: Data, kinds: tuple[str, ...]) -> list[Part]:
    names = [c.name for c in focus.COLUMNS if c.kind in kinds and c.name in data.columns]
    t = data.table
    # a file's table carries the flag (parse_failed of the raw text) its typed column uses
    return [Part(n, t[BAD + n] if BAD + n in t.columns else parse_failed(
        t[RAW + n], focus.BY_NAME[n].kind), (RAW + n,)) for n in names]


@rule("CL-TYP-001", "error", "Decimal columns hold numbers",
      "NumericFormat: plain decimal or E-notation, no currency symbols or thousands "
      "separators", scope="file")
def decimal_type(data: Data) -> list[Part]:
    return _unparsable(data, ("decimal", "quantity"))


@rule("CL-TYP-002", "error", "Date/time columns hold dates",
      "DateTimeFormat: date/time columns MUST hold ISO 8601 date/times", scope="file")
def timestamp_type(data: Data) -> list[Part]:
    return _unparsable(data, ("timestamp",))


@rule("CL-TYP-003", "error", "Date/times are written YYYY-MM-DDTHH:mm:ssZ (UTC)",
      "DateTimeFormat: values MUST be UTC, in ISO 8601 extended format YYYY-MM-DDTHH:mm:ssZ",
      scope="file")
def timestamp_format(data: Data) -> list[Part]:
    out = []
    for c in focus.COLUMNS:
        if c.kind == "timestamp" and c.name in data.columns:
            raw = data.table[RAW + c.name]
            if raw.type().is_string():
                s = text(raw)
                out.append(Part(c.name, s.notnull() & ~s.re_search(FOCUS_DATETIME),
                                (RAW + c.name,)))
            else:  # a typed (Parquet) date/time has no text form to get wrong
                out.append(Part(c.name, ibis.literal(False), (RAW + c.name,)))
    return out


# ---------------------------------------------------------------- nulls and values
@rule("CL-NUL-001", "error", "Non-nullable columns have a value",
      "Column nullability: BilledCost, EffectiveCost, ListCost, ContractedCost, "
      "BillingAccountId, BillingCurrency, Billing/ChargePeriodStart/End, ChargeCategory, "
      "InvoiceIssuerName, ProviderName, PublisherName, ServiceCategory, ServiceName MUST NOT "
      "be null")
def not_null(data: Data) -> list[Part]:
    t = data.table
    return [Part(c.name, t[c.name].isnull(),
                 (RAW + c.name,) if data.origin == "file" else (c.name,))
            for c in focus.COLUMNS if not c.nullable and c.name in data.columns]


def _allowed(name: str, number: int) -> None:
    values = focus.BY_NAME[name].allowed

    @rule(f"CL-VAL-{number:03d}", "error", f"{name} is one of the allowed values",
          f"{name}: MUST be one of {', '.join(values)} (case-sensitive)", needs=(name,))
    def check(data: Data) -> list[Part]:
        col = data.table[name]
        return [Part(name, col.notnull() & ~col.isin(list(values)), (name,))]


for _number, _name in enumerate(ALLOWED_RULES, start=1):
    _allowed(_name, _number)


@rule("CL-CUR-001", "error", "BillingCurrency is an ISO 4217 code (3 uppercase letters)",
      "BillingCurrency / CurrencyFormat: MUST be a national currency code per ISO 4217",
      needs=("BillingCurrency",))
def currency_code(data: Data) -> list[Part]:
    col = data.table.BillingCurrency
    return [Part("BillingCurrency", col.notnull() & ~col.re_search(r"^[A-Z]{3}$"),
                 ("BillingCurrency",))]


@rule("CL-JSN-001", "error", "Tags / SkuPriceDetails / AllocatedTags are flat JSON objects",
      "KeyValueFormat: a serialized JSON object whose values are scalars (string, number, "
      "true, false, null); no nested objects or arrays")
def key_value_format(data: Data) -> list[Part]:
    duckdb = on_duckdb(data.table)
    out = []
    for name in present(data, KEY_VALUE_COLUMNS):
        # a file's typed column is already text(raw)
        s = data.table[name] if data.origin == "file" else text(data.table[name])
        # json_valid is DuckDB's TRY_CAST(s AS JSON) IS NOT NULL (the same yyjson read
        # flags) without building the value: ~4x faster
        valid = _json_valid(s) if duckdb else s.try_cast("json").notnull()
        # '{...}' with no other bracket anywhere is flat whatever its strings hold, so the
        # regex that blanks the strings (seconds per million rows) runs only on the rest
        simple = (s.like("{%}") & ~s.like("_%{%") & ~s.like("%}_%") & ~s.contains("[") &
                  ~s.contains("]"))
        flat = ibis.cases((simple, True),
                          else_=s.re_replace(JSON_STRING, '""').re_search(FLAT_OBJECT))
        out.append(Part(name, s.notnull() & ~(valid & flat), (name,)))
    return out


@ibis.udf.scalar.builtin(name="json_valid")
def _json_valid(value) -> bool:  # type: ignore[no-untyped-def,empty-body]
    """DuckDB's json_valid."""


# ---------------------------------------------------------------- periods
@rule("CL-PER-001", "error", "ChargePeriodStart is before ChargePeriodEnd",
      "ChargePeriodStart is the inclusive start and ChargePeriodEnd the exclusive end of the "
      "charge period", needs=("ChargePeriodStart", "ChargePeriodEnd"))
def charge_period_order(data: Data) -> list[Part]:
    t = data.table
    return [Part("", t.ChargePeriodStart >= t.ChargePeriodEnd,
                 ("ChargePeriodStart", "ChargePeriodEnd"))]


@rule("CL-PER-002", "error", "BillingPeriodStart is before BillingPeriodEnd",
      "BillingPeriodStart is the inclusive start and BillingPeriodEnd the exclusive end of "
      "the billing period", needs=("BillingPeriodStart", "BillingPeriodEnd"))
def billing_period_order(data: Data) -> list[Part]:
    t = data.table
    return [Part("", t.BillingPeriodStart >= t.BillingPeriodEnd,
                 ("BillingPeriodStart", "BillingPeriodEnd"))]


_PERIODS = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")


@rule("CL-PER-003", "error", "The charge period starts inside the billing period",
      "A row belongs to the billing period its charge falls in: BillingPeriodStart <= "
      "ChargePeriodStart < BillingPeriodEnd", needs=_PERIODS)
def charge_starts_in_billing_period(data: Data) -> list[Part]:
    t = data.table
    return [Part("", (t.ChargePeriodStart < t.BillingPeriodStart) |
                 (t.ChargePeriodStart >= t.BillingPeriodEnd), _PERIODS)]


@rule("CL-PER-004", "warning", "The charge period ends inside the billing period",
      "ChargePeriodEnd <= BillingPeriodEnd; a commitment purchase may span its term "
      "(FOCUS 1.2 commitment_discount_purchase_scenario_1), hence a warning", needs=_PERIODS)
def charge_ends_in_billing_period(data: Data) -> list[Part]:
    t = data.table
    return [Part("", t.ChargePeriodEnd > t.BillingPeriodEnd, _PERIODS)]


# ---------------------------------------------------------------- commitments and costs
@rule("CL-CST-001", "error", "EffectiveCost is 0 on commitment purchases",
      "EffectiveCost: MUST be 0 when ChargeCategory is Purchase and the purchase covers "
      "future charges (a commitment discount purchase)",
      needs=("ChargeCategory", "CommitmentDiscountId", "EffectiveCost"))
def purchase_effective_cost(data: Data) -> list[Part]:
    t = data.table
    return [Part("", (t.ChargeCategory == "Purchase") & t.CommitmentDiscountId.notnull() &
                 (t.EffectiveCost != 0),
                 ("ChargeCategory", "CommitmentDiscountId", "BilledCost", "EffectiveCost"))]


@rule("CL-CST-002", "error", "Used + Unused EffectiveCost accounts for the purchases",
      "EffectiveCost: for each CommitmentDiscountId, the EffectiveCost of its Usage rows "
      "(Used and Unused) amortizes the BilledCost of its Purchase rows over the term: a "
      "Recurring purchase over its own charge period, a One-Time (upfront) purchase over "
      "the whole term. In a window of the term: amortized >= the Recurring purchases in the "
      "data, and, where the upfront purchase is in the data, amortized <= all purchases "
      "(checked where the commitment has both purchases and Used/Unused rows; tolerance "
      "0.01)", kind="groups", unit="commitments",
      needs=("ChargeCategory", "CommitmentDiscountId", "BilledCost", "EffectiveCost"))
def commitment_balance(data: Data) -> ir.Table:
    t = data.table.filter(data.table.CommitmentDiscountId.notnull())
    one_time = (t.ChargeFrequency == "One-Time").fill_null(False) if data.has(
        "ChargeFrequency") else ibis.literal(False)
    if not data.has("CommitmentDiscountStatus"):  # no Used / Unused rows can exist
        t = t.mutate(CommitmentDiscountStatus=ibis.null("string"))
    # one scan: each commitment's purchases and its Used / Unused usage side by side (the
    # rows of a commitment that has both; as an inner join of the two groupings would)
    purchase = (t.ChargeCategory == "Purchase").fill_null(False)
    usage = ((t.ChargeCategory == "Usage") & t.CommitmentDiscountStatus.isin(
        ["Used", "Unused"])).fill_null(False)
    zero = ibis.literal(0).cast(t.BilledCost.type())

    def over(rows: ir.BooleanValue, value: ir.Value) -> ir.Value:
        return ibis.cases((rows, value), else_=ibis.null(value.type())).sum()

    j = t.group_by("CommitmentDiscountId").aggregate(
        purchases=over(purchase, t.BilledCost),
        upfront=over(purchase, ibis.cases((one_time, t.BilledCost), else_=zero)),
        upfront_rows=over(purchase, ibis.cases((one_time, 1), else_=0)),
        used=over(usage, ibis.cases((t.CommitmentDiscountStatus == "Used", t.EffectiveCost),
                                    else_=0)),
        unused=over(usage, ibis.cases((t.CommitmentDiscountStatus == "Unused",
                                       t.EffectiveCost), else_=0)),
        purchase_rows=purchase.sum(), usage_rows=usage.sum())
    j = j.filter((j["purchase_rows"] > 0) & (j["usage_rows"] > 0))
    amortized = j["used"] + j["unused"]
    recurring = j["purchases"] - j["upfront"]
    out = j.select("CommitmentDiscountId", "purchases", "upfront", "used", "unused",
                   difference=amortized - j["purchases"],
                   short=recurring - amortized,
                   over=ibis.cases((j["upfront_rows"] > 0, amortized - j["purchases"]),
                                   else_=ibis.null(amortized.type())))
    bad = (out["short"] > COMMITMENT_TOLERANCE) | (out["over"] > COMMITMENT_TOLERANCE
                                                    ).fill_null(False)
    return out.filter(bad).drop("short", "over").order_by("CommitmentDiscountId")


@rule("CL-CMT-001", "error", "CommitmentDiscountStatus is set on commitment Usage rows",
      "CommitmentDiscountStatus: MUST NOT be null when CommitmentDiscountId is not null and "
      "ChargeCategory is Usage",
      needs=("ChargeCategory", "CommitmentDiscountId", "CommitmentDiscountStatus"))
def commitment_status_set(data: Data) -> list[Part]:
    t = data.table
    return [Part("", (t.ChargeCategory == "Usage") & t.CommitmentDiscountId.notnull() &
                 t.CommitmentDiscountStatus.isnull(),
                 ("ChargeCategory", "CommitmentDiscountId", "CommitmentDiscountStatus"))]


@rule("CL-CMT-002", "error", "Commitment columns are null when CommitmentDiscountId is null",
      "CommitmentDiscountCategory / Name / Status / Type: MUST be null when "
      "CommitmentDiscountId is null", needs=("CommitmentDiscountId",))
def commitment_columns_without_id(data: Data) -> list[Part]:
    t = data.table
    names = present(data, ("CommitmentDiscountCategory", "CommitmentDiscountName",
                           "CommitmentDiscountStatus", "CommitmentDiscountType"))
    return [Part(n, t.CommitmentDiscountId.isnull() & t[n].notnull(),
                 ("CommitmentDiscountId", n)) for n in names]


@rule("CL-CMT-003", "error", "CommitmentDiscountCategory is set when CommitmentDiscountId is",
      "CommitmentDiscountCategory: MUST NOT be null when CommitmentDiscountId is not null",
      needs=("CommitmentDiscountId", "CommitmentDiscountCategory"))
def commitment_category_set(data: Data) -> list[Part]:
    t = data.table
    return [Part("", t.CommitmentDiscountId.notnull() & t.CommitmentDiscountCategory.isnull(),
                 ("CommitmentDiscountId", "CommitmentDiscountCategory"))]


@rule("CL-SVC-001", "warning", "Each ServiceName has one ServiceCategory",
      "ServiceName (1.2): MUST have one and only one ServiceCategory, except when no "
      "suitable ServiceCategory is available (hence a warning)", kind="groups",
      unit="services", needs=("ServiceName", "ServiceCategory"))
def service_category_unique(data: Data) -> ir.Table:
    t = data.table.filter(data.table.ServiceName.notnull())
    g = t.group_by("ServiceName").aggregate(categories=t.ServiceCategory.nunique(),
                                            rows=t.count())
    return g.filter(g["categories"] > 1).order_by("ServiceName")


@rule("CL-QTY-001", "error", "ConsumedQuantity is null unless the row is used usage",
      "ConsumedQuantity: MUST be null when ChargeCategory is not Usage, or when it is Usage "
      "and CommitmentDiscountStatus is Unused", needs=("ConsumedQuantity", "ChargeCategory"))
def consumed_quantity_null(data: Data) -> list[Part]:
    t = data.table
    unused = (t.CommitmentDiscountStatus == "Unused") if data.has(
        "CommitmentDiscountStatus") else ibis.literal(False)
    return [Part("", t.ConsumedQuantity.notnull() & ((t.ChargeCategory != "Usage") | unused),
                 ("ChargeCategory", "ConsumedQuantity"))]


@rule("CL-PRC-001", "error", "Unit prices are not negative",
      "ListUnitPrice / ContractedUnitPrice: MUST be a non-negative decimal value")
def unit_prices_non_negative(data: Data) -> list[Part]:
    return [Part(n, data.table[n] < 0, (n,))
            for n in present(data, ("ListUnitPrice", "ContractedUnitPrice"))]


#: (Id column, dependent column): the dependent MUST be null exactly when the Id is null.
ID_PAIRS = (("RegionId", "RegionName"), ("SubAccountId", "SubAccountName"),
            ("ResourceId", "ResourceType"), ("ConsumedQuantity", "ConsumedUnit"))


@rule("CL-REF-001", "error", "Name/Type/Unit columns are null exactly when their Id is",
      "RegionName, SubAccountName, ResourceType (by RegionId, SubAccountId, ResourceId) and "
      "ConsumedUnit (by ConsumedQuantity): MUST be null when the other is null and MUST NOT "
      "be null when it is not (FOCUS 1.2 RegionName-C-004/005, SubAccountName-C-004/005, "
      "ResourceType-C-004/005, ConsumedUnit-C-005/006)")
def id_pairs(data: Data) -> list[Part]:
    t = data.table
    out = []
    for key, dep in ID_PAIRS:
        if data.has(key, dep):
            out.append(Part(f"{dep} without {key}", t[key].isnull() & t[dep].notnull(),
                            (key, dep)))
            out.append(Part(f"{key} without {dep}", t[key].notnull() & t[dep].isnull(),
                            (key, dep)))
    return out
