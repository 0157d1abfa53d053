"""What Operate tells people: one :class:`Alert`, whichever producer made it.

    Alert(key="budget:payments-monthly:2026-05:80", kind="budget", severity="warning",
          title="payments-monthly at 83% of its May budget",
          summary="Actual EffectiveCost 9,960.00 USD of 12,000.00 USD.",
          fields={"Budget": "payments-monthly", "Actual": Decimal("9960.00"),
                  "Amount": Decimal("12000.00"), "Currency": "USD"})

``key`` is the dedupe key: :func:`cloudledger.operate.notify.send` delivers an alert at most
once per channel, whatever number of runs produce it again. Producers make it stable and
specific to what would be worth a second message:

- anomalies: ``anomaly:<anomaly id>``
- budgets: ``budget:<name>:<period, e.g. 2026-05>:<percent>:<actual|forecast>``
- forecasts: ``forecast:<scope>:<period>:<what>``

``fields`` is an ordered ``label -> value`` mapping shown as a table (Slack fields, e-mail
rows, webhook JSON object in that order); money is a ``Decimal`` (exact in the webhook JSON,
shown to the cent in chat and e-mail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from cloudledger import encode
from cloudledger.errors import InputError

Kind = Literal["anomaly", "budget", "forecast", "test"]
Severity = Literal["info", "warning", "critical"]
KINDS: tuple[str, ...] = ("anomaly", "budget", "forecast", "test")
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    key: str
    kind: Kind
    title: str
    severity: Severity = "warning"
    summary: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    url: str | None = None

    def __post_init__(self) -> None:
        if not self.key.strip():
            raise InputError("an alert needs a non-empty key (its dedupe key)",
                             hint="e.g. anomaly:<id> or budget:<name>:<period>:<threshold>")
        if self.kind not in KINDS:
            raise InputError(f"unknown alert kind {self.kind!r}",
                             hint=f"one of {', '.join(KINDS)}")
        if self.severity not in SEVERITIES:
            raise InputError(f"unknown alert severity {self.severity!r}",
                             hint=f"one of {', '.join(SEVERITIES)}")

    def as_dict(self) -> dict[str, Any]:
        """The alert as JSON-ready data (decimals as exact strings, order kept)."""
        return {"key": self.key, "kind": self.kind, "severity": self.severity,
                "title": self.title, "summary": self.summary,
                "fields": {label: encode.jsonable(v) for label, v in self.fields.items()},
                "url": self.url}


def display(value: Any) -> str:
    """Human text of a field value for chat and e-mail: decimals to the cent with thousands
    separators (the webhook JSON carries the exact value), ISO dates."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:,.2f}" if value.is_finite() else str(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def sample_alert(now: datetime) -> Alert:
    """The alert ``cloudledger notify test`` sends (a fresh key each time: never deduped)."""
    stamp = now.strftime("%Y%m%dT%H%M%S.%fZ")
    return Alert(
        key=f"test:{stamp}", kind="test", severity="info",
        title="cloudledger test notification",
        summary="If you can read this, cloudledger can reach this channel.",
        fields={"Sent at (UTC)": now.strftime("%Y-%m-%d %H:%M:%S"),
                "Example amount": Decimal("1234.56")})
