"""The labeling pass: every focus row gets owner values, a kind and (for pool rows) a pool.

Precedence of owner values, per dimension (documented in docs/allocation.md):

1. a rule with ``override: true`` (first matching rule only),
2. Kubernetes: the namespace mapping (``kubernetes.namespaces``), then the AllocatedTags
   labels (normalized like Tags). The namespace is the first of: an AllocatedTags key in
   ``kubernetes.namespace_keys``, SubAccountId when SubAccountType is ``Kubernetes
   Namespace`` (OpenCost rows), the ``x_Namespace`` column,
3. the row's Tags (aliases and value normalization),
4. the first matching rule (rules fill what the tags leave empty),
5. ``__unallocated__``.

Kinds, first that applies: unused commitment (``CommitmentDiscountStatus = 'Unused'``) ->
``commitment_unused`` on ``commitments.unused_owner``; a commitment purchase (Purchase with
a CommitmentDiscountId) -> pending, follows its usage; a Kubernetes idle row -> ``idle``
(kept) or pending in the ``kubernetes-idle`` pool; a row matched by a shared pool (first
pool in run order whose match has no ``owner`` condition) -> pending in that pool; else
``direct`` when the first owner dimension is claimed, ``unallocated`` when not.
"""

from __future__ import annotations

from cloudledger.allocate.sql import SHARE_TYPE, Runner, in_list, lit, match_sql, norm, q
from cloudledger.allocate.tags import dimension_sql, tag_columns, tag_map_sql
from cloudledger.config import IDLE, UNALLOCATED, Settings, SharedPool, pool_order

PENDING = "pending"
COMMITMENTS = "__commitments__"
K8S_IDLE = "kubernetes-idle"
META = ("x_AllocationRule", "x_AllocationKind", "x_AllocationPool", "x_AllocationShare",
        "x_AllocationDriver", "x_SourceRowId")


def claim_pools(settings: Settings) -> list[SharedPool]:
    """Pools that claim rows in the labeling pass (no ``owner`` condition), in run order."""
    return [p for p in pool_order(settings) if not p.match.owner]


def _case(whens: list[tuple[str, str]], default: str = "NULL") -> str:
    if not whens:
        return default
    return "CASE " + " ".join(f"WHEN {c} THEN {v}" for c, v in whens) + f" ELSE {default} END"


def _k8s_sql(run: Runner, settings: Settings) -> str:
    """One row per distinct AllocatedTags: namespace and owner labels."""
    keys = settings.kubernetes.namespace_keys
    ns = [norm(run.json_text(q("AllocatedTags"), k)) for k in keys]
    cols = ['"AllocatedTags" AS _atags_raw',
            (f"COALESCE({', '.join(ns)})" if len(ns) > 1 else ns[0]) + " AS _kns_tag"]
    for d in settings.owners.dimensions:
        cols.append(f"{dimension_sql(run, settings, d, q('AllocatedTags'))} AS {q('_ktag_' + d)}")
    return (f"SELECT {', '.join(cols)} FROM (SELECT DISTINCT \"AllocatedTags\" FROM focus "
            f"WHERE \"AllocatedTags\" IS NOT NULL) AS da")


def namespace_sql(focus_columns: list[str]) -> str:
    """A row's Kubernetes namespace (trimmed, case-folded): the AllocatedTags key, else
    SubAccountId of a ``Kubernetes Namespace`` sub account, else ``x_Namespace``."""
    parts = ["_kns_tag"]
    if "SubAccountType" in focus_columns and "SubAccountId" in focus_columns:
        parts.append("CASE WHEN \"SubAccountType\" = 'Kubernetes Namespace' THEN "
                     + norm(q("SubAccountId")) + " END")
    if "x_Namespace" in focus_columns:
        parts.append(norm(f"CAST({q('x_Namespace')} AS VARCHAR)"))
    return f"COALESCE({', '.join(parts)})" if len(parts) > 1 else parts[0]


def label_sql(run: Runner, settings: Settings, focus_columns: list[str]) -> str:
    """SELECT producing the labeled table (focus columns, owner dims, x_Allocation*)."""
    dims = settings.owners.dimensions
    tcols = tag_columns(settings)
    rules = settings.rules
    joined = (f"SELECT f.*, {run.row_id} AS _rowid, tm.*, km.* FROM focus AS f "
              f"LEFT JOIN ({tag_map_sql(run, settings)}) AS tm ON f.\"Tags\" = tm._tags_raw "
              f"LEFT JOIN ({_k8s_sql(run, settings)}) AS km "
              f"ON f.\"AllocatedTags\" = km._atags_raw")
    rule_idx = _case([(match_sql(r.match, settings, tcols), str(i)) for i, r in
                      enumerate(rules)])
    idle = ("(\"AllocatedResourceName\" = '__idle__' OR "
            "COALESCE(INSTR(\"AllocatedResourceId\", '__idle__') > 0, FALSE))")
    claims = [(match_sql(p.match, settings, tcols), lit(p.name))
              for p in claim_pools(settings)]
    step1 = (f"SELECT j.*, {rule_idx} AS _rule, COALESCE({idle}, FALSE) AS _idle, "
             f"{_case(claims)} AS _claim, {namespace_sql(focus_columns)} AS _kns "
             f"FROM ({joined}) AS j")

    k8s_row = "(_kns IS NOT NULL)"
    ns_map = settings.kubernetes.namespaces
    values: dict[str, str] = {}
    sources: dict[str, list[tuple[str, str]]] = {}
    for d in dims:
        override = [(f"_rule = {i}", lit(r.set[d])) for i, r in enumerate(rules)
                    if r.override and d in r.set]
        plain = [(f"_rule = {i}", lit(r.set[d])) for i, r in enumerate(rules)
                 if not r.override and d in r.set]
        ns_whens = [(in_list("_kns", ns.strip().lower()), lit(o[d]))
                    for ns, o in ns_map.items() if d in o]
        chain = [
            (_case(override), "rule"),
            (f"CASE WHEN {k8s_row} THEN COALESCE({_case(ns_whens)}, {q('_ktag_' + d)}) END",
             "'kubernetes'"),
            (q("_tag_" + d), "'tags'"),
            (_case(plain), "rule"),
        ]
        values[d] = "COALESCE(" + ", ".join(c for c, _ in chain) + ")"
        sources[d] = chain
    rule_name = _case([(f"_rule = {i}", lit(r.name)) for i, r in enumerate(rules)])
    primary = dims[0]
    src_whens = [(f"({expr}) IS NOT NULL", rule_name if kind == "rule" else kind)
                 for expr, kind in sources[primary]]
    any_tag = " OR ".join(f"{q('_tag_' + d)} IS NOT NULL" for d in dims)
    source = _case(src_whens, _case([("_rule IS NOT NULL", rule_name),
                                     (f"({any_tag})", "'tags'")], lit(UNALLOCATED)))
    step2_cols = [f"s.{q(c)}" for c in focus_columns] + ["_rowid", "_idle", "_claim"]
    step2_cols += [f"{values[d]} AS {q('_v_' + d)}" for d in dims]
    step2 = f"SELECT {', '.join(step2_cols)}, {source} AS _src FROM ({step1}) AS s"

    unused = "COALESCE(\"CommitmentDiscountStatus\" = 'Unused', FALSE)"
    purchase = ("COALESCE(\"ChargeCategory\" = 'Purchase' AND "
                "\"CommitmentDiscountId\" IS NOT NULL, FALSE)")
    keep_idle = settings.kubernetes.idle == "keep"
    kind = _case([(unused, "'commitment_unused'"), (purchase, lit(PENDING)),
                  ("_idle", lit("idle" if keep_idle else PENDING)),
                  ("_claim IS NOT NULL", lit(PENDING)),
                  (f"{q('_v_' + primary)} IS NOT NULL", "'direct'")], "'unallocated'")
    pool = _case([(unused, "NULL"), (purchase, lit(COMMITMENTS)),
                  ("_idle", "NULL" if keep_idle else lit(K8S_IDLE))], "_claim")
    rule = _case([(unused, "'commitments'"), (purchase, "'commitments'"),
                  ("_idle", "'kubernetes'"), ("_claim IS NOT NULL", "_claim")], "_src")
    unused_owner = settings.commitments.unused_owner
    out = [q(c) for c in focus_columns]
    for d in dims:
        v = q("_v_" + d)
        whens = []
        if d in unused_owner:
            whens.append((unused, lit(unused_owner[d])))
        if keep_idle:
            whens.append(("_idle", lit(IDLE)))
        out.append(f"{_case(whens, f'COALESCE({v}, {lit(UNALLOCATED)})')} AS {q(d)}")
    out += [f"{rule} AS \"x_AllocationRule\"", f"{kind} AS \"x_AllocationKind\"",
            f"{pool} AS \"x_AllocationPool\"",
            f"CAST(1 AS {SHARE_TYPE}) AS \"x_AllocationShare\"",
            "CAST(NULL AS VARCHAR) AS \"x_AllocationDriver\"",
            "CAST(_rowid AS BIGINT) AS \"x_SourceRowId\""]
    return f"SELECT {', '.join(out)} FROM ({step2}) AS l"
