"""Settings of Operate: anomaly thresholds (``anomalies:``), budgets (``budgets:``), alert
channels (``notify:``) and the scheduled job (``run:``).

    anomalies:
      by: [[team], [SubAccountId, ServiceName]]   # dimension sets scanned by `run`
      min_impact: 50          # an alert moves the day's cost by at least this much ...
      min_pct: 20             # ... and by at least this percent of the expected cost
    budgets:
      - name: payments-monthly
        scope: {team: payments}                   # FOCUS column or owner dimension -> value(s)
        amount: 12000
        period: month                             # month | quarter | year
        currency: USD
        thresholds: [{percent: 80, on: actual}, {percent: 100, on: forecast}]
    notify:
      channels:
        - {type: slack, url: https://hooks.slack.com/services/...}
        - {type: webhook, url: https://example.com/hook, secret_env: CL_HOOK_SECRET}
        - {type: email, host: smtp.example.com, port: 587, starttls: true,
           username: alerts, password_env: CL_SMTP_PASSWORD, sender: finops@example.com,
           to: [team@example.com]}
        - {type: stdout}
    run:
      sources: [/data/exports/**/*.parquet]      # directories or globs, ingested when new
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from cloudledger.config.base import Strict


class Anomalies(Strict):
    #: dimension sets (FOCUS columns or owner dimensions) that `run` scans besides the total
    by: list[list[str]] = Field(default_factory=list)
    #: an anomaly moves the day's cost by at least ``min_impact`` (billing currency) ...
    min_impact: Decimal = Field(default=Decimal(50), ge=0)
    #: ... and by at least ``min_pct`` percent of its expected cost
    min_pct: float = Field(default=20.0, ge=0)
    #: per dimension value overrides, e.g. {team=payments: {min_impact: 500}}
    overrides: dict[str, dict[str, float]] = Field(default_factory=dict)


class Threshold(Strict):
    percent: float = Field(gt=0)
    on: Literal["actual", "forecast"] = "actual"

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads an unquoted ``on:`` key as the boolean true: take it as ``on``."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data


class Budget(Strict):
    name: str
    #: FOCUS column or owner dimension -> value(s); empty: all spend
    scope: dict[str, str | list[str]] = Field(default_factory=dict)
    amount: Decimal = Field(gt=0)
    period: Literal["month", "quarter", "year"] = "month"
    currency: str = "USD"
    metric: Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"] = \
        "EffectiveCost"
    thresholds: list[Threshold] = Field(default_factory=lambda: [
        Threshold(percent=80, on="actual"), Threshold(percent=100, on="forecast")])


class SlackChannel(Strict):
    type: Literal["slack"]
    url: str = ""
    #: or the name of an environment variable that holds the URL (keeps secrets out of git)
    url_env: str | None = None


class WebhookChannel(Strict):
    """A JSON POST signed with ``X-Cloudledger-Signature: sha256=<hex HMAC-SHA256 of the body>``
    when a secret is set."""

    type: Literal["webhook"]
    url: str = ""
    url_env: str | None = None
    secret_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class EmailChannel(Strict):
    type: Literal["email"]
    host: str
    port: int = 587
    starttls: bool = True
    ssl: bool = False            # implicit TLS (port 465)
    username: str | None = None
    password_env: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)


class StdoutChannel(Strict):
    type: Literal["stdout"]


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel | StdoutChannel,
                    Field(discriminator="type")]


class Notify(Strict):
    channels: list[Channel] = Field(default_factory=list)
    retries: int = Field(default=3, ge=0)      # after the first try
    backoff: float = Field(default=1.0, ge=0)  # seconds, doubled after every failed try
    timeout: float = Field(default=10.0, gt=0)


class Run(Strict):
    #: directories or globs whose new files `cloudledger run` ingests
    sources: list[str] = Field(default_factory=list)
    #: forecast horizon the job computes
    horizon: Literal["month-end", "quarter-end", "12m"] = "month-end"
