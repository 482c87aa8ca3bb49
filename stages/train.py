"""Stage train: Lightning + timm with augmentations and class balancing; best checkpoint by validation AUC,
then calibration on validation data (temperature, threshold, video aggregation). The work is in
train/run.py, shared with the baselines stage. In mode linear_probe it fits the head on the embed stage's
cached features."""

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import EMBED_DIR, FACES_CSV, MANIFEST_CSV, TRAIN_DIR, TRAINED_MODEL_DIR, TUNE_DIR
from deepfake_detector.tables import load_face_table
from deepfake_detector.train.run import train_and_calibrate


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    train_and_calibrate(
        params,
        faces,
        TRAINED_MODEL_DIR,
        TRAIN_DIR / "metrics.json",
        tuned_file=TUNE_DIR / "best_params.json",
        live_dir=TRAIN_DIR / "dvclive",
        features_dir=EMBED_DIR,
    )


if __name__ == "__main__":
    run_stage(main)
