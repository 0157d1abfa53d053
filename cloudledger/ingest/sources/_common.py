"""Helpers shared by the native-export sources (Azure, GCP, OCI, OpenCost).

Everything here builds Ibis expressions; nothing touches billing rows in Python.

- ``column``: case-insensitive lookup of one of several candidate column names.
- ``kv_tags`` / ``tags_from_columns`` / ``braced_json`` / ``repr_to_json``: FOCUS ``Tags``
  (a JSON object string, unique keys, NULL when there are no tags) from the shapes providers
  use: key/value lists, one column per tag, brace-less JSON, Python-repr strings.
- ``month_start`` / ``next_month``, ``category``: billing periods and ServiceCategory lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ibis
import ibis.expr.types as ir

from cloudledger.ingest.parse import text

KV_TYPE = "array<struct<key: string, value: string>>"


def column(raw: ir.Table, *names: str, kind: str = "string") -> ir.Value:
    """The first of ``names`` present in ``raw`` (case-insensitive), else a typed NULL."""
    lower = {c.lower(): c for c in raw.columns}
    for name in names:
        if name.lower() in lower:
            return raw[lower[name.lower()]]
    return ibis.null(kind)


def has(raw: ir.Table, *names: str) -> bool:
    lower = {c.lower() for c in raw.columns}
    return any(n.lower() in lower for n in names)


def null_str() -> ir.StringValue:
    return ibis.null("string")  # type: ignore[return-value]


def month_start(ts: ir.TimestampValue) -> ir.TimestampValue:
    return ts.truncate("M")


def next_month(ts: ir.TimestampValue) -> ir.TimestampValue:
    return ts.truncate("M") + ibis.interval(months=1)


def category(value: ir.StringValue, table: Mapping[str, str], default: str = "Other",
             *, contains: bool = False) -> ir.StringValue:
    """ServiceCategory from a lookup on lower-cased ``value`` (exact or substring match)."""
    v = value.lower()
    cases = [((v.contains(k.lower()) if contains else v == k.lower()), ibis.literal(c))
             for k, c in table.items()]
    return ibis.cases(*cases, else_=ibis.literal(default))  # type: ignore[return-value]


# ------------------------------------------------------------------------------- tags
def repr_to_json(s: ir.StringValue) -> ir.StringValue:
    """JSON text from a Python-repr string (``[{'key': 'a', 'value': None}]``) as pandas
    writes BigQuery rows to CSV; JSON input is returned unchanged.

    Limits: a value that itself holds ``"`` or a quote next to ``,:]}`` is not repaired;
    such a value makes the whole cell invalid JSON (and its tags NULL, never its money).
    """
    looks_repr = s.re_search(r"^\s*[\[{]\s*[{']") & s.re_search(r"[\[{,:]\s*'")
    j = s.re_replace(r"([\[{,:]\s*)'", r"\1" + '"')
    j = j.re_replace(r"'(\s*[\]},:])", '"' + r"\1")
    for word, lit in (("None", "null"), ("True", "true"), ("False", "false")):
        j = j.re_replace(r"([\[{,:]\s*)" + word + r"(\s*[\]},])", r"\1" + lit + r"\2")
    return ibis.cases((looks_repr, j), else_=s)  # type: ignore[return-value]


def kv_list(value: ir.Value, *, is_json: bool = False) -> ir.ArrayValue:
    """array<struct<key, value>> from a JSON/repr text cell or an already-typed list."""
    if value.type().is_array() and value.type().value_type.is_struct():  # type: ignore[attr-defined]
        return value.map(lambda e: ibis.struct({  # type: ignore[attr-defined,no-any-return]
            "key": e.key.cast("string"), "value": e.value.cast("string")}))
    if value.type().is_array():  # a list of JSON objects (DuckDB's read_json may infer it)
        return value.map(lambda e: ibis.struct({  # type: ignore[attr-defined,no-any-return]
            f: text(ibis.coalesce(e[f].str, e[f].cast("string"))) for f in ("key", "value")}))
    return json_records(value, ("key", "value"), is_json=is_json)


def json_records(value: ir.Value, fields: Iterable[str], *,
                 is_json: bool = False) -> ir.ArrayValue:
    """array<struct<field: string, ...>> from a JSON or Python-repr list of objects held as
    text; missing keys are NULL, numbers keep their exact text; NULL when not a list.
    ``is_json``: the text was already passed through ``repr_to_json``."""
    j = (text(value) if is_json else repr_to_json(text(value))).try_cast("json")
    items = j.array  # type: ignore[attr-defined]
    return items.map(lambda e: ibis.struct({  # type: ignore[no-any-return]
        f: text(ibis.coalesce(e[f].str, e[f].cast("string"))) for f in fields}))


def kv_merge(*lists: ir.ArrayValue) -> ir.ArrayValue:
    """One key/value list; earlier lists win on a repeated key. Pass column references
    (not deep expressions): each list is referenced more than once."""
    empty = ibis.literal([], type=KV_TYPE)
    cleaned = [lst.fill_null(empty).filter(lambda e: e.key.notnull()) for lst in lists]
    merged = cleaned[0]
    for i, lst in enumerate(cleaned[1:], start=1):
        for earlier in cleaned[:i]:
            keys = earlier.map(lambda e: e.key)
            lst = lst.filter(lambda e, keys=keys: ~keys.contains(e.key))
        merged = merged.concat(lst)
    return merged


def kv_json(merged: ir.ArrayValue) -> ir.StringValue:
    """A FOCUS Tags JSON object from one key/value list (a column reference); NULL if empty."""
    as_map = ibis.map(merged.map(lambda e: e.key), merged.map(lambda e: e.value))
    return ibis.cases((merged.length() > 0, as_map.cast("json").cast("string")),
                      else_=null_str())  # type: ignore[return-value]


def kv_tags(*lists: ir.ArrayValue) -> ir.StringValue:
    """``kv_json(kv_merge(*lists))`` for cheap inputs (literals, plain columns)."""
    return kv_json(kv_merge(*lists))


def tags_from_columns(pairs: Iterable[tuple[str, ir.Value]]) -> ir.StringValue:
    """A FOCUS Tags JSON object from one column per tag; empty cells mean "tag absent"."""
    structs = [ibis.struct({"key": ibis.literal(k), "value": text(v)}) for k, v in pairs]
    if not structs:
        return null_str()
    arr = ibis.array(structs).filter(lambda e: e.value.notnull())
    return kv_tags(arr)


def braced_json(value: ir.Value) -> ir.StringValue:
    """A JSON object string from Azure's tag cell: braces added when missing, minified;
    NULL when empty or not a JSON object."""
    s = text(value)
    braced = ibis.cases((s.startswith("{"), s), else_="{" + s + "}")
    j = braced.try_cast("json")
    return ibis.cases(
        (j.notnull() & braced.re_search(r"^\{.*\}$") & (braced != "{}"), j.cast("string")),
        else_=null_str())  # type: ignore[return-value]
