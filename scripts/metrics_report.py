#!/usr/bin/env python3
"""Write the PR metrics report: params and metrics diffs against a base revision, plus ROC/PR plots of both sides.

    python scripts/metrics_report.py                       # base: origin/main, else HEAD~1
    python scripts/metrics_report.py --base v0.1.0 --out report
    python scripts/metrics_report.py --image-base-url https://raw.githubusercontent.com/OWNER/REPO/BRANCH/DIR

Run it from the project root after `dvc repro` (the workspace is the "new" side). It writes:

    <out>/report.md             markdown with a hidden marker, so CI can update one PR comment in place
    <out>/images/{base,workspace}_{roc,pr}.png

The tables are DVC's own `dvc params diff --md` and `dvc metrics diff --md`. The base side's plots are read
at the base revision through DVC (`dvc.api.read`), which finds git-tracked files (`cache: false` outputs, as
here) and DVC-cached ones alike. Image links are relative to report.md unless --image-base-url is given (CI
publishes the images to a branch and links them from there; see docs/workflows.md). Runs DVC as
`python -m dvc` with this interpreter, so use the project venv's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

MARKER = "<!-- deepfake-metrics-report -->"
PLOTS = {"roc": "artifacts/evaluate/plots/roc.png", "pr": "artifacts/evaluate/plots/pr.png"}
PLOT_TITLES = {"roc": "ROC", "pr": "Precision-recall"}
HEADLINE = [("video", "roc_auc"), ("video", "f1"), ("frame", "roc_auc"), ("frame", "f1")]
HEADLINE_FILE = "artifacts/evaluate/metrics.json"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()


def rev_exists(rev: str) -> bool:
    return (
        subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], capture_output=True).returncode
        == 0
    )


def default_base() -> str:
    for rev in ("origin/main", "HEAD~1"):
        if rev_exists(rev):
            return rev
    sys.exit("no base revision: pass --base (origin/main and HEAD~1 do not exist)")


def dvc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"dvc {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def read_at_rev(path: str, rev: str) -> bytes | None:
    """The file's bytes at `rev` (git-tracked or DVC-cached), or None when it did not exist there."""
    import dvc.api

    try:
        return dvc.api.read(path, repo=".", rev=rev, mode="rb")
    except Exception:  # noqa: BLE001 - missing at that revision, or not in the local cache
        return None


def table_or(markdown: str, empty: str) -> str:
    """DVC's markdown table, or `empty` when it has no rows (DVC then prints just the header)."""
    return markdown if len(markdown.strip().splitlines()) > 2 else empty


def headline_table(metrics_json: dict) -> str:
    """Key metrics of the evaluate stage, base vs workspace, from `dvc metrics diff --all --json`."""
    diff = metrics_json.get(HEADLINE_FILE, {})
    rows = ["| Metric | Base | This PR | Change |", "|---|---|---|---|"]
    for level, name in HEADLINE:
        entry = diff.get(f"{level}.{name}")
        if entry is None:
            continue
        old, new, change = entry.get("old"), entry.get("new"), entry.get("diff")
        rows.append(f"| {level} {name} | {fmt(old)} | {fmt(new)} | {fmt(change, signed=True)} |")
    return "\n".join(rows) if len(rows) > 2 else "_no evaluate metrics found_"


def fmt(value, signed: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:+.4f}" if signed else f"{value:.4f}"
    return str(value)


def write_plots(base: str, images: Path) -> dict[str, dict[str, str | None]]:
    """Copy each plot of the workspace and of `base` into `images`; the file names (or None) per side."""
    images.mkdir(parents=True, exist_ok=True)
    found: dict[str, dict[str, str | None]] = {}
    for key, path in PLOTS.items():
        found[key] = {}
        workspace = Path(path)
        if workspace.is_file():
            shutil.copyfile(workspace, images / f"workspace_{key}.png")
            found[key]["workspace"] = f"workspace_{key}.png"
        else:
            found[key]["workspace"] = None
        old = read_at_rev(path, base)
        if old is not None:
            (images / f"base_{key}.png").write_bytes(old)
            found[key]["base"] = f"base_{key}.png"
        else:
            found[key]["base"] = None
    return found


def plots_section(found: dict, link_prefix: str) -> str:
    rows = ["| | Base | This PR |", "|---|---|---|"]
    for key, sides in found.items():
        cells = [
            f"![{PLOT_TITLES[key]} {side}]({link_prefix}{name})" if name else "_missing_"
            for side, name in (("base", sides["base"]), ("PR", sides["workspace"]))
        ]
        rows.append(f"| **{PLOT_TITLES[key]}** | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


def build_report(base: str, out: Path, image_base_url: str | None) -> Path:
    base_sha = git("rev-parse", "--short", base)
    if re.fullmatch(r"[0-9a-f]{40}", base):
        base = base_sha  # DVC names table columns after the revision as given: keep them narrow
    head_sha = git("rev-parse", "--short", "HEAD")
    params_md = table_or(dvc("params", "diff", base, "--md"), "_no parameter changes_")
    metrics_md = table_or(dvc("metrics", "diff", base, "--md", "--precision", "4"), "_no metric changes_")
    metrics_all_md = dvc("metrics", "diff", base, "--all", "--md", "--precision", "4")
    metrics_all = json.loads(dvc("metrics", "diff", base, "--all", "--json") or "{}")
    found = write_plots(base, out / "images")
    prefix = f"{image_base_url.rstrip('/')}/" if image_base_url else "images/"
    report = f"""{MARKER}
## Deepfake detector: metrics report

Workspace (`{head_sha}` + uncommitted changes) compared with base `{base}` (`{base_sha}`).

### Headline
{headline_table(metrics_all)}

### Parameters changed
{params_md}

### Metrics changed
{metrics_md}

<details><summary>All metrics</summary>

{metrics_all_md}

</details>

### Plots
{plots_section(found, prefix)}

<sub>Generated by `scripts/metrics_report.py --base {base}`; reproduce locally with `dvc repro` then the same
command (see docs/workflows.md).</sub>
"""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(report)
    return out / "report.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="git revision to compare with (default: origin/main, else HEAD~1)")
    parser.add_argument("--out", type=Path, default=Path("report"), help="output folder (default: report)")
    parser.add_argument(
        "--image-base-url",
        default=os.environ.get("REPORT_IMAGE_BASE_URL") or None,
        help="absolute URL prefix for image links (default: $REPORT_IMAGE_BASE_URL, else relative)",
    )
    args = parser.parse_args()
    base = args.base or default_base()
    if not rev_exists(base):
        sys.exit(f"base revision {base!r} not found (fetch it, e.g. actions/checkout with fetch-depth: 0)")
    if args.out.exists():
        shutil.rmtree(args.out)
    print(build_report(base, args.out, args.image_base_url))


if __name__ == "__main__":
    main()
