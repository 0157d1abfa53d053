"""The canonical FOCUS model: columns, types, requirement levels, allowed values, upgrades.

Canonical shape = every FOCUS 1.2 Cost and Usage column plus the 1.3 additions, in the
order below, followed by cloudledger's own ``x_`` columns and any provider ``x_`` columns.
Files in FOCUS 1.0, 1.1, 1.2 and 1.3 are read and upgraded to this shape on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "decimal", "quantity", "timestamp", "json"]
Level = Literal["M", "C", "R", "-"]

VERSIONS = ("1.0", "1.1", "1.2", "1.3")
CANONICAL_VERSION = "1.3"

#: Money is stored as exact decimals; 26 integer digits, 12 fractional (sub-cent rows kept).
MONEY_TYPE = "decimal(38, 12)"
#: Unit prices and quantities never sum into an invoice: stored as float64 (15-17 digits).
QUANTITY_TYPE = "float64"

SQL_TYPES: dict[Kind, str] = {
    "string": "string",
    "json": "string",
    "decimal": MONEY_TYPE,
    "quantity": QUANTITY_TYPE,
    "timestamp": "timestamp",
}


@dataclass(frozen=True)
class Column:
    """One FOCUS column: its name, kind, requirement level per version and allowed values."""

    name: str
    kind: Kind
    levels: tuple[Level, Level, Level, Level]  # 1.0, 1.1, 1.2, 1.3
    nullable: bool = True
    allowed: tuple[str, ...] = ()

    def level(self, version: str) -> Level:
        return self.levels[VERSIONS.index(version)]

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]


SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases",
    "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
    "Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
    "Storage", "Web", "Other",
)
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")

_M: tuple[Level, Level, Level, Level] = ("M", "M", "M", "M")
_C: tuple[Level, Level, Level, Level] = ("C", "C", "C", "C")
_R: tuple[Level, Level, Level, Level] = ("R", "R", "R", "R")
_C11: tuple[Level, Level, Level, Level] = ("-", "C", "C", "C")
_R11: tuple[Level, Level, Level, Level] = ("-", "R", "R", "R")
_C12: tuple[Level, Level, Level, Level] = ("-", "-", "C", "C")
_R12: tuple[Level, Level, Level, Level] = ("-", "-", "R", "R")
_C13: tuple[Level, Level, Level, Level] = ("-", "-", "-", "C")
_M13: tuple[Level, Level, Level, Level] = ("-", "-", "-", "M")

COLUMNS: tuple[Column, ...] = (
    Column("AvailabilityZone", "string", _R),
    Column("BilledCost", "decimal", _M, nullable=False),
    Column("BillingAccountId", "string", _M, nullable=False),
    Column("BillingAccountName", "string", _M),
    Column("BillingAccountType", "string", _C12),
    Column("BillingCurrency", "string", _M, nullable=False),
    Column("BillingPeriodEnd", "timestamp", _M, nullable=False),
    Column("BillingPeriodStart", "timestamp", _M, nullable=False),
    Column("CapacityReservationId", "string", _C11),
    Column("CapacityReservationStatus", "string", _C11, allowed=("Used", "Unused")),
    Column("ChargeCategory", "string", _M, nullable=False, allowed=CHARGE_CATEGORIES),
    Column("ChargeClass", "string", _M, allowed=("Correction",)),
    Column("ChargeDescription", "string", _M),
    Column("ChargeFrequency", "string", _R, allowed=CHARGE_FREQUENCIES),
    Column("ChargePeriodEnd", "timestamp", _M, nullable=False),
    Column("ChargePeriodStart", "timestamp", _M, nullable=False),
    Column("CommitmentDiscountCategory", "string", _C, allowed=("Spend", "Usage")),
    Column("CommitmentDiscountId", "string", _C),
    Column("CommitmentDiscountName", "string", _C),
    Column("CommitmentDiscountQuantity", "quantity", _C11),
    Column("CommitmentDiscountStatus", "string", _C, allowed=("Used", "Unused")),
    Column("CommitmentDiscountType", "string", _C),
    Column("CommitmentDiscountUnit", "string", _C11),
    Column("ConsumedQuantity", "quantity", _C),
    Column("ConsumedUnit", "string", _C),
    Column("ContractedCost", "decimal", _M, nullable=False),
    Column("ContractedUnitPrice", "quantity", _C),
    Column("EffectiveCost", "decimal", _M, nullable=False),
    Column("InvoiceId", "string", _R12),
    Column("InvoiceIssuerName", "string", _M, nullable=False),
    Column("ListCost", "decimal", _M, nullable=False),
    Column("ListUnitPrice", "quantity", _C),
    Column("PricingCategory", "string", _C, allowed=PRICING_CATEGORIES),
    Column("PricingCurrency", "string", _C12),
    Column("PricingCurrencyContractedUnitPrice", "quantity", _C12),
    Column("PricingCurrencyEffectiveCost", "decimal", _C12),
    Column("PricingCurrencyListUnitPrice", "quantity", _C12),
    Column("PricingQuantity", "quantity", _M),
    Column("PricingUnit", "string", _M),
    Column("ProviderName", "string", _M, nullable=False),
    Column("PublisherName", "string", _M, nullable=False),
    Column("RegionId", "string", _C),
    Column("RegionName", "string", _C),
    Column("ResourceId", "string", _C),
    Column("ResourceName", "string", _C),
    Column("ResourceType", "string", _C),
    Column("ServiceCategory", "string", _M, nullable=False, allowed=SERVICE_CATEGORIES),
    Column("ServiceName", "string", _M, nullable=False),
    Column("ServiceSubcategory", "string", _R11),
    Column("SkuId", "string", _C),
    Column("SkuMeter", "string", _C11),
    Column("SkuPriceDetails", "json", _C11),
    Column("SkuPriceId", "string", _C),
    Column("SubAccountId", "string", _C),
    Column("SubAccountName", "string", _C),
    Column("SubAccountType", "string", _C12),
    Column("Tags", "json", _C),
    # FOCUS 1.3 additions
    Column("AllocatedMethodDetails", "json", _C13),
    Column("AllocatedMethodId", "string", _C13),
    Column("AllocatedResourceId", "string", _C13),
    Column("AllocatedResourceName", "string", _C13),
    Column("AllocatedTags", "json", _C13),
    Column("ContractApplied", "json", _C13),
    Column("HostProviderName", "string", _M13),
    Column("ServiceProviderName", "string", _M13),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
COST_METRICS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

#: Columns cloudledger adds to every stored row (provider-neutral bookkeeping).
SOURCE_COLUMN = "x_SourceFormat"
INGEST_COLUMN = "x_IngestId"
BOOKKEEPING: dict[str, str] = {SOURCE_COLUMN: "string", INGEST_COLUMN: "int64"}

#: Columns a file must carry to be loaded at all: they key the atomic period replace
#: and the reconciliation. Other missing Mandatory columns load as NULL and are reported
#: by ``cloudledger validate``.
LOAD_KEY = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart",
            "BillingPeriodEnd", "ChargePeriodStart")

#: Column renames from earlier FOCUS versions, applied before anything else.
#: FOCUS 1.0-1.3 share names; 0.5 / 1.0-preview names are recognised to give a clear error.
PRE_1_0_NAMES = {"ChargeType", "AmortizedCost", "Provider", "Publisher", "InvoiceIssuer",
                 "BilledCurrency", "ResourceID"}


def canonical_schema() -> dict[str, str]:
    """Ibis type strings of the stored ``focus`` table's fixed columns, in order."""
    schema = {c.name: c.sql_type for c in COLUMNS}
    schema.update(BOOKKEEPING)
    return schema


def mandatory(version: str) -> list[str]:
    return [c.name for c in COLUMNS if c.level(version) == "M"]


def version_columns(version: str) -> list[str]:
    return [c.name for c in COLUMNS if c.level(version) != "-"]


def detect_version(columns: list[str]) -> str:
    """Best guess of the FOCUS version a file was written in, from its column names."""
    present = set(columns)
    for version in reversed(VERSIONS):
        added = [c.name for c in COLUMNS
                 if c.level(version) != "-" and
                 (version == "1.0" or c.level(VERSIONS[VERSIONS.index(version) - 1]) == "-")]
        if version != "1.0" and present & set(added):
            return version
    return "1.0"


def is_custom(name: str) -> bool:
    return name.startswith("x_")
