"""Region id -> region name, per provider, for exports that carry an id without its name.

FOCUS requires RegionName whenever RegionId is set (RegionName-C-005). Native exports often
carry only the id (AWS ``product/regionCode``, Azure ``ResourceLocation``, GCP
``location.region``, OCI ``product/region``); the converters take the name from the file
where it has one and from these tables otherwise. Names follow each provider's own
display names (AWS: the pricing ``location`` that CUR writes in ``product/location``; Azure:
the ``displayName`` of ``az account list-locations``; GCP: the location of the region in
Google's region list; OCI: the console's region name).

``*_ALIASES`` map other spellings found in exports to the id (normalized with ``norm``:
lower case, letters and digits only), e.g. Azure's billing names ``US East 2`` -> ``eastus2``
or AWS's renamed ``Europe (Frankfurt)`` -> ``eu-central-1``.

An id missing from a table keeps a NULL name, which ``cloudledger validate`` reports
(CL-REF-001): extend the table rather than invent a name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from cloudledger.engine import literal

AWS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)", "ap-east-2": "Asia Pacific (Taipei)",
    "ap-south-1": "Asia Pacific (Mumbai)", "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)", "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)", "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-southeast-5": "Asia Pacific (Malaysia)", "ap-southeast-7": "Asia Pacific (Thailand)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)", "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)", "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)", "eu-west-3": "EU (Paris)",
    "eu-north-1": "EU (Stockholm)", "eu-south-1": "EU (Milan)", "eu-south-2": "EU (Spain)",
    "il-central-1": "Israel (Tel Aviv)", "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)", "mx-central-1": "Mexico (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-gov-east-1": "AWS GovCloud (US-East)", "us-gov-west-1": "AWS GovCloud (US-West)",
    "cn-north-1": "China (Beijing)", "cn-northwest-1": "China (Ningxia)",
    "global": "Global",
}
AWS_ALIASES: dict[str, str] = {
    "Asia Pacific (Osaka-Local)": "ap-northeast-3", "AWS GovCloud (US)": "us-gov-west-1",
    "South America (São Paulo)": "sa-east-1",
    **{f"Europe ({city})": rid for rid, name in AWS.items() if name.startswith("EU (")
       for city in [name[4:-1]]},
}

AZURE: dict[str, str] = {
    "eastus": "East US", "eastus2": "East US 2", "centralus": "Central US",
    "northcentralus": "North Central US", "southcentralus": "South Central US",
    "westcentralus": "West Central US", "westus": "West US", "westus2": "West US 2",
    "westus3": "West US 3", "canadacentral": "Canada Central", "canadaeast": "Canada East",
    "brazilsouth": "Brazil South", "brazilsoutheast": "Brazil Southeast",
    "mexicocentral": "Mexico Central", "chilecentral": "Chile Central",
    "northeurope": "North Europe", "westeurope": "West Europe", "uksouth": "UK South",
    "ukwest": "UK West", "francecentral": "France Central", "francesouth": "France South",
    "germanywestcentral": "Germany West Central", "germanynorth": "Germany North",
    "switzerlandnorth": "Switzerland North", "switzerlandwest": "Switzerland West",
    "norwayeast": "Norway East", "norwaywest": "Norway West",
    "swedencentral": "Sweden Central", "swedensouth": "Sweden South",
    "polandcentral": "Poland Central", "italynorth": "Italy North",
    "spaincentral": "Spain Central", "austriaeast": "Austria East",
    "eastasia": "East Asia", "southeastasia": "Southeast Asia", "japaneast": "Japan East",
    "japanwest": "Japan West", "koreacentral": "Korea Central", "koreasouth": "Korea South",
    "centralindia": "Central India", "southindia": "South India", "westindia": "West India",
    "jioindiawest": "Jio India West", "jioindiacentral": "Jio India Central",
    "australiaeast": "Australia East", "australiasoutheast": "Australia Southeast",
    "australiacentral": "Australia Central", "australiacentral2": "Australia Central 2",
    "newzealandnorth": "New Zealand North", "indonesiacentral": "Indonesia Central",
    "malaysiawest": "Malaysia West", "uaenorth": "UAE North", "uaecentral": "UAE Central",
    "qatarcentral": "Qatar Central", "israelcentral": "Israel Central",
    "southafricanorth": "South Africa North", "southafricawest": "South Africa West",
}
#: Cost Management's billing-style location names (``ResourceLocation`` / ``MeterRegion`` of
#: EA and legacy exports): "US East 2", "EU West", "AP Southeast", ...
AZURE_ALIASES: dict[str, str] = {
    "US East": "eastus", "US East 2": "eastus2", "US Central": "centralus",
    "US North Central": "northcentralus", "US South Central": "southcentralus",
    "US West Central": "westcentralus", "US West": "westus", "US West 2": "westus2",
    "US West 3": "westus3", "CA Central": "canadacentral", "CA East": "canadaeast",
    "BR South": "brazilsouth", "BR Southeast": "brazilsoutheast", "EU North": "northeurope",
    "EU West": "westeurope", "FR Central": "francecentral", "FR South": "francesouth",
    "DE West Central": "germanywestcentral", "DE North": "germanynorth",
    "CH North": "switzerlandnorth", "CH West": "switzerlandwest", "NO East": "norwayeast",
    "NO West": "norwaywest", "SE Central": "swedencentral", "PL Central": "polandcentral",
    "IT North": "italynorth", "ES Central": "spaincentral", "AP East": "eastasia",
    "AP Southeast": "southeastasia", "JA East": "japaneast", "JA West": "japanwest",
    "KR Central": "koreacentral", "KR South": "koreasouth", "IN Central": "centralindia",
    "IN South": "southindia", "IN West": "westindia", "AU East": "australiaeast",
    "AU Southeast": "australiasoutheast", "AU Central": "australiacentral",
    "AU Central 2": "australiacentral2", "AE North": "uaenorth", "AE Central": "uaecentral",
    "QA Central": "qatarcentral", "IL Central": "israelcentral",
    "ZA North": "southafricanorth", "ZA West": "southafricawest",
    "MX Central": "mexicocentral", "NZ North": "newzealandnorth",
}
#: ``ResourceLocation`` values that name no region (FOCUS: a real NULL, not a placeholder).
AZURE_NO_REGION = ("unassigned", "unknown", "")

GCP: dict[str, str] = {
    "us-central1": "Iowa", "us-east1": "South Carolina", "us-east4": "Northern Virginia",
    "us-east5": "Columbus", "us-south1": "Dallas", "us-west1": "Oregon",
    "us-west2": "Los Angeles", "us-west3": "Salt Lake City", "us-west4": "Las Vegas",
    "northamerica-northeast1": "Montréal", "northamerica-northeast2": "Toronto",
    "northamerica-south1": "Querétaro", "southamerica-east1": "São Paulo",
    "southamerica-west1": "Santiago", "europe-central2": "Warsaw",
    "europe-north1": "Finland", "europe-north2": "Stockholm", "europe-southwest1": "Madrid",
    "europe-west1": "Belgium", "europe-west2": "London", "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands", "europe-west6": "Zurich", "europe-west8": "Milan",
    "europe-west9": "Paris", "europe-west10": "Berlin", "europe-west12": "Turin",
    "asia-east1": "Taiwan", "asia-east2": "Hong Kong", "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka", "asia-northeast3": "Seoul", "asia-south1": "Mumbai",
    "asia-south2": "Delhi", "asia-southeast1": "Singapore", "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney", "australia-southeast2": "Melbourne",
    "me-central1": "Doha", "me-central2": "Dammam", "me-west1": "Tel Aviv",
    "africa-south1": "Johannesburg",
    # multi-regions and dual-regions (Cloud Storage, BigQuery, ...)
    "us": "United States (multi-region)", "eu": "European Union (multi-region)",
    "asia": "Asia (multi-region)", "nam4": "Iowa and South Carolina",
    "eur4": "Netherlands and Finland", "asia1": "Tokyo and Osaka", "global": "Global",
}

OCI: dict[str, str] = {
    "us-ashburn-1": "US East (Ashburn)", "us-phoenix-1": "US West (Phoenix)",
    "us-sanjose-1": "US West (San Jose)", "us-chicago-1": "US Midwest (Chicago)",
    "ca-toronto-1": "Canada Southeast (Toronto)", "ca-montreal-1": "Canada Southeast (Montreal)",
    "sa-saopaulo-1": "Brazil East (Sao Paulo)", "sa-vinhedo-1": "Brazil Southeast (Vinhedo)",
    "sa-santiago-1": "Chile Central (Santiago)", "sa-valparaiso-1": "Chile West (Valparaiso)",
    "sa-bogota-1": "Colombia Central (Bogota)",
    "mx-queretaro-1": "Mexico Central (Queretaro)",
    "mx-monterrey-1": "Mexico Northeast (Monterrey)",
    "uk-london-1": "UK South (London)", "uk-cardiff-1": "UK West (Newport)",
    "eu-frankfurt-1": "Germany Central (Frankfurt)",
    "eu-amsterdam-1": "Netherlands Northwest (Amsterdam)",
    "eu-zurich-1": "Switzerland North (Zurich)", "eu-madrid-1": "Spain Central (Madrid)",
    "eu-marseille-1": "France South (Marseille)", "eu-paris-1": "France Central (Paris)",
    "eu-milan-1": "Italy Northwest (Milan)", "eu-stockholm-1": "Sweden Central (Stockholm)",
    "eu-jovanovac-1": "Serbia Central (Jovanovac)",
    "ap-tokyo-1": "Japan East (Tokyo)", "ap-osaka-1": "Japan Central (Osaka)",
    "ap-seoul-1": "South Korea Central (Seoul)",
    "ap-chuncheon-1": "South Korea North (Chuncheon)",
    "ap-mumbai-1": "India West (Mumbai)", "ap-hyderabad-1": "India South (Hyderabad)",
    "ap-singapore-1": "Singapore (Singapore)", "ap-singapore-2": "Singapore West (Singapore)",
    "ap-sydney-1": "Australia East (Sydney)", "ap-melbourne-1": "Australia Southeast (Melbourne)",
    "ap-batam-1": "Indonesia North (Batam)",
    "me-jeddah-1": "Saudi Arabia West (Jeddah)", "me-riyadh-1": "Saudi Arabia Central (Riyadh)",
    "me-dubai-1": "UAE East (Dubai)", "me-abudhabi-1": "UAE Central (Abu Dhabi)",
    "il-jerusalem-1": "Israel Central (Jerusalem)",
    "af-johannesburg-1": "South Africa Central (Johannesburg)",
}
#: OCI region keys (three letters, as some reports write ``product/region``) -> region id.
OCI_ALIASES: dict[str, str] = {
    "IAD": "us-ashburn-1", "PHX": "us-phoenix-1", "SJC": "us-sanjose-1",
    "ORD": "us-chicago-1", "YYZ": "ca-toronto-1", "YUL": "ca-montreal-1",
    "GRU": "sa-saopaulo-1", "VCP": "sa-vinhedo-1", "SCL": "sa-santiago-1",
    "VAP": "sa-valparaiso-1", "BOG": "sa-bogota-1", "QRO": "mx-queretaro-1",
    "MTY": "mx-monterrey-1", "LHR": "uk-london-1", "CWL": "uk-cardiff-1",
    "FRA": "eu-frankfurt-1", "AMS": "eu-amsterdam-1", "ZRH": "eu-zurich-1",
    "MAD": "eu-madrid-1", "MRS": "eu-marseille-1", "CDG": "eu-paris-1", "LIN": "eu-milan-1",
    "ARN": "eu-stockholm-1", "BEG": "eu-jovanovac-1", "NRT": "ap-tokyo-1",
    "KIX": "ap-osaka-1", "ICN": "ap-seoul-1", "YNY": "ap-chuncheon-1", "BOM": "ap-mumbai-1",
    "HYD": "ap-hyderabad-1", "SIN": "ap-singapore-1", "XSP": "ap-singapore-2",
    "SYD": "ap-sydney-1", "MEL": "ap-melbourne-1", "HSG": "ap-batam-1",
    "JED": "me-jeddah-1", "RUH": "me-riyadh-1", "DXB": "me-dubai-1",
    "AUH": "me-abudhabi-1", "MTZ": "il-jerusalem-1", "JNB": "af-johannesburg-1",
}


def norm(value: str) -> str:
    """The lookup key of a spelling: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", value.lower())


def id_lookup(table: Mapping[str, str], aliases: Mapping[str, str]) -> dict[str, str]:
    """norm(spelling) -> region id, for every id, name and alias of a table."""
    out: dict[str, str] = {}
    for rid, name in table.items():
        out.setdefault(norm(rid), rid)
        out.setdefault(norm(name), rid)
    for alias, rid in aliases.items():
        out.setdefault(norm(alias), rid)
    return out


def _cases(value: ir.StringValue, mapping: Mapping[str, str]) -> ir.StringValue:
    """``mapping[value]`` as one CASE (NULL where absent)."""
    return value.cases(*mapping.items(), else_=ibis.null("string"))  # type: ignore[no-any-return,attr-defined]


def name_of(region_id: ir.StringValue, table: Mapping[str, str]) -> ir.StringValue:
    """The table's name for ``region_id`` (an Ibis expression), NULL if unknown."""
    return _cases(region_id, table)


def id_of(value: ir.StringValue, table: Mapping[str, str],
          aliases: Mapping[str, str] | None = None) -> ir.StringValue:
    """The region id that ``value`` spells (an id, a name or an alias), NULL if unknown."""
    key = value.lower().re_replace(r"[^0-9a-z]", "")
    return _cases(key, id_lookup(table, aliases or {}))


def sql_case(expr: str, mapping: Mapping[str, str]) -> str:
    """``mapping[expr]`` as a SQL CASE (NULL where absent), for SQL-string mappings."""
    whens = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in mapping.items())
    return f"(CASE {expr} {whens} END)"


def sql_norm(expr: str) -> str:
    return f"regexp_replace(lower({expr}), '[^0-9a-z]', '', 'g')"
