"""``cloudledger run``: the scheduled job. Named steps, each logged, safe to rerun.

    ingest -> allocate -> anomalies -> forecast -> budgets -> notify

- ingest: the files under ``run.sources`` (directories or globs); a file whose bytes are
  already loaded is skipped (same digest), so a rerun loads nothing twice.
- allocate: when something was loaded, or the store has no ``allocated`` table yet.
- anomalies: the total and every dimension set of ``anomalies.by``, for anomalies that
  started in the last 7 days of data; stored with their state; open ones become alerts.
- forecast: the ``run.horizon`` forecast of the total (in the step's logged detail).
- budgets: every budget of ``budgets:``; crossed thresholds become alerts.
- notify: every alert to every channel of ``notify:``, each at most once (the
  ``notifications`` table remembers what was delivered).

A step that fails is logged with its error and the steps that depend on it are skipped
(``allocate`` after a failed ``ingest``, ...); the others still run. One run at a time: a
lock file beside the store (``<store>.run.lock``, ``fcntl.flock``) refuses a second run
with the PID of the first. Every step's outcome is a row of table ``run_log`` (run_id,
step, status ok|failed|skipped, started_at, finished_at, detail JSON).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from cloudledger import encode
from cloudledger.config.settings import Settings
from cloudledger.errors import InputError
from cloudledger.operate.alerts import Alert

RUN_LOG = "run_log"
STEPS = ("ingest", "allocate", "anomalies", "forecast", "budgets", "notify")
#: a step is skipped when one it needs failed
NEEDS = {"allocate": ("ingest",), "anomalies": ("ingest",), "forecast": ("ingest",),
         "budgets": ("ingest",), "notify": ()}
LOG_SCHEMA = pa.schema([("run_id", pa.string()), ("step", pa.string()),
                        ("status", pa.string()), ("started_at", pa.timestamp("us")),
                        ("finished_at", pa.timestamp("us")), ("detail", pa.string())])


@dataclass
class Step:
    name: str
    status: str = "pending"          # ok | failed | skipped
    detail: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class RunResult:
    run_id: str
    steps: list[Step]
    alerts: list[Alert] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps)


@dataclass
class _Ctx:
    store: Any
    settings: Settings
    as_of: date | None
    dry_run: bool
    loaded: bool = False
    alerts: list[Alert] = field(default_factory=list)
    no_costs: bool | None = None   # asked once, after ingest, by the first analysis step


def source_files(patterns: list[str]) -> list[Path]:
    """The files ``run.sources`` names: every file under a directory, every glob match."""
    found: set[Path] = set()
    for pat in patterns:
        p = Path(os.path.expanduser(pat))
        if p.is_dir():
            found |= {f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")}
        elif p.is_file():
            found.add(p)
        else:
            found |= {Path(f) for f in glob.glob(str(p), recursive=True) if Path(f).is_file()}
    return sorted(found)


def _ingest(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.ingest import NothingToLoad, ingest
    from cloudledger.store.files import loaded_id

    if not ctx.settings.run.sources:
        return {"skipped": "no run.sources in the config"}
    files = source_files(ctx.settings.run.sources)
    if not files:
        raise InputError("run.sources match no file: " + ", ".join(ctx.settings.run.sources),
                         where="run.sources", hint="check the paths and globs")
    loaded = ctx.store.loaded_files()
    new = [f for f in files if loaded_id(f, loaded) is None]
    if not new:
        return {"files": len(files), "new": 0, "skipped": "every file is already loaded"}
    try:
        reports = ingest(ctx.store, [str(f) for f in new], dry_run=ctx.dry_run)
    except NothingToLoad as e:
        return {"files": len(files), "new": 0, "skipped": str(e)}
    ctx.loaded = bool(reports) and not ctx.dry_run
    return {"files": len(files), "new": len(new), "loads": len(reports),
            "rows": sum(r.rows for r in reports),
            "replaced": sum(r.rows_replaced for r in reports)}


def _allocate(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.allocate import allocate

    if not ctx.loaded and "allocated" in ctx.store.tables():
        return {"skipped": "nothing new was loaded"}
    if ctx.dry_run:
        return {"skipped": "dry run"}
    result = allocate(ctx.store, ctx.settings)
    return {"rows": result.rows_out, "named_pct": round(result.named_share() * 100, 2)}


def _anomalies(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.operate import anomalies

    by = [s for s in ctx.settings.anomalies.by
          if "allocated" in ctx.store.tables() or not any(
              d in ctx.settings.owners.dimensions for d in s)]
    # alert on what started in the last week of data, not on the whole history
    last = ctx.store.engine.fetch("SELECT CAST(max(ChargePeriodStart) AS DATE) AS d "
                                  "FROM focus")[0]["d"]
    end = min(d for d in (last, ctx.as_of) if d is not None)
    found = anomalies.detect_anomalies(ctx.store, ctx.settings, by=by, as_of=ctx.as_of,
                                       save=not ctx.dry_run, since=end - timedelta(days=7))
    open_ = [a for a in found if getattr(a, "status", "open") == "open"]
    ctx.alerts += anomalies.to_alerts(open_)
    return {"anomalies": len(found), "open": len(open_)}


def _forecast(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.operate import forecast

    rows = forecast.forecast_costs(ctx.store, ctx.settings, by=[], as_of=ctx.as_of,
                                   horizon=ctx.settings.run.horizon)
    return {"periods": len(rows), "forecast": json.loads(encode.to_json(rows[:3], indent=None))}


def _budgets(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.operate import budgets

    if not ctx.settings.budgets:
        return {"skipped": "no budgets: in the config"}
    statuses = budgets.evaluate_budgets(ctx.store, ctx.settings, as_of=ctx.as_of)
    ctx.alerts += budgets.to_alerts(statuses)
    return {"budgets": len(statuses)}


def _notify(ctx: _Ctx) -> dict[str, Any]:
    from cloudledger.operate.notify import send

    if not ctx.settings.notify.channels:
        return {"alerts": len(ctx.alerts), "skipped": "no notify.channels in the config"}
    deliveries = send(ctx.alerts, ctx.settings, ctx.store, dry_run=ctx.dry_run)
    by: dict[str, int] = {}
    for d in deliveries:
        by[d.status] = by.get(d.status, 0) + 1
    failed = [d for d in deliveries if d.status == "failed"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(deliveries)} deliveries failed "
                           f"(first: {failed[0].type} {failed[0].target}: {failed[0].error}); "
                           "they are tried again on the next run")
    return {"alerts": len(ctx.alerts), **by}


RUNNERS: dict[str, Callable[[_Ctx], dict[str, Any]]] = {
    "ingest": _ingest, "allocate": _allocate, "anomalies": _anomalies,
    "forecast": _forecast, "budgets": _budgets, "notify": _notify}


#: steps that read the cost rows (nothing to do on an empty store)
ANALYSES = ("allocate", "anomalies", "forecast", "budgets")


def _no_costs(ctx: _Ctx) -> bool:
    if ctx.no_costs is None:
        ctx.no_costs = bool(ctx.store.engine.fetch(
            "SELECT count(*) = 0 AS empty FROM focus")[0]["empty"])
    return ctx.no_costs


@contextlib.contextmanager
def run_lock(store: Any) -> Iterator[None]:
    """One ``cloudledger run`` per store at a time (a lock file beside a file store)."""
    path = getattr(store, "path", None)
    if path is None or str(path) == ":memory:":
        yield
        return
    lock = Path(f"{path}.run.lock")
    with open(lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise InputError(f"another `cloudledger run` (PID {holder}) is running on this "
                             "store", where=str(path),
                             hint="wait for it to finish; runs are safe to repeat") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)


def run(store: Any, settings: Settings, *, as_of: date | None = None, dry_run: bool = False,
        steps: tuple[str, ...] = STEPS,
        on_step: Callable[[Step], None] | None = None) -> RunResult:
    """Run the job's ``steps`` in order; log each; never raise for a failed step (its error is
    in the step's detail) except a configuration error before anything ran."""
    unknown = [s for s in steps if s not in RUNNERS]
    if unknown:
        raise InputError(f"unknown step {unknown[0]!r}", where="--step",
                         hint="steps: " + ", ".join(STEPS))
    ctx = _Ctx(store, settings, as_of, dry_run)
    result = RunResult(uuid.uuid4().hex[:12], [])
    with run_lock(store):
        failed: set[str] = set()
        for name in steps:
            step = Step(name)
            started = datetime.now(UTC).replace(tzinfo=None)
            t0 = time.perf_counter()
            blocked = [n for n in NEEDS.get(name, ()) if n in failed]
            if blocked:
                step.status, step.detail = "skipped", {"reason": f"{blocked[0]} failed"}
            elif name in ANALYSES and _no_costs(ctx):
                step.status, step.detail = "skipped", {"reason": "the store holds no cost rows"}
            else:
                try:
                    step.detail = RUNNERS[name](ctx)
                    step.status = "skipped" if "skipped" in step.detail else "ok"
                except ImportError as e:  # an area not installed in this build
                    step.status, step.detail = "skipped", {"reason": f"not available: {e}"}
                except Exception as e:  # logged, and the job goes on with what it can do
                    step.status = "failed"
                    hint = getattr(e, "hint", None)
                    where, message = getattr(e, "where", None), getattr(e, "message", str(e))
                    text = f"{where}: {message}" if where else message
                    step.detail = {"error": f"{type(e).__name__}: {text}",
                                   **({"hint": hint} if hint else {})}
                    failed.add(name)
            step.seconds = time.perf_counter() - t0
            result.steps.append(step)
            if not dry_run and not getattr(store, "read_only", False):
                _log(store, result.run_id, step, started)
            if on_step:
                on_step(step)
    result.alerts = ctx.alerts
    return result


def _log(store: Any, run_id: str, step: Step, started: datetime) -> None:
    from cloudledger.engine import literal

    eng = store.engine
    if RUN_LOG not in store.tables():
        eng.create(RUN_LOG, "SELECT CAST(NULL AS VARCHAR) AS run_id, CAST(NULL AS VARCHAR) "
                   "AS step, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS TIMESTAMP) AS "
                   "started_at, CAST(NULL AS TIMESTAMP) AS finished_at, CAST(NULL AS VARCHAR)"
                   " AS detail WHERE 1 = 0")
    finished = datetime.now(UTC).replace(tzinfo=None)
    row = pa.table({"run_id": [run_id], "step": [step.name], "status": [step.status],
                    "started_at": [started], "finished_at": [finished],
                    "detail": [encode.to_json(step.detail, indent=None)]}, schema=LOG_SCHEMA)
    staged = "cl_run_log_row"
    eng.register(staged, row)
    try:
        eng.replace_rows(RUN_LOG, f"run_id = {literal(run_id)} AND step = "
                         f"{literal(step.name)}", staged)
    finally:
        eng.unregister(staged)
