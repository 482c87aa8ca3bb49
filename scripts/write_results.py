"""Writes the results tables of README.md and docs/*.md from the files they report, so no number goes stale.

A table lives in a block of its page, between two markers; the first names the source:
  <!-- results: reports/pretrained/real -->                 a results.json of scripts/ablation.py: a row per
                                                            variant, mean ± standard deviation over seeds
  <!-- results: reports/pretrained/real only=meso4,pretrained -->   those variants, in that order
  <!-- results: reports/pretrained/all_lodo table=lodo -->  its leave-one-dataset-out table (lodo.md's)
  <!-- results: artifacts/evaluate/metrics.json -->         the demo's test metrics, frame and video level
  <!-- results: reports/profiles/all table=profile -->      a profile's end-to-end run (scripts/keep_profile_run.py):
                                                            each dataset's test items, trained on or unseen
  <!-- results: artifacts/robustness/metrics.json table=robustness -->   the robustness stage: AUC per
                                                            degradation level, then per dataset and method, per
                                                            model (also a profile run's robustness.json)
  <!-- results: reports/benchmarks/serve table=benchmark -->   a benchmark's --out DIR (benchmarks/*.py): its rows,
                                                            with the command, commit and machine
  <!-- /results -->
Everything between the markers is generated: the command and commit that made the source, then the table.
Text outside them is the author's.

scripts/ablation.py records each run's command and code commit in results.json. Older runs lack them; for
those, a provenance.json beside results.json says what git history proves (the command as the docs of the
committing commit state it, and that commit), and the block names them, saying the code commit is unknown:
  {"runs": [{"variants": ["meso4", "plain"],            results.json keys these runs are under
             "command": "python scripts/ablation.py ...",
             "committed_in": "<40-hex sha>",            the commit that committed these runs as they are now
             "evidence": "where git shows the command"}]}    for the reader; not rendered

  python scripts/write_results.py           rewrite every block in place
  python scripts/write_results.py --check   exit 1, naming each block that differs from its source (CI)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pandas as pd
import yaml
from ablation_tables import AGGREGATION_COLUMN, lodo_table, markdown, runs_table

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(  # markers on lines of their own: a page can mention them in its text
    r"^(?P<open><!-- results: (?P<spec>[^\n]*?) -->\n)(?P<body>.*?)^(?P<close><!-- /results -->)$",
    re.DOTALL | re.MULTILINE,
)
DEMO_METRICS = "artifacts/evaluate/metrics.json"
# The evaluated model records the code commit it was trained from; model.json is a DVC output, not in git.
DEMO_MODEL_JSON = ("artifacts/train/model/model.json", "artifacts/model/model.json")
STATED_COMMIT = re.compile(r"commit `([0-9a-f]{7,40}(?:-dirty)?)`")
LEVELS = {"frame": "frame (test faces)", "video": "video/item (test items)"}
DEMO_COLUMNS = {
    "roc_auc": "ROC-AUC",
    "average_precision": "AP",
    "eer": "EER",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
}


PROFILE_COLUMNS = {"roc_auc": "ROC-AUC", "average_precision": "AP", "eer": "EER", "recall": "recall", "f1": "F1"}
ROBUSTNESS_AXES = {  # the robustness stage's axes, in the page's order
    "resolution": "resolution (px)",
    "face_px": "detected face size (px), faces",
    "jpeg_quality": "JPEG quality",
    "blur_sigma": "blur sigma",
    "noise_std": "noise std",
    "crf": "H.264 CRF, mean kB (video AUC)",
}


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """ "reports/x only=a,b table=lodo" -> ("reports/x", {"only": "a,b", "table": "lodo"})."""
    source, *options = spec.split()
    return source, dict(option.split("=", 1) for option in options)


def short(commit: str) -> str:
    """A commit as the docs write it: 7 hex digits, keeping a "-dirty" mark."""
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")


def made_by(runs: list[dict]) -> str:
    """Who made these runs: a line per maker (made_line), naming the variants when there are several."""
    groups: dict[tuple, list[str]] = {}
    for run in runs:
        key = (run.get("command"), run.get("git_commit"), run.get("committed_in"))
        groups.setdefault(key, []).append(run["variant"])
    lines = []
    for (command, commit, committed_in), variants in groups.items():
        names = f": {', '.join(dict.fromkeys(variants))}" if len(groups) > 1 else ""
        lines.append(f"- {made_line(command, commit, committed_in)}{names}")
    return "\n".join(lines)


def made_line(command: str | None, commit: str | None, committed_in: str | None) -> str:
    """One maker: the run's own command and code commit, else provenance.json's command and committing commit."""
    if committed_in and not commit:
        return f"`{command}`, results committed in `{short(committed_in)}` (the run did not record its code commit)"
    if not command and not commit:
        return "command and commit not recorded (made before scripts/ablation.py recorded them)"
    how = f"`{command}`" if command else "command not recorded"
    return f"{how}, {commit_text(commit)}"


def commit_text(commit: str | None) -> str:
    return f"commit `{short(commit)}`" if commit else "commit not recorded"


def provenance(folder: Path) -> dict[str, dict]:
    """Each variant's command and committing commit from the folder's provenance.json; none without one."""
    path = folder / "provenance.json"
    entries = json.loads(path.read_text())["runs"] if path.exists() else []
    return {
        variant: {"command": entry["command"], "committed_in": entry["committed_in"]}
        for entry in entries
        for variant in entry["variants"]
    }


def with_provenance(variant: str, run: dict, known: dict[str, dict]) -> dict:
    """A run as made_by reads it: what it records itself, else what provenance.json says of its variant."""
    recorded = run.get("command") or run.get("git_commit")
    return {"variant": variant, **({} if recorded else known.get(variant, {})), **run}


def ablation_block(source: str, options: dict[str, str], root: Path) -> str:
    results = json.loads((root / source / "results.json").read_text())
    if "only" in options:
        results = {variant: results[variant] for variant in options["only"].split(",")}
    known = provenance(root / source)
    runs = [with_provenance(variant, run, known) for variant, runs_of in results.items() for run in runs_of]
    if options.get("table") == "lodo":
        table, legend = (
            lodo_table(results),
            "AUCs are means over the seeds, with the first seed's 95% interval",
        )
    else:
        table = runs_table(results)
        legend = (
            "Mean ± standard deviation over the seeds; a single run's AUC with its 95% bootstrap interval in brackets"
        )
        if AGGREGATION_COLUMN in table:
            legend += f"; videos are scored by the rule in `{AGGREGATION_COLUMN}`, chosen on validation videos"
    return f"From `{source}/results.json`. {legend}. Made by:\n\n{made_by(runs)}\n\n{markdown(table)}\n"


def demo_commit(root: Path, stated: str) -> str | None:
    """The code commit of the evaluated model (its model.json); without that DVC output checked out (a clone
    before `make demo`), the commit the page already states, so the check gives the same answer there."""
    for path in DEMO_MODEL_JSON:
        if (root / path).exists():
            return json.loads((root / path).read_text()).get("provenance", {}).get("git_commit")
    found = STATED_COMMIT.search(stated)
    return found[1] if found else None


def demo_made_by(root: Path, stated: str) -> str:
    """Who made a demo output: `make demo`, and the commit of the model it evaluated."""
    commit = demo_commit(root, stated)
    where = "from" if commit else "it is in"
    return f"made by `make demo`, {commit_text(commit)} ({where} the evaluated model's `model.json`, a DVC output)"


def run_made_by(made: dict) -> str:
    """Who made a profile run (its made.json, scripts/keep_profile_run.py)."""
    return f"made by `{made['command']}`, {commit_text(made['git_commit'])} (the trained model's code)"


def demo_block(source: str, root: Path, stated: str) -> str:
    metrics = json.loads((root / source).read_text())
    rows = [
        {
            "level": label,
            "items": metrics[level]["n"],
            "real": metrics[level]["n_real"],
            "fake": metrics[level]["n_fake"],
            **{header: f"{metrics[level][key]:.3f}" for key, header in DEMO_COLUMNS.items()},
        }
        for level, label in LEVELS.items()
    ]
    return (
        f"From `{source}` (the evaluate stage on the test split), {demo_made_by(root, stated)}.\n\n"
        f"{markdown(pd.DataFrame(rows))}\n"
    )


def profile_block(source: str, root: Path) -> str:
    folder = root / source
    made = json.loads((folder / "made.json").read_text())
    metrics = json.loads((folder / "evaluate.json").read_text())
    roles = {
        d["name"]: d.get("role", "train")
        for d in yaml.safe_load((folder / "params.yaml").read_text())["data"]["datasets"]
    }
    levels = {
        **{name: (roles.get(name, "?"), m) for name, m in metrics["video_by_dataset"].items()},
        "all test items": ("", metrics["video"]),
    }
    rows = [
        {
            "dataset": name,
            "role": "trained on" if role == "train" else role,
            "test real / fake": f"{m['n_real']} / {m['n_fake']}",
            **{header: f"{m[key]:.3f}" for key, header in PROFILE_COLUMNS.items()},
        }
        for name, (role, m) in levels.items()
    ]
    val_auc = json.loads((folder / "train.json").read_text())["best_val_auc"]
    not_run = made.get("stages_not_run")
    stopped = f"; the run was stopped before {', '.join(not_run)}" if not_run else ""
    return (
        f"From `{source}/evaluate.json` (the evaluate stage of the profile's run, a verdict per video or crop, "
        f"frames aggregated by `{metrics['video_aggregation']}`; validation frame AUC {val_auc:.3f}, threshold "
        f"{metrics['threshold']:.3f}), {run_made_by(made)}{stopped}.\n\n{markdown(pd.DataFrame(rows))}\n"
    )


def robustness_made_by(source: str, root: Path, stated: str) -> str:
    """A profile run's made.json beside the file; else the demo's robustness stage and its model's commit."""
    made = root / Path(source).parent / "made.json"
    return run_made_by(json.loads(made.read_text())) if made.exists() else demo_made_by(root, stated)


def level_order(level: str) -> tuple[int, float]:
    """Sort key of a level: "<96" first, then "96-104" and plain numbers by value, ">=112" last."""
    rank = 0 if level.startswith("<") else 2 if level.startswith(">") else 1
    return rank, float(re.search(r"[\d.]+", level)[0])


def auc_text(auc: float | None, digits: int = 3) -> str:
    return "-" if auc is None else f"{auc:.{digits}f}"


def axis_row(axis: str, label: str, metrics: dict, models: list[str]) -> dict[str, str]:
    """One axis: its levels, then each model's AUC per level (two digits, " / " between levels)."""
    levels = sorted(metrics[models[0]][axis], key=level_order)
    if axis == "face_px":
        shown = [f"{level} ({metrics[models[0]][axis][level]['n']})" for level in levels]
        aucs = {model: [metrics[model][axis][level]["roc_auc"] for level in levels] for model in models}
    else:
        kb = metrics.get("crf_videos", {}) if axis == "crf" else {}
        shown = [f"{level} ({kb[level]['mean_kb']:.0f})" if level in kb else level for level in levels]
        aucs = {model: [metrics[model][axis][level] for level in levels] for model in models}
    cells = {model: " / ".join(auc_text(auc, 2) for auc in aucs[model]) for model in models}
    return {"axis": label, "levels": " / ".join(shown), **cells}


def group_rows(metrics: dict, models: list[str]) -> list[dict[str, str]]:
    """Video/item level, a row per dataset then per manipulation method: its test items and each model's AUC."""
    rows = []
    for key, kind in (("by_dataset", "dataset"), ("by_method", "method")):
        for name, level in metrics[models[0]][key].items():
            video = level["video"]
            rows.append(
                {
                    "test items of": f"{kind} {name}",
                    "test real / fake": f"{video['n_real']} / {video['n_fake']}",
                    **{model: auc_text(metrics[model][key][name]["video"]["roc_auc"]) for model in models},
                }
            )
    return rows


def robustness_block(source: str, root: Path, stated: str) -> str:
    metrics = json.loads((root / source).read_text())
    models = [model for model in metrics if model != "crf_videos"]
    faces = sum(level["frame"]["n"] for level in metrics[models[0]]["by_dataset"].values())
    axes = [axis_row(axis, label, metrics, models) for axis, label in ROBUSTNESS_AXES.items()]
    groups = pd.DataFrame(group_rows(metrics, models))
    return (
        f"From `{source}` (the robustness stage; `current` is the train stage's model, the others its "
        f"baselines), {robustness_made_by(source, root, stated)}.\n\n"
        f"ROC-AUC per level of each degradation: frame level on the {faces} test faces, except H.264 CRF: "
        f"video level on {metrics['crf_videos']['n']} re-encoded test videos.\n\n{markdown(pd.DataFrame(axes))}\n\n"
        f"Video/item ROC-AUC of the undegraded test split per dataset and per manipulation method (a method's "
        f"fakes against the reals of the datasets it appears in).\n\n{markdown(groups)}\n"
    )


def benchmark_made_line(made: dict) -> str:
    """Who made a benchmark's benchmark.json, and on what: a benchmark's numbers mean little without the machine."""
    return (
        f"made by `{made['command']}`, {commit_text(made['git_commit'])}, on {made['cpu']} ({made['cores']} cores, "
        f"load average {made['load_average_before']} when it started)"
    )


def benchmark_block(source: str, root: Path) -> str:
    made = json.loads((root / source / "benchmark.json").read_text())
    rows = [{column: "-" if value is None else value for column, value in row.items()} for row in made["rows"]]
    return (
        f"From `{source}/benchmark.json`, {benchmark_made_line(made)}. {made['about']}\n\n"
        f"{markdown(pd.DataFrame(rows))}\n"
    )


def render(spec: str, root: Path, stated: str = "") -> str:
    """The body of a block; `stated` is its current body."""
    source, options = parse_spec(spec)
    if source == DEMO_METRICS:
        return demo_block(source, root, stated)
    if options.get("table") == "profile":
        return profile_block(source, root)
    if options.get("table") == "robustness":
        return robustness_block(source, root, stated)
    if options.get("table") == "benchmark":
        return benchmark_block(source, root)
    return ablation_block(source, options, root)


def rewrite(text: str, root: Path) -> tuple[str, list[str]]:
    """The page with every block rendered again, and the specs of the blocks that changed."""
    changed = []

    def fill(block: re.Match) -> str:
        body = render(block["spec"], root, block["body"])
        if body != block["body"]:
            changed.append(block["spec"])
        return block["open"] + body + block["close"]

    return BLOCK.sub(fill, text), changed


def check(root: Path = ROOT) -> list[str]:
    """A line per block that differs from its source: empty when every page is up to date."""
    return [
        f"{page.relative_to(root)}: the block of `{spec}` differs from its source"
        for page in pages(root)
        for spec in rewrite(page.read_text(), root)[1]
    ]


def write(root: Path = ROOT) -> list[str]:
    """Rewrites every block; the pages changed."""
    written = []
    for page in pages(root):
        text, changed = rewrite(page.read_text(), root)
        if changed:
            page.write_text(text)
            written.append(str(page.relative_to(root)))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report the blocks that differ; exit 1 if any")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project whose pages to write (default: this)")
    args = parser.parse_args()
    if args.check:
        stale = check(args.root)
        print("\n".join(stale) + ("\nrun: python scripts/write_results.py" if stale else "results pages up to date"))
        sys.exit(1 if stale else 0)
    print("\n".join(f"wrote {page}" for page in write(args.root)) or "results pages up to date")


if __name__ == "__main__":
    main()
