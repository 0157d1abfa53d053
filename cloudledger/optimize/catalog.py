"""The instance catalog rightsizing sizes against: shapes from a small shipped catalog,
prices from the user's own billing where it has them.

- ``data/instance_sizes.csv``: common AWS, Azure and GCP sizes (vCPU, memory GiB, nominal
  network Gbps, class, arch) with an APPROXIMATE on-demand hourly list price in one region
  per provider (see the file's header for its source and date).
- Billed prices: ``ListUnitPrice`` of hourly usage rows in ``focus``, by instance type and
  region (the most common price), read with :func:`billed_prices`.

Sizes compare by price *ratio*: when both sizes are billed in the resource's region the
ratio of the billed prices, else the ratio of the shipped prices (so the shipped catalog's
region and currency never leak into a saving; the saving is the resource's own cost times
``1 - ratio``).

An instance type is looked up by a normalized key: lower case, spaces as ``_``, Azure's
``Standard_`` prefix optional (``Standard_D2s_v3``, ``standard_d2s_v3``, ``D2s v3`` and
``d2s_v3`` are one size).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from cloudledger.engine import ident

CATALOG_FILE = "instance_sizes.csv"
FIXED_CLASSES = ("burstable", "gpu")  # never moved into or out of by a family change


@dataclass(frozen=True)
class Size:
    provider: str
    instance_type: str
    family: str
    cls: str
    arch: str
    vcpu: float
    memory_gib: float
    network_gbps: float | None
    region: str
    hourly: Decimal          # shipped price (approximate, USD, in ``region``)

    @property
    def key(self) -> str:
        return type_key(self.instance_type)


def type_key(name: str) -> str:
    k = "_".join(str(name).strip().lower().split())
    return k.removeprefix("standard_")


@cache
def shipped() -> tuple[Size, ...]:
    """The shipped catalog (comment lines start with #)."""
    text = (resources.files("cloudledger.optimize") / "data" / CATALOG_FILE).read_text(
        encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    out = []
    for r in csv.DictReader(io.StringIO(body)):
        out.append(Size(provider=r["provider"], instance_type=r["instance_type"],
                        family=r["family"], cls=r["class"], arch=r["arch"],
                        vcpu=float(r["vcpu"]), memory_gib=float(r["memory_gib"]),
                        network_gbps=float(r["network_gbps"]) if r["network_gbps"] else None,
                        region=r["region"], hourly=Decimal(r["hourly_usd"])))
    return tuple(out)


@dataclass
class Catalog:
    sizes: tuple[Size, ...] = field(default_factory=shipped)
    # (type key, region lower) -> (hourly list price, currency)
    billed: dict[tuple[str, str], tuple[Decimal, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_key = {s.key: s for s in self.sizes}

    def find(self, name: str | None) -> Size | None:
        return self._by_key.get(type_key(name)) if name else None

    def billed_price(self, size: Size | str, region: str | None) -> Decimal | None:
        key = size.key if isinstance(size, Size) else type_key(size)
        hit = self.billed.get((key, (region or "").lower()))
        return hit[0] if hit else None

    def price_ratio(self, new: Size, current: Size, region: str | None
                    ) -> tuple[Decimal, str]:
        """``price(new) / price(current)`` and where the prices came from."""
        b_new, b_cur = self.billed_price(new, region), self.billed_price(current, region)
        if b_new and b_cur:
            return b_new / b_cur, "billing"
        return new.hourly / current.hourly, "catalog (approximate)"

    def candidates(self, current: Size) -> list[Size]:
        return [s for s in self.sizes if s.provider == current.provider and s != current]


def resolve(catalog: Catalog, names: list[str | None]) -> tuple[Size | None, str | None]:
    """The first of ``names`` that the catalog knows, else (None, the first given name)."""
    for n in names:
        hit = catalog.find(n)
        if hit is not None:
            return hit, hit.instance_type
    return None, next((n for n in names if n), None)


def type_candidates_sql(columns: set[str]) -> list[str]:
    """SQL expressions over a focus row that may name its instance type, best first:
    SkuPriceDetails keys (InstanceType, x_InstanceType, x_Size, x_ArmSkuName), the part of
    AWS x_UsageType after ':' (BoxUsage:m5.large), x_ArmSkuName, SkuMeter (Azure meter
    names such as 'D2s v3'), the part of SkuId after the last ':'."""
    out = []
    if "SkuPriceDetails" in columns:
        for k in ("InstanceType", "x_InstanceType", "x_Size", "x_ArmSkuName"):
            out.append(f"json_extract_string(TRY_CAST({ident('SkuPriceDetails')} AS JSON), "
                       f"'$.{k}')")
    if "x_UsageType" in columns:
        out.append(f"nullif(regexp_extract({ident('x_UsageType')}, ':([^:]+)$', 1), '')")
    for c in ("x_ArmSkuName", "x_InstanceType", "SkuMeter"):
        if c in columns:
            out.append(f"CAST({ident(c)} AS VARCHAR)")
    if "SkuId" in columns:
        out.append(f"regexp_extract({ident('SkuId')}, '([^:]+)$', 1)")
    return out


def billed_prices(store: Any, where: str) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """(type key, region) -> the most common hourly ListUnitPrice of usage rows (``where``
    restricts the rows, e.g. to a time window), from every type candidate of a row."""
    cols = set(store.focus.columns)
    exprs = type_candidates_sql(cols)
    if not exprs or "ListUnitPrice" not in cols:
        return {}
    hourly = (f"{ident('ChargeCategory')} = 'Usage' AND {ident('ListUnitPrice')} > 0 AND "
              f"(lower({ident('PricingUnit')}) LIKE '%hour%' OR lower({ident('PricingUnit')}) "
              f"IN ('hrs', 'hr', 'h'))")
    union = " UNION ALL ".join(
        f"SELECT {e} AS t, lower({ident('RegionId')}) AS r, {ident('ListUnitPrice')} AS p, "
        f"{ident('BillingCurrency')} AS c FROM focus WHERE {hourly} AND ({where})"
        for e in exprs)
    rows = store.engine.fetch(f"SELECT t, r, mode(p) AS p, any_value(c) AS c FROM ({union}) "
                              "WHERE t IS NOT NULL GROUP BY t, r")
    out: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for r in rows:
        out.setdefault((type_key(r["t"]), r["r"] or ""), (Decimal(r["p"]), r["c"]))
    return out
