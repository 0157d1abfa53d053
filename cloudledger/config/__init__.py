"""One typed settings object: defaults < cloudledger.yaml < CLOUDLEDGER_* env < flags.

    settings = load_settings("cloudledger.yaml")     # or None: ./cloudledger.yaml if present
    settings.owners.dimensions                       # ["team", "product", ...]

One model file per area (``allocate.py``, ``metrics.py``, ``sql.py``, ...), composed in
``settings.py``; ``load.py`` reads the YAML with line numbers for every message.
"""

from cloudledger.config.allocate import (
    Chargeback,
    Commitments,
    Kubernetes,
    Match,
    Owners,
    Rule,
    SharedPool,
    Tags,
    check_allocation,
    pool_order,
)
from cloudledger.config.base import DEFAULT_CONFIG, IDLE, SHARED, UNALLOCATED, Strict
from cloudledger.config.load import (
    check_settings,
    load_settings,
    parse_yaml,
    read_config_text,
    settings_from,
)
from cloudledger.config.metrics import MetricSource
from cloudledger.config.operate import (
    Anomalies,
    Budget,
    Channel,
    EmailChannel,
    Notify,
    Run,
    SlackChannel,
    StdoutChannel,
    Threshold,
    WebhookChannel,
)
from cloudledger.config.settings import Settings
from cloudledger.config.sql import Sql

__all__ = [
    "Anomalies", "Budget", "Channel", "Chargeback", "Commitments", "DEFAULT_CONFIG",
    "EmailChannel", "IDLE", "Kubernetes", "Match", "MetricSource", "Notify", "Owners", "Rule",
    "Run", "SHARED", "Settings", "SharedPool", "SlackChannel", "Sql", "StdoutChannel", "Strict",
    "Tags", "Threshold", "UNALLOCATED", "WebhookChannel", "check_allocation", "check_settings",
    "load_settings", "parse_yaml", "pool_order", "read_config_text", "settings_from",
]
