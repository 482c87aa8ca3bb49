"""scripts/write_results.py: the committed pages match their sources (the CI check), a block renders the exact
table of a small results.json and who made it (provenance.json for runs that do not record it), and a stale
block is named by --check."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = PROJECT_ROOT / "scripts" / "write_results.py"
sys.path.insert(0, str(SCRIPT.parent))

import write_results  # noqa: E402

COMMAND = "python scripts/ablation.py --out reports/x --seeds 42,1"


def _run(seed: int, val_auc: float, unseen_auc: float, seconds: int, **extra) -> dict:
    return {
        "seed": seed,
        "val_frame_auc": val_auc,
        "unseen_x_item_auc": unseen_auc,
        "unseen_x_n": 20,
        "train_seconds": seconds,
        "curve": [[1.0, val_auc]],
        **extra,
    }


def _project(tmp_path: Path) -> Path:
    """A project with one results folder (variant a: two seeds, recorded; b: one old run) and a page."""
    made_by = {"command": COMMAND, "git_commit": "0123456789abcdef0123456789abcdef01234567"}
    results = {
        "a": [_run(42, 0.7, 0.6, 100, **made_by), _run(1, 0.8, 0.7, 120, **made_by)],
        "b": [_run(42, 0.9, 0.55, 50, unseen_x_ci_low=0.4, unseen_x_ci_high=0.7)],
    }
    (tmp_path / "reports" / "x").mkdir(parents=True)
    (tmp_path / "reports" / "x" / "results.json").write_text(json.dumps(results))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("Before.\n\n<!-- results: reports/x -->\n<!-- /results -->\n\nAfter.\n")
    (tmp_path / "README.md").write_text("# No blocks here\n")
    return tmp_path


def _script(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_committed_pages_match_their_sources() -> None:
    assert write_results.check(PROJECT_ROOT) == []


def test_block_shows_mean_and_spread_over_seeds_with_the_command_and_commit(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert write_results.write(root) == ["docs/page.md"]
    assert (
        (root / "docs" / "page.md").read_text()
        == f"""Before.

<!-- results: reports/x -->
From `reports/x/results.json`. Mean ± standard deviation over the seeds; a single run's AUC with its 95% \
bootstrap interval in brackets. Made by:

- `{COMMAND}`, commit `0123456`: a
- command and commit not recorded (made before scripts/ablation.py recorded them): b

| variant   | seeds   | n seeds   | val AUC       | unseen x (20) AUC   | train s   |
|:----------|:--------|:----------|:--------------|:--------------------|:----------|
| a         | 42, 1   | 2         | 0.750 ± 0.071 | 0.650 ± 0.071       | 110 ± 14  |
| b         | 42      | 1         | 0.900         | 0.550 [0.40, 0.70]  | 50        |
<!-- /results -->

After.
"""
    )
    assert write_results.write(root) == []  # written once, up to date


def test_runs_without_a_record_take_the_command_and_committing_commit_from_provenance_json(tmp_path: Path) -> None:
    """b's run records nothing; provenance.json beside results.json names its command and the commit that
    committed it, and the block says so; a's recorded runs keep their own command and commit."""
    root = _project(tmp_path)
    old_command = "python scripts/ablation.py --out reports/x --only b"
    entry = {
        "variants": ["b"],
        "command": old_command,
        "committed_in": "89abcdef0123456789abcdef0123456789abcdef",
        "evidence": "docs/x.md of 89abcde gives the command",
    }
    (root / "reports" / "x" / "provenance.json").write_text(json.dumps({"runs": [entry]}))
    write_results.write(root)
    made = [line for line in (root / "docs" / "page.md").read_text().splitlines() if line.startswith("- ")]
    assert made == [
        f"- `{COMMAND}`, commit `0123456`: a",
        f"- `{old_command}`, results committed in `89abcde` (the run did not record its code commit): b",
    ]


def test_every_unrecorded_committed_run_is_in_its_folders_provenance_json() -> None:
    """Each committed results.json of scripts/ablation.py: a variant whose runs lack a command and commit is named
    by exactly one entry of the provenance.json beside it, with a full commit, and every entry names its variants."""
    for results_path in sorted((PROJECT_ROOT / "reports").glob("*/*/results.json")):
        results = json.loads(results_path.read_text())
        provenance = results_path.parent / "provenance.json"
        entries = json.loads(provenance.read_text())["runs"] if provenance.exists() else []
        named = [variant for entry in entries for variant in entry["variants"]]
        unrecorded = [
            v for v, runs in results.items() if not all(r.get("command") and r.get("git_commit") for r in runs)
        ]
        assert sorted(unrecorded) == sorted(named), results_path
        assert all(re.fullmatch(r"[0-9a-f]{40}", entry["committed_in"]) for entry in entries), provenance


def test_check_names_the_stale_block_and_fails(tmp_path: Path) -> None:
    root = _project(tmp_path)
    write_results.write(root)
    page = root / "docs" / "page.md"
    page.write_text(page.read_text().replace("0.750 ± 0.071", "0.760 ± 0.071"))  # hand-edited, or a new run
    result = _script(root, "--check")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == "docs/page.md: the block of `reports/x` differs from its source"
    assert _script(root).returncode == 0 and _script(root, "--check").returncode == 0  # rewritten: up to date


def test_lodo_block_is_the_leave_one_dataset_out_table(tmp_path: Path) -> None:
    def run(trained_on: list[str], **aucs: float) -> list[dict]:
        name = f"m on {'+'.join(trained_on)}"
        unseen = {f"unseen_{dataset}_item_auc": auc for dataset, auc in aucs.items()}
        return [{"variant": name, "seed": 42, "recipe": "m", "trained_on": trained_on, **unseen}]

    results = {"m on a+b": run(["a", "b"], u=0.5), "m on b": run(["b"], a=0.8), "m on a": run(["a"], b=0.6)}
    (tmp_path / "lodo").mkdir()
    (tmp_path / "lodo" / "results.json").write_text(json.dumps(results))
    (tmp_path / "README.md").write_text("<!-- results: lodo table=lodo -->\n<!-- /results -->\n")
    write_results.write(tmp_path)
    lines = (tmp_path / "README.md").read_text().splitlines()
    assert lines[1] == (
        "From `lodo/results.json`. AUCs are means over the seeds, with the first seed's 95% interval. Made by:"
    )
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("| m ")]
    assert rows == [["m", "a", "b", "0.800", "b 0.800", "-"], ["m", "b", "a", "0.600", "a 0.600", "-"]]


def test_demo_block_names_the_model_commit_and_keeps_it_without_the_model(tmp_path: Path) -> None:
    level = {
        "n": 4,
        "n_real": 2,
        "n_fake": 2,
        "roc_auc": 0.75,
        "average_precision": 0.8,
        "eer": 0.25,
        "accuracy": 0.5,
        "precision": 1.0,
        "recall": 0.5,
        "f1": 2 / 3,
    }
    (tmp_path / "artifacts" / "evaluate").mkdir(parents=True)
    (tmp_path / "artifacts" / "evaluate" / "metrics.json").write_text(json.dumps({"frame": level, "video": level}))
    model_json = tmp_path / "artifacts" / "train" / "model" / "model.json"
    model_json.parent.mkdir(parents=True)
    model_json.write_text(json.dumps({"provenance": {"git_commit": "abcdef0123456789abcdef0123456789abcdef01"}}))
    (tmp_path / "README.md").write_text("<!-- results: artifacts/evaluate/metrics.json -->\n<!-- /results -->\n")
    write_results.write(tmp_path)
    page = (tmp_path / "README.md").read_text()
    assert page.splitlines()[1] == (
        "From `artifacts/evaluate/metrics.json` (the evaluate stage on the test split), made by `make demo`, "
        "commit `abcdef0` (from the evaluated model's `model.json`, a DVC output)."
    )
    assert (
        "| frame (test faces)      | 4       | 2      | 2      | 0.750     | 0.800 | 0.250 | 0.500      | 1.000 "
        in page
    )
    model_json.unlink()  # a clone before `make demo`: the page's commit stands
    assert write_results.check(tmp_path) == []


def _metrics(n_real: int, n_fake: int, auc: float) -> dict:
    return {
        "n_real": n_real,
        "n_fake": n_fake,
        "roc_auc": auc,
        "average_precision": auc + 0.01,
        "eer": 1 - auc,
        "recall": 0.5,
        "f1": 0.6,
    }


def test_a_profile_block_is_each_datasets_test_items_from_the_runs_files(tmp_path: Path) -> None:
    """reports/profiles/<name> as scripts/keep_profile_run.py writes it -> a row per dataset, its role from the
    run's params.yaml, then all test items; the command and commit from made.json."""
    folder = tmp_path / "reports" / "profiles" / "p"
    folder.mkdir(parents=True)
    (folder / "made.json").write_text(
        json.dumps(
            {
                "command": "scripts/use_profile.sh p && dvc exp run -n p-data",
                "git_commit": "fedcba9876543210fedcba9876543210fedcba98",
            }
        )
    )
    (folder / "params.yaml").write_text("data:\n  datasets:\n    - {name: a}\n    - {name: b, role: unseen}\n")
    (folder / "train.json").write_text(json.dumps({"best_val_auc": 0.8123}))
    (folder / "evaluate.json").write_text(
        json.dumps(
            {
                "video_by_dataset": {"a": _metrics(10, 12, 0.9), "b": _metrics(3, 4, 0.25)},
                "video": _metrics(13, 16, 0.7),
                "video_aggregation": "mean",
                "threshold": 0.4567,
            }
        )
    )
    body = write_results.render("reports/profiles/p table=profile", tmp_path)
    assert "made by `scripts/use_profile.sh p && dvc exp run -n p-data`, commit `fedcba9`" in body
    assert "validation frame AUC 0.812, threshold 0.457" in body
    rows = [line for line in body.splitlines() if line.startswith("| ")][1:]
    assert [[cell.strip() for cell in row.split("|")[1:7]] for row in rows] == [
        ["a", "trained on", "10 / 12", "0.900", "0.910", "0.100"],
        ["b", "unseen", "3 / 4", "0.250", "0.260", "0.750"],
        ["all test items", "", "13 / 16", "0.700", "0.710", "0.300"],
    ]
    made = json.loads((folder / "made.json").read_text())
    (folder / "made.json").write_text(json.dumps(made | {"stages_not_run": ["robustness", "package"]}))
    body = write_results.render("reports/profiles/p table=profile", tmp_path)
    assert "(the trained model's code); the run was stopped before robustness, package." in body


def _groups(auc: float | None) -> dict:
    video = {"n_real": 2, "n_fake": 3, "roc_auc": auc}
    return {"by_dataset": {"d": {"frame": {"n": 7}, "video": video}}, "by_method": {"swap": {"video": video}}}


def _robustness_model(scale: float, small_faces_auc: float | None) -> dict:
    return {
        "resolution": {"128": 0.8 * scale, "32": 0.5 * scale},
        "face_px": {">=112": {"n": 4, "roc_auc": 0.7 * scale}, "<96": {"n": 3, "roc_auc": small_faces_auc}},
        "jpeg_quality": {"90": 0.79 * scale, "10": 0.6 * scale},
        "blur_sigma": {"0": 0.8 * scale, "4": 0.49 * scale},
        "noise_std": {"0": 0.8 * scale, "20": 0.7 * scale},
        "crf": {"23": 0.76 * scale, "43": 0.56 * scale},
        **_groups(0.88 * scale),
    }


def test_robustness_block_is_each_axis_per_model_then_each_dataset_and_method(tmp_path: Path) -> None:
    """artifacts/robustness/metrics.json -> a row per axis, levels in order (face sizes by their edges, CRFs
    with the videos' mean size), an AUC per model and level (none: "-"); then the undegraded video AUCs."""
    folder = tmp_path / "artifacts" / "robustness"
    folder.mkdir(parents=True)
    crf_videos = {"n": 5, "23": {"mean_kb": 15.9, "no_verdict": {}}, "43": {"mean_kb": 3.4, "no_verdict": {}}}
    metrics = {"crf_videos": crf_videos, "current": _robustness_model(1.0, None), "meso4": _robustness_model(0.9, 0.9)}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    body = write_results.render("artifacts/robustness/metrics.json table=robustness", tmp_path, "commit `abcdef0`")
    assert "made by `make demo`, commit `abcdef0` (from the evaluated model's `model.json`" in body
    assert "frame level on the 7 test faces, except H.264 CRF: video level on 5 re-encoded test videos" in body
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in body.splitlines() if line.startswith("| ")]
    assert rows == [
        ["axis", "levels", "current", "meso4"],
        ["resolution (px)", "32 / 128", "0.50 / 0.80", "0.45 / 0.72"],
        ["detected face size (px), faces", "<96 (3) / >=112 (4)", "- / 0.70", "0.90 / 0.63"],
        ["JPEG quality", "10 / 90", "0.60 / 0.79", "0.54 / 0.71"],
        ["blur sigma", "0 / 4", "0.80 / 0.49", "0.72 / 0.44"],
        ["noise std", "0 / 20", "0.80 / 0.70", "0.72 / 0.63"],
        ["H.264 CRF, mean kB (video AUC)", "23 (16) / 43 (3)", "0.76 / 0.56", "0.68 / 0.50"],
        ["test items of", "test real / fake", "current", "meso4"],
        ["dataset d", "2 / 3", "0.880", "0.792"],
        ["method swap", "2 / 3", "0.880", "0.792"],
    ]


def test_a_profile_runs_robustness_block_names_the_run_that_made_it(tmp_path: Path) -> None:
    """reports/profiles/<name>/robustness.json: the command and commit from made.json beside it."""
    folder = tmp_path / "reports" / "profiles" / "p"
    folder.mkdir(parents=True)
    crf_videos = {"n": 2, "23": {"mean_kb": 900.0, "no_verdict": {}}, "43": {"mean_kb": 90.0, "no_verdict": {}}}
    (folder / "robustness.json").write_text(
        json.dumps({"crf_videos": crf_videos, "current": _robustness_model(1.0, 0.5)})
    )
    (folder / "made.json").write_text(
        json.dumps({"command": "dvc exp run -n p-data", "git_commit": "fedcba9876543210fedcba9876543210fedcba98"})
    )
    body = write_results.render("reports/profiles/p/robustness.json table=robustness", tmp_path)
    assert "made by `dvc exp run -n p-data`, commit `fedcba9` (the trained model's code)." in body
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in body.splitlines() if line.startswith("| H")]
    assert rows == [["H.264 CRF, mean kB (video AUC)", "23 (900) / 43 (90)", "0.76 / 0.56"]]


def test_a_benchmark_block_is_its_rows_with_who_made_them_on_what(tmp_path: Path) -> None:
    """A benchmark's --out DIR (scripts/run_record.write_benchmark) -> its rows, a cell that does not apply as
    "-", and the command, commit and machine before them."""
    sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
    from run_record import write_benchmark

    made_by = {
        "command": "python benchmarks/serve_benchmark.py --latency-only --out reports/benchmarks/serve",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "cpu": "AMD EPYC",
        "cores": 2,
        "load_average_before": 0.3,
    }
    rows = [
        {"media": "portrait", "frames": 1, "p50 over HTTP": 90.2, "target": 150, "evidence": None},
        {"media": "video", "frames": 16, "p50 over HTTP": 1200.0, "target": 1000, "evidence": 3.0},
    ]
    write_benchmark(tmp_path / "reports/benchmarks/serve", made_by, "Medians in ms.", rows)
    body = write_results.render("reports/benchmarks/serve table=benchmark", tmp_path)
    assert body.startswith(
        "From `reports/benchmarks/serve/benchmark.json`, made by `python benchmarks/serve_benchmark.py "
        "--latency-only --out reports/benchmarks/serve`, commit `0123456`, on AMD EPYC (2 cores, load average 0.3 "
        "when it started). Medians in ms.\n"
    )
    table = [[cell.strip() for cell in line.split("|")[1:-1]] for line in body.splitlines() if line.startswith("| ")]
    assert table == [
        ["media", "frames", "p50 over HTTP", "target", "evidence"],
        ["portrait", "1", "90.2", "150", "-"],
        ["video", "16", "1200.0", "1000", "3.0"],
    ]
