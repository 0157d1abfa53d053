"""Tailspin Commerce: the fictional company behind ``cloudledger demo``.

Everything here is a small catalog (providers, accounts, services, teams, commitments,
anomalies); billing rows are generated from it, vectorized, in ``rows.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPANY = "Tailspin Commerce"
CURRENCY = "USD"
#: Approximate company spend per day, independent of the number of rows generated.
TEAM_DAILY_SPEND = 30_000.0
SHARED_DAILY_SPEND = 9_000.0
#: Share of EffectiveCost on resources without a team-like tag (support/tax add a little).
UNTAGGED_SHARE = 0.17


@dataclass(frozen=True)
class Provider:
    name: str                   # ProviderName / ServiceProviderName / InvoiceIssuerName
    billing_account: str
    billing_account_name: str
    billing_account_type: str
    sub_account_type: str
    invoice_prefix: str
    tax_rate: float
    edp_discount: float         # negotiated discount: ContractedUnitPrice = list * (1 - d)
    regions: tuple[tuple[str, str], ...]


PROVIDERS = (
    Provider("AWS", "284310695501", "Tailspin Commerce (payer)", "Billing Account",
             "Linked Account", "EUINUS25-", 0.0, 0.05,
             (("us-east-1", "US East (N. Virginia)"), ("us-west-2", "US West (Oregon)"),
              ("eu-west-1", "Europe (Ireland)"))),
    Provider("Microsoft", "7c9e2b1a-4f3d-4c58-9a1e-2b6d8f0c3e71:e2d1f7a9_2019-05-31",
             "Tailspin Commerce MCA", "Billing Profile", "Subscription", "G0", 0.0, 0.0,
             (("eastus", "East US"), ("westeurope", "West Europe"))),
    Provider("Google Cloud", "01A7C3-5E2B9D-F4D810", "Tailspin Commerce", "Billing Account",
             "Project", "4", 0.0, 0.03,
             (("us-central1", "Iowa"), ("europe-west1", "Belgium"))),
)
#: Sales tax charged per provider (AWS and Google bill tax; the Microsoft MCA here does not).
TAX_RATES = (0.0625, 0.0, 0.05)

PRODUCTS = ("checkout", "search", "catalog", "recommendations", "identity", "mobile",
            "data-platform", "platform")
#: Customer-facing products: requests/day and active users/day (business metrics).
METRIC_PRODUCTS = {"checkout": (2.2e6, 310_000), "search": (9.5e6, 820_000),
                   "catalog": (6.1e6, 790_000), "recommendations": (4.0e6, 560_000),
                   "identity": (1.9e6, 870_000), "mobile": (3.3e6, 450_000)}
ENVIRONMENTS = ("prod", "staging", "dev")
ENV_WEIGHTS = (0.68, 0.14, 0.18)

# team, product, cost center, provider weights (AWS, Microsoft, Google), affinity categories
TEAMS: tuple[tuple[str, str, str, tuple[float, float, float], tuple[str, ...]], ...] = (
    ("payments", "checkout", "CC-1010", (0.85, 0.1, 0.05), ("Databases",)),
    ("checkout-web", "checkout", "CC-1020", (0.8, 0.15, 0.05), ("Networking", "Compute")),
    ("search-relevance", "search", "CC-1110", (0.7, 0.05, 0.25),
     ("Analytics", "AI and Machine Learning")),
    ("search-infra", "search", "CC-1120", (0.9, 0.05, 0.05), ("Analytics", "Compute")),
    ("catalog", "catalog", "CC-1210", (0.85, 0.1, 0.05), ("Databases", "Storage")),
    ("merchandising", "catalog", "CC-1220", (0.6, 0.3, 0.1), ("Storage",)),
    ("recs-ml", "recommendations", "CC-1310", (0.45, 0.35, 0.2), ("AI and Machine Learning",)),
    ("identity", "identity", "CC-1410", (0.3, 0.65, 0.05), ("Databases", "Security")),
    ("mobile", "mobile", "CC-1510", (0.75, 0.1, 0.15), ("Networking", "Compute")),
    ("data-eng", "data-platform", "CC-1610", (0.25, 0.05, 0.7), ("Analytics", "Storage")),
    ("analytics", "data-platform", "CC-1620", (0.2, 0.1, 0.7), ("Analytics",)),
    ("platform", "platform", "CC-1710", (0.7, 0.15, 0.15), ("Compute", "Networking")),
    ("sre", "platform", "CC-1720", (0.7, 0.15, 0.15), ("Management and Governance",)),
)
TEAM_WEIGHTS = (9, 6, 6, 8, 7, 4, 8, 4, 5, 9, 5, 4, 3)
K8S_NAMESPACES = (  # namespace, owning team (None: idle capacity), share of the cluster
    ("checkout", "payments", 0.17), ("storefront", "checkout-web", 0.14),
    ("search-api", "search-infra", 0.15), ("catalog-api", "catalog", 0.12),
    ("recs-serving", "recs-ml", 0.1), ("identity", "identity", 0.06),
    ("monitoring", "sre", 0.07), ("kube-system", "platform", 0.05), (None, None, 0.14),
)
K8S_CLUSTER = "prod-shared"

# Services: provider index, ServiceName, ServiceCategory, ServiceSubcategory, ResourceType,
# PricingUnit, list unit price, kind (compute|request|storage), weight, code
SERVICES: tuple[tuple[int, str, str, str, str, str, float, str, float, str], ...] = (
    (0, "Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Instance", "Hrs",
     0.192, "compute", 30, "ec2"),
    (0, "Amazon Simple Storage Service", "Storage", "Object Storage", "Bucket", "GB-Mo",
     0.023, "storage", 8, "s3"),
    (0, "Amazon Relational Database Service", "Databases", "Relational Databases",
     "DB Instance", "Hrs", 0.48, "compute", 12, "rds"),
    (0, "Amazon DynamoDB", "Databases", "NoSQL Databases", "Table", "ReadRequestUnits",
     0.00000025, "request", 4, "dynamodb"),
    (0, "AWS Lambda", "Compute", "Serverless Compute", "Function", "Lambda-GB-Second",
     0.0000166667, "request", 3, "lambda"),
    (0, "Amazon CloudFront", "Networking", "Content Delivery", "Distribution", "GB",
     0.085, "request", 5, "cloudfront"),
    (0, "Amazon ElastiCache", "Databases", "Caching", "Cache Cluster", "NodeUsage",
     0.312, "compute", 4, "elasticache"),
    (0, "Amazon OpenSearch Service", "Analytics", "Search", "Domain", "ES:Hrs",
     0.67, "compute", 5, "es"),
    (0, "Amazon Redshift", "Analytics", "Data Warehouses", "Cluster", "Node-Hrs",
     1.086, "compute", 3, "redshift"),
    (0, "Amazon SageMaker", "AI and Machine Learning", "Machine Learning", "Endpoint", "Hrs",
     4.1, "compute", 4, "sagemaker"),
    (0, "Elastic Load Balancing", "Networking", "Network Infrastructure", "Load Balancer",
     "LCU-Hrs", 0.008, "request", 3, "elasticloadbalancing"),
    (0, "Amazon CloudWatch", "Management and Governance", "Observability", "Log Group",
     "GB", 0.5, "request", 3, "logs"),
    (0, "AWS Key Management Service", "Security", "Secret Management", "Key", "Requests",
     0.000003, "request", 1, "kms"),
    (0, "AWS WAF", "Security", "Network Security", "WebACL", "Requests", 0.0000006,
     "request", 1, "wafv2"),
    (0, "Amazon Route 53", "Networking", "Domain Name System", "Hosted Zone", "Queries",
     0.0000004, "request", 1, "route53"),
    (0, "Amazon Simple Queue Service", "Integration", "Messaging", "Queue", "Requests",
     0.0000004, "request", 1, "sqs"),
    (0, "Amazon Kinesis", "Analytics", "Streaming Analytics", "Stream", "ShardHour",
     0.015, "compute", 2, "kinesis"),
    (1, "Virtual Machines", "Compute", "Virtual Machines", "Virtual Machine", "1 Hour",
     0.384, "compute", 10, "Microsoft.Compute/virtualMachines"),
    (1, "Azure SQL Database", "Databases", "Relational Databases", "SQL Database",
     "1 vCore Hour", 0.505, "compute", 5, "Microsoft.Sql/servers/databases"),
    (1, "Azure Cosmos DB", "Databases", "NoSQL Databases", "Cosmos DB Account",
     "100 RU/s Hours", 0.008, "request", 4, "Microsoft.DocumentDB/databaseAccounts"),
    (1, "Storage", "Storage", "Object Storage", "Storage Account", "1 GB/Month", 0.0184,
     "storage", 3, "Microsoft.Storage/storageAccounts"),
    (1, "Azure Functions", "Compute", "Serverless Compute", "Function App", "GB Second",
     0.000016, "request", 1, "Microsoft.Web/sites"),
    (1, "Azure OpenAI Service", "AI and Machine Learning", "Generative AI",
     "Cognitive Services Account", "1K Tokens", 0.005, "request", 6,
     "Microsoft.CognitiveServices/accounts"),
    (1, "Azure Monitor", "Management and Governance", "Observability",
     "Log Analytics Workspace", "1 GB", 2.3, "request", 2,
     "Microsoft.OperationalInsights/workspaces"),
    (1, "Azure Front Door", "Networking", "Content Delivery", "Front Door Profile", "1 GB",
     0.083, "request", 2, "Microsoft.Cdn/profiles"),
    (2, "Compute Engine", "Compute", "Virtual Machines", "VM Instance", "hour", 0.19,
     "compute", 8, "compute"),
    (2, "BigQuery", "Analytics", "Data Warehouses", "Dataset", "tebibyte", 6.25,
     "request", 10, "bigquery"),
    (2, "Cloud Storage", "Storage", "Object Storage", "Bucket", "gibibyte month", 0.02,
     "storage", 4, "storage"),
    (2, "Cloud SQL", "Databases", "Relational Databases", "Cloud SQL Instance", "hour",
     0.4126, "compute", 3, "sqladmin"),
    (2, "Vertex AI", "AI and Machine Learning", "Machine Learning", "Endpoint", "hour",
     2.48, "compute", 4, "aiplatform"),
    (2, "Cloud Run", "Compute", "Serverless Compute", "Service", "vCPU-second", 0.000024,
     "request", 2, "run"),
    (2, "Cloud Pub/Sub", "Integration", "Messaging", "Topic", "tebibyte", 40.0,
     "request", 2, "pubsub"),
    (2, "Cloud Logging", "Management and Governance", "Observability", "Log Bucket",
     "gibibyte", 0.5, "request", 1, "logging"),
)
# Shared-cost services (no team owns them directly): provider, ServiceName, category,
# subcategory, ResourceType, PricingUnit, price, kind, share of SHARED_DAILY_SPEND, code,
# sub-account key, cost pool tag, publisher (marketplace) or None
SHARED: tuple[tuple[int, str, str, str, str, str, float, str, float, str, str, str,
                    str | None], ...] = (
    (0, "AWS Transit Gateway", "Networking", "Network Infrastructure", "Transit Gateway",
     "GB", 0.02, "request", 0.09, "ec2", "network", "shared-networking", None),
    (0, "Amazon Virtual Private Cloud", "Networking", "Network Infrastructure",
     "NAT Gateway", "GB", 0.045, "request", 0.1, "ec2", "network", "shared-networking", None),
    (0, "AWS Direct Connect", "Networking", "Network Connectivity", "Connection",
     "Port-Hours", 2.25, "compute", 0.04, "directconnect", "network", "shared-networking",
     None),
    (1, "Virtual Network", "Networking", "Network Infrastructure", "Virtual Network Gateway",
     "1 Hour", 1.25, "compute", 0.04, "Microsoft.Network/virtualNetworkGateways",
     "shared", "shared-networking", None),
    (2, "Cloud Interconnect", "Networking", "Network Connectivity", "Interconnect",
     "hour", 2.3, "compute", 0.04, "compute", "shared", "shared-networking", None),
    (0, "Amazon GuardDuty", "Security", "Threat Detection and Response", "Detector",
     "GB", 1.0, "request", 0.04, "guardduty", "security", "security-tooling", None),
    (0, "AWS Security Hub", "Security", "Security Posture Management", "Hub", "Checks",
     0.001, "request", 0.02, "securityhub", "security", "security-tooling", None),
    (1, "Microsoft Defender for Cloud", "Security", "Security Posture Management",
     "Security Pricing", "1 Node/Hour", 0.02, "compute", 0.03,
     "Microsoft.Security/pricings", "shared", "security-tooling", None),
    (2, "Security Command Center", "Security", "Security Posture Management",
     "Organization", "hour", 1.2, "compute", 0.02, "securitycenter", "shared",
     "security-tooling", None),
    (0, "CrowdStrike Falcon", "Security", "Endpoint Security", "Subscription", "Units",
     0.5, "compute", 0.05, "aws-marketplace", "security", "security-tooling", "CrowdStrike"),
    (0, "Datadog Pro", "Management and Governance", "Observability", "Subscription",
     "Hosts", 0.05, "compute", 0.08, "aws-marketplace", "platform", "observability",
     "Datadog"),
    (0, "Snowflake", "Analytics", "Data Warehouses", "Subscription", "Credits", 3.0,
     "request", 0.03, "aws-marketplace", "data-prod", "data-platform", "Snowflake"),
    (0, "Amazon Elastic Kubernetes Service", "Compute", "Containers", "Cluster", "Hrs",
     0.10, "flat", 0.002, "eks", "platform", "kubernetes", None),
)
#: Share of SHARED_DAILY_SPEND that the Kubernetes cluster's EC2 node groups take.
K8S_SHARE = 0.41
K8S_NODEGROUPS = (("general", "m6i.4xlarge", 0.768, 0.6), ("memory", "r6i.4xlarge", 1.008, 0.3),
                  ("gpu", "g5.2xlarge", 1.212, 0.1))

# Sub-accounts: provider, id, name, key
SUB_ACCOUNTS = (
    (0, "418276530912", "tailspin-commerce-prod", "commerce-prod"),
    (0, "529381640127", "tailspin-discovery-prod", "discovery-prod"),
    (0, "630492751238", "tailspin-data-prod", "data-prod"),
    (0, "741503862349", "tailspin-staging", "staging"),
    (0, "852614973450", "tailspin-dev", "dev"),
    (0, "963725084561", "tailspin-platform", "platform"),
    (0, "174836195672", "tailspin-network", "network"),
    (0, "285947206783", "tailspin-security", "security"),
    (1, "3f2b8c1d-6a4e-4f7b-9c2d-1e5a7b9d3c20", "tailspin-prod", "prod"),
    (1, "8d4e2a6f-1b3c-4d5e-8f9a-0b1c2d3e4f56", "tailspin-nonprod", "nonprod"),
    (1, "c1d2e3f4-a5b6-4c7d-8e9f-a0b1c2d3e4f5", "tailspin-shared", "shared"),
    (2, "tailspin-prod-284531", "tailspin-prod", "prod"),
    (2, "tailspin-data-739102", "tailspin-data", "data-prod"),
    (2, "tailspin-nonprod-520318", "tailspin-nonprod", "nonprod"),
    (2, "tailspin-shared-net-119274", "tailspin-shared-net", "shared"),
)


def team_account(provider: int, env: str, product: str) -> str:
    """Sub-account key of a team resource."""
    if provider == 0:
        if env != "prod":
            return env
        return {"search": "discovery-prod", "recommendations": "discovery-prod",
                "data-platform": "data-prod", "platform": "platform"}.get(product,
                                                                          "commerce-prod")
    if env != "prod":
        return "nonprod"
    return "data-prod" if provider == 2 and product == "data-platform" else "prod"


@dataclass(frozen=True)
class Commitment:
    provider: int
    service: str
    category: str          # Spend | Usage
    type: str
    name: str
    code: str
    rate: float            # committed price / list price
    start_month: int       # months after the first generated month (0 = before the window)
    utilization: float     # used share of the commitment, the rest is Unused
    share: float           # share of the eligible resources it covers


COMMITMENTS = (
    Commitment(0, "Amazon Elastic Compute Cloud", "Spend", "Savings Plan",
               "Compute Savings Plan 3yr No Upfront", "savingsplans", 0.72, 0, 0.96, 0.3),
    Commitment(0, "Amazon Elastic Compute Cloud", "Usage", "Reserved Instance",
               "EC2 RI m6i 1yr No Upfront", "ec2", 0.6, 3, 0.9, 0.25),
    Commitment(0, "Amazon Relational Database Service", "Usage", "Reserved Instance",
               "RDS RI db.r6g 1yr No Upfront", "rds", 0.62, 0, 0.98, 0.45),
    Commitment(1, "Virtual Machines", "Usage", "Reservation",
               "VM Reserved Instances D4s v5 1yr", "Microsoft.Capacity", 0.59, 5, 0.85, 0.4),
    Commitment(2, "Compute Engine", "Usage", "Committed Use Discount",
               "CUD n2-standard 1yr", "compute", 0.63, 1, 0.93, 0.4),
)

# Anomalies: days before the end, duration (days), provider, service, factor, description
ANOMALIES = (
    (12, 1, 2, "BigQuery", 7.0, "runaway BigQuery backfill scanning full tables"),
    (40, 5, 0, "Amazon SageMaker", 5.0, "GPU endpoints left running after a load test"),
    (70, 1, 0, "Amazon CloudFront", 8.0, "bot traffic spike on image CDN"),
    (100, 3, 1, "Azure Cosmos DB", 4.0, "Cosmos DB throughput raised and not reverted"),
)
