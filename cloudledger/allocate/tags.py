"""Tag normalization as engine expressions, and tag coverage.

Tags JSON -> owner dimension values: the first alias key present (``tags.aliases``, in the
order given) gives the raw value; it is trimmed and case-folded (not for the dimensions in
``tags.keep_case``, e.g. cost-center codes), then mapped to its canonical value
(``tags.values``: ``environment: {prod: [production, prd]}``). The JSON is parsed once per
distinct Tags value (a few thousand), not once per row.
"""

from __future__ import annotations

from typing import Any, Literal

from cloudledger.allocate.sql import Runner, lit, norm, q, tag_keys, trim
from cloudledger.config import Settings
from cloudledger.errors import InputError

By = Literal["provider", "account", "service", "month"]
BY_COLUMNS: dict[str, str] = {
    "provider": '"ProviderName"', "account": "COALESCE(\"SubAccountName\", \"SubAccountId\", "
    "\"BillingAccountName\", \"BillingAccountId\")", "service": '"ServiceName"',
    "month": "strftime(\"BillingPeriodStart\", '%Y-%m')"}


def dimension_sql(run: Runner, settings: Settings, dim: str, column: str) -> str:
    """The normalized value of owner dimension ``dim`` from the JSON in ``column``.

    Values are trimmed; they are case-folded too unless ``dim`` is in ``tags.keep_case``
    (codes such as cost centers: ``Cost001`` stays ``Cost001``). ``tags.values`` variants
    match case-insensitively either way and give the canonical value as written."""
    keys = settings.tags.aliases.get(dim, [dim])
    keep = dim in settings.tags.keep_case
    raw = [trim(run.json_text(column, k)) if keep else norm(run.json_text(column, k))
           for k in keys] or ["NULL"]
    value = raw[0] if len(raw) == 1 else f"COALESCE({', '.join(raw)})"
    mapping = settings.tags.values.get(dim) or {}
    whens: dict[str, str] = {}
    for canon, variants in mapping.items():
        for v in [canon, *variants]:  # the first canonical value listing a variant wins
            whens.setdefault(v.strip().lower(), canon)
    if not whens:
        return value
    cases = " ".join(f"WHEN {lit(v)} THEN {lit(c)}" for v, c in whens.items())
    subject = f"LOWER({value})" if keep else f"({value})"
    return f"CASE {subject} {cases} ELSE ({value}) END"


def tag_map_sql(run: Runner, settings: Settings, source: str = "focus") -> str:
    """One row per distinct Tags value: ``_tags_raw``, ``_tag_<dim>``, ``_tk<i>`` (keys that
    rules and pools match on, trimmed and case-folded)."""
    cols = ['"Tags" AS _tags_raw']
    for d in settings.owners.dimensions:
        cols.append(f'{dimension_sql(run, settings, d, q("Tags"))} AS {q("_tag_" + d)}')
    for i, key in enumerate(tag_keys(settings)):
        cols.append(f"{norm(run.json_text(q('Tags'), key))} AS _tk{i}")
    return (f"SELECT {', '.join(cols)} FROM (SELECT DISTINCT \"Tags\" FROM {q(source)} "
            f"WHERE \"Tags\" IS NOT NULL) AS dt")


def tag_columns(settings: Settings) -> dict[str, str]:
    """Tag key -> the column holding its normalized value in the joined rows."""
    return {k: f"_tk{i}" for i, k in enumerate(tag_keys(settings))}


# ------------------------------------------------------------------ coverage
def _tagged(store_run: Runner, settings: Settings) -> str:
    """focus rows with ``_has_<dim>`` flags for the required tags."""
    req = settings.tags.required or [settings.primary]
    flags = ", ".join(f"(tm.{q('_tag_' + d)} IS NOT NULL) AS {q('_has_' + d)}" for d in req)
    return (f"SELECT f.*, {flags} FROM focus AS f LEFT JOIN ({tag_map_sql(store_run, settings)}"
            f") AS tm ON f.\"Tags\" = tm._tags_raw")


def coverage(run: Runner, settings: Settings, by: By = "provider") -> list[dict[str, Any]]:
    """Per group: EffectiveCost and BilledCost, and the % of each carrying each required tag
    (and all of them)."""
    if by not in BY_COLUMNS:
        raise InputError(f"cannot group tag coverage by {by!r}",
                         hint=f"use one of: {', '.join(BY_COLUMNS)}")
    req = settings.tags.required or [settings.primary]
    all_flag = " AND ".join(q("_has_" + d) for d in req)
    cols = [f"{BY_COLUMNS[by]} AS {by}", "COUNT(*) AS rows",
            'SUM("EffectiveCost") AS "EffectiveCost"', 'SUM("BilledCost") AS "BilledCost"']
    for d, flag in [*((d, q("_has_" + d)) for d in req), ("all_required", all_flag)]:
        for metric in ("EffectiveCost", "BilledCost"):
            cols.append(_pct(flag, metric) + f" AS {q(f'{d}_{metric}_pct')}")
    sql = (f"SELECT {', '.join(cols)} FROM ({_tagged(run, settings)}) AS t "
           f"GROUP BY 1 ORDER BY \"EffectiveCost\" DESC")
    return [_round(r) for r in run.fetch(sql)]


def _pct(flag: str, metric: str) -> str:
    total = f'SUM(ABS("{metric}"))'
    part = f'SUM(CASE WHEN {flag} THEN ABS("{metric}") ELSE 0 END)'
    return (f"CASE WHEN {total} = 0 THEN NULL ELSE "
            f"ROUND(100.0 * CAST({part} AS DOUBLE) / CAST({total} AS DOUBLE), 2) END")


def _round(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, float) else v) for k, v in row.items()}


def untagged(run: Runner, settings: Settings, limit: int = 20) -> list[dict[str, Any]]:
    """The resources with the most EffectiveCost missing any required tag."""
    req = settings.tags.required or [settings.primary]
    missing = " OR ".join(f"NOT {q('_has_' + d)}" for d in req)
    which = " || ".join(f"CASE WHEN NOT {q('_has_' + d)} THEN {lit(d + ' ')} ELSE '' END"
                        for d in req)
    sql = (f"SELECT \"ResourceId\" AS resource_id, MAX(\"ResourceName\") AS resource_name, "
           f"MAX(\"ProviderName\") AS provider, MAX(\"ServiceName\") AS service, "
           f"MAX(COALESCE(\"SubAccountName\", \"SubAccountId\")) AS account, "
           f"MAX(TRIM({which})) AS missing, SUM(\"EffectiveCost\") AS \"EffectiveCost\", "
           f"SUM(\"BilledCost\") AS \"BilledCost\" FROM ({_tagged(run, settings)}) AS t "
           f"WHERE ({missing}) AND \"ResourceId\" IS NOT NULL GROUP BY 1 "
           f"ORDER BY \"EffectiveCost\" DESC, 1 LIMIT {int(limit)}")
    return run.fetch(sql)


def trend(run: Runner, settings: Settings) -> list[dict[str, Any]]:
    """Coverage by month (the share of cost carrying every required tag), oldest first."""
    rows = coverage(run, settings, "month")
    return sorted(rows, key=lambda r: str(r["month"]))
