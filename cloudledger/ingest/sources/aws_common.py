"""What the AWS sources share: native column naming, the ProductCode -> ServiceCategory
lookup, and tag / cost-category columns.

AWS writes the same billing fields under three naming styles:

- legacy CUR CSV: ``lineItem/UnblendedCost``, ``resourceTags/user:env``, ``costCategory/Team``
- Athena / CUR Parquet / Hive text (snake case): ``line_item_unblended_cost``,
  ``resource_tags_user_env``
- CUR 2.0 (Data Exports): snake case plus map columns ``product``, ``resource_tags`` and
  ``cost_category``.

Mapping code names every field by its legacy name (``Fields.get("lineItem/UnblendedCost")``)
and ``Fields`` resolves it to the column of whichever style the file uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cloudledger.engine import ident, literal  # noqa: F401 - re-exported

#: Legacy-CUR fields the mapping reads. Fields absent from a file read as NULL.
NATIVE_FIELDS = (
    "identity/LineItemId",
    "bill/PayerAccountId", "bill/PayerAccountName", "bill/BillingPeriodStartDate",
    "bill/BillingPeriodEndDate", "bill/InvoiceId", "bill/InvoicingEntity", "bill/BillType",
    "lineItem/UsageAccountId", "lineItem/UsageAccountName", "lineItem/LineItemType",
    "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
    "lineItem/UsageType", "lineItem/Operation", "lineItem/AvailabilityZone",
    "lineItem/ResourceId", "lineItem/UsageAmount", "lineItem/CurrencyCode",
    "lineItem/UnblendedCost", "lineItem/NetUnblendedCost", "lineItem/LineItemDescription",
    "lineItem/TaxType", "lineItem/LegalEntity",
    "product/ProductName", "product/servicename", "product/region", "product/regionCode",
    "product/location", "product/sku", "product/productFamily",
    "pricing/publicOnDemandCost", "pricing/publicOnDemandRate", "pricing/RateCode",
    "pricing/RateId", "pricing/term", "pricing/unit", "pricing/currency",
    "reservation/ReservationARN", "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "reservation/UnusedRecurringFee",
    "reservation/TotalReservedUnits", "reservation/UnusedQuantity",
    "savingsPlan/SavingsPlanARN", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment",
)

#: Fields parsed as money / quantity / timestamp (everything else is text).
MONEY_FIELDS = (
    "lineItem/UnblendedCost", "lineItem/NetUnblendedCost", "pricing/publicOnDemandCost",
    "reservation/EffectiveCost", "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee", "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate", "savingsPlan/UsedCommitment",
)
QUANTITY_FIELDS = ("lineItem/UsageAmount", "pricing/publicOnDemandRate",
                   "reservation/TotalReservedUnits", "reservation/UnusedQuantity")
TIME_FIELDS = ("bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate",
               "lineItem/UsageStartDate", "lineItem/UsageEndDate")

#: Where a value must parse, by line item type (None: every row). Values in other rows are
#: not read, so a stray value there (koku's "# notsecret" in UsedCommitment) is harmless.
REQUIRED_PARSE: dict[str, tuple[str, ...] | None] = {
    "lineItem/UnblendedCost": None, "lineItem/NetUnblendedCost": None,
    "lineItem/UsageAmount": None, "pricing/publicOnDemandCost": None,
    "pricing/publicOnDemandRate": None,
    "bill/BillingPeriodStartDate": None, "bill/BillingPeriodEndDate": None,
    "lineItem/UsageStartDate": None, "lineItem/UsageEndDate": None,
    "reservation/EffectiveCost": ("DiscountedUsage",),
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": ("RIFee",),
    "reservation/UnusedRecurringFee": ("RIFee",),
    "reservation/TotalReservedUnits": ("RIFee",),
    "reservation/UnusedQuantity": ("RIFee",),
    "savingsPlan/SavingsPlanEffectiveCost": ("SavingsPlanCoveredUsage",),
    "savingsPlan/TotalCommitmentToDate": ("SavingsPlanRecurringFee",),
    "savingsPlan/UsedCommitment": ("SavingsPlanRecurringFee",),
}

#: Columns every file must have to be read as a CUR at all.
REQUIRED = ("bill/PayerAccountId", "bill/BillingPeriodStartDate", "lineItem/LineItemType",
            "lineItem/UnblendedCost", "lineItem/UsageStartDate")

#: Provider-specific columns kept as x_ columns (native field -> x_ name).
X_COLUMNS = {
    "identity/LineItemId": "x_LineItemId", "lineItem/LineItemType": "x_LineItemType",
    "lineItem/UsageType": "x_UsageType", "lineItem/Operation": "x_Operation",
    "lineItem/ProductCode": "x_ProductCode", "bill/BillType": "x_BillType",
    "lineItem/TaxType": "x_TaxType",
}

#: Athena snake-cases AWS-generated tag keys; these are the well-known originals.
AWS_TAG_KEYS = {
    "created_by": "aws:createdBy", "createdby": "aws:createdBy",
    "autoscaling_group_name": "aws:autoscaling:groupName",
    "cloudformation_stack_name": "aws:cloudformation:stack-name",
    "cloudformation_stack_id": "aws:cloudformation:stack-id",
    "cloudformation_logical_id": "aws:cloudformation:logical-id",
    "ec2spot_fleet_request_id": "aws:ec2spot:fleet-request-id",
    "ec2launchtemplate_id": "aws:ec2launchtemplate:id",
    "ec2launchtemplate_version": "aws:ec2launchtemplate:version",
    "elasticmapreduce_job_flow_id": "aws:elasticmapreduce:job-flow-id",
    "eks_cluster_name": "aws:eks:cluster-name",
}

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Compute": ("AmazonEC2", "AWSLambda", "AmazonECS", "AmazonEKS", "AWSBatch",
                "AmazonLightsail", "AmazonEC2ContainerService", "AWSFargate",
                "AWSElasticBeanstalk", "AmazonAppStream", "AWSOutposts", "AmazonWorkSpaces"),
    "Storage": ("AmazonS3", "AmazonGlacier", "AmazonEFS", "AmazonFSx", "AWSBackup",
                "AWSStorageGateway", "AmazonS3GlacierDeepArchive", "AmazonECR"),
    "Databases": ("AmazonRDS", "AmazonDynamoDB", "AmazonElastiCache", "AmazonRedshift",
                  "AmazonDocDB", "AmazonNeptune", "AmazonMemoryDB", "AmazonKeyspaces",
                  "AmazonTimestream", "AmazonSimpleDB", "AmazonDAX"),
    "Networking": ("AmazonVPC", "AWSDataTransfer", "AmazonCloudFront", "AmazonRoute53",
                   "AWSDirectConnect", "AWSELB", "AWSGlobalAccelerator", "AmazonApiGateway",
                   "AWSTransitGateway", "AWSCloudMap", "AWSPrivateLink", "AWSVPN"),
    "Analytics": ("AmazonAthena", "AWSGlue", "AmazonKinesis", "AmazonKinesisFirehose",
                  "AmazonES", "AmazonOpenSearchService", "ElasticMapReduce",
                  "AmazonQuickSight", "AmazonMSK", "AWSDataPipeline", "AWSLakeFormation",
                  "AmazonKinesisAnalytics"),
    "AI and Machine Learning": ("AmazonSageMaker", "AmazonRekognition", "AmazonComprehend",
                                "AmazonPolly", "AmazonTranslate", "AmazonTextract",
                                "AmazonLex", "AmazonBedrock", "AmazonTranscribe",
                                "AmazonForecast", "AmazonPersonalize", "AmazonKendra"),
    "Management and Governance": ("AmazonCloudWatch", "AWSCloudTrail", "AWSConfig",
                                  "AWSSystemsManager", "AWSBudgets", "AWSCostExplorer",
                                  "AWSSupportBusiness", "AWSSupportEnterprise",
                                  "AWSSupportDeveloper", "AWSCloudFormation",
                                  "AWSServiceCatalog", "AWSOrganizations", "AWSXRay",
                                  "AWSTrustedAdvisor", "AmazonManagedGrafana"),
    "Security": ("AmazonGuardDuty", "awskms", "AWSSecretsManager", "AWSWAF",
                 "AWSShield", "AmazonInspector", "AmazonMacie", "AWSSecurityHub",
                 "AWSCertificateManager", "AmazonDetective", "AWSFMS", "AWSCloudHSM"),
    "Identity": ("AmazonCognito", "AWSDirectoryService", "AWSIAM", "AWSSSO"),
    "Integration": ("AmazonSNS", "AWSQueueService", "AmazonSQS", "AWSEvents",
                    "AmazonEventBridge", "AmazonMQ", "AWSStepFunctions", "AmazonSES",
                    "AmazonAppFlow", "AmazonSWF"),
    "Developer Tools": ("AWSCodeCommit", "AWSCodeBuild", "AWSCodePipeline",
                        "AWSCodeDeploy", "AWSCodeArtifact", "AWSCloud9", "AmazonCodeGuru"),
    "Internet of Things": ("AWSIoT", "AWSIoTAnalytics", "AWSGreengrass", "AWSIoTEvents"),
    "Media": ("AmazonElasticTranscoder", "AWSElementalMediaConvert", "AmazonIVS",
              "AWSElementalMediaLive", "AWSElementalMediaPackage"),
    "Migration": ("AWSDatabaseMigrationSvc", "AWSMigrationHub", "AWSApplicationMigrationSvc",
                  "AWSTransfer", "AWSDataSync", "AWSSnowball"),
    "Mobile": ("AWSAmplify", "AWSDeviceFarm", "AmazonPinpoint"),
    "Web": ("AmazonWorkMail", "AmazonConnect", "AWSAppSync"),
    "Business Applications": ("AmazonChime", "AmazonWorkDocs", "AmazonQ"),
}
#: lineItem/ProductCode -> FOCUS ServiceCategory (anything else: "Other").
SERVICE_CATEGORY: dict[str, str] = {code: cat for cat, codes in _CATEGORIES.items()
                                    for code in codes}


#: ResourceType of an EC2-style id (``i-0abc...``, ``vol-...``): its prefix names the type,
#: spelt as in the resource's ARN (``arn:aws:ec2:...:instance/i-...``).
EC2_ID_TYPES = {
    "i": "instance", "vol": "volume", "snap": "snapshot", "ami": "image",
    "eni": "network-interface", "eipalloc": "elastic-ip", "nat": "natgateway", "vpc": "vpc",
    "subnet": "subnet", "sg": "security-group", "igw": "internet-gateway",
    "vpce": "vpc-endpoint", "tgw": "transit-gateway", "lt": "launch-template",
    "fs": "file-system", "h": "dedicated-host", "cr": "capacity-reservation",
}
#: ResourceType of an ARN whose resource part has no ``type/`` or ``type:`` prefix.
ARN_SERVICE_TYPES = {"s3": "bucket", "sns": "topic", "sqs": "queue"}
#: ResourceType of a bare (non-ARN, non-EC2) resource id, by lineItem/ProductCode.
PRODUCT_ID_TYPES = {"AmazonS3": "bucket", "AmazonCloudFront": "distribution",
                    "AmazonRoute53": "hostedzone"}
#: ConsumedUnit from lineItem/UsageType where the row has no pricing/unit (free-tier and
#: Spot rows of a CUR carry none). AWS usage types end in their metered quantity; the first
#: matching pattern (DuckDB regex, searched anywhere) gives the unit AWS prices it in.
USAGE_TYPE_UNITS = (
    (r"ByteHrs$", "GB-Mo"), (r"Bytes$", "GB"), (r"Requests?(-|$)", "Requests"),
    (r"(Volume|Snapshot)Usage", "GB-Mo"),
    (r"(Box|Spot|Heavy|Dedicated|Instance|Node)Usage(:|$)", "Hrs"),
    (r"MetricMonitorUsage", "Metrics"), (r"Events", "Events"),
    (r"Catalog-Storage$", "Obj-Month"),
)


def snake(name: str) -> str:
    """Athena's name for a legacy one: lineItem/UnblendedCost -> line_item_unblended_cost."""
    out = re.sub(r"([A-Z])", r"_\1", name).lower()
    out = re.sub(r"[^a-z0-9]+", "_", out)
    return re.sub(r"_+", "_", out).strip("_")


quote = ident  # the one quoting function (cloudledger.engine)


def x_name(prefix: str, key: str) -> str:
    """A tidy x_ column name: x_CostCategory_Charge_type."""
    return f"x_{prefix}_" + (re.sub(r"[^0-9A-Za-z]+", "_", key).strip("_") or "blank")


@dataclass
class Fields:
    """Resolves legacy field names to the columns (and map keys) of one file's schema.

    ``columns`` maps column name -> DuckDB type name.
    """

    columns: dict[str, str]
    _lower: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lower = {c.lower(): c for c in self.columns}

    @property
    def style(self) -> str:
        if "resource_tags" in self.columns or "cost_category" in self.columns or (
                "product" in self.columns and "MAP" in self.columns["product"].upper()):
            return "cur2"
        return "legacy" if any("/" in c for c in self.columns) else "snake"

    def column(self, legacy: str) -> str | None:
        """The file's column for a legacy field name, or None."""
        if legacy in self.columns:
            return legacy
        if legacy.lower() in self._lower:
            return self._lower[legacy.lower()]
        s = snake(legacy)
        return s if s in self.columns else self._lower.get(s)

    def raw(self, legacy: str) -> str | None:
        """SQL for the raw value of a field (a column, or a key of CUR 2.0's product map)."""
        col = self.column(legacy)
        if col is not None:
            return quote(col)
        cat, _, name = legacy.partition("/")
        if cat == "product" and "product" in self.columns:
            key = snake(name)
            if "MAP" in self.columns["product"].upper():
                return f"element_at(product, {literal(key)})[1]"
            return f"json_extract_string(product, {literal('$.' + key)})"
        return None

    def is_text(self, legacy: str) -> bool:
        col = self.column(legacy)
        return col is None or self.columns[col].upper() in ("VARCHAR", "TEXT", "STRING")

    def missing(self, names: tuple[str, ...]) -> list[str]:
        return [n for n in names if self.column(n) is None]

    def prefixed(self, legacy_prefix: str, snake_prefix: str) -> list[tuple[str, str]]:
        """(column, key) for columns like resourceTags/user:env or resource_tags_user_env."""
        out = []
        for c in self.columns:
            if c.startswith(legacy_prefix):
                out.append((c, c[len(legacy_prefix):]))
            elif c.startswith(snake_prefix) and c != snake_prefix.rstrip("_"):
                out.append((c, c[len(snake_prefix):]))
        return out

    def tag_columns(self) -> list[tuple[str, str]]:
        """(column, FOCUS tag key): user tags unprefixed, AWS-generated tags as aws:<key>."""
        out = []
        for col, key in self.prefixed("resourceTags/", "resource_tags_"):
            out.append((col, tag_key(key)))
        return out

    def cost_category_columns(self) -> list[tuple[str, str]]:
        return self.prefixed("costCategory/", "cost_category_")


def tag_key(key: str) -> str:
    """FOCUS tag key from a CUR tag column suffix (user:env, user_env, aws:createdBy, aws_...)."""
    if key.startswith("user:"):
        return key[5:]
    if key.startswith("user_"):
        return key[5:]
    if key.startswith("aws:"):
        return key
    if key.startswith("aws_"):
        rest = key[4:]
        return AWS_TAG_KEYS.get(rest.lower(), "aws:" + rest)
    return key


def tag_key_sql(expr: str) -> str:
    """The same normalisation as ``tag_key`` as a SQL expression (CUR 2.0 map keys)."""
    known = " ".join(f"WHEN lower(substr({expr}, 5)) = {literal(k)} THEN {literal(v)}"
                     for k, v in AWS_TAG_KEYS.items())
    return (f"CASE WHEN starts_with({expr}, 'user:') OR starts_with({expr}, 'user_') "
            f"THEN substr({expr}, 6) WHEN starts_with({expr}, 'aws:') THEN {expr} "
            f"WHEN starts_with({expr}, 'aws_') THEN CASE {known} "
            f"ELSE 'aws:' || substr({expr}, 5) END ELSE {expr} END")


def service_category_sql(code: str) -> str:
    """OR'd equalities, not IN lists: DuckDB plans each IN list of 4+ values as a join."""
    branches = " ".join(
        f"WHEN {' OR '.join(f'{code} = {literal(c)}' for c in codes)} THEN {literal(cat)}"
        for cat, codes in _CATEGORIES.items())
    return f"CASE {branches} ELSE 'Other' END"


# ------------------------------------------------------------ a native field as SQL
def text_sql(f: Fields, name: str) -> str:
    col = f.raw(name)
    if col is None:
        return "CAST(NULL AS VARCHAR)"
    if name == "bill/PayerAccountId" and not f.is_text(name):  # ids read as numbers
        return f"lpad(CAST({col} AS VARCHAR), 12, '0')"
    if f.is_text(name) and col.startswith('"'):
        return f"NULLIF(TRIM({col}), '')"
    return f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"


def fast_cast_sql(col: str, value: str, target: str) -> str:
    """Text ``col`` (``value``: its trimmed, NULL-if-empty form) -> ``target``, strictly.

    A TRY_CAST of the raw column first (the casts skip surrounding blanks themselves; for a
    decimal, into an int64-backed decimal(18, s), which DuckDB parses several times faster
    than a 38-digit one and rounds to the same scale), the strict cast of ``value`` only
    where that fails (COALESCE evaluates lazily): empty values and amounts too wide.
    """
    if target == "TIMESTAMPTZ":
        # a UTC value ('...Z', as AWS writes them) reads as a plain timestamp, ~6x faster
        # than a TIMESTAMPTZ parse; any other offset takes the TIMESTAMPTZ parse
        fast = f"CASE WHEN ends_with({col}, 'Z') THEN TRY_CAST({col} AS TIMESTAMP) END"
        return f"coalesce({fast}, CAST(CAST({value} AS {target}) AS TIMESTAMP))"
    fast = f"DECIMAL(18, {target.split(',')[1].strip(' )')})"
    return f"coalesce(TRY_CAST({col} AS {fast}), CAST({value} AS {target}))"


def typed_sql(f: Fields, name: str, target: str) -> str:
    col = f.raw(name)
    if col is None:
        return f"CAST(NULL AS {target})"
    if target == "TIMESTAMP":
        if f.is_text(name):
            return fast_cast_sql(col, text_sql(f, name), "TIMESTAMPTZ")
        return f"CAST({col} AS TIMESTAMP)"
    if f.is_text(name) and target.startswith("DECIMAL"):
        return f"CAST({fast_cast_sql(col, text_sql(f, name), target)} AS {target})"
    value = text_sql(f, name) if f.is_text(name) else col
    return f"CAST({value} AS {target})"


def parsed_sql(f: Fields, name: str, lit: str, target: str) -> str:
    expr = typed_sql(f, name, target)
    types = REQUIRED_PARSE.get(name)
    if types is not None:  # read only where it means something (see REQUIRED_PARSE)
        expr = f"CASE WHEN {in_sql(lit, types)} THEN {expr} END"
    return expr


def in_sql(col: str, values: tuple[str, ...]) -> str:
    """OR'd equalities: DuckDB plans an IN list of 4+ values as a (mark) join per use."""
    return "(" + " OR ".join(f"{col} = {literal(v)}" for v in values) + ")"
