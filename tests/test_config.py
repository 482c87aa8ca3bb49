"""params.yaml -> Params: the repo's file loads, typos and unsafe sources are rejected with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from deepfake_detector.config import ConfigError, Params, SourceConfig, TrainConfig, load_params
from deepfake_detector.profiles import profile_params

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# what params.yaml must name itself: the data, and which models to train and stress (no code default for these)
MINIMAL = {
    "data": {"datasets": [{"name": "demo", "adapter": "demo", "source": {"kind": "local", "path": "d"}}]},
    "baselines": {},
    "robustness": {"models": ["current"]},
}


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_repo_params_load() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml")
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert isinstance(params, Params)
    assert params.seed == raw["seed"]
    assert [d.name for d in params.data.datasets] == [d["name"] for d in raw["data"]["datasets"]]
    assert params.data.split.val == raw["data"]["split"]["val"]
    assert params.faces.crop_size == raw["faces"]["crop_size"]
    assert params.train.backbone == raw["train"]["backbone"]
    # `validate` is a pydantic method name, so the section lives under an alias
    assert params.validate_.max_class_ratio == raw["validate"]["max_class_ratio"]
    assert params.serve.max_image_pixels == raw["serve"]["max_image_pixels"]


def _defaults_that_differ(model_cls: type[BaseModel], raw: dict, prefix: str = "") -> list[str]:
    """Keys of `raw` (a params.yaml tree) whose value is not the schema's code default, walking sub-sections."""
    differ = []
    for name, field in model_cls.model_fields.items():
        key = field.alias or name
        if key not in raw:
            continue
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            differ += _defaults_that_differ(field.annotation, raw[key], f"{prefix}{key}.")
        elif not field.is_required():
            default = field.get_default(call_default_factory=True)
            if (list(default) if isinstance(default, tuple) else default) != raw[key]:
                differ.append(f"{prefix}{key}: code {default!r}, params.yaml {raw[key]!r}")
    return differ


def test_code_defaults_are_the_values_of_params_yaml() -> None:
    """One source of truth: a setting params.yaml names has the same value as the code's default, so a
    model.json, a test or a script that builds a config section without params.yaml gets the pipeline's."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    assert _defaults_that_differ(Params, raw) == []


def test_minimal_params_get_defaults(tmp_path: Path) -> None:
    params = load_params(_write(tmp_path, MINIMAL))
    assert params.seed == 42
    assert params.data.datasets[0].role == "train"
    assert params.data.datasets[0].source.cache_dir == ".cache/datasets"
    assert params.faces.already_cropped == "pad"


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"train": {"epoch": 3}}, "epoch"),  # typo of `epochs`
        ({"trian": {"epochs": 3}}, "trian"),
        ({"faces": {"crop_size": 128, "marginn": 1.2}}, "marginn"),
    ],
)
def test_unknown_key_names_the_key(tmp_path: Path, patch: dict, key: str) -> None:
    path = _write(tmp_path, {**MINIMAL, **patch})
    with pytest.raises(ConfigError) as info:
        load_params(path)
    message = str(info.value)
    assert key in message
    assert str(path) in message
    assert "Traceback" not in message


def test_a_renamed_key_names_its_new_name(tmp_path: Path) -> None:
    """An older params.yaml gets the new names, not pydantic's bare "extra inputs are not permitted"."""
    path = _write(tmp_path, {**MINIMAL, "judge": {"min_face_px": 40}, "train": {"balance_classes": False}})
    with pytest.raises(ConfigError) as info:
        load_params(path)
    message = str(info.value)
    assert str(path) in message
    assert "judge.min_face_px is now judge.min_face_long_side_px" in message
    assert "train.balance_classes is now train.balance (none | label | dataset_label)" in message


def test_out_of_range_value_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jpeg_quality"):
        load_params(_write(tmp_path, {**MINIMAL, "frames": {"jpeg_quality": 10}}))


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "params.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_params(missing)
    assert str(missing) in str(info.value)


def test_empty_file_says_data_is_required(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    with pytest.raises(ConfigError, match="data"):
        load_params(path)


def test_http_source_needs_sha256(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sha256"):
        SourceConfig(kind="http", url="https://example.org/data.zip")
    ok = SourceConfig(kind="http", url="https://example.org/data.zip", sha256="ab" * 32)
    assert ok.sha256 == "ab" * 32

    raw = {
        "data": {
            "datasets": [
                {"name": "x", "adapter": "folder", "source": {"kind": "http", "url": "https://example.org/x.zip"}}
            ]
        }
    }
    with pytest.raises(ConfigError, match="sha256"):
        load_params(_write(tmp_path, raw))


@pytest.mark.parametrize(
    ("kind", "key"), [("local", "path"), ("kaggle", "kaggle"), ("huggingface", "repo_id"), ("fsspec", "url")]
)
def test_source_kind_names_its_required_key(kind: str, key: str) -> None:
    with pytest.raises(ValidationError, match=f"'{kind}' needs '{key}'"):
        SourceConfig(kind=kind)


def test_section_hash_is_stable_and_tracks_its_section(tmp_path: Path) -> None:
    base = load_params(PROJECT_ROOT / "params.yaml")
    again = load_params(PROJECT_ROOT / "params.yaml")
    assert base.section_hash("tune") == again.section_hash("tune")
    assert len(base.section_hash("tune")) == 12
    assert base.section_hash("tune", "data") == base.section_hash("data", "tune")  # order-free

    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    raw["train"]["epochs"] += 1
    changed = load_params(_write(tmp_path, raw))
    assert changed.section_hash("train") != base.section_hash("train")
    assert changed.section_hash("tune") == base.section_hash("tune")  # other sections are unaffected
    assert changed.section_hash("tune", "train") != base.section_hash("tune", "train")
    # the aliased section hashes too
    assert base.section_hash("validate") == again.section_hash("validate")


def test_params_are_frozen() -> None:
    params = load_params(PROJECT_ROOT / "params.yaml")
    with pytest.raises(ValidationError):
        params.seed = 1  # type: ignore[misc]


def test_baseline_overrides_merge_into_train(tmp_path: Path) -> None:
    raw = {
        **MINIMAL,
        "train": {"backbone": "resnet18", "epochs": 5, "augment": {"strength": 0.4}},
        "baselines": {"meso": {"backbone": "meso4", "augment": {"strength": 0.0}}},
        "robustness": {"models": ["current", "meso"]},
    }
    params = load_params(_write(tmp_path, raw))
    meso = params.baseline("meso")
    assert meso.train.backbone == "meso4" and meso.train.augment.strength == 0.0 and meso.train.epochs == 5
    assert params.train.backbone == "resnet18" and meso.faces == params.faces  # only train changes


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"baselines": {"meso": {"epochz": 2}}}, "(?s)baselines.meso: .*epochz"),
        ({"baselines": {"meso": {"epochs": 0}}}, "(?s)baselines.meso: .*epochs"),
        ({"robustness": {"models": ["current", "plain"]}}, r"robustness.models: \['plain'\] are neither 'current' nor"),
        ({"robustness": {"models": ["current"], "crfs": [23, 60]}}, r"crfs must be in \[0, 51\]"),
    ],
)
def test_bad_baselines_and_robustness_name_the_key(tmp_path: Path, patch: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_params(_write(tmp_path, {**MINIMAL, **patch}))


def _dotted_keys(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in tree.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= _dotted_keys(value, prefix + key + ".")
    return keys


@pytest.mark.parametrize("profile", [None, "real", "ffpp", "all"])
def test_every_param_dvc_tracks_is_in_every_profile(profile: str | None) -> None:
    """DVC stops with "parameters missing" when a profile lacks a key a stage depends on. A profile is an
    overlay: params.yaml with profiles/<name>.yaml merged on top, as scripts/use_profile.sh writes it."""
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    tracked = {
        entry
        for stage in stages.values()
        for entry in stage.get("do", stage).get("params", [])
        if isinstance(entry, str) and "${" not in entry
    }
    params = (
        profile_params(profile, root=PROJECT_ROOT)
        if profile
        else yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    )
    missing = tracked - _dotted_keys(params)
    assert not missing, f"{profile or 'params.yaml'} lacks {sorted(missing)}"


def test_profiles_are_overlays_that_only_hold_what_differs() -> None:
    """An overlay repeating params.yaml's value is drift waiting to happen; a typo is an error naming the file."""
    base = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    for name in ("real", "ffpp", "all"):
        overlay = yaml.safe_load((PROJECT_ROOT / "profiles" / f"{name}.yaml").read_text())
        for section, values in overlay.items():
            if isinstance(values, dict):
                same = [k for k, v in values.items() if base.get(section, {}).get(k) == v]
                assert not same, f"profiles/{name}.yaml repeats params.yaml: {section}.{same}"
        merged_train = profile_params(name, root=PROJECT_ROOT)["train"]
        assert merged_train["pretrained"] is True
        assert merged_train["backbone"] == overlay.get("train", {}).get("backbone", base["train"]["backbone"])
        assert merged_train["epochs"] == overlay.get("train", {}).get("epochs", base["train"]["epochs"])
        assert merged_train["threshold_metric"] == base["train"]["threshold_metric"]  # inherited
    with pytest.raises(ConfigError, match="no such profile; profiles: all, ffpp, real"):
        profile_params("reall", root=PROJECT_ROOT)


@pytest.mark.parametrize("mode", ["layernorm", "linear_probe"])
def test_frozen_finetune_modes_need_pretrained_weights(mode: str) -> None:
    with pytest.raises(
        ValidationError,
        match=f"train.finetune.mode {mode} keeps the backbone's weights frozen, so "
        "they must be pretrained: set train.pretrained: true",
    ):
        TrainConfig.model_validate({"pretrained": False, "finetune": {"mode": mode}})
    assert TrainConfig.model_validate({"pretrained": True, "finetune": {"mode": mode}}).finetune.mode == mode
    with pytest.raises(ValidationError, match="probe_layers"):
        TrainConfig.model_validate({"finetune": {"mode": mode, "probe_layers": 0}})


def test_a_finetune_mode_experiment_leaves_the_from_scratch_baseline_as_it_is() -> None:
    """`dvc exp run -S train.finetune.mode=linear_probe` on params.yaml: the meso4 baseline (no pretrained
    weights) keeps mode full instead of failing validation."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    raw["train"]["finetune"]["mode"] = "linear_probe"
    params = Params.model_validate(raw)
    assert params.train.finetune.mode == "linear_probe" and params.baseline("meso4").train.finetune.mode == "full"
