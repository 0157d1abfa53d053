"""The proposed settings (:class:`~cloudledger.allocate.propose.Proposal`) as a commented
cloudledger.yaml: every line says what it does and what the store showed."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from cloudledger.allocate.propose import ACCOUNT, Proposal, rule_name
from cloudledger.allocate.propose_names import Share

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/ ]*")
#: Quoted although PyYAML reads them as text: other YAML readers take 0123 as a number.
_NUMERIC = re.compile(r"[0-9+\-.][0-9_.eE+\-]*")
WIDTH = 92


def comment(text: str, indent: str = "") -> list[str]:
    """``text`` as comment lines of at most WIDTH characters."""
    import textwrap

    return textwrap.wrap(text, WIDTH, initial_indent=indent + "# ",
                         subsequent_indent=indent + "# ", break_on_hyphens=False,
                         break_long_words=False)


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value`` (plain when safe, else double-quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if (_PLAIN.fullmatch(text) and not text.endswith(" ") and not _NUMERIC.fullmatch(text)
            and yaml.safe_load(text) == text):
        return text
    return json.dumps(text, ensure_ascii=False)


def flow(value: Any) -> str:
    """A value in YAML flow style: ``{a: [x, y], b: false}``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return scalar(value)


def pct(share: float) -> str:
    if 0 < share < 0.0005:
        return "<0.1%"
    return f"{share:.1%}"


def _shares(items: list[Share], limit: int = 6) -> str:
    text = ", ".join(f"{s.name} {pct(s.share)}" for s in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def render(p: Proposal, store: str | None = None) -> str:
    """The commented YAML of ``p``; ``yaml.safe_load`` of it equals ``p.data()``."""
    data = p.data()
    dims = data["owners"]["dimensions"]
    of = ("of cost (ABS of EffectiveCost, or BilledCost where it is empty)"
          if p.weight == "EffectiveCost" else "of rows (the store's cost is all zero)")
    out = comment(
        "cloudledger.yaml: how cloudledger attributes every cost to an owner. Proposed by "
        f"`cloudledger init --store` from the store's own bills ({p.rows:,} rows); the "
        f"percentages in the comments are shares {of}. Nothing here is final: rename "
        "values, merge aliases, drop pools, then check it with `cloudledger allocate` "
        "(nothing is written when the file has an error), `cloudledger showback`, "
        "`cloudledger tags` and `cloudledger explain`.")
    out += ["", "# uncomment to make this the store of the commands that read this file:",
            f"# store: {scalar(store or 'cloudledger.duckdb')}", "", "owners:"]
    if p.primary == ACCOUNT:
        best = max(p.dimensions, key=lambda d: d.share, default=None)
        why = (f"owner tags cover only {pct(best.share)} of cost ({best.name}), so "
               if best else "no tag key names an owner, so ")
        out += comment(
            f"Every allocated row gets one column per dimension. The first, {ACCOUNT}, is "
            f"what \"% on named owners\" and shared-pool splits refer to: {why}the sub "
            "account (AWS account, Azure subscription, GCP project, Kubernetes namespace) "
            "owns the cost, by the rules below.", "  ")
    else:
        d0 = p.dimensions[0]
        out += comment(
            "Every allocated row gets one column per dimension. The first is what \"% on "
            "named owners\" and shared-pool splits refer to: the owner tag group covering "
            f"the most cost ({d0.name}: {pct(d0.share)})." + (
                f" {ACCOUNT} comes from the rules below." if ACCOUNT in dims else ""), "  ")
    out += [f"  dimensions: {flow(dims)}", "", "tags:"]
    out += comment("Tag keys that mean each dimension, first present wins (most cost first). "
                   "Values are trimmed and case-folded (\"  Payments\" -> \"payments\") "
                   "except keep_case.", "  ")
    out.append("  aliases:")
    for name in dims:
        d = p.dimension(name)
        if d is None:
            out.append("    # filled by the account rules, not by tags")
        else:
            out += comment(f"{pct(d.share)} of cost carries one of: {_shares(d.aliases)}",
                           "    ")
            if d.top:
                out += comment(f"top values: {_shares(d.top, 5)}", "    ")
        out.append(f"    {scalar(name)}: {flow(data['tags']['aliases'][name])}")
    if p.other_keys:
        out += comment("Tag keys seen that name no owner (add one to a list above if it "
                       f"does): {_shares(p.other_keys)}", "  ")
    out += ["  # canonical value: [spellings that mean it, matched in any case]"]
    values = data["tags"]["values"]
    if not values:
        out.append("  values: {}   # no two spellings of one value were seen")
    else:
        out.append("  values:")
        for name, groups in values.items():
            out.append(f"    {scalar(name)}:")
            for canon, variants in groups.items():
                why = ("the usual spellings" if name == "environment" and
                       canon in ("prod", "staging", "test", "dev", "sandbox")
                       else "the same name written another way")
                out.append(f"      {scalar(canon)}: {flow(variants)}   # {why}")
    out += ["  # `cloudledger tags` reports the share of cost carrying these",
            f"  required: {flow(data['tags']['required'])}",
            "  # codes, not names: trimmed but not case-folded (Cost001 stays Cost001)"
            if data["tags"]["keep_case"] else "  # no dimension holds codes",
            f"  keep_case: {flow(data['tags']['keep_case'])}", ""]
    out += _rules(p, data)
    out += _pools(p, data)
    out += ["commitments:"]
    out += comment("Commitment purchases follow the usage they covered (amortized "
                   "EffectiveCost); the unused part lands here: name the team that buys "
                   "commitments.", "  ")
    out += [f"  unused_owner: {flow(data['commitments']['unused_owner'])}", "",
            "kubernetes:",
            "  # Idle cluster capacity: share (by the namespaces' cost) or keep (__idle__).",
            "  idle: share"]
    if p.namespaces:
        out += ["  # Namespace -> owner (wins over the pods' labels); the namespaces with the "
                "most cost:", "  # namespaces:"]
        out += [f"  #   {scalar(n.name)}: {{{p.primary}: OWNER}}   # {pct(n.share)}"
                for n in p.namespaces]
    cb = data["chargeback"]
    out += ["", "# `cloudledger chargeback`: journal lines per owner; __unallocated__, "
            "__shared__ and", "# __idle__ are never billed.", "chargeback:",
            "  # the owners that are billed",
            f"  billable_dimension: {scalar(cb['billable_dimension'])}",
            "  # where a journal line's cost center comes from" + (
                "" if cb["cost_center_dimension"] == "cost_center" else
                " (no cost center tag was seen: the owner itself)"),
            f"  cost_center_dimension: {scalar(cb['cost_center_dimension'])}", ""]
    return "\n".join(out)


def _rules(p: Proposal, data: dict[str, Any]) -> list[str]:
    out = comment("Rules run in order; the first whose match holds sets the dimensions the "
                  "tags leave empty (`override: true` wins over tags). One rule per sub "
                  f"account sets {ACCOUNT}: rename a value to the team that owns the account, "
                  "or add e.g. `team: payments` to its set.")
    if not p.accounts:
        return out + ["rules: []   # no account ids in the store", ""]
    out.append("rules:")
    for a in p.accounts:
        rule = next(r for r in data["rules"] if r["name"] == rule_name(a))
        out += [f"  # {a.kind} {a.id}: {pct(a.share)} of cost",
                f"  - name: {scalar(rule['name'])}",
                f"    match: {flow(rule['match'])}",
                f"    set: {flow(rule['set'])}"]
    if p.accounts_left:
        out += comment(f"{p.accounts_left.name} more sub accounts ({pct(p.accounts_left.share)}"
                       " of cost) have no rule: their untagged rows stay on __unallocated__",
                       "  ")
    return out + [""]


def _pools(p: Proposal, data: dict[str, Any]) -> list[str]:
    out = comment(f"Shared pools: the rows a pool matches are split across the {p.primary} "
                  "owners in proportion to their direct cost in the same period and currency "
                  "(split: even, fixed with percentages, or metric are the other choices). "
                  "Without a recipient the cost stays on __shared__. `tag: {key: false}` "
                  "means the key is absent (no owner tag). Pools claim rows before tags and "
                  "rules; the first matching pool wins.")
    if not p.pools:
        return out + ["shared: []   # no shared charges (support, tax, network) were seen", ""]
    out.append("shared:")
    for pool, item in zip(p.pools, data["shared"], strict=True):
        out += comment(f"{pool.what}: {pct(pool.share)} of cost", "  ")
        out += [f"  - name: {scalar(item['name'])}",
                f"    match: {flow(item['match'])}",
                f"    split: {scalar(item['split'])}"]
    return out + [""]
