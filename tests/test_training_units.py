"""Calibration, augmentation, the balanced sampler, metrics and score aggregation on synthetic data with
known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.utils.class_weight import compute_sample_weight

from deepfake_detector.evaluate.metrics import binary_metrics, confusion_counts
from deepfake_detector.models.preprocess import eval_transform, to_model_input
from deepfake_detector.models.spec import IMAGENET_MEAN, IMAGENET_STD
from deepfake_detector.scoring import AGGREGATIONS, aggregate, video_scores
from deepfake_detector.train.augment import train_transform
from deepfake_detector.train.calibrate import (
    choose_threshold,
    cross_fitted_ece,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
)
from deepfake_detector.train.data import balanced_sampler, cell_weights, sampling_cells

# ------------------------------------------------------------------------------------------- calibration


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_fit_temperature_recovers_a_known_temperature(temperature: float) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, 20_000)
    labels = (rng.random(logits.size) < expit(logits / temperature)).astype(float)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.08)


def test_fit_temperature_of_calibrated_logits_is_one() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, 20_000)
    labels = (rng.random(logits.size) < expit(logits)).astype(float)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.08)


@pytest.mark.parametrize(("temperature", "bias"), [(0.5, 0.0), (2.0, -1.5), (1.0, 2.0)])
def test_platt_calibration_recovers_a_known_temperature_and_bias(temperature: float, bias: float) -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 4, 20_000)
    labels = (rng.random(logits.size) < expit(logits / temperature + bias)).astype(float)
    fitted_t, fitted_b = fit_calibration(logits, labels, "platt")
    assert fitted_t == pytest.approx(temperature, rel=0.08)
    assert fitted_b == pytest.approx(bias, abs=0.1)
    assert fit_calibration(logits, labels, "temperature")[1] == 0.0


def test_bias_fixes_a_leaning_model_where_temperature_cannot() -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 3, 20_000)
    labels = (rng.random(logits.size) < expit(logits - 2.0)).astype(float)  # the model says "fake" too often
    groups = np.arange(logits.size) // 8  # 8 frames per item, kept in one fold
    platt = cross_fitted_ece(logits, labels, groups, "platt")
    temperature_only = cross_fitted_ece(logits, labels, groups, "temperature")
    assert platt < 0.02 < 0.05 < temperature_only
    assert cross_fitted_ece(logits[:8], labels[:8], groups[:8], "platt") is None  # one item: no folds


@pytest.mark.parametrize("metric", ["f1", "youden"])
def test_choose_threshold_separates_separable_data(metric: str) -> None:
    probs = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    labels = np.array([0, 0, 0, 1, 1, 1])
    threshold = choose_threshold(probs, labels, metric)
    assert threshold == pytest.approx(0.7)  # the lowest fake score: fakes at or above it, reals below
    m = binary_metrics(labels, probs, threshold)
    assert m["f1"] == 1.0 and m["accuracy"] == 1.0


def test_choose_threshold_f1_by_hand() -> None:
    # t=0.2 -> all positive: P=3/5 R=1 F1=0.75; t=0.4 -> P=3/4 R=1 F1=0.857; t=0.6 -> P=2/2 R=2/3 F1=0.8
    probs = np.array([0.2, 0.4, 0.6, 0.8, 0.9])
    labels = np.array([0, 1, 0, 1, 1])
    assert choose_threshold(probs, labels, "f1") == pytest.approx(0.4)
    assert choose_threshold(np.array([]), np.array([]), "f1") == 0.5


def test_youden_threshold_is_a_probability() -> None:
    # roc_curve's thresholds start at inf: Youden's J picks a real one when any separates...
    labels = np.array([0, 0, 1, 1])
    assert choose_threshold(np.array([0.0, 0.0, 0.6, 1.0]), labels, "youden") == 0.6
    # ...and inf (J = 0 everywhere) when none does, clipped to the probability 1: nothing is called fake
    assert choose_threshold(np.full(4, 0.5), labels, "youden") == 1.0


def test_ece_of_calibrated_data_is_near_zero() -> None:
    rng = np.random.default_rng(2)
    probs = rng.random(100_000)
    labels = (rng.random(probs.size) < probs).astype(float)
    assert expected_calibration_error(probs, labels) < 0.01
    overconfident = np.where(probs > 0.5, 1.0, 0.0)  # says 0/1 but is right only with probability p
    assert expected_calibration_error(overconfident, labels) > 0.2


def test_ece_by_hand() -> None:
    probs = np.array([0.8, 0.8, 0.8, 0.8, 0.15, 0.15])
    labels = np.array([1, 1, 0, 0, 0, 0])
    # bin 8: 4/6 of items, |0.8 - 0.5| = 0.3; bin 1: 2/6, |0.15 - 0| = 0.15
    assert expected_calibration_error(probs, labels) == pytest.approx(4 / 6 * 0.3 + 2 / 6 * 0.15)
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1, 0])) == pytest.approx(0.0)


# ------------------------------------------------------------------------------------------- augmentation


def _image(h: int = 90, w: int = 70, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("strength", [0.0, 0.5, 1.0])
def test_train_transform_shape_and_dtype(strength: float) -> None:
    transform = train_transform(48, strength, IMAGENET_MEAN, IMAGENET_STD)
    for seed in range(5):
        out = transform(image=_image(seed=seed))["image"]
        assert out.shape == (48, 48, 3)
        assert out.dtype == np.float32
        assert np.isfinite(out).all()


def test_strength_zero_is_resize_normalise_up_to_a_flip() -> None:
    image = _image()
    expected = eval_transform(48, IMAGENET_MEAN, IMAGENET_STD)(image=image)["image"]
    transform = train_transform(48, 0.0, IMAGENET_MEAN, IMAGENET_STD)
    transform.set_random_seed(0)
    flips = 0
    for _ in range(20):
        out = transform(image=image)["image"]
        if np.allclose(out, expected, atol=1e-5):
            continue
        assert np.allclose(out, expected[:, ::-1], atol=1e-5)  # horizontal flip is the one thing left
        flips += 1
    assert 0 < flips < 20


def test_full_strength_changes_images() -> None:
    image = _image()
    expected = eval_transform(48, IMAGENET_MEAN, IMAGENET_STD)(image=image)["image"]
    transform = train_transform(48, 1.0, IMAGENET_MEAN, IMAGENET_STD)
    transform.set_random_seed(0)
    outs = [transform(image=image)["image"] for _ in range(10)]
    changed = [
        not np.allclose(o, expected, atol=1e-3) and not np.allclose(o, expected[:, ::-1], atol=1e-3) for o in outs
    ]
    assert any(changed)


def test_to_model_input_layout_and_normalisation() -> None:
    white = np.full((30, 50, 3), 255, np.uint8)
    black = np.zeros((64, 64, 3), np.uint8)
    batch = to_model_input([white, black], 32, IMAGENET_MEAN, IMAGENET_STD)
    assert batch.shape == (2, 3, 32, 32)
    assert batch.dtype == np.float32 and batch.flags["C_CONTIGUOUS"]
    for c in range(3):
        assert batch[0, c] == pytest.approx((1 - IMAGENET_MEAN[c]) / IMAGENET_STD[c], abs=1e-4)
        assert batch[1, c] == pytest.approx(-IMAGENET_MEAN[c] / IMAGENET_STD[c], abs=1e-4)
    empty = to_model_input([], 32, IMAGENET_MEAN, IMAGENET_STD)
    assert empty.shape == (0, 3, 32, 32) and empty.dtype == np.float32


def test_to_model_input_keeps_channel_order() -> None:
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255  # RGB red
    batch = to_model_input([red], 16, IMAGENET_MEAN, IMAGENET_STD)
    assert batch[0, 0].mean() > 2 and batch[0, 1].mean() < -1 and batch[0, 2].mean() < -1


# ------------------------------------------------------------------------------------------- balanced sampler

# four unequal (dataset, label) cells: a large dataset with many reals beside a small one
CELLS = {("dfdc", 0): 600, ("dfdc", 1): 200, ("ffpp", 0): 150, ("ffpp", 1): 50}


def _cell_table() -> pd.DataFrame:
    rows = [(dataset, label) for (dataset, label), n in CELLS.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["dataset", "label"])


def _draws_per_cell(rows: pd.DataFrame, balance: str, epochs: int) -> dict[tuple[str, int], int]:
    sampler = balanced_sampler(sampling_cells(rows, balance), seed=0)
    drawn = np.concatenate([list(sampler) for _ in range(epochs)])
    counts = rows.iloc[drawn].value_counts(["dataset", "label"])
    return {key: int(counts.get(key, 0)) for key in CELLS}


def test_balance_dataset_label_draws_every_cell_equally_often() -> None:
    rows, epochs = _cell_table(), 20
    draws = epochs * len(rows)
    counts = _draws_per_cell(rows, "dataset_label", epochs)
    # each draw hits a cell with probability 1/4: binomial, standard deviation sqrt(n p (1 - p)) = 61 of 5,000
    sd = np.sqrt(draws * 0.25 * 0.75)
    for cell, count in counts.items():
        assert abs(count - draws / 4) < 4 * sd, (cell, counts)


def test_balance_label_evens_labels_and_keeps_each_datasets_share() -> None:
    rows, epochs = _cell_table(), 20
    draws = epochs * len(rows)
    counts = _draws_per_cell(rows, "label", epochs)
    for (dataset, label), count in counts.items():  # half the draws per label, split as the label's rows are
        p = 0.5 * CELLS[(dataset, label)] / sum(n for (_, lab), n in CELLS.items() if lab == label)
        assert abs(count - draws * p) < 4 * np.sqrt(draws * p * (1 - p)), ((dataset, label), counts)
    # the default's weights are the ones label balancing always had: 1 / the row's class count
    weights = balanced_sampler(sampling_cells(rows, "label"), seed=0).weights.numpy()
    np.testing.assert_array_equal(weights, 1.0 / np.where(rows["label"] == 0, 750.0, 250.0))


def test_cell_weights_give_every_cell_the_same_total_as_sklearns_balanced_weights() -> None:
    """The linear probe's loss weights (train.balance): with label cells they are exactly the class_weight
    "balanced" it used before, so its results do not move; with dataset_label each of the four cells weighs
    a quarter."""
    rows = _cell_table()
    for balance, cells in [("label", 2), ("dataset_label", 4)]:
        ids = sampling_cells(rows, balance)
        weights = cell_weights(ids)
        np.testing.assert_array_equal(weights, compute_sample_weight("balanced", ids))
        np.testing.assert_allclose(np.bincount(ids, weights=weights), len(rows) / cells)


# ---------------------------------------------------------------------------------------------- metrics


def test_binary_metrics_by_hand() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    probs = np.array([0.1, 0.6, 0.4, 0.8, 0.9])
    m = binary_metrics(labels, probs, threshold=0.5)  # predicted 0 1 0 1 1: TP 2, FP 1, FN 1, TN 1
    assert m["n"] == 5 and m["n_fake"] == 3 and m["n_real"] == 2
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(5 / 6)  # 5 of 6 (fake, real) pairs ranked right
    assert m["average_precision"] == pytest.approx((1 + 1 + 3 / 4) / 3)
    assert m["eer"] == pytest.approx((1 / 2 + 1 / 3) / 2)  # at t=0.6: FPR 1/2, FNR 1/3
    assert confusion_counts(labels, probs, 0.5) == [[1, 1], [1, 2]]


def test_binary_metrics_threshold_is_inclusive() -> None:
    m = binary_metrics(np.array([0, 1]), np.array([0.2, 0.5]), threshold=0.5)
    assert m["accuracy"] == 1.0 and m["recall"] == 1.0


def test_binary_metrics_single_class_has_no_ranking_metrics() -> None:
    m = binary_metrics(np.array([1, 1, 1]), np.array([0.9, 0.2, 0.7]), threshold=0.5)
    assert m["roc_auc"] is None and m["average_precision"] is None and m["eer"] is None
    assert m["recall"] == pytest.approx(2 / 3) and m["precision"] == 1.0
    assert m["n_real"] == 0


def test_perfect_separation() -> None:
    m = binary_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]), threshold=0.5)
    assert m["roc_auc"] == 1.0 and m["eer"] == 0.0 and m["f1"] == 1.0


def _frame_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["v1", "v1", "v1", "img", "v2", "v2", "v2", "v2"],
            "label": [1, 1, 1, 0, 0, 0, 0, 0],
            "prob": [0.2, 0.4, 0.9, 0.7, 0.05, 0.5, 0.5, 0.5],
            "method": ["faceswap"] * 3 + ["real"] + ["real"] * 4,
            "dataset": ["d"] * 8,
        }
    )


@pytest.mark.parametrize(
    ("how", "v1", "v2"),
    [
        ("mean", 0.5, (0.05 + 1.5) / 4),
        ("median", 0.4, 0.5),
        ("max", 0.9, 0.5),
        ("confident", 0.9, 0.05),  # v1: 0.9 is the only confident frame (1/3 >= 25%); v2: 0.05 (1/4)
    ],
)
def test_video_scores_aggregate_per_item(how: str, v1: float, v2: float) -> None:
    videos = video_scores(_frame_scores(), how)
    assert videos["item_id"].tolist() == ["img", "v1", "v2"]  # one row per item, sorted
    assert list(videos.columns) == ["item_id", "label", "prob", "method", "dataset"]
    by_item = videos.set_index("item_id")
    assert by_item.loc["img", "prob"] == pytest.approx(0.7)  # an image is its one frame
    assert by_item.loc["v1", "prob"] == pytest.approx(v1)
    assert by_item.loc["v2", "prob"] == pytest.approx(v2)
    assert by_item.loc["v1", "label"] == 1 and by_item.loc["v1", "method"] == "faceswap"


def test_aggregate_modes() -> None:
    probs = np.array([0.95, 0.97, 0.5, 0.55])
    assert aggregate(probs, "mean") == pytest.approx(np.mean(probs))
    assert aggregate(probs, "median") == pytest.approx(0.75)
    assert aggregate(probs, "max") == pytest.approx(0.97)
    assert aggregate(probs, "confident") == pytest.approx(0.96)  # 2 of 4 frames confident: their mean
    few = np.array([0.95, 0.5, 0.5, 0.5, 0.5])  # 1 of 5 confident (< 25%): plain mean
    assert aggregate(few, "confident") == pytest.approx(np.mean(few))
    both_sides = np.array([0.02, 0.98, 0.5])  # confident either way counts
    assert aggregate(both_sides, "confident") == pytest.approx(0.5)
    single = np.array([0.3])
    assert all(aggregate(single, how) == pytest.approx(0.3) for how in AGGREGATIONS)
    assert isinstance(aggregate(probs, "max"), float)


def test_meso4_is_a_selectable_backbone_and_exports_to_onnx(tmp_path):
    import torch

    from deepfake_detector.models.backbones import build_backbone
    from deepfake_detector.models.export import check_onnx, export_onnx

    model = build_backbone("meso4", 96).eval()
    assert sum(p.numel() for p in model.parameters()) < 50_000  # the point of MesoNet: tiny, learns from small data
    assert model(torch.zeros(3, 3, 96, 96)).shape == (3, 1)
    export_onnx(model, 96, tmp_path / "meso.onnx")
    batch = np.random.default_rng(0).standard_normal((4, 3, 96, 96)).astype(np.float32)
    assert check_onnx(model, tmp_path / "meso.onnx", batch, atol=1e-4) < 1e-4


def test_backbone_registry_and_the_unknown_name_error():
    from deepfake_detector.models.backbones import BACKBONES, BackboneError, build_backbone, register
    from deepfake_detector.models.meso import Meso4

    assert "meso4" in BACKBONES and isinstance(build_backbone("meso4", 64), Meso4)
    with pytest.raises(BackboneError, match=r"unknown backbone 'no_such_net'; use one of \['meso4'\] or any timm"):
        build_backbone("no_such_net", 64)

    @register("test_tiny")
    def _tiny(input_size, weights=None):
        return Meso4()

    try:
        assert isinstance(build_backbone("test_tiny", 32), Meso4)
        with pytest.raises(BackboneError, match=r"\['meso4', 'test_tiny'\] or any timm model name"):
            build_backbone("no_such_net", 64)
    finally:
        del BACKBONES["test_tiny"]


@pytest.mark.parametrize("name", ["efficientnet_b0", "xception41", "resnet18", "vit_tiny_patch16_224"])
def test_every_documented_backbone_family_builds_offline(name):
    import torch

    from deepfake_detector.models.backbones import build_backbone

    model = build_backbone(name, 96).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 1)


def test_pretrained_weights_offline_fail_fast_with_the_fix(monkeypatch, tmp_path):
    """A backbone with neither a weights file, an installed package, nor a hub cache: a message naming the fix,
    in seconds, before any data is read."""
    from huggingface_hub import constants

    from deepfake_detector.models.pretrained import WeightsError, find_weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(WeightsError, match=r"train\.weights.*pretrained: false|pretrained: false"):
        find_weights("resnet18")
    with pytest.raises(WeightsError, match="does not exist"):
        find_weights("resnet18", str(tmp_path / "missing.pth"))
    with pytest.raises(WeightsError, match="meso4"):
        find_weights("meso4")


def test_random_resized_crop_zooms_into_the_face() -> None:
    """augment.crop_scale_min < 1: training sees random parts of the face at input size; 1 (the default)
    leaves the plain resize."""
    image = _image(96, 96)
    whole = eval_transform(48, IMAGENET_MEAN, IMAGENET_STD)(image=image)["image"]
    transform = train_transform(48, 0.0, IMAGENET_MEAN, IMAGENET_STD, seed=0, crop_scale_min=0.3)
    outs = [transform(image=image)["image"] for _ in range(8)]
    assert all(o.shape == (48, 48, 3) for o in outs)
    assert (
        sum(not np.allclose(o, whole, atol=1e-3) and not np.allclose(o, whole[:, ::-1], atol=1e-3) for o in outs) >= 6
    )  # almost every draw is a zoomed-in part, not the whole face
    plain = train_transform(48, 0.0, IMAGENET_MEAN, IMAGENET_STD, seed=0)
    assert all(
        np.allclose(o, whole, atol=1e-5) or np.allclose(o, whole[:, ::-1], atol=1e-5)
        for o in (plain(image=image)["image"] for _ in range(8))
    )
