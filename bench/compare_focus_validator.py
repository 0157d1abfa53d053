"""Compare cloudledger's FOCUS validation with the FinOps Foundation's focus-validator 2.2.1.

    python bench/compare_focus_validator.py [FILE] [--fv-python PY]

Sets up focus-validator in /tmp/fv (a separate venv; it needs Python 3.12) unless it is
there, runs it with its offline 1.2 rules and every applicability criterion, runs
``cloudledger validate`` on the same file, and prints both sides for the rules that overlap.
See docs/validation.md for who is right where they disagree.

Known quirks handled here: focus-validator reads ``focus_validator/rules/currency_codes.csv``
relative to the working directory (we run it from a scratch dir holding a symlink); its
unpinned pyarrow must be < 21 to work with its numpy<2 pin; it exits 0 even when rules fail.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "focus" / "focus_sample_1.0.csv"
VENV = Path("/tmp/fv")

#: focus-validator rule -> the cloudledger rule that checks the same requirement (or None).
OVERLAP = {
    "ContractedCost-C-003-M": "CL-NUL-001",
    "ChargeFrequency-C-003-M": "CL-VAL-003",
    "CommitmentDiscountStatus-C-004-C": "CL-CMT-001",
    "ServiceName-C-005-C": "CL-SVC-001",
    "ConsumedQuantity-C-004-C": "CL-QTY-001",
    "ContractedUnitPrice-C-009-C": "CL-PRC-001",
    "RegionName-C-004-C": "CL-REF-001",
    "RegionName-C-005-C": "CL-REF-001",
    "ResourceType-C-004-C": "CL-REF-001",
    "ResourceType-C-005-C": "CL-REF-001",
    "BilledCost-C-005-C": None,
    "SkuPriceId-C-008-M": None,
    "PricingUnit-C-003-O": None,
    "ConsumedUnit-C-003-O": None,
    "DateTimeFormat-A-003-M": "CL-TYP-003",
    "ColumnHandling-A-001-M": "CL-COL-002",
    "KeyValueFormat-A-000-M": "CL-JSN-001",
    "EffectiveCost-C-012-C": "CL-CST-002",
}
LINE = re.compile(r"^\S+ (?P<rule>[\w-]+): (?P<status>PASS|FAIL|SKIPPED)\s+\(violations=(?P<n>\d+)"
                  r"(?:, reason=(?P<reason>[^,]*))?")


def ensure_venv(python: str) -> Path:
    exe = VENV / "bin" / "focus-validator"
    if not exe.exists():
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        pip = str(VENV / "bin" / "pip")
        subprocess.run([pip, "install", "-q", "focus-validator==2.2.1"], check=True)
        subprocess.run([pip, "install", "-q", "pyarrow<21"], check=True)
    return exe


def run_focus_validator(exe: Path, path: Path) -> dict[str, tuple[str, int, str]]:
    rules = glob.glob(str(VENV / "lib" / "python3.*" / "site-packages" / "focus_validator" /
                          "rules" / "currency_codes.csv"))[0]
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "focus_validator" / "rules"
        target.mkdir(parents=True)
        os.symlink(rules, target / "currency_codes.csv")
        proc = subprocess.run(
            [str(exe), "--data-file", str(path), "--validate-version", "1.2",
             "--block-download", "--applicability-criteria", "ALL", "--show-violations"],
            cwd=scratch, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"focus-validator failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    out = {}
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            out[m["rule"]] = (m["status"], int(m["n"]), (m["reason"] or "").strip())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    ap.add_argument("--fv-python", default=os.path.expanduser(
        "~/.pyenv/versions/3.12.1/bin/python"), help="Python 3.12 for focus-validator")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from cloudledger.quality.validate import validate_file

    fv = run_focus_validator(ensure_venv(args.fv_python), args.file)
    ours = validate_file(args.file)
    failed = sorted(r for r, (s, _, _) in fv.items() if s == "FAIL")
    print(f"focus-validator 2.2.1 (FOCUS 1.2 rules, ALL criteria) on {args.file}:")
    print(f"  {len(fv)} rules: {sum(s == 'PASS' for s, _, _ in fv.values())} pass, "
          f"{len(failed)} fail, {sum(s == 'SKIPPED' for s, _, _ in fv.values())} skipped")
    print(f"cloudledger (FOCUS {ours.version} detected): {ours.errors} error rule(s), "
          f"{ours.warnings} warning rule(s) failed of {len(ours.findings)}\n")
    print(f"{'focus-validator rule':36} {'fv':>16}   {'cloudledger rule':12} {'cl':>14}")
    for fv_rule, cl_rule in OVERLAP.items():
        status, n, reason = fv.get(fv_rule, ("absent", 0, ""))
        fv_text = f"{status} {n}" if status != "SKIPPED" else "SKIPPED"
        if cl_rule is None:
            cl_text = "(no rule)"
        else:
            f = ours.finding(cl_rule)
            cl_text = f"{f.status} {f.count}"
            if f.detail:
                cl_text += " " + str(f.detail)
        print(f"{fv_rule:36} {fv_text:>16}   {cl_rule or '-':12} {cl_text}"
              + (f"   [{reason}]" if status == "SKIPPED" and reason else ""))
    print("\ncloudledger findings:")
    for f in ours.findings:
        if f.status == "fail":
            print(f"  {f.rule} {f.severity}: {f.count} {f.unit} {f.detail or ''}")
    print("\nfocus-validator leaf failures (violations > 0, composites left out):")
    for r in failed:
        status, n, _ = fv[r]
        if "-000-" not in r:
            print(f"  {r}: {n}")


if __name__ == "__main__":
    main()
