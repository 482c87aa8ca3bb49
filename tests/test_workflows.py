"""The GitHub workflows and the scripts they run.

Static: every workflow validates against the GitHub workflow schema (check-jsonschema's vendored copy, offline),
every action is pinned, every `run:` step is one call of a script in scripts/ or of make.

For real, on the tiny pipeline (one module-scoped run, then copies of it):
  - retrain: a fresh clone pulls from a local DVC remote, retrains with an override, pushes, commits on a branch;
    the PR step in dry-run;
  - the PR metrics report of that retrain against the first commit (copied to tests/artifacts/pr_report/);
  - reproducibility: forcing the training stages again from the same commit gives the same metrics;
  - the commands docs/workflows.md documents: dvc exp run -S, queue, exp show, promoting the best trial.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pipeline_helpers import GIT_ID, PROJECT_ROOT, commit, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPTS = PROJECT_ROOT / "scripts"
MARKER = "<!-- deepfake-metrics-report -->"
PLOTS_ROC = "artifacts/evaluate/plots/roc.png"
METRICS = ("artifacts/evaluate/metrics.json", "artifacts/train/metrics.json")


# ----------------------------------------------------------------------------- static checks


def steps(workflow: Path):
    doc = yaml.safe_load(workflow.read_text())
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def test_workflows_exist():
    assert {w.name for w in WORKFLOWS} >= {"ci.yml", "pr-report.yml", "retrain.yml", "release.yml"}


def test_workflows_match_the_github_schema():
    checker = Path(sys.executable).parent / "check-jsonschema"  # installed with the test extras
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned(workflow: Path):
    for step in steps(workflow):
        if "uses" not in step:
            continue
        name, _, ref = step["uses"].partition("@")
        assert ref, f"{workflow.name}: {name} is not pinned"
        assert ref not in ("main", "master", "latest"), f"{workflow.name}: {step['uses']} follows a branch"
        assert re.fullmatch(r"[0-9a-f]{40}|v\d+(\.\d+){0,2}", ref), f"{workflow.name}: {step['uses']}"
    text = workflow.read_text()  # a SHA pin keeps the version it stands for in a comment
    for sha in re.findall(r"uses: \S+@([0-9a-f]{40})", text):
        assert re.search(sha + r"\s+# v\d", text), f"{workflow.name}: SHA {sha} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_run_steps_call_a_script_or_make(workflow: Path):
    for step in steps(workflow):
        if "run" not in step:
            continue
        command = step["run"].strip()
        assert "\n" not in command, f"{workflow.name}: multi-line run step {command!r}; move it to scripts/"
        assert re.match(r"(make \w+|(python )?scripts/[\w.-]+)( |$)", command), f"{workflow.name}: {command!r}"
        for script in re.findall(r"scripts/[\w.-]+", command):
            path = PROJECT_ROOT / script
            assert path.is_file(), f"{workflow.name}: {script} missing"
            if path.suffix == ".sh" or not command.startswith("python "):
                assert path.stat().st_mode & 0o111, f"{script} is not executable"


def test_shell_scripts_parse():
    for script in SCRIPTS.glob("*.sh"):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_comment_step_dry_run(tmp_path: Path):
    body = tmp_path / "report.md"
    body.write_text("no marker here")
    assert run([str(SCRIPTS / "post_pr_comment.sh"), "--dry-run", str(body)], tmp_path, check=False).returncode != 0
    body.write_text(f"{MARKER}\nhello")
    result = run([str(SCRIPTS / "post_pr_comment.sh"), "--dry-run", str(body)], tmp_path)
    assert "PATCH" in result.stdout and "POST" in result.stdout


def test_publish_report_images_to_a_branch(tmp_path: Path):
    """The images go to an orphan branch of origin, one folder per PR and commit, older folders kept."""
    origin, work = tmp_path / "origin.git", tmp_path / "work"
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "init", "-q", str(work)], tmp_path)
    (work / "README").write_text("x")
    run(["git", "add", "README"], work)
    run(["git", "commit", "-q", "-m", "init"], work, env=GIT_ID)
    run(["git", "remote", "add", "origin", str(origin)], work)
    (work / "report/images").mkdir(parents=True)
    (work / "report/images/base_roc.png").write_bytes(b"png")
    for dest in ("pr-1/aaa", "pr-2/bbb"):
        run([str(SCRIPTS / "publish_report_images.sh"), "report", dest], work)
    files = run(["git", "ls-tree", "-r", "--name-only", "pr-report-assets"], origin).stdout.split()
    assert files == ["pr-1/aaa/base_roc.png", "pr-2/bbb/base_roc.png"]
    assert run(["git", "status", "--porcelain"], work).stdout.strip() == "?? report/"
    assert run(["git", "worktree", "list"], work).stdout.count("\n") == 1


# ----------------------------------------------------------------------------- the tiny pipeline


@pytest.fixture(scope="module")
def base_project(tiny_pipeline) -> tuple[Path, str]:
    """The tiny pipeline run once per session and committed (conftest.py)."""
    return tiny_pipeline


def copy_of(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def retrained(base_project, tmp_path_factory) -> dict:
    """scripts/retrain.sh in a fresh clone that only has git history and a DVC remote (as CI does)."""
    base, base_rev = base_project
    tmp = tmp_path_factory.mktemp("retrain")
    remote, origin = tmp / "dvc-remote", copy_of(base, tmp / "origin")
    run(["dvc", "remote", "add", "-d", "local", str(remote)], origin)
    base_rev = commit(origin, "use the local DVC remote")
    run(["dvc", "push", "-q"], origin)
    before = {p.relative_to(remote) for p in remote.rglob("*") if p.is_file()}
    clone = tmp / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp)
    assert not (clone / "artifacts/train/model").exists() and not (clone / "data/demo").exists()
    result = run(
        ["scripts/retrain.sh", "train.epochs=1"],
        clone,
        env={**GIT_ID, "RETRAIN_BRANCH": "retrain/test", "DVC_PUSH": "1"},
    )
    after = {p.relative_to(remote) for p in remote.rglob("*") if p.is_file()}
    return {"clone": clone, "base_rev": base_rev, "output": result.stdout, "new_in_remote": after - before, "tmp": tmp}


def test_retrain_pulls_reproduces_pushes_and_commits(retrained):
    clone, out = retrained["clone"], retrained["output"]
    assert "== dvc pull" in out and "== dvc push" in out
    # Pulled, not recomputed: only the stages the override touches ran (and `sources`, which always runs).
    ran = set(re.findall(r"Running stage '(\w+)'", out))
    assert ran and ran <= {"sources", "train", "evaluate", "package", "baselines", "robustness"}, ran
    assert retrained["new_in_remote"], "dvc push sent nothing to the remote"
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    model = next(o for o in lock["stages"]["train"]["outs"] if o["path"] == "artifacts/train/model")
    digest = model["md5"].removesuffix(".dir")
    assert Path("files/md5", digest[:2], digest[2:] + ".dir") in retrained["new_in_remote"]
    assert run(["git", "rev-parse", "--abbrev-ref", "HEAD"], clone).stdout.strip() == "retrain/test"
    changed = run(["git", "show", "--name-only", "--format=%s", "HEAD"], clone).stdout
    assert changed.startswith("Retrain: train.epochs=1")
    # The training metrics always change (epochs); the test metrics change only if the best weights did (with
    # one epoch fewer the best epoch can be the same). The clean status below proves nothing changed is left out.
    for path in ("dvc.lock", "params.yaml", "artifacts/train/metrics.json", "reports/retrain/report.md"):
        assert path in changed, f"{path} not in the retrain commit:\n{changed}"
    assert yaml.safe_load((clone / "params.yaml").read_text())["train"]["epochs"] == 1
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], clone).stdout.strip() == ""
    dry = run(["scripts/open_pr.sh", "--dry-run", "retrain/test"], clone)
    assert "gh pr create --base main --head retrain/test" in dry.stdout
    assert "Retrain: train.epochs=1" in dry.stdout


def test_metrics_report_against_the_first_commit(retrained):
    clone = retrained["clone"]
    run(["python", "scripts/metrics_report.py", "--base", retrained["base_rev"], "--out", "report"], clone)
    report_dir = clone / "report"
    report = (report_dir / "report.md").read_text()
    assert report.startswith(MARKER)
    params_table = report.split("### Parameters changed")[1].split("###")[0]
    assert re.search(r"\| params\.yaml\s+\| train\.epochs\s+\| 2\s+\| 1\s+\|", params_table), params_table
    metrics_table = report.split("### Metrics changed")[1]
    assert re.search(r"\| artifacts/evaluate/metrics\.json\s+\| (video|frame)\.", metrics_table), metrics_table
    assert "| video roc_auc |" in report
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert len(links) == 4 and all(not link.startswith(("http:", "https:", "/")) for link in links), links
    for link in links:
        assert (report_dir / link).is_file() and (report_dir / link).stat().st_size > 1000, link
    run(["git", "cat-file", "-e", f"{retrained['base_rev']}:artifacts/evaluate/plots/roc.png"], clone)
    base_roc = subprocess.run(
        ["git", "show", f"{retrained['base_rev']}:artifacts/evaluate/plots/roc.png"],
        cwd=clone,
        capture_output=True,
        check=True,
    ).stdout
    assert (report_dir / "images/base_roc.png").read_bytes() == base_roc
    assert (report_dir / "images/workspace_roc.png").read_bytes() == (clone / PLOTS_ROC).read_bytes()
    # The committed retrain report says the same (both compare the workspace with the first commit).
    assert "train.epochs" in (clone / "reports/retrain/report.md").read_text()
    keep = PROJECT_ROOT / "tests" / "artifacts" / "pr_report"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(report_dir, keep)


def test_metrics_report_absolute_image_links(retrained):
    clone = retrained["clone"]
    url = "https://raw.githubusercontent.com/o/r/pr-report-assets/pr-1/abc"
    run(
        ["python", "scripts/metrics_report.py", "--base", retrained["base_rev"], "--out", "report-url"],
        clone,
        env={"REPORT_IMAGE_BASE_URL": url},
    )
    report = (clone / "report-url/report.md").read_text()
    assert f"]({url}/workspace_roc.png)" in report and f"]({url}/base_pr.png)" in report


def test_training_is_reproducible(base_project, tmp_path):
    """Forcing validate, tune, train, evaluate and package again from the same commit gives bit-identical
    data docs, weights, metrics and Bento (the same dvc.lock).

    Needs albumentations seeded explicitly (train_transform(seed=...)): since 2.x its Compose ignores global
    seeds. model.json's provenance names the last commit that changed src/ or stages/, the same for both.
    """
    base, _ = base_project
    again = copy_of(base, tmp_path / "again")
    run(["dvc", "repro", "--force", "--single-item", "validate", "tune", "train", "evaluate", "package"], again)
    # every output hash in dvc.lock is the same: the data docs, the study's best trial, the model, the Bento
    assert run(["git", "diff", "--stat", "--", "dvc.lock"], again).stdout == "", run(
        ["git", "diff", "dvc.lock"], again
    ).stdout
    for path in METRICS:
        first, second = json.loads((base / path).read_text()), json.loads((again / path).read_text())
        assert first == second, f"{path} differs between two runs:\n{first}\n{second}"
    model = "artifacts/train/model"
    assert (base / model / "model.pt").read_bytes() == (again / model / "model.pt").read_bytes()
    specs = [json.loads((root / model / "model.json").read_text()) for root in (base, again)]
    assert specs[0] == specs[1]
    assert (base / "artifacts/tune/best_params.json").read_text() == (
        again / "artifacts/tune/best_params.json"
    ).read_text()


def test_documented_experiment_commands(base_project, tmp_path):
    """The experiment commands of docs/workflows.md, on a copy of the tiny project."""
    base, _ = base_project
    project = copy_of(base, tmp_path / "exp")
    dry = run(["python", "scripts/promote_best_trial.py", "--dry-run", "--name", "best-trial"], project)
    command = dry.stdout.strip().splitlines()[-1]
    assert command.startswith("dvc exp run --name best-trial -S ") and "-S train.use_tuned=false" in command
    best = json.loads((project / "artifacts/tune/best_params.json").read_text())["params"]
    assert "-S train.lr=" in command and f"-S train.backbone={best['backbone']}" in command
    queued = run(["python", "scripts/promote_best_trial.py", "--queue", "--name", "best-trial"], project)
    assert "Queued experiment" in queued.stdout + queued.stderr
    run(["dvc", "exp", "run", "--queue", "-S", "evaluate.batch_size=16", "--name", "bs16"], project)
    shown = run(["dvc", "queue", "status"], project).stdout
    assert "best-trial" in shown and "bs16" in shown
    run(["dvc", "queue", "remove", "--all"], project)
    # Runs in the workspace; only evaluate depends on evaluate.batch_size, so this one is quick.
    run(["dvc", "exp", "run", "-S", "evaluate.batch_size=16", "--name", "eval-bs16"], project, env=GIT_ID)
    table = run(["dvc", "exp", "show", "--json"], project).stdout
    assert "eval-bs16" in table
    md = run(["dvc", "exp", "show", "--md", "--no-pager"], project).stdout
    assert "eval-bs16" in md


def test_a_profile_overlay_runs_as_an_experiment_and_switches_back(base_project, tmp_path):
    """scripts/use_profile.sh merges profiles/<name>.yaml over params.yaml; DVC sees the changed keys
    (`dvc params diff`), runs them as an experiment (`dvc exp run`, listed by `dvc exp show`), and
    `scripts/use_profile.sh --reset` returns to the committed state."""
    base, _ = base_project
    project = copy_of(base, tmp_path / "profile")
    (project / "profiles/quick_eval.yaml").write_text("evaluate: {batch_size: 16}\n")  # only evaluate re-runs
    run(["scripts/use_profile.sh", "quick_eval"], project)
    diff = json.loads(run(["dvc", "params", "diff", "--json"], project).stdout)
    assert diff == {"params.yaml": {"evaluate.batch_size": {"old": 64, "new": 16, "diff": -48}}}
    run(["dvc", "exp", "run", "-n", "quick-eval"], project, env=GIT_ID)
    assert "quick-eval" in run(["dvc", "exp", "show", "--json"], project).stdout
    run(["scripts/use_profile.sh", "--reset"], project)
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], project).stdout == ""
    assert json.loads(run(["dvc", "params", "diff", "--json"], project).stdout) == {}
    status = run(["dvc", "status"], project).stdout
    assert [line.strip() for line in status.splitlines() if line.strip()] == ["sources:", "always changed"]


def test_reset_keeps_hand_edits_of_params_unless_forced(base_project, tmp_path):
    """`--reset` restores a profile's params.yaml, but one the user edited by hand it refuses to discard,
    saying how to keep or drop the edits; `--reset --force` drops them and lists what it discarded."""
    base, _ = base_project
    project = copy_of(base, tmp_path / "reset")
    params = project / "params.yaml"
    committed = params.read_text()
    params.write_text(committed + "# a note of my own\n")
    refused = run(["scripts/use_profile.sh", "--reset"], project, check=False)
    assert refused.returncode == 1 and "edits of your own" in refused.stderr and "--force" in refused.stderr
    assert params.read_text().endswith("# a note of my own\n")  # kept
    forced = run(["scripts/use_profile.sh", "--reset", "--force"], project)
    assert "discarding local changes to:\n M params.yaml" in forced.stdout
    assert params.read_text() == committed


def test_ablation_script_trains_each_variant_and_writes_the_table(base_project, tmp_path):
    """scripts/ablation.py on the tiny project. A variant made of the meso4 baseline's overrides (and no base)
    trains what the baselines stage trained, itself identical to the current model: the same validation
    metrics, and the test AUCs the evaluate stage measured. The frequency branch on top trains another model."""
    base, _ = base_project
    project = copy_of(base, tmp_path / "ablation")
    params = yaml.safe_load((project / "params.yaml").read_text())
    baseline = params["baselines"]["meso4"]
    variants = {
        "base": {},
        "variants": {
            "meso4": {"train": baseline},
            "frequency": {"train": {**baseline, "frequency_branch": True}},
            "quick": {"train": {**baseline, "epochs": 1}},
        },
    }
    (project / "variants.yaml").write_text(yaml.safe_dump(variants))
    # the stages' torch threads (compute.threads; ablation.py leaves torch's default): the same float sums
    threads = {"OMP_NUM_THREADS": str(params["compute"]["threads"])}
    run(
        [
            "python",
            "scripts/ablation.py",
            "--variants-file",
            "variants.yaml",
            "--out",
            "out",
            "--only",
            "meso4,frequency",
        ],
        project,
        env=threads,
    )
    results = json.loads((project / "out/results.json").read_text())
    assert set(results) == {"meso4", "frequency"}
    [meso4], [frequency] = results["meso4"], results["frequency"]
    trained = json.loads((project / "artifacts/baselines/meso4/metrics.json").read_text())
    evaluated = json.loads((project / "artifacts/evaluate/metrics.json").read_text())
    assert meso4["seed"] == 42
    for key in ("val_ece", "val_ece_cross_fitted", "val_frame_auc"):
        assert meso4[key] == trained[key], key
    assert len(meso4["curve"]) == trained["epochs"]  # one point per epoch, the best one kept
    assert max(auc for _, auc in meso4["curve"]) == round(trained["best_val_auc"], 4)
    assert meso4["in_domain_frame_auc"] == pytest.approx(evaluated["frame"]["roc_auc"], abs=1e-12)
    assert meso4["in_domain_item_auc"] == pytest.approx(evaluated["video"]["roc_auc"], abs=1e-12)
    assert frequency["val_ece"] != meso4["val_ece"]  # the switch reached training
    table = (project / "out/table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| frequency "))
    assert re.search(rf"\|\s+{frequency['in_domain_frame_auc']:.3f}\s+\|", row), row
    assert (project / "out/auc_vs_time.png").stat().st_size > 0

    run(
        [
            "python",
            "scripts/ablation.py",
            "--variants-file",
            "variants.yaml",
            "--out",
            "lomo",
            "--only",
            "quick",
            "--leave-one-method-out",
        ],
        project,
    )
    manifest = pd.read_csv(project / "artifacts/manifest.csv")
    methods = sorted(manifest.loc[(manifest["label"] == 1) & (manifest["split"] != "test"), "method"].unique())
    assert len(methods) >= 2
    lomo = json.loads((project / "lomo/results.json").read_text())
    assert set(lomo) == {f"quick -{method}" for method in methods}  # one model per held-out method
    for runs in lomo.values():
        assert runs[0]["heldout_item_auc"] is not None  # the held-out fakes and their reals are both in test


def test_ci_reproduces_the_committed_results_from_a_full_clone():
    jobs = yaml.safe_load((PROJECT_ROOT / ".github/workflows/ci.yml").read_text())["jobs"]
    runs = [step.get("run", "") for step in jobs["reproduce"]["steps"]]
    assert runs.index("make demo") < runs.index("scripts/check_reproduced.sh")
    checkout = jobs["reproduce"]["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0


def test_check_reproduced_fails_on_a_changed_committed_file(tmp_path):
    script = str(SCRIPTS / "check_reproduced.sh")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.lock").write_text("md5: a\n")
    subprocess.run(["git", "add", "dvc.lock"], cwd=tmp_path, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lock"], cwd=tmp_path, check=True
    )
    (tmp_path / "scratch.txt").write_text("untracked files do not count\n")
    clean = subprocess.run([script], cwd=tmp_path, capture_output=True, text=True)
    assert clean.returncode == 0 and "reproduced" in clean.stdout
    (tmp_path / "dvc.lock").write_text("md5: b\n")
    dirty = subprocess.run([script], cwd=tmp_path, capture_output=True, text=True)
    assert dirty.returncode == 1 and "NOT reproduced" in dirty.stderr and "dvc.lock" in dirty.stderr
    assert "-md5: a" in dirty.stderr and "+md5: b" in dirty.stderr


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        ("cpu", ["sha-0123456789ab", "v1.2.0", "latest"]),
        ("gpu", ["sha-0123456789ab-gpu", "v1.2.0-gpu", "latest-gpu"]),
    ],
)
def test_release_image_tags_per_flavour(flavour, expected):
    """The release job's two flavours never overwrite each other's tags; a GTO tag counts as its version."""
    env = {
        **os.environ,
        "GITHUB_SHA": "0123456789abcdef",
        "GITHUB_REF_NAME": "deepfake-detector@v1.2.0",
        "GITHUB_REF_TYPE": "tag",
        "FLAVOUR": flavour,
    }
    done = subprocess.run(
        ["scripts/release_image.sh", "tags", "ghcr.io/Owner/Repo"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.split() == expected
