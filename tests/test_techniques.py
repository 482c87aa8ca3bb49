"""Training techniques behind params switches: multi-scale training, the frequency branch, the temporal head."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.fft import dctn
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from deepfake_detector.config import (
    AugmentConfig,
    FacesConfig,
    MultiscaleConfig,
    TemporalHeadConfig,
    TrainConfig,
)
from deepfake_detector.inference import Predictor
from deepfake_detector.models.backbones import WithEmbedding
from deepfake_detector.models.export import check_onnx, export_model, export_onnx, export_temporal_onnx
from deepfake_detector.models.frequency import BLOCK, BlockDCT, FrequencyFusion, build_model
from deepfake_detector.models.preprocess import eval_transform
from deepfake_detector.models.spec import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TEMPORAL_WEIGHTS,
    TORCH_WEIGHTS,
    ModelSpec,
    TemporalSpec,
)
from deepfake_detector.models.temporal import TemporalHead
from deepfake_detector.scoring import video_scores
from deepfake_detector.train.augment import train_transform
from deepfake_detector.train.calibrate import calibrate_on_validation
from deepfake_detector.train.fit import fit
from deepfake_detector.train.fit_temporal import pad, train_temporal_head, video_sequences

# ------------------------------------------------------------------------------------------ multi-scale


def _noise(size: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _detail(image: np.ndarray) -> float:
    """Mean |difference between neighbouring pixels|: what a lower resolution takes away."""
    return float(np.abs(np.diff(image, axis=1)).mean())


def test_multiscale_off_leaves_the_transform_unchanged() -> None:
    image = _noise()
    old, off = (
        train_transform(48, 0.5, IMAGENET_MEAN, IMAGENET_STD, seed=3),
        train_transform(48, 0.5, IMAGENET_MEAN, IMAGENET_STD, seed=3, multiscale_cfg=MultiscaleConfig()),
    )
    for _ in range(5):
        np.testing.assert_array_equal(old(image=image)["image"], off(image=image)["image"])


def test_multiscale_lowers_resolution_within_range_and_is_seeded() -> None:
    image = _noise()
    sharp = _detail(eval_transform(64, IMAGENET_MEAN, IMAGENET_STD)(image=image)["image"])
    cfg = MultiscaleConfig(enabled=True, min_size=16, p=1.0)
    outs = [
        o["image"]
        for o in map(
            lambda _: train_transform(64, 0.0, IMAGENET_MEAN, IMAGENET_STD, seed=7, multiscale_cfg=cfg)(image=image),
            range(2),
        )
    ]
    np.testing.assert_array_equal(outs[0], outs[1])  # same seed, same draw
    transform = train_transform(64, 0.0, IMAGENET_MEAN, IMAGENET_STD, seed=7, multiscale_cfg=cfg)
    details = [_detail(transform(image=image)["image"]) for _ in range(20)]
    assert all(d < sharp for d in details)  # every face lost detail...
    assert len({round(d, 4) for d in details}) > 5  # ...by a different amount: random sizes in the range
    tiny = _detail(
        train_transform(
            64,
            0.0,
            IMAGENET_MEAN,
            IMAGENET_STD,
            seed=7,
            multiscale_cfg=MultiscaleConfig(enabled=True, min_size=8, p=1.0),
        )(image=image)["image"]
    )
    assert tiny < sharp
    assert train_transform(64, 0.0, IMAGENET_MEAN, IMAGENET_STD, multiscale_cfg=cfg)(image=image)["image"].shape == (
        64,
        64,
        3,
    )


def test_train_config_validates_the_switches() -> None:
    cfg = TrainConfig.model_validate(
        {
            "multiscale": {"enabled": True, "min_size": 24},
            "frequency_branch": True,
            "temporal_head": {"enabled": True, "hidden": 8},
        }
    )
    assert cfg.multiscale.min_size == 24 and cfg.frequency_branch and cfg.temporal_head.hidden == 8
    default = TrainConfig()  # params.yaml's recipe: the frequency branch on, the other switches off
    assert default.frequency_branch and not (default.multiscale.enabled or default.temporal_head.enabled)
    with pytest.raises(ValueError, match="min_sise"):
        TrainConfig.model_validate({"multiscale": {"min_sise": 24}})


# ------------------------------------------------------------------------------------- frequency branch


@pytest.mark.parametrize("mean, std", [(IMAGENET_MEAN, IMAGENET_STD), ((0.5,) * 3, (0.5,) * 3)])
def test_block_dct_matches_scipy_per_block(mean, std) -> None:
    """Whatever the model's input normalisation, the branch reads the pixels' own luma."""
    rgb = np.random.default_rng(0).random((16, 24, 3)).astype(np.float32)
    mean, std = np.array(mean), np.array(std)
    x = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1)[None].astype(np.float32))
    coefficients = BlockDCT(mean, std).coefficients(x)[0].numpy()  # (64, 2, 3)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    for by, bx in [(0, 0), (1, 2)]:
        block = luma[by * BLOCK : (by + 1) * BLOCK, bx * BLOCK : (bx + 1) * BLOCK]
        np.testing.assert_allclose(coefficients[:, by, bx], dctn(block, norm="ortho").reshape(-1), atol=1e-4)


@pytest.mark.parametrize("backbone", ["meso4", "resnet18"])
def test_frequency_branch_builds_and_exports_to_onnx(backbone: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, 64, IMAGENET_MEAN, IMAGENET_STD, frequency_branch=True).eval()
    plain = build_model(backbone, 64, IMAGENET_MEAN, IMAGENET_STD, frequency_branch=False)
    assert model(torch.zeros(3, 3, 64, 64)).shape == (3, 1)
    # every weight is trained: the backbone's own classifier is gone (an unused one makes DDP stop)
    model.train()(torch.randn(3, 3, 64, 64)).sum().backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
    model.eval()
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in plain.parameters())
    assert 0 < extra < 60_000  # a small CNN; the DCT basis is a buffer, not trained
    assert not any(name.endswith("kernels") for name, _ in model.named_parameters())
    batch = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)
    export_onnx(model, 64, tmp_path / "m.onnx")
    assert check_onnx(model, tmp_path / "m.onnx", batch, atol=1e-4) < 1e-4
    with_embedding = WithEmbedding(model).eval()
    logits, embeddings = with_embedding(torch.from_numpy(batch))
    assert embeddings.shape == (4, model.num_features)
    torch.testing.assert_close(logits, model(torch.from_numpy(batch)))
    export_onnx(with_embedding, 64, tmp_path / "e.onnx", output_names=("logit", "embedding"))
    assert check_onnx(with_embedding, tmp_path / "e.onnx", batch, atol=1e-4) < 1e-4


def _crop_table(tmp_path: Path, n: int = 24) -> pd.DataFrame:
    """Tiny face-crop table: fakes carry an 8x8 blocking pattern, reals are smooth noise."""
    rows = []
    for i in range(n):
        label = i % 2
        image = cv2.GaussianBlur(_noise(48, seed=i), (7, 7), 0)
        if label:
            image = cv2.resize(
                cv2.resize(image, (6, 6), interpolation=cv2.INTER_AREA), (48, 48), interpolation=cv2.INTER_NEAREST
            )
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), image)
        rows.append({"crop_path": str(path), "label": label, "split": "train" if i < n * 2 // 3 else "val"})
    return pd.DataFrame(rows)


def _fit_with_the_frequency_branch(crops: pd.DataFrame, multiscale: bool):
    settings = TrainConfig(
        backbone="meso4",
        pretrained=False,
        input_size=32,
        lr=1e-3,
        weight_decay=0.0,
        augment=AugmentConfig(strength=0.2),
        epochs=2,
        batch_size=8,
        multiscale=MultiscaleConfig(enabled=multiscale, min_size=12, p=0.5),
        frequency_branch=True,
    )
    return fit(crops, settings, seed=0, progress=False)


def test_training_with_every_frame_switch_learns_and_multiscale_changes_the_model(tmp_path: Path) -> None:
    """With the frequency branch and multi-scale on, the fit still separates the toy set's blocking pattern on
    validation; turning multi-scale off trains another model from the same seed (which gives the same model
    twice, so the difference is the switch's)."""
    crops = _crop_table(tmp_path)
    on = _fit_with_the_frequency_branch(crops, multiscale=True)
    assert on.epochs_run == 2 and on.best_val_auc == 1.0
    assert isinstance(on.model, FrequencyFusion)
    off, off_again = (_fit_with_the_frequency_branch(crops, multiscale=False) for _ in range(2))
    probe = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(off.model(probe), off_again.model(probe), rtol=0, atol=0)
        assert not torch.equal(on.model(probe), off.model(probe))


# ---------------------------------------------------------------------------------------- temporal head


def _flicker_videos(n: int, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frame embeddings whose per-frame values have the same distribution in reals and fakes (so any
    aggregation of frame scores is chance), but fakes alternate frame to frame (flicker) and reals drift."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for i in range(n):
        fake, length = i % 2, int(rng.integers(6, 11))
        signs = (
            np.where(np.arange(length) % 2 == 0, 1.0, -1.0)
            if fake
            else np.sign(rng.standard_normal()) * np.ones(length)
        )
        signal = signs * rng.uniform(0.5, 1.5) * rng.permutation([1.0, -1.0])[0]
        sequence = rng.standard_normal((length, 4)) * 0.3
        sequence[:, 0] += signal
        sequences.append(sequence.astype(np.float32))
        labels.append(float(fake))
    return sequences, np.array(labels, dtype=np.float32)


def test_temporal_head_learns_flicker_that_mean_aggregation_cannot() -> None:
    train_x, train_y = _flicker_videos(160, seed=0)
    test_x, test_y = _flicker_videos(80, seed=1)
    mean_auc = roc_auc_score(test_y, [expit(s[:, 0]).mean() for s in test_x])  # a frame score from dim 0, averaged
    cfg = TemporalHeadConfig(enabled=True, hidden=16, epochs=25, lr=1e-2, dropout=0.0)
    head = train_temporal_head(train_x, train_y, cfg, seed=0)
    with torch.no_grad():
        scores = [float(head(torch.from_numpy(s[None]))) for s in test_x]
    assert abs(mean_auc - 0.5) < 0.15
    assert roc_auc_score(test_y, scores) > 0.95


def test_temporal_head_padding_and_seed() -> None:
    sequences, labels = _flicker_videos(12, seed=2)
    cfg = TemporalHeadConfig(enabled=True, hidden=8, epochs=2)
    head = train_temporal_head(sequences, labels, cfg, seed=0)
    again = train_temporal_head(sequences, labels, cfg, seed=0)
    batch, lengths = pad(sequences)
    with torch.no_grad():
        padded = head(batch, lengths).reshape(-1)
        one_by_one = torch.cat([head(torch.from_numpy(s[None])).reshape(-1) for s in sequences])
        torch.testing.assert_close(padded, one_by_one)  # padding never leaks into a video's score
        torch.testing.assert_close(again(batch, lengths).reshape(-1), padded)  # deterministic given the seed
    with pytest.raises(ValueError, match="real and fake train videos"):
        train_temporal_head(sequences[:2], np.zeros(2, np.float32), cfg, seed=0)


def test_temporal_head_exports_to_onnx_for_any_length(tmp_path: Path) -> None:
    torch.manual_seed(0)
    head = TemporalHead(input_dim=6, hidden=8).eval()
    export_temporal_onnx(head, 6, tmp_path / "t.onnx")
    for length in (1, 5, 16):
        sequence = np.random.default_rng(length).standard_normal((1, length, 6)).astype(np.float32)
        assert check_onnx(head, tmp_path / "t.onnx", sequence, atol=1e-5) < 1e-5


def test_video_sequences_group_frames_in_order() -> None:
    frames = pd.DataFrame(
        {"item_id": ["b", "b", "a", "img", "a"], "media": ["video"] * 3 + ["image", "video"], "label": [1, 1, 0, 1, 0]}
    )
    embeddings = np.arange(10, dtype=np.float32).reshape(5, 2)
    items, sequences, labels = video_sequences(frames, embeddings)
    assert items == ["a", "b"] and labels.tolist() == [0.0, 1.0]
    np.testing.assert_array_equal(sequences[0], embeddings[[2, 4]])
    np.testing.assert_array_equal(sequences[1], embeddings[[0, 1]])


@pytest.fixture(scope="module")
def temporal_model_dir(tmp_path_factory) -> Path:
    """An untrained meso4 + frequency branch frame model and a temporal head, saved as the train stage does
    (video_aggregation: temporal), then exported as the package stage does."""
    out = tmp_path_factory.mktemp("temporal_model")
    torch.manual_seed(0)
    model = build_model("meso4", 64, IMAGENET_MEAN, IMAGENET_STD, frequency_branch=True).eval()
    torch.save(model.state_dict(), out / TORCH_WEIGHTS)
    head = TemporalHead(model.num_features, 8).eval()
    torch.save(head.state_dict(), out / TEMPORAL_WEIGHTS)
    ModelSpec(
        backbone="meso4",
        input_size=64,
        faces=FacesConfig(crop_size=128),
        frames_per_video=4,
        version="t",
        frequency_branch=True,
        video_aggregation="temporal",
        temporal_head=TemporalSpec(input_dim=model.num_features, hidden=8, temperature=0.5),
    ).save(out)
    inputs = np.random.default_rng(0).standard_normal((6, 3, 64, 64)).astype(np.float32)
    assert export_model(Predictor(out, backend="torch"), out, inputs, opset=18, atol=1e-4) < 1e-4
    return out


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_predictor_scores_videos_with_the_temporal_head(
    temporal_model_dir: Path, tiny_corpus: Path, backend: str
) -> None:
    predictor = Predictor(temporal_model_dir, backend=backend)
    video = predictor.predict_path(tiny_corpus / "real" / "videos" / "id00_vid00.mp4")
    assert video.error is None and len(video.faces) == 4
    frame_probs = np.array([f.fake_probability for f in video.faces])
    assert video.fake_probability != pytest.approx(frame_probs.mean(), abs=1e-6)
    # the verdict is the head on the frames' embeddings, calibrated with the head's own temperature
    crops = [
        np.asarray(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
        for p in sorted((tiny_corpus / "real" / "images").glob("id00_*"))
    ][:1]
    logits, embeddings = predictor.logits_and_embeddings(crops * 3)
    assert embeddings.shape == (3, predictor.spec.temporal_head.input_dim)
    np.testing.assert_allclose(expit(logits / predictor.spec.temperature), predictor.score_crops(crops * 3), rtol=1e-5)
    expected = expit(predictor.temporal.logit(embeddings) / 0.5)
    assert predictor.item_probability("video", predictor.calibrate(logits), embeddings) == pytest.approx(expected)
    image = predictor.predict_path(sorted((tiny_corpus / "real" / "images").glob("*.jpg"))[0])
    assert image.fake_probability == pytest.approx(image.faces[0].fake_probability)  # images: the face's score


def test_torch_and_onnx_temporal_verdicts_agree(temporal_model_dir: Path, tiny_corpus: Path) -> None:
    path = tiny_corpus / "fake" / "faceswap" / "videos"
    video = sorted(path.glob("*.mp4"))[0]
    by_torch = Predictor(temporal_model_dir, backend="torch").predict_path(video)
    by_onnx = Predictor(temporal_model_dir, backend="onnx").predict_path(video)
    assert by_onnx.fake_probability == pytest.approx(by_torch.fake_probability, abs=1e-4)


def test_video_scores_accepts_an_item_scorer() -> None:
    frames = pd.DataFrame(
        {
            "item_id": ["v", "v", "i"],
            "label": [1, 1, 0],
            "prob": [0.2, 0.6, 0.3],
            "method": ["faceswap", "faceswap", "real"],
            "dataset": ["d"] * 3,
        }
    )
    by_rule = video_scores(frames, "mean")
    by_scorer = video_scores(frames, lambda rows: rows["prob"].mean())
    pd.testing.assert_frame_equal(by_rule, by_scorer)
    assert list(by_scorer.columns) == ["item_id", "label", "prob", "method", "dataset"]


def _video_faces(tmp_path: Path) -> pd.DataFrame:
    """A faces table of 24 four-frame videos and 4 images (noise crops), in train and val; fakes flicker."""
    rows, rng = [], np.random.default_rng(0)
    for v in range(28):
        label, split, media = v % 2, "train" if v < 16 else "val", "video" if v < 24 else "image"
        for f in range(4 if media == "video" else 1):
            image = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
            if label and f % 2:
                image = (image // 2).astype(np.uint8)  # every other frame darker: flicker
            path = tmp_path / f"{v}_{f}.png"
            cv2.imwrite(str(path), image)
            rows.append(
                {
                    "item_id": f"item{v:02d}",
                    "frame_idx": f,
                    "crop_path": str(path),
                    "label": label,
                    "split": split,
                    "media": media,
                    "method": "x" if label else "real",
                    "dataset": "d",
                }
            )
    return pd.DataFrame(rows)


def test_calibration_trains_the_temporal_head_and_records_the_comparison(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    torch.manual_seed(0)
    torch.save(build_model("meso4", 32, IMAGENET_MEAN, IMAGENET_STD).state_dict(), model_dir / TORCH_WEIGHTS)
    ModelSpec(backbone="meso4", input_size=32, faces=FacesConfig()).save(model_dir)
    cfg = TrainConfig(temporal_head=TemporalHeadConfig(enabled=True, hidden=8, epochs=3), threshold_metric="youden")
    spec = calibrate_on_validation(model_dir, _video_faces(tmp_path), cfg, seed=0)
    assert (model_dir / TEMPORAL_WEIGHTS).exists()
    assert spec.temporal_head.train_videos == 16 and spec.temporal_head.input_dim == 16  # meso4's embedding
    assert spec.temporal_head.temperature > 0
    head_auc, rule_auc = spec.validation["val_item_auc_temporal"], spec.validation["val_item_auc_aggregation"]
    assert (spec.video_aggregation == "temporal") == (head_auc > rule_auc)
    assert ModelSpec.load(model_dir) == spec
    off = calibrate_on_validation(model_dir, _video_faces(tmp_path), TrainConfig(), seed=0)
    assert off.video_aggregation != "temporal" and off.temporal_head is None
    assert "val_item_auc_temporal" not in off.validation


def test_temporal_head_is_skipped_without_videos(tmp_path: Path) -> None:
    """An image-only dataset (the real profile's DFDC face crops): the switch is on, but there is nothing to
    train the head on, so calibration falls back to the aggregation rule instead of failing."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    torch.manual_seed(0)
    torch.save(build_model("meso4", 32, IMAGENET_MEAN, IMAGENET_STD).state_dict(), model_dir / TORCH_WEIGHTS)
    ModelSpec(backbone="meso4", input_size=32, faces=FacesConfig()).save(model_dir)
    images_only = _video_faces(tmp_path).drop_duplicates("item_id").assign(media="image", frame_idx=0)
    cfg = TrainConfig(temporal_head=TemporalHeadConfig(enabled=True, hidden=8, epochs=3), threshold_metric="youden")
    spec = calibrate_on_validation(model_dir, images_only, cfg, seed=0)
    assert spec.temporal_head is None and spec.video_aggregation != "temporal"
    assert not (model_dir / TEMPORAL_WEIGHTS).exists()
