"""init, tags, allocate, explain: the settings file, tag coverage, allocation, one number."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cloudledger.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputFormat,
    StoreOpt,
    app,
    emit,
    err,
    guarded,
    open_store,
    print_json,
    progress,
)
from cloudledger.errors import InputError

STARTER = Path(__file__).resolve().parent.parent / "allocate" / "starter.yaml"


@app.command()
@guarded
def init(config: Annotated[Path, typer.Option(
        "--config", help="where to write the starter settings")] = Path("cloudledger.yaml"),
         force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")]
         = False,
         store: Annotated[Path | None, typer.Option(
             "--store", help="propose the settings from this store's own bills (owner tag "
                             "keys, accounts, shared charges) instead of the demo starter")]
         = None) -> None:
    """Write a commented cloudledger.yaml: proposed from the store's bills with --store,
    else the starter tuned for `cloudledger demo` data."""
    if config.exists() and not force:
        raise InputError(f"{config} already exists", where=str(config),
                         hint="pass --force to overwrite it, or --config OTHER.yaml")
    text = STARTER.read_text() if store is None else _proposed(store)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    next_store = f" --store {store}" if store is not None else ""
    err.print(f"wrote {config}; next: `cloudledger allocate{next_store} --config {config}`",
              highlight=False)


def _proposed(path: Path) -> str:
    """The commented settings proposed from the store at ``path``, checked against it."""
    from cloudledger.allocate.engine import check_data
    from cloudledger.allocate.propose import propose
    from cloudledger.allocate.propose_render import pct, render
    from cloudledger.allocate.sql import Runner
    from cloudledger.config import parse_yaml, settings_from

    s = open_store(path, read_only=True)
    try:
        with progress("reading the store's tags and accounts"):
            proposal = propose(s)
        text = render(proposal, str(path))
        data, lines = parse_yaml(text, "proposed settings")
        check_data(Runner(s), settings_from(data, lines, "proposed settings"))
    finally:
        s.close()
    dims = proposal.dimension_names
    err.print(f"owner dimensions: {', '.join(dims)}; primary {proposal.primary}: " + (
        f"{len(proposal.accounts)} account rules" if proposal.primary == "account" else
        f"tags cover {pct(proposal.dimensions[0].share)} of cost") + "; shared pools: "
        + (", ".join(p.name for p in proposal.pools) or "none"), highlight=False)
    return text


def _settings(config: Path | None) -> Any:
    from cloudledger.config import load_settings

    return load_settings(config)


@app.command()
@guarded
def tags(store: StoreOpt = None, config: ConfigOpt = None,
         by: Annotated[str, typer.Option(
             "--by", help="group coverage by provider, account, service or month")] = "provider",
         top: Annotated[int, typer.Option("--top", help="untagged resources to list")] = 10,
         fmt: FormatOpt = OutputFormat.table) -> None:
    """Tag coverage: % of EffectiveCost and BilledCost carrying each required tag."""
    from cloudledger.allocate.sql import Runner
    from cloudledger.allocate.tags import coverage, trend, untagged

    settings = _settings(config)
    s = open_store(store, config=config, read_only=True)
    try:
        run = Runner(s)
        parts = {"coverage": coverage(run, settings, by),  # type: ignore[arg-type]
                 "untagged": untagged(run, settings, top),
                 "trend": trend(run, settings) if by != "month" else []}
    finally:
        s.close()
    if fmt is OutputFormat.json:
        print_json(parts)
        return
    if fmt is OutputFormat.csv:
        emit(parts["coverage"], fmt)
        return
    emit(parts["coverage"], fmt, title=f"tag coverage by {by} (required: "
         f"{', '.join(settings.tags.required)})")
    emit(parts["untagged"], fmt, title=f"top {top} resources missing a required tag")
    if parts["trend"]:
        keep = ["month", "EffectiveCost"] + [k for k in parts["trend"][0] if
                                             k.startswith("all_required")]
        emit([{k: r[k] for k in keep} for r in parts["trend"]], fmt, title="coverage trend")


@app.command()
@guarded
def allocate(store: StoreOpt = None, config: ConfigOpt = None,
             fmt: FormatOpt = OutputFormat.table) -> None:
    """Allocate every focus row to owners (rules, shared pools), into table `allocated`."""
    from cloudledger.allocate import allocate as run_allocation

    settings = _settings(config)
    s = open_store(store, config=config)
    try:
        with progress("allocating"):
            result = run_allocation(s, settings)
    finally:
        s.close()
    rows = [{"kind": k, "EffectiveCost": v} for k, v in sorted(result.by_kind.items())]
    if fmt is OutputFormat.table:
        emit(result.summary(), fmt, title="conservation (focus vs allocated)")
        emit(rows, fmt, title=f"{result.rows_in} focus rows -> {result.rows_out} allocated "
             f"rows; {result.named_share():.2%} of EffectiveCost on named "
             f"{settings.primary} owners")
    else:
        emit(result.summary(), fmt)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@guarded
def explain(ctx: typer.Context, store: StoreOpt = None, config: ConfigOpt = None,
            month: Annotated[str | None, typer.Option("--month", help="YYYY-MM")] = None,
            resource: Annotated[str | None, typer.Option(
                "--resource", help="explain where one resource's cost went")] = None,
            metric: Annotated[str, typer.Option("--metric", help="cost metric")] =
            "EffectiveCost", fmt: FormatOpt = OutputFormat.table) -> None:
    """Explain one number: `explain --team payments --month 2026-05` (any owner dimension
    as a flag) or `explain --resource ID`: direct costs by rule, shares of each pool with
    the driver values."""
    from cloudledger.allocate import explain as run_explain

    settings = _settings(config)
    owner = _owner_flags(list(ctx.args), settings.owners.dimensions)
    s = open_store(store, config=config, read_only=True)
    try:
        e = run_explain(s, settings, owner=owner, month=month, resource_id=resource,
                        metric=metric)
    finally:
        s.close()
    what = ", ".join(f"{k}={v}" for k, v in e.filters.items())
    emit(e.rows(), fmt, title=f"{metric} of {what}: {e.total:,.2f}")


def _owner_flags(args: list[str], dims: list[str]) -> dict[str, str]:
    owner: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        name, _, value = arg.partition("=")
        key = name.lstrip("-").replace("-", "_")
        if not arg.startswith("--") or key not in dims:
            import difflib

            close = difflib.get_close_matches(key, dims, n=1)
            raise InputError(f"unknown option {arg!r}" + (
                f"; did you mean '--{close[0]}'?" if close else ""),
                hint=f"owner flags: {', '.join('--' + d for d in dims)}")
        if not value:
            if i + 1 >= len(args):
                raise InputError(f"{name} needs a value", hint=f"e.g. {name} payments")
            value = args[i + 1]
            i += 1
        owner[key] = value
        i += 1
    return owner
