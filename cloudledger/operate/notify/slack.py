"""Slack (and Slack-compatible: Mattermost, Rocket.Chat, Teams' Slack shim) incoming webhooks.

    notify:
      channels:
        - type: slack
          url_env: CL_SLACK_URL        # or url: https://hooks.slack.com/services/T/B/XXX

Sends ``{"text": <fallback line>, "blocks": [header, summary, fields, context, link]}``; a
2xx reply is a delivery. The URL is a secret: output shows ``https://hooks.slack.com/***``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudledger.config.operate import SlackChannel
from cloudledger.operate.alerts import Alert, display
from cloudledger.operate.notify._base import (
    Channel,
    channel_id,
    channel_url,
    masked_url,
    post,
    register,
)

#: Slack's limits: header text 150 characters, section text 3000, 10 fields of 2000.
HEADER_MAX, TEXT_MAX, FIELDS_MAX, FIELD_MAX = 150, 3000, 10, 2000
SEVERITY_MARK = {"info": ":information_source:", "warning": ":warning:",
                 "critical": ":rotating_light:"}


def escape(text: str) -> str:
    """Slack mrkdwn escaping: ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@register("slack")
class Slack(Channel):
    """A Slack-compatible incoming webhook (YAML example in the module docstring)."""

    def __init__(self, config: SlackChannel, env: Mapping[str, str]) -> None:
        super().__init__(config, env)
        self.url, _ = channel_url(
            config, env, "slack", "the Slack webhook URL",
            "url_env: CL_SLACK_URL (keeps the webhook URL out of git)")
        self.target = masked_url(self.url)
        self.id = channel_id("slack", self.url)
        parts = self.url.split("/", 3)
        self.secrets = (self.url, parts[3] if len(parts) > 3 else "")

    def payload(self, alert: Alert) -> dict[str, Any]:
        mark = SEVERITY_MARK.get(alert.severity, "")
        text = f"{mark} [{alert.severity.upper()}] {alert.title}"
        if alert.summary:
            text += f": {alert.summary}"
        blocks: list[dict[str, Any]] = [
            {"type": "header",
             "text": {"type": "plain_text", "text": _cut(alert.title, HEADER_MAX)}}]
        if alert.summary:
            blocks.append({"type": "section", "text": {
                "type": "mrkdwn", "text": _cut(escape(alert.summary), TEXT_MAX)}})
        items = list(alert.fields.items())
        for start in range(0, len(items), FIELDS_MAX):
            blocks.append({"type": "section", "fields": [
                {"type": "mrkdwn",
                 "text": _cut(f"*{escape(label)}*\n{escape(display(value))}", FIELD_MAX)}
                for label, value in items[start:start + FIELDS_MAX]]})
        if alert.url:
            blocks.append({"type": "section", "text": {
                "type": "mrkdwn", "text": f"<{alert.url}|Open in cloudledger>"}})
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": escape(f"{mark} {alert.severity} {alert.kind} alert | {alert.key}")}]})
        return {"text": _cut(escape(text), TEXT_MAX), "blocks": blocks}

    def deliver(self, payload: Any, timeout: float) -> str:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return post(self.url, body, {"Content-Type": "application/json; charset=utf-8"},
                    timeout)
