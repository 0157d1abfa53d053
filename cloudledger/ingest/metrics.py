"""Business metrics (requests, active users, orders, ...) in the store table ``metrics``.

A metrics file is CSV, Parquet or JSON (an array of objects, or one object per line) with
columns ``date``, ``metric``, ``value`` and optionally ``owner`` (a value of an owner
dimension, e.g. a team) and ``product``::

    date,metric,value,product
    2026-05-01,requests,1843220,checkout
    2026-05-01,active_users,30412,

Loading is idempotent: for each metric in the file, every stored row of that metric between
the file's first and last date is replaced, in one transaction. A bad file (missing column,
a value that is not a number, a date that is not a date, a duplicate row) is rejected with
its line number before anything is written.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from cloudledger.engine import literal
from cloudledger.errors import FormatError, InputError
from cloudledger.store import Store

TABLE = "metrics"
SCHEMA = ibis.schema({"date": "date", "metric": "string", "value": "float64",
                      "owner": "string", "product": "string"})
REQUIRED = ("date", "metric", "value")
OPTIONAL = ("owner", "product")
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet",
            ".pq": "parquet", ".json": "json", ".ndjson": "json", ".jsonl": "json"}


@dataclass
class MetricLoad:
    metric: str
    start: date
    end: date
    rows: int
    replaced: int


@dataclass
class MetricsFile:
    path: Path
    frame: pa.Table            # typed rows in the table's schema
    warnings: list[str]


def _loc(kind: str, index: int) -> str:
    """'line N' for text files (a CSV header is line 1), 'record N' / 'row N' otherwise."""
    if kind == "csv":
        return f"line {index + 2}"
    if kind == "ndjson":
        return f"line {index + 1}"
    return f"{'row' if kind == 'parquet' else 'record'} {index + 1}"


def _where(kind: str, path: Path, index: int) -> str:
    return f"{path}, {_loc(kind, index)}"


def _read(path: Path) -> tuple[pd.DataFrame, str]:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot tell the format of {path.name}", where=str(path),
                         hint="name it .csv, .parquet or .json (or .ndjson)")
    try:
        if fmt == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            return pd.read_csv(path, dtype=str, keep_default_na=False, sep=sep,
                               skipinitialspace=True), "csv"
        if fmt == "parquet":
            return pd.read_parquet(path), "parquet"
        text = path.read_text(encoding="utf-8-sig")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            records = []
            for i, line in enumerate(text.splitlines()):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise FormatError(f"not JSON: {e.msg}", where=f"{path}, line {i + 1}",
                                      hint="write one JSON array of objects, or one "
                                           "object per line") from None
                if not isinstance(records[-1], dict):
                    raise FormatError("expected one JSON object per line",
                                      where=f"{path}, line {i + 1}") from None
            return pd.DataFrame.from_records(records), "ndjson"
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):
            doc = doc["data"]
        if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
            raise FormatError("expected a JSON array of objects (or one object per line)",
                              where=str(path))
        return pd.DataFrame.from_records(doc), "json"
    except (InputError, FormatError):
        raise
    except FileNotFoundError:
        raise InputError(f"no file at {path}") from None
    except UnicodeDecodeError as e:
        raise FormatError(f"not UTF-8 text ({e.reason})", where=str(path)) from None
    except Exception as e:  # pandas / pyarrow parse errors: their message names the spot
        raise FormatError(f"cannot read as {fmt}: {str(e).splitlines()[0]}",
                          where=str(path)) from None


def read_metrics_file(path: str | Path) -> MetricsFile:
    """Read and check a metrics file; raises InputError naming the line of the first problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}", where="metrics load")
    df, kind = _read(path)
    df.columns = [str(c).strip().lower() for c in df.columns]
    known = (*REQUIRED, *OPTIONAL)
    warnings: list[str] = []
    for c in df.columns:
        if c not in known:
            close = difflib.get_close_matches(c, known, n=1, cutoff=0.75)
            if close and close[0] not in df.columns:
                raise InputError(f"unknown column {c!r}", where=str(path),
                                 hint=f"did you mean {close[0]!r}?")
            warnings.append(f"{path}: column {c!r} ignored (columns used: "
                            f"{', '.join(known)})")
    for c in REQUIRED:
        if c not in df.columns:
            raise InputError(f"missing column {c!r} (found: {', '.join(df.columns) or 'none'})",
                             where=str(path), hint="a metrics file has columns date, metric, "
                             "value and optionally owner, product")
    if df.empty:
        raise InputError("the file has no rows", where=str(path))

    def text(col: str) -> pd.Series:
        if col not in df.columns:
            return pd.Series([None] * len(df), index=df.index, dtype="object")
        missing = df[col].isna()
        s = df[col].astype(str).str.strip().astype("object")
        return s.where(~missing & (s != ""), None)

    def first_bad(mask: pd.Series) -> int | None:
        hits = mask.to_numpy().nonzero()[0]
        return int(hits[0]) if len(hits) else None

    metric = text("metric")
    i = first_bad(metric.isna())
    if i is not None:
        raise InputError("empty metric name", where=_where(kind, path, i))

    raw_value = df["value"]
    if pd.api.types.is_numeric_dtype(raw_value) and not pd.api.types.is_bool_dtype(raw_value):
        value = raw_value.astype("float64")
        shown = raw_value.astype(str)
    else:
        shown = text("value")
        grouped = shown.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", na=False)
        plain = shown.where(~grouped, shown.str.replace(",", "", regex=False))
        value = pd.to_numeric(plain, errors="coerce")  # 1,5 stays an error, 1,500 is 1500
    i = first_bad(pd.Series(~np.isfinite(value.to_numpy(dtype="float64"))))
    if i is not None:
        raise InputError(f"value {shown.iloc[i]!r} is not a number",
                         where=_where(kind, path, i) + ", column value",
                         hint="values are plain numbers, e.g. 1843220 or 0.75")

    if pd.api.types.is_datetime64_any_dtype(df["date"]):
        parsed = df["date"]
        shown_date = df["date"].astype(str)
    else:
        shown_date = text("date")
        parsed = pd.to_datetime(shown_date, format="ISO8601", errors="coerce")
    i = first_bad(parsed.isna())
    if i is not None:
        raise InputError(f"date {shown_date.iloc[i]!r} is not a date",
                         where=_where(kind, path, i) + ", column date",
                         hint="write dates as YYYY-MM-DD")
    days = parsed.dt.date

    owner, product = text("owner"), text("product")
    keys = pd.DataFrame({"d": days, "m": metric, "o": owner.fillna("\0"),
                         "p": product.fillna("\0")})
    dup = keys.duplicated(keep=False)
    i = first_bad(dup)
    if i is not None:
        same = keys.index[(keys == keys.iloc[i]).all(axis=1)].tolist()
        a, b = (_loc(kind, keys.index.get_loc(j)) for j in same[:2])
        where = f"{path}, {a.split()[0]}s {a.split()[-1]} and {b.split()[-1]}"
        raise InputError(f"duplicate row for metric {metric.iloc[i]!r} on {days.iloc[i]}"
                         + (f", owner {owner.iloc[i]!r}" if owner.iloc[i] else "")
                         + (f", product {product.iloc[i]!r}" if product.iloc[i] else ""),
                         where=where,
                         hint="keep one row per date, metric, owner and product")
    table = pa.table({
        "date": pa.array(days.tolist(), pa.date32()),
        "metric": pa.array(metric.tolist(), pa.string()),
        "value": pa.array(value.tolist(), pa.float64()),
        "owner": pa.array(owner.tolist(), pa.string()),
        "product": pa.array(product.tolist(), pa.string()),
    })
    return MetricsFile(path=path, frame=table, warnings=warnings)


def ensure_table(store: Store) -> None:
    if TABLE not in store.tables():
        store.con.create_table(TABLE, schema=SCHEMA)


def load_metrics(store: Store, path: str | Path) -> tuple[list[MetricLoad], list[str]]:
    """Replace, per metric, the stored rows in the file's date range with the file's rows."""
    mf = read_metrics_file(path)
    incoming = ibis.memtable(mf.frame)
    spans = store.execute(incoming.group_by("metric").aggregate(
        start=incoming.date.min(), end=incoming.date.max(), rows=incoming.count())
        .order_by("metric")).to_pylist()
    conditions = " OR ".join(
        f"(metric = {literal(s['metric'])} AND date BETWEEN DATE "
        f"{literal(str(s['start']))} AND DATE {literal(str(s['end']))})"
        for s in spans)
    ensure_table(store)
    replaced = _count_replaced(store, conditions)
    staged = "cl_metrics_incoming"
    store.engine.register(staged, store.execute(incoming.cast(SCHEMA)))
    try:  # atomic on DuckDB, build-then-swap on Spark
        store.engine.replace_rows(TABLE, conditions, staged)
    finally:
        store.engine.unregister(staged)
    loads = [MetricLoad(metric=s["metric"], start=s["start"], end=s["end"], rows=s["rows"],
                        replaced=replaced.get(s["metric"], 0)) for s in spans]
    return loads, mf.warnings


def _count_replaced(store: Store, conditions: str) -> dict[str, int]:
    rows = store.engine.fetch(f"SELECT metric, count(*) AS n FROM {TABLE} WHERE {conditions} "
                              "GROUP BY metric")
    return {r["metric"]: int(r["n"]) for r in rows}


def metrics_summary(store: Store) -> pa.Table:
    """Per metric: first and last date, rows, owners and products."""
    if TABLE not in store.tables():
        return pa.table({"metric": pa.array([], pa.string())})
    t = store.table(TABLE)
    return store.execute(t.group_by("metric").aggregate(
        start=t.date.min(), end=t.date.max(), rows=t.count(),
        owners=t.owner.nunique(), products=t.product.nunique()).order_by("metric"))
