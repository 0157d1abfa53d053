"""AWS Cost and Usage Report (legacy CUR) -> FOCUS.

Reads CSV (plain, gz, zip), Athena-style Parquet (snake_case names), Hive text (\\x01
separated, \\N for NULL, with or without a header row) and report manifests
(``<report>-Manifest.json``: the report files it lists are read from the manifest's
directory, matched by base name; its ``columns`` name the fields of headerless files).
The mapping itself is in ``aws_mapping`` and shared with CUR 2.0 (``aws_cur2``).

Example::

    cloudledger ingest exports/my-cur/20240101-20240201/my-cur-Manifest.json
    cloudledger ingest --source aws-cur part-00000.csv.gz
"""

from __future__ import annotations

import contextlib
import weakref
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from cloudledger.errors import FormatError
from cloudledger.ingest import files as fs
from cloudledger.ingest.registry import Options, Sniff, register
from cloudledger.ingest.sources.aws_common import Fields, literal
from cloudledger.ingest.sources.aws_mapping import KNOWN_TYPES, rows_sql, x_columns_of
from cloudledger.ingest.sources.aws_stage import (
    Layout,
    Staged,
    check_required,
    quarantine_table,
    stage,
)
from cloudledger.store import Frame

_MARKERS = ("lineitem/lineitemtype", "line_item_line_item_type")
CUR2_MARKERS = ("resource_tags", "cost_category", "product")


def _names(columns: tuple[str, ...] | list[str]) -> list[str]:
    if len(columns) == 1 and "\x01" in columns[0]:
        return columns[0].split("\x01")
    return list(columns)


def is_cur(columns: list[str]) -> bool:
    return any(c.lower() in _MARKERS for c in columns)


def is_cur2(columns: list[str]) -> bool:
    return "line_item_line_item_type" in columns and any(m in columns for m in CUR2_MARKERS)


def is_manifest(document: Any) -> bool:
    return isinstance(document, dict) and "reportKeys" in document and "columns" in document


def _headerless_hive(sniff: Sniff) -> bool:
    return (len(sniff.columns) == 1 and "\x01" in sniff.columns[0]
            and not is_cur(_names(sniff.columns)) and _manifest_near(sniff.path) is not None)


def detect(sniff: Sniff) -> bool:
    if sniff.document is not None:
        return is_manifest(sniff.document)
    names = _names(sniff.columns)
    return (is_cur(names) and not is_cur2(names)) or _headerless_hive(sniff)


# ------------------------------------------------------------------ manifests and layouts
def _manifest_near(path: Path) -> Path | None:
    found = sorted(path.parent.glob("*Manifest.json"))
    return found[0] if found else None


def manifest_columns(document: dict[str, Any]) -> list[str]:
    return [f"{c['category']}/{c['name']}" for c in document.get("columns", [])]


def report_files(manifest: Path, document: dict[str, Any]) -> list[Path]:
    """The manifest's report files, looked up next to it by base name."""
    out = []
    for key in document.get("reportKeys", []):
        base = Path(str(key)).name
        exact = manifest.parent / base
        near = [exact] if exact.is_file() else sorted(
            p for p in manifest.parent.iterdir() if p.is_file() and p.name.endswith(base))
        if not near:
            raise FormatError(f"the manifest lists {key!r} but no file named {base!r} is "
                              "next to it", where=str(manifest),
                              hint="download the report files into the manifest's folder")
        out.append(near[0])
    return out


def layout_of(path: Path, manifest_cols: list[str] | None) -> Layout:
    if fs.is_parquet(path):
        return Layout("parquet")
    with fs.open_text(path) as f:
        first = f.readline().rstrip("\r\n")
    if "\x01" in first:
        names = first.split("\x01")
        if is_cur(names):
            return Layout("csv", names, "\x01", True, True)
        cols = manifest_cols
        if cols is None:
            near = _manifest_near(path)
            cols = manifest_columns(fs.sniff_json(near)) if near else None
        if not cols:
            raise FormatError("a Hive text file without a header row, and no manifest next "
                              "to it names its columns", where=str(path),
                              hint="put the report's -Manifest.json next to the file")
        if len(cols) != len(names):
            raise FormatError(f"the manifest names {len(cols)} columns but the first record "
                              f"has {len(names)} fields", where=f"{path}, line 1",
                              hint="use the manifest that came with this file")
        return Layout("csv", cols, "\x01", False, True)
    return Layout("csv", fs.sniff_header(path))


def expand(paths: list[Path]) -> list[tuple[Path, Layout]]:
    """Report files to read (manifests replaced by their files, each file once)."""
    out: dict[Path, tuple[Path, Layout]] = {}
    for p in paths:
        if p.name.lower().endswith(".json"):
            doc = fs.sniff_json(p)
            if not is_manifest(doc):
                raise FormatError("not a CUR report manifest (no reportKeys/columns)",
                                  where=str(p), hint="pass the report's -Manifest.json")
            for f in report_files(p, doc):
                out[f.resolve()] = (f, layout_of(f, manifest_columns(doc)))
        elif p.resolve() not in out:
            out[p.resolve()] = (p, layout_of(p, None))
    return list(out.values())


# ------------------------------------------------------------------ the shared reader
def cost_category_keys(store: Any, staged: Staged) -> list[str]:
    f = staged.fields
    if f.style != "cur2" or "cost_category" not in f.columns:
        return []
    src = "cost_category" if f.columns["cost_category"].upper().startswith("MAP") else (
        "CAST(CAST(NULLIF(TRIM(cost_category), '') AS JSON) AS MAP(VARCHAR, VARCHAR))")
    where = f" WHERE NOT ({staged.exclude})" if staged.exclude else ""
    got = store.engine.query(f"SELECT DISTINCT unnest(map_keys({src})) AS k FROM "
                        f"{staged.source}{where} ORDER BY k")
    return [k for k in got.column("k").to_pylist() if k]


def read_files(store: Any, paths: list[Path], options: Options, source: str) -> Frame:
    """Stage, validate and map AWS billing files (legacy CUR or CUR 2.0) into one Frame."""
    staged: list[Staged] = []
    for path, layout in expand(paths):
        s = stage(store, path, layout)
        check_required(s.fields, str(path))
        staged.append(s)
    keys = [cost_category_keys(store, s) for s in staged]
    x_cols: list[str] = []
    for s, k in zip(staged, keys, strict=True):
        x_cols += [x for x in x_columns_of(s.fields, k) if x not in x_cols]
    rows: list[ir.Table] = []
    totals: list[pa.Table] = []
    warnings: list[str] = []
    quarantined: list[dict[str, Any]] = []
    rows_in = 0
    for s, k in zip(staged, keys, strict=True):
        where = str(s.files[0])
        warnings += s.warnings
        quarantined += s.quarantined
        c = summarize(s.check)
        rows.append(store.con.sql(rows_sql(s.fields, s.source, x_cols, k, s.exclude,
                                           ties=c["ties"] > 0)))
        totals.append(c["totals"])
        rows_in += s.records - c["folded"] + c["synthesized"]
        if c["folded"] or c["synthesized"]:
            warnings.append(f"{where}: {c['folded']} SavingsPlanNegation row(s) folded into "
                            f"their covered usage; {c['synthesized']} unused-commitment "
                            "row(s) added")
        if c["unnegated"]:
            warnings.append(f"{where}: {c['unnegated']} SavingsPlanCoveredUsage row(s) have "
                            "no SavingsPlanNegation; BilledCost keeps their on-demand cost, "
                            "as the file's UnblendedCost does")
        if c["no_plan"]:
            warnings.append(f"{where}: {c['no_plan']} SavingsPlanCoveredUsage row(s) name "
                            "no savingsPlan/SavingsPlanARN; their commitment columns are "
                            "empty")
        if c["unknown"]:
            warnings.append(f"{where}: unknown lineItem/LineItemType value(s) "
                            f"{', '.join(map(literal, c['unknown']))} loaded as "
                            "ChargeCategory Adjustment")
    if quarantined:
        warnings.append(f"{len(quarantined)} malformed record(s) set aside, first at "
                        f"{quarantined[0]['file']}, line {quarantined[0]['line']}")
    frame_rows = rows[0] if len(rows) == 1 else ibis.union(*rows, distinct=False)
    frame_totals = ibis.memtable(pa.concat_tables(totals))
    q = None
    if quarantined:
        q = ibis.memtable(quarantine_table(quarantined))
    frame = Frame(source, paths, frame_rows, frame_totals, warnings=warnings,
                  quarantined=q, rows_in=rows_in)
    for s in staged:  # a zip's records were copied into a temp table: drop it with the frame
        if s.source.startswith("cl_aws_stage_"):
            weakref.finalize(frame, _drop_table, store, s.source)
    return frame


def _drop_table(store: Any, table: str) -> None:
    with contextlib.suppress(Exception):  # the store may be closed already
        store.raw(f"DROP TABLE IF EXISTS {table}")


def summarize(check: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and native totals from a file's check (``aws_check.check_sql``)."""
    by_type = [r for r in check if r["by_type"]]
    by_key = next(r for r in check if not r["by_type"])
    good = [r for r in by_type if r["n"] > r["n_bad"]]
    sums: dict[tuple[Any, Any, Any], list[Decimal]] = {}
    for r in good:
        acc = sums.setdefault((r["BillingAccountId"], r["BillingPeriodStart"],
                               r["BillingCurrency"]), [Decimal(0), Decimal(0)])
        acc[0] += r["BilledCost"] or 0
        acc[1] += r["EffectiveCost"] or 0
    totals = pa.table({
        "BillingAccountId": pa.array([k[0] for k in sums], pa.string()),
        "BillingPeriodStart": pa.array([k[1] for k in sums], pa.timestamp("us")),
        "BillingCurrency": pa.array([k[2] for k in sums], pa.string()),
        "BilledCost": pa.array([v[0] for v in sums.values()], pa.decimal128(38, 18)),
        "EffectiveCost": pa.array([v[1] for v in sums.values()], pa.decimal128(38, 18)),
    })
    return {
        "totals": totals,
        "folded": int(by_key["folded"] or 0), "unnegated": int(by_key["unnegated"] or 0),
        "ties": int(by_key["ties"] or 0),
        "no_plan": sum(r["no_plan"] for r in by_type),
        "synthesized": sum(r["synthesized"] for r in by_type),
        "unknown": sorted({r["lit"] for r in good if r["lit"] is not None
                           and r["lit"] not in KNOWN_TYPES}),
    }


def fields_style(fields: Fields) -> str:
    return fields.style


@register("aws-cur", "AWS Cost and Usage Report (legacy): CSV/gz/zip, Athena Parquet, Hive "
          "text, or a report -Manifest.json", detect=detect, priority=20)
def read(store: Any, paths: list[Path], options: Options) -> Frame:
    return read_files(store, paths, options, "aws-cur")
