"""Where each stage reads and writes, relative to the project root (dvc.yaml names the same paths)."""

from pathlib import Path

ARTIFACTS = Path("artifacts")
SOURCES_JSON = ARTIFACTS / "sources.json"  # fingerprints of dataset folders outside the project
MANIFEST_CSV = ARTIFACTS / "manifest.csv"
FRAMES_DIR = ARTIFACTS / "frames"
FRAMES_CSV = ARTIFACTS / "frames.csv"
FACES_DIR = ARTIFACTS / "faces"
FACES_CSV = ARTIFACTS / "faces.csv"
VALIDATE_DIR = ARTIFACTS / "validate"
EMBED_DIR = ARTIFACTS / "embed"  # mode linear_probe: the frozen backbone's features of every face (train/probe.py)
TUNE_DIR = ARTIFACTS / "tune"
TRAIN_DIR = ARTIFACTS / "train"
TRAINED_MODEL_DIR = TRAIN_DIR / "model"  # PyTorch weights + calibrated model.json
EVALUATE_DIR = ARTIFACTS / "evaluate"
MODEL_DIR = ARTIFACTS / "model"  # the packaged model: ONNX + model.json + model card
BENTO_DIR = ARTIFACTS / "bento"
BENTOML_HOME = ARTIFACTS / "bentoml"  # the BentoML store, kept inside the project so DVC tracks it
SUMMARIES = ARTIFACTS / "summaries"  # one JSON per stage: counts in, counts out, skipped and why
BASELINES_DIR = ARTIFACTS / "baselines"  # <name>/model and <name>/metrics.json per baseline
ROBUSTNESS_DIR = ARTIFACTS / "robustness"
