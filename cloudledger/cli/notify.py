"""notify: the alert channels of ``notify:`` (``notify test`` sends a test alert to each)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    guarded,
    open_store,
    out,
    print_json,
)
from cloudledger.errors import InputError

notify_app = typer.Typer(
    help="Alert channels (slack, webhook, email, stdout) configured under notify: in "
         "cloudledger.yaml; see docs/notify.md.", no_args_is_help=True)
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
@guarded
def test(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="print what each channel would be sent; send and write nothing")]
        = False,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    """Send a test alert through every configured channel; print delivered or failed (and
    why) per channel. Exit 1 if any channel failed, 2 for configuration errors."""
    from cloudledger.config import DEFAULT_CONFIG, load_settings
    from cloudledger.operate.alerts import sample_alert
    from cloudledger.operate.notify import channels, send
    from cloudledger.operate.notify._base import now_utc

    settings = load_settings(config)
    if not settings.notify.channels:
        raise InputError("no notification channels are configured",
                         where=str(config or DEFAULT_CONFIG),
                         hint="add notify: channels: [{type: slack, url_env: CL_SLACK_URL}] "
                              "(see docs/notify.md)")
    channels(settings)  # configuration errors (unset variables) before the store is opened
    alert = sample_alert(now_utc())
    if dry_run:  # a fresh key: nothing to look up, and nothing is written
        deliveries = send([alert], settings, None, dry_run=True)
        if output_format is OutputFormat.table:
            for d in deliveries:
                out.print(f"--- {d.type} {d.target} (would send):", highlight=False)
                payload = d.payload if isinstance(d.payload, str) else _json(d.payload)
                out.print(payload, markup=False, highlight=False, emoji=False)
            return
        emit([{"channel": d.type, "target": d.target, "status": d.status,
               "payload": d.payload} for d in deliveries], output_format)
        return
    st = open_store(store, config=config, create=True)
    deliveries = send([alert], settings, st)
    rows = [{"channel": d.type, "target": d.target,
             "status": "delivered" if d.status == "sent" else d.status,
             "attempts": d.attempts, "reason": d.error or d.note} for d in deliveries]
    if output_format is OutputFormat.json:
        print_json(rows)
    else:
        emit(rows, output_format, title="notify test")
    if any(d.status == "failed" for d in deliveries):
        raise typer.Exit(1)


def _json(data: Any) -> str:
    from cloudledger import encode

    return encode.to_json(data, indent=2)
