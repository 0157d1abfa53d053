"""Notifications: deliver :class:`~cloudledger.operate.alerts.Alert` s to the channels of
``notify:`` (one module per channel type: slack, webhook, email, stdout), each alert at
most once per channel.

    from cloudledger.operate.alerts import Alert
    from cloudledger.operate.notify import send

    deliveries = send([alert, ...], settings, store)          # list[Delivery]
    deliveries = send(alerts, settings, store, dry_run=True)  # payloads; writes nothing
    failed = [d for d in deliveries if d.status == "failed"]

- Dedupe: the store's ``notifications`` table holds one row per (alert key, channel id);
  a pair recorded ``sent`` is skipped (``status="skipped"``). Only a delivery the server
  accepted (HTTP 2xx, SMTP accepted) is recorded ``sent``; a failure is recorded
  ``failed`` and tried again by the next ``send`` of the same alert.
- Retries: a temporary failure (HTTP 5xx, 429 with its ``Retry-After``, connection errors
  and timeouts, SMTP 4xx) is tried again up to ``notify.retries`` times, waiting
  ``notify.backoff * 2**n`` seconds; a permanent one (other 4xx, SMTP login refused, SMTP
  5xx) is not. A channel that is still failing temporarily after its retries is not tried
  again for the other alerts of the same call (they are recorded failed: next run).
- Configuration errors (an unset environment variable, a missing URL) raise
  :class:`~cloudledger.errors.InputError` before anything is sent.
- Secrets (webhook URLs' paths, passwords, signing secrets) never appear in a Delivery.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from cloudledger.config.settings import Settings
from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert
from cloudledger.operate.notify import _ledger
from cloudledger.operate.notify._base import (
    CHANNELS,
    Channel,
    Outcome,
    attempt,
    now_utc,
    register,
)

__all__ = ["CHANNELS", "Channel", "Delivery", "channels", "register", "send"]

Status = Literal["sent", "failed", "skipped", "dry-run"]


@dataclass(frozen=True)
class Delivery:
    """One alert on one channel: what happened in this call."""

    key: str            # the alert's key
    channel: str        # channel id: <type>:<hash of its target> (stdout: "stdout")
    type: str           # slack | webhook | email | stdout
    target: str         # where, with secrets masked (https://hooks.slack.com/***)
    status: Status      # sent | failed | skipped (sent before) | dry-run
    attempts: int = 0   # tries in this call
    error: str = ""     # why it failed (masked)
    note: str = ""      # a warning on a delivery, or when it was sent before
    payload: Any = None  # dry run: what would be sent

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def channels(settings: Settings, env: Mapping[str, str] | None = None) -> list[Channel]:
    """The configured channels, their URLs and secrets resolved; InputError names the
    channel (file, line) when one cannot be used."""
    env = os.environ if env is None else env
    CHANNELS.load()
    found: list[Channel] = []
    for i, cfg in enumerate(settings.notify.channels):
        cls = CHANNELS.find(cfg.type)
        try:
            channel = cls(cfg, env)
        except InputError as e:
            raise InputError(e.message, hint=e.hint, where=(
                f"{settings.where('notify', 'channels', i)}: notify.channels[{i}] "
                f"(type: {cfg.type})")) from None
        if all(c.id != channel.id for c in found):  # the same target twice: once
            found.append(channel)
    return found


def send(alerts: Iterable[Alert], settings: Settings, store: Any, dry_run: bool = False,
         *, env: Mapping[str, str] | None = None) -> list[Delivery]:
    """Deliver every alert to every configured channel once (see the module docstring).

    ``store``: the :class:`~cloudledger.store.Store` holding the ``notifications`` table
    (created if missing); it may be None only with ``dry_run``. ``env``: where secrets
    are read (default ``os.environ``). Returns one Delivery per (alert, channel), alerts
    in the order given (a repeated key counts once), channels in configuration order."""
    unique: dict[str, Alert] = {}
    for alert in alerts:
        unique.setdefault(alert.key, alert)
    chans = channels(settings, env)
    if not unique or not chans:
        return []
    if store is None and not dry_run:
        raise InputError("sending notifications needs a store (it records what was sent)",
                         hint="pass the store, or dry_run=True")
    prior = _ledger.earlier(store, list(unique))
    if not dry_run:
        _ledger.ensure(store)
    opts = settings.notify
    down: dict[str, str] = {}  # channel id -> why later alerts of this call skip it
    result: list[Delivery] = []
    for alert in unique.values():
        for ch in chans:
            before = prior.get((alert.key, ch.id))
            base = Delivery(alert.key, ch.id, ch.type, ch.target, "dry-run")
            if before is not None and before["status"] == "sent":
                result.append(replace(base, status="skipped",
                                      note=f"sent before, at {before['sent_at']}"))
                continue
            payload = ch.payload(alert)
            if dry_run:
                result.append(replace(base, payload=payload))
                continue
            if ch.id in down:
                outcome = Outcome(False, 0, f"not tried: {down[ch.id]}", temporary=True)
            else:
                outcome = attempt(ch, payload, retries=opts.retries, backoff=opts.backoff,
                                  timeout=opts.timeout)
                if not outcome.ok and outcome.temporary:
                    down[ch.id] = f"the channel failed earlier in this run ({outcome.error})"
            _record(store, alert, ch, outcome, before)
            result.append(replace(base, status="sent" if outcome.ok else "failed",
                                  attempts=outcome.attempts, error=outcome.error,
                                  note=outcome.note))
    return result


def _record(store: Any, alert: Alert, ch: Channel, outcome: Outcome,
            before: dict[str, Any] | None) -> None:
    now = _ledger.naive_utc(now_utc())
    _ledger.record(store, {
        "key": alert.key, "channel": ch.id, "channel_type": ch.type, "kind": alert.kind,
        "status": "sent" if outcome.ok else "failed",
        "attempts": (before["attempts"] if before else 0) + outcome.attempts,
        "last_error": outcome.error or outcome.note or None,
        "first_tried_at": before["first_tried_at"] if before else now,
        "sent_at": now if outcome.ok else None,
        "updated_at": now})
