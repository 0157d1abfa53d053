"""Cost anomalies: detect them on daily cost series, explain them, keep them in the store.

    from cloudledger.operate.anomalies import detect_anomalies, set_status, to_alerts

    found = detect_anomalies(store, settings)                 # total + settings.anomalies.by
    found = detect_anomalies(store, settings, by=[["team"], ["SubAccountId", "ServiceName"]],
                             as_of=date(2026, 6, 1), since=date(2026, 5, 25), save=False)
    a = found[0]
    a.id, a.first_day, a.dimensions, a.expected, a.actual, a.impact, a.severity, a.status
    a.root_cause[0].dimension, .value, .impact, .share_pct
    a.new                     # first seen by this run (what a daily job alerts on)
    alerts = to_alerts(found)                                 # open anomalies -> Alert
    set_status(store, a.id, "acknowledged", note="known load test")

What is scanned: the total cost and, for every dimension set, the cost of each combination of
its values (``cloudledger.operate.series``: one grouped query, daily, per currency), from data
before ``as_of``. Each batch of series goes through the detector
(``cloudledger.operate.detector.detect`` with the ``DAILY`` profile and the minimum impact of
``settings.anomalies``: ``min_impact`` in the billing currency and ``min_pct`` percent, per
``overrides`` key ``dim=value[,dim=value]``). Every detector episode is one anomaly: its
figures are summed over the episode's anomalous days (``expected`` is the detector's
baseline, ``actual`` the exact cost, ``impact = actual - expected``), ``date`` is its first
day; its root cause comes from ``cloudledger.operate.root_cause``.

State (table ``anomalies``, :mod:`cloudledger.operate.anomaly_store`; one row per id): a
run inserts new anomalies and updates ``last_day``, the figures and ``last_seen`` of known
ones, keeping ``status``, ``note``, ``first_seen`` (and the root cause, unless the anomaly
grew). ``status``: ``open`` (new), ``acknowledged``, ``resolved``, ``false_positive`` (set
with :func:`set_status`; ``to_alerts`` only alerts ``open`` ones). ``save=False`` writes
nothing (statuses are still read).

Notes (``Scan.notes``): series with too little history (fewer than :data:`WARMUP` days: the
detector judges a daily series from two months after its first ``min_history`` days) and
all-zero series, summarised per set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from cloudledger.config import Settings
from cloudledger.errors import InputError
from cloudledger.operate.anomaly_store import (
    STATUSES,
    Anomaly,
    anomaly_id,
    existing,
    set_status,
    stored,
    write,
)
from cloudledger.operate.detector import DAILY, SEVERITIES, detect
from cloudledger.operate.root_cause import (
    Contributor,
    baseline_days,
    contributors,
    dimensions_for,
)
from cloudledger.operate.series import DailySeries, daily_series, resolve_dimensions

#: the detector's expected cost is rounded to this before it is stored
Q = Decimal("0.000001")

__all__ = ["STATUSES", "Anomaly", "Scan", "detect_anomalies", "scan", "set_status",
           "stored", "to_alerts"]


@dataclass
class Scan:
    anomalies: list[Anomaly]
    notes: list[str]
    series: int          # series scanned
    saved: bool


# ------------------------------------------------------------------ detection
def detect_anomalies(store: Any, settings: Settings, by: list[list[str]] | None = None,
                     as_of: date | None = None, save: bool = True, *,
                     since: date | None = None, metric: str = "EffectiveCost",
                     top: int = 5) -> list[Anomaly]:
    """Anomalies of the total and of each dimension set (default ``settings.anomalies.by``),
    newest first; stored unless ``save`` is False (see the module docstring)."""
    return scan(store, settings, by=by, as_of=as_of, save=save, since=since, metric=metric,
                top=top).anomalies


def scan(store: Any, settings: Settings, by: list[list[str]] | None = None,
         as_of: date | None = None, save: bool = True, *, since: date | None = None,
         metric: str = "EffectiveCost", top: int = 5) -> Scan:
    """:func:`detect_anomalies` with the notes and the number of series scanned."""
    chosen = settings.anomalies.by if by is None else by
    sets: list[list[str]] = [[]] + [list(s) for s in chosen if s]
    checked = [resolve_dimensions(store, settings, s) for s in sets]
    if save and (as_of is not None or getattr(store, "read_only", False)):
        save = False
    notes: list[str] = []
    found: dict[str, Anomaly] = {}
    ctxs: dict[str, dict[str, Any]] = {}
    n_series = 0
    for table, dims in checked:
        series = daily_series(store, dims, table=table, metric=metric, as_of=as_of)
        if len(series) == 0:
            if not dims:
                raise InputError(_no_data(store, as_of), where="--as-of" if as_of else None,
                                 hint="pick a later --as-of" if as_of else
                                 "run `cloudledger ingest FILE` first")
            continue
        n_series += len(series)
        notes.extend(_notes(series))
        for a, ctx in _detect(series, settings, since):
            if a.id not in found:
                found[a.id], ctxs[a.id] = a, ctx
    known = existing(store, list(found))
    now = datetime.now(UTC).replace(tzinfo=None)
    owners = list(settings.owners.dimensions)
    tables = set(store.tables())
    for a in found.values():
        old = known.get(a.id)
        if old is not None:
            a.new = False
            a.status, a.note, a.first_seen = old["status"], old["note"], old["first_seen"]
            a.last_seen = now if save else old["last_seen"]
            if old["last_day"] == a.last_day and old["root_cause"]:
                a.root_cause = [Contributor.from_dict(c) for c in json.loads(old["root_cause"])]
        else:
            a.first_seen = a.last_seen = now if save else None
        if not a.root_cause:
            a.root_cause = _root_cause(store, a, ctxs[a.id], owners, tables, metric, top)
    out = sorted(found.values(), key=lambda a: (a.first_day, abs(a.impact)), reverse=True)
    if save and out:
        write(store, out)
    return Scan(out, notes, n_series, save)


def _no_data(store: Any, as_of: date | None) -> str:
    if as_of is None:
        return "the store holds no cost rows"
    t = store.table("focus")
    first = store.execute(t.ChargePeriodStart.min())
    first = first.as_py() if hasattr(first, "as_py") else first
    since = f" (its data starts {first:%Y-%m-%d})" if first else ""
    return f"no cost data before {as_of.isoformat()}{since}"


#: days of history before the detector judges a daily series: ``min_history`` points, then
#: two months (to know day-of-month charges; see the detector's docstring)
WARMUP = DAILY.alert.min_history + (61 if DAILY.baseline.months else 0)


def _notes(series: DailySeries) -> list[str]:
    points = np.sum(np.isfinite(series.values), axis=1)
    nonzero = np.any(np.nan_to_num(series.values) != 0, axis=1)
    zero = [i for i in range(len(series)) if not nonzero[i]]
    short = [i for i in range(len(series)) if nonzero[i] and points[i] < WARMUP]
    out = []
    what = ",".join(series.dims) or "total"
    for idx, text in ((short, f"fewer than {WARMUP} days of history (the detector judges a "
                              "daily series from two months after its first "
                              f"{DAILY.alert.min_history} days): no alert yet"),
                      (zero, "all zero, nothing to detect")):
        if idx:
            names = "; ".join(series.label(i) for i in idx[:5])
            more = f" and {len(idx) - 5} more" if len(idx) > 5 else ""
            out.append(f"{what}: {len(idx)} series with {text}: {names}{more}")
    return out


def _thresholds(settings: Settings, keys: dict[str, str | None]) -> tuple[float, float]:
    cfg = settings.anomalies
    min_abs, min_pct = float(cfg.min_impact), cfg.min_pct
    for spec, values in cfg.overrides.items():
        pairs = [p.split("=", 1) for p in spec.split(",") if "=" in p]
        if pairs and all(k.strip() in keys and keys[k.strip()] == v.strip() for k, v in pairs):
            min_abs = float(values.get("min_impact", min_abs))
            min_pct = float(values.get("min_pct", min_pct))
    return min_abs, min_pct / 100.0


def _detect(series: DailySeries, settings: Settings,
            since: date | None) -> list[tuple[Anomaly, dict[str, Any]]]:
    groups: dict[tuple[float, float], list[int]] = {}
    for s in range(len(series)):
        if np.any(np.nan_to_num(series.values[s]) != 0):
            groups.setdefault(_thresholds(settings, series.keys[s]), []).append(s)
    out: list[tuple[Anomaly, dict[str, Any]]] = []
    for (min_abs, min_pct), idx in groups.items():
        res = detect(series.dates, series.values[idx], DAILY.with_impact(min_abs, min_pct))
        shifted: dict[int, tuple[int, int, float]] = {}   # row -> (sign, last index, level)
        for ep in res.episodes():
            row, s = ep.series, idx[ep.series]
            members = np.flatnonzero(res.is_anomaly[row] & (res.episode_start[row] == ep.start))
            members = _own_points(members, res, row)
            sign = 1 if res.impact[row, members].sum() >= 0 else -1
            prior = shifted.get(row)
            if prior is not None and _is_return(prior, sign, members, series.values[s]):
                continue
            if res.shift_at[row, members].any():
                level = float(np.mean(res.expected[row, members]))
                shifted[row] = (sign, int(members[-1]), level)
            first_day = series.day(int(members[0]))
            if since is not None and first_day < since:
                continue
            expected = Decimal(repr(float(res.expected[row, members].sum()))).quantize(Q)
            actual = series.actual(s, members)
            keys, currency = series.keys[s], series.currencies[s]
            a = Anomaly(anomaly_id(currency, keys, first_day), first_day,
                        series.day(int(members[-1])), dict(keys), currency, expected, actual,
                        actual - expected, SEVERITIES[int(res.severity[row, members].max())],
                        days=len(members), direction="up" if actual >= expected else "down",
                        level_shift=bool(res.shift_at[row, members].any()))
            flagged = {series.day(int(t)) for t in np.flatnonzero(res.is_anomaly[row])}
            out.append((a, {"series": series, "s": s, "members": members,
                            "flagged": flagged}))
    return out


def _own_points(members: Any, res: Any, row: int) -> Any:
    """The points of an episode up to its level shift, and after it only those of the same
    sign: once the detector re-bases on a shift, points back at the old level are the end
    of the anomaly (a return), not more of it."""
    shift = np.flatnonzero(res.shift_at[row, members])
    if not len(shift):
        return members
    cut = int(shift[0]) + 1
    sign = np.sign(res.impact[row, members[:cut]].sum())
    rest = members[cut:]
    return np.concatenate([members[:cut], rest[np.sign(res.impact[row, rest]) == sign]])


#: a return to the old level this many days after a level shift ends that anomaly
RETURN_DAYS = 7


def _is_return(prior: tuple[int, int, float], sign: int, members: Any,
               values: Any) -> bool:
    """An episode of the other sign soon after a level shift that brings the cost back to
    the level before the shift (within 30%): the shift's anomaly ended."""
    p_sign, p_last, level = prior
    if sign == p_sign or int(members[0]) - p_last > RETURN_DAYS:
        return False
    mean = float(np.nanmean(values[members]))
    return abs(mean - level) <= 0.3 * max(abs(level), 1e-9)


def _root_cause(store: Any, a: Anomaly, ctx: dict[str, Any], owners: list[str],
                tables: set[str], metric: str, top: int) -> list[Contributor]:
    series: DailySeries = ctx["series"]
    s = ctx["s"]
    days = [series.day(int(t)) for t in ctx["members"]]
    base = baseline_days(days, series.day(int(series.first[s])), ctx["flagged"])
    start = series.dates[0].astype("datetime64[D]").item()
    base_idx = [(d - start).days for d in base]
    base_total = series.actual(s, base_idx)
    scope = list(a.dimensions)
    if series.table == "allocated":
        sources = [("allocated", dimensions_for(store.table("allocated").columns, owners,
                                                scope))]
    else:
        sources = [("focus", dimensions_for(store.table("focus").columns, [], scope))]
        if "allocated" in tables:
            sources.append(("allocated", [o for o in owners if o not in scope
                                          and o in store.table("allocated").columns]))
    return contributors(store, sources, scope=a.dimensions, currency=a.currency,
                        metric=metric, days=days, base=base, expected=a.expected,
                        base_total=base_total, impact=a.impact, top=top)


# ------------------------------------------------------------------ alerts
_ALERT_SEVERITY = {"low": "info", "medium": "warning", "high": "critical"}


def to_alerts(anomalies: list[Anomaly], only_new: bool = False) -> list[Any]:
    """One ``cloudledger.operate.alerts.Alert`` per open anomaly (``only_new``: first seen by
    this run), key ``anomaly:<id>`` (the notifier sends each key once per channel)."""
    from cloudledger.operate.alerts import Alert

    out = []
    for a in anomalies:
        if a.status != "open" or (only_new and not a.new):
            continue
        pct = f" ({a.impact_pct:+.0f}%)" if a.impact_pct is not None else ""
        cause = a.root_cause[0] if a.root_cause else None
        top = (f"{cause.dimension}={cause.value} ({cause.impact:+,.2f} {a.currency}"
               + (f", {cause.share_pct:.0f}% of the change)" if cause.share_pct is not None
                  else ")")) if cause else "-"
        fields: dict[str, Any] = {
            "Scope": a.scope, "First day": a.first_day, "Last day": a.last_day,
            "Expected": a.expected.quantize(Decimal("0.01")),
            "Actual": a.actual.quantize(Decimal("0.01")),
            "Impact": a.impact.quantize(Decimal("0.01")), "Currency": a.currency,
            "Severity": a.severity, "Top cause": top, "Anomaly id": a.id}
        out.append(Alert(
            key=f"anomaly:{a.id}", kind="anomaly",
            severity=_ALERT_SEVERITY.get(a.severity, "warning"),  # type: ignore[arg-type]
            title=f"Cost anomaly in {a.scope}: {a.impact:+,.2f} {a.currency}{pct} on "
                  f"{a.first_day.isoformat()}",
            summary=f"Actual {a.actual:,.2f} {a.currency} vs expected {a.expected:,.2f} over "
                    f"{a.days} day(s); top cause: {top}. Ack: `cloudledger anomalies ack "
                    f"{a.id}`.",
            fields=fields))
    return out
