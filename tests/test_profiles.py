"""One override mechanism: params profiles (profiles/) and ablation variants (ablations/) are both overlays of
params.yaml, merged by one function and validated by the strict config with the same messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deepfake_detector.config import ConfigError
from deepfake_detector.profiles import ABLATIONS_DIR, PROFILES_DIR, profile_params, read_ablation

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def params_yaml() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / ABLATIONS_DIR).glob("*.yaml")), ids=lambda p: p.name)
def test_every_committed_variant_is_valid_on_the_profiles_it_runs_on(path: Path) -> None:
    """Each variant file's variants validate on params.yaml and on every profile (the pretrained variants run
    leave-one-dataset-out on the all profile, whose `plain` baseline must then say its own fine-tuning mode)."""
    ablation = read_ablation(path)
    assert ablation.variants
    bases = [params_yaml(), *(profile_params(p, root=PROJECT_ROOT) for p in ("real", "ffpp", "all"))]
    for name in ablation.variants:
        for base in bases:
            ablation.params(name, base)


def test_a_variant_is_params_yaml_then_base_then_its_own_keys_then_the_run() -> None:
    ablation = read_ablation(PROJECT_ROOT / ABLATIONS_DIR / "techniques.yaml")
    raw = params_yaml()
    frequency = ablation.params("frequency", raw, {"seed": 7, "data": {"holdout_methods": ["faceswap"]}})
    assert frequency.train.frequency_branch is True  # the variant's own key
    assert frequency.train.backbone == "meso4" and frequency.train.multiscale.enabled is False  # base's
    assert frequency.train.threshold_metric == raw["train"]["threshold_metric"]  # params.yaml's
    assert (frequency.seed, frequency.data.holdout_methods) == (7, ["faceswap"])  # the run's
    assert frequency.data.datasets[0].name == raw["data"]["datasets"][0]["name"]  # a sibling of a run key stays
    everything = ablation.params("all", raw)
    assert (everything.train.self_blend_rate, everything.train.multiscale.enabled) == (0.3, True)
    assert everything.train.multiscale.min_size == raw["train"]["multiscale"]["min_size"]  # merged key by key


def write(tmp_path: Path, name: str, overlay: dict) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(overlay))
    return path


def test_a_typo_in_a_variant_or_a_profile_is_one_error_naming_the_file_and_the_key(tmp_path: Path) -> None:
    typo = {"train": {"frequency_brnch": True}}
    ablation = read_ablation(write(tmp_path, "typo.yaml", {"base": {}, "variants": {"freq": typo}}))
    with pytest.raises(ConfigError) as variant:
        ablation.params("freq", params_yaml())
    (tmp_path / PROFILES_DIR).mkdir()
    write(tmp_path / PROFILES_DIR, "typo.yaml", typo)
    (tmp_path / "params.yaml").write_text((PROJECT_ROOT / "params.yaml").read_text())
    with pytest.raises(ConfigError) as profile:
        profile_params("typo", root=tmp_path)
    assert str(variant.value).startswith(f"{tmp_path / 'typo.yaml'} variant freq on params.yaml: invalid params:\n")
    assert str(profile.value).startswith(f"{tmp_path / 'profiles/typo.yaml'} on params.yaml: invalid params:\n")
    for err in (variant, profile):
        assert "train.frequency_brnch\n  Extra inputs are not permitted" in str(err.value)
    renamed = read_ablation(write(tmp_path, "old.yaml", {"variants": {"v": {"train": {"balance_classes": True}}}}))
    with pytest.raises(
        ConfigError,
        match=r"old.yaml variant v on params.yaml: renamed keys, rename them: "
        r"train.balance_classes is now train.balance",
    ):
        renamed.params("v", params_yaml())


def test_a_variant_file_in_the_old_train_only_schema_says_how_to_move_its_keys(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml", {"base": {"backbone": "meso4"}, "variants": {"plain": {}}})
    with pytest.raises(
        ConfigError,
        match=r"old.yaml: base must be an overlay of params.yaml, its train keys under "
        r"`train:` \(e.g. base: \{train: \{epochs: 4\}\}\); found \{'backbone'",
    ):
        read_ablation(old)
    with pytest.raises(ConfigError, match=r"holds `base` .* and `variants` .*; found \['plain'\]"):
        read_ablation(write(tmp_path, "flat.yaml", {"plain": {"train": {}}}))


def test_ablation_script_refuses_an_unknown_variant_before_reading_any_data(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "scripts/ablation.py", "--out", str(tmp_path), "--only", "frequency,freq"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    message = " ".join(done.stderr.split())  # the log handler wraps long lines
    assert done.returncode == 1 and "Traceback" not in message
    assert (
        "ablations/techniques.yaml: no variant ['freq']; variants: meso4, plain, self_blend, self_blend_only, "
        "multiscale, frequency, temporal, all"
    ) in message
    assert not (tmp_path / "results.json").exists()
