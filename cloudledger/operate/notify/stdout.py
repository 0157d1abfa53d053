"""Standard output: the alert as text, for cron mail, CI logs and trying things out.

    notify:
      channels:
        - type: stdout
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from cloudledger.config.operate import StdoutChannel
from cloudledger.operate.alerts import Alert, display
from cloudledger.operate.notify._base import Channel, register


def text(alert: Alert) -> str:
    lines = [f"[{alert.severity.upper()}] {alert.title}  ({alert.kind}, {alert.key})"]
    if alert.summary:
        lines.append(f"  {alert.summary}")
    lines += [f"  {label}: {display(value)}" for label, value in alert.fields.items()]
    if alert.url:
        lines.append(f"  {alert.url}")
    return "\n".join(lines) + "\n"


@register("stdout")
class Stdout(Channel):
    """Print the alert (YAML example in the module docstring)."""

    def __init__(self, config: StdoutChannel, env: Mapping[str, str]) -> None:
        super().__init__(config, env)
        self.target = "standard output"
        self.id = "stdout"

    def payload(self, alert: Alert) -> str:
        return text(alert)

    def deliver(self, payload: Any, timeout: float) -> str:
        sys.stdout.write(payload)
        sys.stdout.flush()
        return ""
