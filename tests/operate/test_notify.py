"""Notifications against real servers on 127.0.0.1: an HTTP server (http.server in a thread)
scripted to answer 2xx, 5xx, 429 or 4xx, and an SMTP server (aiosmtpd) with STARTTLS or
implicit TLS and a login. The waits between tries are recorded instead of slept."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cloudledger.cli import app
from cloudledger.config import settings_from
from cloudledger.config.settings import Settings
from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert
from cloudledger.operate.notify import _base, send
from cloudledger.operate.notify.webhook import verify
from cloudledger.store import Store

SECRET = "whsec-test-0123456789"
SLACK_TOKEN = "T000/B000/XXXXSECRETXXXX"


# ---------------------------------------------------------------------------- HTTP server
class Hook:
    """A real HTTP server: answers the scripted replies in order, then 200; records every
    request (path, headers, body)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hook.requests.append({"path": self.path, "headers": dict(self.headers),
                                      "body": body})
                status, headers, reply = hook.script.pop(0) if hook.script else (200, {}, b"ok")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses between tries, recorded (not slept); no proxy between us and 127.0.0.1."""
    seen: list[float] = []
    monkeypatch.setattr(_base, "pause", seen.append)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return seen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


def settings(*channels: dict[str, Any], retries: int = 3) -> Settings:
    return settings_from({"notify": {"channels": list(channels), "retries": retries,
                                     "backoff": 0.01, "timeout": 5}})


def alert(key: str = "budget:payments-monthly:2026-05:80:actual") -> Alert:
    return Alert(key=key, kind="budget", severity="warning",
                 title="payments-monthly at 83% of its budget <May>",
                 summary="Actual 9,960.00 USD of 12,000.00 USD & rising.",
                 fields={"Budget": "payments-monthly", "Actual": Decimal("9960.004"),
                         "Amount": Decimal("12000"), "Currency": "USD"},
                 url="https://cloudledger.example.com/budgets/payments-monthly")


def ledger(store: Store) -> list[dict[str, Any]]:
    return store.engine.fetch("SELECT * FROM notifications ORDER BY key, channel")


# ---------------------------------------------------------------------------- HTTP cases
def test_slack_payload_received(hook: Hook, store: Store) -> None:
    cfg = settings({"type": "slack", "url": hook.url("/services/" + SLACK_TOKEN)})
    [d] = send([alert()], cfg, store)
    assert (d.status, d.attempts, d.type) == ("sent", 1, "slack")
    assert SLACK_TOKEN not in d.target and d.target == f"http://127.0.0.1:{hook.port}/***"
    [req] = hook.requests
    assert req["path"] == "/services/" + SLACK_TOKEN
    assert req["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(req["body"])
    assert "payments-monthly at 83%" in body["text"]
    assert "&lt;May&gt;" in body["text"]  # mrkdwn control characters escaped
    header, summary, fields, link, context = body["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text",
                                                 "text": alert().title}}
    assert summary["text"]["text"] == "Actual 9,960.00 USD of 12,000.00 USD &amp; rising."
    assert [f["text"] for f in fields["fields"]] == [
        "*Budget*\npayments-monthly", "*Actual*\n9,960.00", "*Amount*\n12,000.00",
        "*Currency*\nUSD"]
    assert "https://cloudledger.example.com/budgets/payments-monthly" in link["text"]["text"]
    assert alert().key in context["elements"][0]["text"]
    [row] = ledger(store)
    assert (row["key"], row["channel"], row["status"], row["attempts"]) == (
        alert().key, d.channel, "sent", 1)
    assert row["sent_at"] is not None and row["last_error"] is None


def test_webhook_signature_verifies(hook: Hook, store: Store) -> None:
    cfg = settings({"type": "webhook", "url": hook.url(), "secret_env": "CL_TEST_SECRET",
                    "headers": {"X-Team": "finops"}})
    [d] = send([alert()], cfg, store, env={"CL_TEST_SECRET": SECRET})
    assert d.status == "sent"
    [req] = hook.requests
    body, headers = req["body"], req["headers"]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Cloudledger-Signature"] == expected
    assert verify(SECRET, body, headers["X-Cloudledger-Signature"])
    assert not verify("another secret", body, headers["X-Cloudledger-Signature"])
    assert headers["X-Team"] == "finops"
    data = json.loads(body)
    assert str(data["timestamp"]) == headers["X-Cloudledger-Timestamp"]
    assert data["version"] == 1
    assert data["alert"]["key"] == alert().key
    # money exact, fields in order
    assert list(data["alert"]["fields"].items()) == [
        ("Budget", "payments-monthly"), ("Actual", "9960.004"), ("Amount", "12000.00"),
        ("Currency", "USD")]


def test_unsigned_webhook_has_no_signature(hook: Hook, store: Store) -> None:
    [d] = send([alert()], settings({"type": "webhook", "url": hook.url()}), store)
    assert d.status == "sent"
    assert "X-Cloudledger-Signature" not in hook.requests[0]["headers"]
    assert "X-Cloudledger-Timestamp" in hook.requests[0]["headers"]


def test_two_500s_then_accepted_is_three_tries_one_delivery(
        hook: Hook, store: Store, waits: list[float]) -> None:
    hook.script = [(500, {}, b"boom"), (500, {}, b"boom")]
    [d] = send([alert()], settings({"type": "webhook", "url": hook.url()}), store)
    assert (d.status, d.attempts, d.error) == ("sent", 3, "")
    assert len(hook.requests) == 3
    assert waits == [0.01, 0.02]  # backoff, doubled
    [row] = ledger(store)
    assert (row["status"], row["attempts"]) == ("sent", 3)


def test_429_honours_retry_after(hook: Hook, store: Store, waits: list[float]) -> None:
    hook.script = [(429, {"Retry-After": "7"}, b"slow down")]
    [d] = send([alert()], settings({"type": "slack", "url": hook.url()}), store)
    assert (d.status, d.attempts) == ("sent", 2)
    assert waits == [7.0]  # the server's wait, not the backoff
    assert len(hook.requests) == 2


def test_429_asking_too_long_is_left_for_next_run(
        hook: Hook, store: Store, waits: list[float]) -> None:
    hook.script = [(429, {"Retry-After": "3600"}, b"")]
    [d] = send([alert()], settings({"type": "slack", "url": hook.url()}), store)
    assert (d.status, d.attempts) == ("failed", 1)
    assert "3600" in d.error and "next run" in d.error
    assert waits == []
    assert ledger(store)[0]["status"] == "failed"


def test_400_is_not_retried_and_recorded_failed(
        hook: Hook, store: Store, waits: list[float]) -> None:
    hook.script = [(400, {}, b"invalid_payload")]
    cfg = settings({"type": "slack", "url": hook.url("/services/" + SLACK_TOKEN)})
    [d] = send([alert()], cfg, store)
    assert (d.status, d.attempts) == ("failed", 1)
    assert "HTTP 400" in d.error and "invalid_payload" in d.error
    assert len(hook.requests) == 1 and waits == []
    [row] = ledger(store)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("failed", 1, None)
    assert "HTTP 400" in row["last_error"]
    # a failed delivery is tried again by the next run
    [again] = send([alert()], cfg, store)
    assert (again.status, again.attempts) == ("sent", 1)
    [row] = ledger(store)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)


def test_redirect_is_not_followed(hook: Hook, store: Store) -> None:
    hook.script = [(302, {"Location": hook.url("/elsewhere")}, b"")]
    [d] = send([alert()], settings({"type": "webhook", "url": hook.url()}), store)
    assert d.status == "failed" and "HTTP 302" in d.error
    assert [r["path"] for r in hook.requests] == ["/hook"]


def test_unreachable_webhook_fails_then_next_run_delivers(
        store: Store, waits: list[float]) -> None:
    port = free_port()
    cfg = settings({"type": "webhook", "url": f"http://127.0.0.1:{port}/hook/{SLACK_TOKEN}"},
                   retries=2)
    first, second = send([alert("anomaly:1"), alert("anomaly:2")], cfg, store)
    assert (first.status, first.attempts) == ("failed", 3)
    assert "cannot connect" in first.error and SLACK_TOKEN not in first.error
    # the channel is down: the other alert of the same run is not tried, recorded failed
    assert (second.status, second.attempts) == ("failed", 0)
    assert "not tried" in second.error
    assert [(r["key"], r["status"], r["attempts"]) for r in ledger(store)] == [
        ("anomaly:1", "failed", 3), ("anomaly:2", "failed", 0)]
    assert all(r["sent_at"] is None for r in ledger(store))
    server = Hook(port)  # the endpoint is back
    try:
        again = send([alert("anomaly:1"), alert("anomaly:2")], cfg, store)
        assert [(d.status, d.attempts) for d in again] == [("sent", 1), ("sent", 1)]
        assert len(server.requests) == 2
    finally:
        server.close()
    assert [(r["status"], r["attempts"]) for r in ledger(store)] == [("sent", 4), ("sent", 1)]


def test_second_send_is_deduplicated(hook: Hook, store: Store) -> None:
    cfg = settings({"type": "slack", "url": hook.url("/a")},
                   {"type": "webhook", "url": hook.url("/b")})
    first = send([alert(), alert()], cfg, store)  # a repeated key counts once
    assert [d.status for d in first] == ["sent", "sent"]
    assert len(hook.requests) == 2
    second = send([alert()], cfg, store)
    assert [d.status for d in second] == ["skipped", "skipped"]
    assert all("sent before" in d.note for d in second)
    assert len(hook.requests) == 2
    # a new channel gets the alert; the old ones do not get it again
    more = settings({"type": "slack", "url": hook.url("/a")},
                    {"type": "webhook", "url": hook.url("/b")},
                    {"type": "webhook", "url": hook.url("/c")})
    third = send([alert()], more, store)
    assert [d.status for d in third] == ["skipped", "skipped", "sent"]
    assert [r["path"] for r in hook.requests] == ["/a", "/b", "/c"]
    assert len(ledger(store)) == 3


def test_dry_run_writes_nothing(hook: Hook, store: Store) -> None:
    cfg = settings({"type": "slack", "url": hook.url()}, {"type": "stdout"})
    before = sorted(store.tables())
    deliveries = send([alert()], cfg, store, dry_run=True)
    assert [d.status for d in deliveries] == ["dry-run", "dry-run"]
    slack, stdout = deliveries
    assert slack.payload["blocks"][0]["text"]["text"] == alert().title
    assert "payments-monthly" in stdout.payload
    assert hook.requests == [] and sorted(store.tables()) == before
    assert "notifications" not in store.tables()
    # without a store too (nothing to look up)
    assert [d.status for d in send([alert()], cfg, None, dry_run=True)] == [
        "dry-run", "dry-run"]


def test_stdout_channel(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    [d] = send([alert()], settings({"type": "stdout"}), store)
    assert d.status == "sent"
    text = capsys.readouterr().out
    assert "[WARNING] payments-monthly at 83%" in text and "Actual: 9,960.00" in text


def test_unset_secret_is_a_config_error_before_anything_is_sent(
        hook: Hook, store: Store) -> None:
    cfg = settings({"type": "slack", "url": hook.url()},
                   {"type": "webhook", "url": hook.url(), "secret_env": "CL_UNSET_SECRET"})
    with pytest.raises(InputError, match="CL_UNSET_SECRET"):
        send([alert()], cfg, store, env={})
    assert hook.requests == []
    with pytest.raises(InputError, match="not an http"):
        send([alert()], settings({"type": "slack", "url": "file:///etc/passwd"}), store)


@pytest.mark.spark
def test_ledger_on_spark(hook: Hook, spark_db: Any) -> None:
    """The notifications table through the engine seam on Spark: created, replaced, read."""
    st = Store(spark=spark_db)
    down = f"http://127.0.0.1:{free_port()}/x"
    cfg = settings({"type": "webhook", "url": hook.url()}, {"type": "webhook", "url": down},
                   retries=0)
    assert [d.status for d in send([alert()], cfg, st)] == ["sent", "failed"]
    assert [d.status for d in send([alert()], cfg, st)] == ["skipped", "failed"]
    assert len(hook.requests) == 1
    rows = sorted((r["status"], r["attempts"]) for r in ledger(st))
    assert rows == [("failed", 2), ("sent", 1)]


# ---------------------------------------------------------------------------- SMTP server
class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []
        self.sessions: set[int] = set()  # connections that tried to log in

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login, auth_data.password))
        self.sessions.add(id(session))
        ok = (auth_data.login, auth_data.password) == (b"alerts", b"right-password")
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the `cryptography` package is not installed
    here, so the openssl command makes it; without it the TLS tests are skipped)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not available to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    key, crt = d / "key.pem", d / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(crt), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return crt, key


@pytest.fixture()
def smtp(cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
         request: pytest.FixtureRequest) -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on 127.0.0.1 with a login; STARTTLS (default) or implicit TLS
    (``@pytest.mark.parametrize('smtp', ['implicit'], indirect=True)``)."""
    import ssl

    from aiosmtpd.controller import Controller

    crt, key = cert
    monkeypatch.setenv("SSL_CERT_FILE", str(crt))  # the client trusts the test certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(crt, key)
    inbox = Inbox()
    port = free_port()
    implicit = getattr(request, "param", "starttls") == "implicit"
    # aiosmtpd 1.4 does not count implicit TLS as TLS for auth_require_tls
    tls = {"ssl_context": context, "auth_require_tls": False} if implicit else {
        "tls_context": context, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=inbox.authenticate, **tls)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def email(port: int, password_env: str = "CL_SMTP_PASSWORD", **extra: Any) -> dict[str, Any]:
    return {"type": "email", "host": "127.0.0.1", "port": port, "username": "alerts",
            "password_env": password_env, "sender": "finops@example.com",
            "to": ["team@example.com", "cfo@example.com"], **extra}


def test_email_over_starttls_with_login(smtp: tuple[Inbox, int], store: Store) -> None:
    inbox, port = smtp
    [d] = send([alert()], settings(email(port)), store,
               env={"CL_SMTP_PASSWORD": "right-password"})
    assert (d.status, d.attempts, d.error) == ("sent", 1, "")
    assert d.target == f"smtp://127.0.0.1:{port} -> team@example.com, cfo@example.com"
    [envelope] = inbox.messages
    assert envelope.mail_from == "finops@example.com"
    assert envelope.rcpt_tos == ["team@example.com", "cfo@example.com"]
    import email as stdlib_email
    from email import policy

    msg = stdlib_email.message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == f"[cloudledger] warning: {alert().title}"
    assert msg["X-Cloudledger-Alert"] == alert().key
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Actual    9,960.00" in plain and alert().summary in plain
    assert "&lt;May&gt;" in html and "<td>12,000.00</td>" in html
    assert inbox.logins == [(b"alerts", b"right-password")]
    assert ledger(store)[0]["status"] == "sent"


@pytest.mark.parametrize("smtp", ["implicit"], indirect=True)
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_over_implicit_tls(smtp: tuple[Inbox, int], store: Store) -> None:
    inbox, port = smtp
    [d] = send([alert()], settings(email(port, ssl=True, starttls=False)), store,
               env={"CL_SMTP_PASSWORD": "right-password"})
    assert d.status == "sent" and len(inbox.messages) == 1, d.error


def test_bad_smtp_password_fails_clearly_without_retries(
        smtp: tuple[Inbox, int], store: Store, waits: list[float]) -> None:
    inbox, port = smtp
    [d] = send([alert()], settings(email(port)), store,
               env={"CL_SMTP_PASSWORD": "wrong-password"})
    assert (d.status, d.attempts) == ("failed", 1)
    assert "SMTP login refused (535" in d.error and "password_env" in d.error
    assert "wrong-password" not in d.error
    # one connection (smtplib tries PLAIN, then LOGIN, within it): no retry
    assert len(inbox.sessions) == 1 and set(inbox.logins) == {(b"alerts", b"wrong-password")}
    assert inbox.messages == [] and waits == []
    [row] = ledger(store)
    assert (row["status"], row["sent_at"]) == ("failed", None)


def test_untrusted_certificate_is_not_retried(
        smtp: tuple[Inbox, int], store: Store, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, waits: list[float]) -> None:
    inbox, port = smtp
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    [d] = send([alert()], settings(email(port)), store,
               env={"CL_SMTP_PASSWORD": "right-password"})
    assert (d.status, d.attempts) == ("failed", 1)
    assert "certificate" in d.error and inbox.logins == []


# ---------------------------------------------------------------------------- CLI
runner = CliRunner()


def _config(tmp_path: Path, *channels: dict[str, Any]) -> Path:
    path = tmp_path / "cloudledger.yaml"
    path.write_text(json.dumps({"notify": {"channels": list(channels), "retries": 1,
                                           "backoff": 0.01, "timeout": 5}}))
    return path


def test_cli_notify_test_delivered_and_failed(hook: Hook, tmp_path: Path) -> None:
    hook.script = [(403, {}, b"no_service")]
    cfg = _config(tmp_path, {"type": "slack", "url": hook.url("/services/" + SLACK_TOKEN)},
                  {"type": "webhook", "url": hook.url("/ok")}, {"type": "stdout"})
    store = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["notify", "test", "--config", str(cfg), "--store",
                                 str(store), "-f", "json"])
    assert result.exit_code == 1, result.output
    assert SLACK_TOKEN not in result.output
    rows = json.loads(result.output[result.output.index("[\n"):])
    assert [(r["channel"], r["status"]) for r in rows] == [
        ("slack", "failed"), ("webhook", "delivered"), ("stdout", "delivered")]
    assert "HTTP 403" in rows[0]["reason"] and "no_service" in rows[0]["reason"]
    assert "cloudledger test notification" in result.output  # the stdout channel


def test_cli_notify_test_all_delivered(hook: Hook, tmp_path: Path) -> None:
    cfg = _config(tmp_path, {"type": "webhook", "url": hook.url()})
    store = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["notify", "test", "--config", str(cfg), "--store",
                                 str(store)])
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output and len(hook.requests) == 1
    again = runner.invoke(app, ["notify", "test", "--config", str(cfg), "--store", str(store)])
    assert again.exit_code == 0 and len(hook.requests) == 2  # a test alert is never deduped


def test_cli_notify_test_dry_run_and_config_errors(hook: Hook, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CL_TEST_URL", hook.url("/services/" + SLACK_TOKEN))
    cfg = _config(tmp_path, {"type": "slack", "url_env": "CL_TEST_URL"})
    store = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["notify", "test", "--config", str(cfg), "--store",
                                 str(store), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert '"blocks"' in result.output and "would send" in result.output
    assert SLACK_TOKEN not in result.output
    assert hook.requests == [] and not store.exists()
    monkeypatch.delenv("CL_TEST_URL")
    missing = runner.invoke(app, ["notify", "test", "--config", str(cfg), "--store",
                                  str(store)])
    assert missing.exit_code == 2 and "CL_TEST_URL" in missing.output
    assert not store.exists()
    none = runner.invoke(app, ["notify", "test", "--config", str(_config(tmp_path))])
    assert none.exit_code == 2 and "no notification channels" in none.output
