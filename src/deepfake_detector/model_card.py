"""The model card: what data, which params, how well it does, and what made it."""

from __future__ import annotations

from typing import Any

from deepfake_detector.models.spec import ModelSpec

KEY_METRICS = ("roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "eer", "n")


def range_line(spec: ModelSpec) -> str:
    r = spec.embedding_range
    if r is None:
        return "no check (model.json has no embedding_range)"
    return (
        f"a face whose embedding lies further than {r.max_distance:.2f} from the {r.faces} validation faces' "
        f'(the distance {r.quantile:.1%} of them stay within) gets "cannot judge" in the CLI and the service'
    )


def method_line(spec: ModelSpec) -> str:
    head = spec.method_head
    if head is None:
        return "not reported (model.json has no method_head)"
    faces = ", ".join(f"`{m}` ({n} faces)" for m, n in head.train_faces.items())
    accuracy = "n/a" if head.val_accuracy is None else f"{head.val_accuracy:.1%}"
    return (
        f"a linear probe on the embedding over {faces} of the train split; right on {accuracy} of the "
        "validation fakes of these methods (test: evaluate's method_head)"
    )


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def weights_line(spec: ModelSpec) -> str:
    """Where the backbone's starting weights came from: the package and version, or file, with its sha256."""
    if not spec.weights:
        return "trained from scratch (no pretrained weights)"
    w = spec.weights
    how = {
        "full": "fine-tuned from ImageNet weights",
        "layernorm": "pretrained weights, only their normalisation layers tuned",
        "linear_probe": f"frozen pretrained weights under a linear probe on {spec.probe_layers} block(s)",
    }
    return f"{how[spec.finetune_mode]}: {w.get('kind')} `{w.get('name')}`, sha256 `{w.get('sha256', 'n/a')}`"


def self_blend_line(spec: ModelSpec) -> str:
    """Whether the training fakes included self-blended ones, and the licence their 68-point masks carry."""
    sb = spec.self_blend
    if sb is None:
        return "none"
    fakes = "every training fake" if sb.only else f"{sb.rate:g} of the real training faces drawn"
    line = f"{fakes}; masks from 68 landmarks on {sb.dense_landmark_share:.0%} of the crops (else MTCNN's 5 points)"
    if sb.dense_landmark_share > 0:
        line += (
            " - dlib's 68-point model, trained on iBUG 300-W, whose images exclude commercial use: for a "
            "commercial product retrain with faces.dense_landmarks: false"
        )
    return line


def render_model_card(spec: ModelSpec, metrics: dict, data_counts: dict, onnx_atol: float) -> str:
    """The card states the export check's bound, not the difference measured: that follows ONNX Runtime's
    CPU kernels (AVX-512 or AVX2), and the card is part of the model, which every machine must build alike."""
    rows = "\n".join(
        f"| {level} | " + " | ".join(_fmt(metrics[level].get(k)) for k in KEY_METRICS) + " |"
        for level in ("frame", "video")
    )
    datasets = "\n".join(f"- `{name}`: {count} items" for name, count in data_counts.get("by_dataset", {}).items())
    prov = spec.provenance
    frequency = " + DCT frequency branch" if spec.frequency_branch else ""
    size, mean, std = f"{spec.input_size}x{spec.input_size}", list(spec.mean), list(spec.std)
    calibration = f"sigmoid(logit / {spec.temperature:.3f} {spec.bias:+.3f}); threshold {spec.threshold:.4f}"
    video = f"`{spec.video_aggregation}` of {spec.frames_per_video} uniformly sampled frames"
    return f"""# Model card: deepfake detector `{spec.version}`

Binary classifier of face crops (real = 0, fake = 1) with calibrated probabilities.

## Model
- Backbone: `{spec.backbone}`{frequency}, input {size}, normalised with mean {mean}, std {std}
- Weights: {weights_line(spec)}
- Trained on: {spec.trained_on_text()}
- Faces: MTCNN, main face tracked per video, crop margin {spec.faces.margin}x, crops {spec.faces.crop_size} px
- Self-blended training fakes: {self_blend_line(spec)}
- Calibration: {calibration} (chosen on validation data)
- Video score: {video} (chosen on validation; `temporal`: a GRU over the frames' embeddings)
- Out of distribution: {range_line(spec)}
- Manipulation method: {method_line(spec)}
- Exported to ONNX; its outputs agree with PyTorch's within {onnx_atol:g} (checked at export)

## Data
{datasets}
Splits are grouped (identity / source video / swap pair), so no group is in two splits.

## Test metrics
| level | {" | ".join(KEY_METRICS)} |
|---|{"---|" * len(KEY_METRICS)}
{rows}

Validation: {", ".join(f"{k} {_fmt(v)}" for k, v in spec.validation.items())}

## Provenance
- git commit (the last one changing src/ or stages/): `{prov.get("git_commit", "unknown")}`
- params hash: `{prov.get("params_hash", "unknown")}`
- data hash (data.dvc): `{prov.get("data_hash", "unknown")}`

## Limits
Trained on the data above only: expect lower accuracy on unseen manipulation methods, datasets, heavy
compression and tiny faces. A probability is evidence for review, not proof.
"""
