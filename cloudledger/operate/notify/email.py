"""E-mail over SMTP: STARTTLS (port 587) or implicit TLS (port 465), optional login.

    notify:
      channels:
        - type: email
          host: smtp.example.com
          port: 587
          starttls: true            # or ssl: true with port 465 (implicit TLS)
          username: alerts          # optional; then password_env names the password's env var
          password_env: CL_SMTP_PASSWORD
          sender: finops@example.com
          to: [team@example.com]

One message per alert, plain text and HTML alternatives. Certificates are verified against
the system store (``SSL_CERT_FILE`` adds a private CA). An authentication failure or a 5xx
reply is not retried; 4xx replies and connection errors are. If the server accepts the
message for some recipients and refuses others, it is a delivery (a second send would
reach the accepted ones twice) and the refused addresses are recorded.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from cloudledger.config.operate import EmailChannel
from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert, display
from cloudledger.operate.notify._base import (
    Channel,
    Permanent,
    Temporary,
    channel_id,
    from_env,
    register,
)


def plain_text(alert: Alert) -> str:
    lines = [alert.title, ""]
    if alert.summary:
        lines += [alert.summary, ""]
    width = max((len(label) for label in alert.fields), default=0)
    lines += [f"{label.ljust(width)}  {display(value)}" for label, value in alert.fields.items()]
    if alert.url:
        lines += ["", alert.url]
    lines += ["", f"-- cloudledger {alert.severity} {alert.kind} alert ({alert.key})"]
    return "\n".join(lines) + "\n"


def html_text(alert: Alert) -> str:
    e = html.escape
    rows = "".join(f"<tr><th align=\"left\">{e(label)}</th><td>{e(display(value))}</td></tr>"
                   for label, value in alert.fields.items())
    link = f'<p><a href="{e(alert.url)}">Open in cloudledger</a></p>' if alert.url else ""
    return (f"<!doctype html><html><body><h2>{e(alert.title)}</h2>"
            f"<p>{e(alert.summary)}</p><table cellpadding=\"4\">{rows}</table>{link}"
            f"<p style=\"color:#666\">cloudledger {e(alert.severity)} {e(alert.kind)} alert "
            f"({e(alert.key)})</p></body></html>")


@register("email")
class Email(Channel):
    """SMTP with STARTTLS or implicit TLS (YAML example in the module docstring)."""

    def __init__(self, config: EmailChannel, env: Mapping[str, str]) -> None:
        super().__init__(config, env)
        where = "notify.channels (type: email)"
        if config.username and not config.password_env:
            raise InputError("username is set but password_env is not", where=where,
                             hint="password_env: CL_SMTP_PASSWORD (the variable holding "
                                  "the password)")
        self.password = (from_env(env, config.password_env, "the SMTP password", where)
                         if config.password_env else None)
        if self.password is not None and not config.username:
            raise InputError("password_env is set but username is not", where=where,
                             hint="username: <the SMTP login>")
        self.target = f"smtp://{config.host}:{config.port} -> {', '.join(config.to)}"
        self.id = channel_id("email", f"{config.host}:{config.port}:{config.sender}:"
                                      + ",".join(sorted(config.to)))
        self.secrets = (self.password or "",)

    def payload(self, alert: Alert) -> dict[str, Any]:
        cfg = self.config
        return {"from": cfg.sender, "to": list(cfg.to),
                "subject": f"[cloudledger] {alert.severity}: {alert.title}",
                "text": plain_text(alert), "html": html_text(alert), "key": alert.key}

    def message(self, payload: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = payload["from"]
        msg["To"] = ", ".join(payload["to"])
        msg["Subject"] = payload["subject"].replace("\n", " ")
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain=payload["from"].rpartition("@")[2] or None)
        msg["X-Cloudledger-Alert"] = payload["key"].replace("\n", " ")
        msg.set_content(payload["text"])
        msg.add_alternative(payload["html"], subtype="html")
        return msg

    def deliver(self, payload: Any, timeout: float) -> str:
        cfg = self.config
        context = ssl.create_default_context()
        try:
            if cfg.ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=timeout,
                                                        context=context)
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=timeout)
            with client:
                client.ehlo()
                if cfg.starttls and not cfg.ssl:  # inside implicit TLS, STARTTLS is moot
                    client.starttls(context=context)
                    client.ehlo()
                if cfg.username and self.password is not None:
                    client.login(cfg.username, self.password)
                refused = client.send_message(self.message(payload))
        except smtplib.SMTPAuthenticationError as e:
            raise Permanent(f"SMTP login refused ({e.smtp_code} {_text(e.smtp_error)}): "
                            "check username and the password in password_env") from None
        except smtplib.SMTPNotSupportedError as e:
            raise Permanent(f"the SMTP server does not support it: {e}") from None
        except smtplib.SMTPRecipientsRefused as e:
            codes = {code for code, _ in e.recipients.values()}
            reason = "every recipient was refused: " + "; ".join(
                f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in e.recipients.items())
            if all(400 <= c < 500 for c in codes):
                raise Temporary(reason) from None
            raise Permanent(reason) from None
        except smtplib.SMTPResponseException as e:
            reason = f"SMTP {e.smtp_code} {_text(e.smtp_error)}"
            if 400 <= e.smtp_code < 500 or isinstance(e, smtplib.SMTPConnectError):
                raise Temporary(reason) from None
            raise Permanent(reason) from None
        except ssl.SSLCertVerificationError as e:
            raise Permanent(f"TLS certificate not trusted: {e.verify_message}") from None
        except (smtplib.SMTPException, OSError) as e:  # disconnects, refused, timeouts
            raise Temporary(f"SMTP connection failed: {e or type(e).__name__}") from None
        if refused:
            return "refused recipients: " + "; ".join(
                f"{rcpt} ({code} {_text(msg)})" for rcpt, (code, msg) in refused.items())
        return ""


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())
