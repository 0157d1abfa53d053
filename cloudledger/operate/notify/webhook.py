"""A generic JSON webhook, signed with HMAC-SHA256 when a secret is set.

    notify:
      channels:
        - type: webhook
          url: https://ops.example.com/hooks/cloudledger     # or url_env: CL_HOOK_URL
          secret_env: CL_HOOK_SECRET                         # the signing secret's env var
          headers: {X-Team: finops}                          # optional extra headers

Each try POSTs ``{"version": 1, "timestamp": <unix seconds>, "alert": {key, kind, severity,
title, summary, fields, url}}`` (decimals as exact strings) with the headers

    X-Cloudledger-Timestamp: <the same unix seconds>
    X-Cloudledger-Signature: sha256=<hex HMAC-SHA256(secret, the exact body bytes)>

The timestamp is inside the signed body too, so a receiver can reject replays (see
docs/notify.md for a verification snippet). A 2xx reply is a delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cloudledger import encode
from cloudledger.config.operate import WebhookChannel
from cloudledger.operate.alerts import Alert
from cloudledger.operate.notify._base import (
    Channel,
    channel_id,
    channel_url,
    from_env,
    masked_url,
    now_utc,
    post,
    register,
)

SIGNATURE_HEADER = "X-Cloudledger-Signature"
TIMESTAMP_HEADER = "X-Cloudledger-Timestamp"


def sign(secret: str | bytes, body: bytes) -> str:
    """The ``X-Cloudledger-Signature`` value of ``body``: ``sha256=<hex>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(secret: str | bytes, body: bytes, signature: str) -> bool:
    """What a receiver does: compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature)


@register("webhook")
class Webhook(Channel):
    """A signed JSON POST (YAML example in the module docstring)."""

    def __init__(self, config: WebhookChannel, env: Mapping[str, str]) -> None:
        super().__init__(config, env)
        self.url, where = channel_url(config, env, "webhook", "the webhook URL",
                                      "url: https://... or url_env: CL_HOOK_URL")
        self.secret = (from_env(env, config.secret_env, "the webhook signing secret", where)
                       if config.secret_env else None)
        self.headers = dict(config.headers)
        self.target = masked_url(self.url)
        self.id = channel_id("webhook", self.url)
        parts = self.url.split("/", 3)
        self.secrets = (self.url, parts[3] if len(parts) > 3 else "", self.secret or "",
                        *(v for v in self.headers.values() if len(v) >= 8))

    def payload(self, alert: Alert) -> dict[str, Any]:
        return {"version": 1, "timestamp": None, "alert": alert.as_dict()}

    def body(self, payload: dict[str, Any], timestamp: int) -> bytes:
        data = {**payload, "timestamp": timestamp}
        return json.dumps(encode.jsonable(data), ensure_ascii=False,
                          separators=(",", ":")).encode()

    def deliver(self, payload: Any, timeout: float) -> str:
        stamp = int(now_utc().timestamp())
        body = self.body(payload, stamp)
        headers = {**self.headers, "Content-Type": "application/json; charset=utf-8",
                   TIMESTAMP_HEADER: str(stamp)}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        return post(self.url, body, headers, timeout)
