"""What every channel shares: the registry, the two kinds of failure, the retry loop, the
HTTP POST and the masking of secrets in anything printed.

A channel module registers a class under its ``type:`` (Cloud Custodian style):

    @register("slack")
    class Slack(Channel):
        '''docstring: what it sends, and a YAML example'''
        def __init__(self, config, env): ...      # resolve URLs and secrets; InputError if unset
        def payload(self, alert): ...             # what would be sent (JSON-able; dry run shows it)
        def deliver(self, payload, timeout): ...  # one try; raise Temporary or Permanent

A try that raises :class:`Temporary` is tried again after ``backoff * 2**n`` seconds (or the
server's ``Retry-After``), up to ``retries`` times; :class:`Permanent` stops at once.
"""

from __future__ import annotations

import hashlib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert
from cloudledger.registry import Registry

#: Longest ``Retry-After`` honoured within a run; a longer one fails the delivery for now
#: (recorded failed, tried again by the next run) instead of stalling the job.
MAX_RETRY_AFTER = 300.0
#: Characters of a server's error body quoted in a failure reason.
BODY_EXCERPT = 200
USER_AGENT = "cloudledger-notify/1"


class Temporary(Exception):  # noqa: N818 - reads as "raise Temporary(...)"
    """A failure worth another try: 5xx, 429, connection errors, SMTP 4xx."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class Permanent(Exception):  # noqa: N818
    """A failure another try will not fix: 4xx (not 429), SMTP auth or 5xx replies."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Channel:
    """Base of every channel class; ``config`` is its model from cloudledger/config/operate.py."""

    type: ClassVar[str] = ""
    #: text of the target safe to print (host only; no path, token or password)
    target: str = ""
    #: the dedupe identity: ``<type>:<12 hex of sha256 of the target's full address>``
    id: str = ""
    #: strings that must never appear in printed output (URLs, passwords, secrets)
    secrets: tuple[str, ...] = ()

    def __init__(self, config: Any, env: Mapping[str, str]) -> None:
        self.config = config

    def payload(self, alert: Alert) -> Any:
        raise NotImplementedError

    def deliver(self, payload: Any, timeout: float) -> str:
        """One try. Returns '' or a warning about an accepted delivery (e.g. some e-mail
        recipients refused); raises Temporary or Permanent when not accepted."""
        raise NotImplementedError

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text


CHANNELS: Registry[type[Channel]] = Registry(
    "notify channel", where="notify.channels[].type", package="cloudledger.operate.notify")


def register(name: str) -> Callable[[type[Channel]], type[Channel]]:
    def wrap(cls: type[Channel]) -> type[Channel]:
        cls.type = name
        CHANNELS.add(name, cls)
        return cls
    return wrap


def channel_id(kind: str, address: str) -> str:
    return f"{kind}:{hashlib.sha256(address.encode()).hexdigest()[:12]}"


def from_env(env: Mapping[str, str], name: str, what: str, where: str) -> str:
    value = env.get(name, "")
    if not value.strip():
        raise InputError(f"the environment variable {name} ({what}) is not set",
                         where=where, hint=f"export {name}=... before running cloudledger")
    return value


def channel_url(config: Any, env: Mapping[str, str], kind: str, what: str,
                example: str) -> tuple[str, str]:
    """(the channel's http(s) URL from ``url_env`` or ``url``, where it is configured)."""
    where = f"notify.channels (type: {kind})"
    if config.url_env:
        url = from_env(env, config.url_env, what, where)
    elif config.url:
        url = config.url
    else:
        raise InputError(f"a {kind} channel needs url or url_env", where=where, hint=example)
    return http_url(url, where), where


def http_url(url: str, where: str) -> str:
    """``url`` if it is an http(s) URL with a host, else an InputError that does not print it."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("the URL is not an http(s) URL with a host", where=where,
                         hint="e.g. https://hooks.slack.com/services/T000/B000/XXXX")
    return url.strip()


def masked_url(url: str) -> str:
    """``https://hooks.slack.com/***``: scheme and host only (paths and queries hold tokens)."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    tail = "/***" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{parts.hostname}{port}{tail}"


def now_utc() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------- retries
#: The pause between tries (tests replace it to see the waits without waiting).
pause: Callable[[float], None] = time.sleep


@dataclass
class Outcome:
    ok: bool
    attempts: int
    error: str = ""
    note: str = ""
    #: the failure was temporary (the endpoint may be down): later alerts of this run skip it
    temporary: bool = False


def attempt(channel: Channel, payload: Any, *, retries: int, backoff: float,
            timeout: float) -> Outcome:
    """Try ``1 + retries`` times with exponential backoff; never raises for a delivery
    failure (the reason, masked, is in the outcome)."""
    tries = 0
    while True:
        tries += 1
        try:
            note = channel.deliver(payload, timeout)
            return Outcome(True, tries, note=channel.mask(note))
        except Permanent as e:
            return Outcome(False, tries, channel.mask(e.reason))
        except Temporary as e:
            if e.retry_after is not None and e.retry_after > MAX_RETRY_AFTER:
                return Outcome(False, tries, channel.mask(
                    f"{e.reason}; the server asks to wait {e.retry_after:.0f} s (more than "
                    f"{MAX_RETRY_AFTER:.0f} s): left for the next run"), temporary=True)
            if tries > retries:
                more = f" (after {tries} tries)" if tries > 1 else ""
                return Outcome(False, tries, channel.mask(e.reason + more), temporary=True)
            wait = e.retry_after if e.retry_after is not None else backoff * 2 ** (tries - 1)
            pause(wait)


# ---------------------------------------------------------------------------------- HTTP
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not an acceptance (urllib would re-send a POST as a GET)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now_utc()).total_seconds())


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> str:
    """POST ``body``; a 2xx reply is accepted (returns ''), anything else raises
    Temporary (5xx, 429, connection errors, timeouts) or Permanent (3xx, other 4xx, TLS
    certificate errors). Reasons never contain the URL."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"User-Agent": USER_AGENT, **headers})
    try:
        with _opener.open(req, timeout=timeout) as resp:
            resp.read()
            return ""
    except urllib.error.HTTPError as e:
        excerpt = _excerpt(e)
        reason = f"HTTP {e.code} {e.reason}" + (f": {excerpt}" if excerpt else "")
        if e.code == 429:
            raise Temporary(reason, retry_after(e.headers.get("Retry-After"))) from None
        if e.code >= 500:
            raise Temporary(reason) from None
        if 300 <= e.code < 400:
            raise Permanent(reason + " (a redirect: configure the final URL)") from None
        raise Permanent(reason) from None
    except urllib.error.URLError as e:
        cause = e.reason
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise Permanent(f"TLS certificate not trusted: {cause.verify_message}") from None
        raise Temporary(f"cannot connect: {cause}") from None
    except (TimeoutError, ConnectionError, OSError) as e:  # read timeouts, resets
        raise Temporary(f"connection failed: {e or type(e).__name__}") from None


def _excerpt(e: urllib.error.HTTPError) -> str:
    try:
        text = e.read(BODY_EXCERPT + 1).decode("utf-8", "replace")
    except Exception:  # the body is only a hint in the message
        return ""
    text = " ".join(text.split())
    return text[:BODY_EXCERPT] + ("..." if len(text) > BODY_EXCERPT else "")
