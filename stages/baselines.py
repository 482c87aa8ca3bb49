"""Stage baselines@<name>: train and calibrate a baseline with the train stage's code and the train params
overridden by baselines.<name> in params.yaml. Baselines never take tuned params (they do not wait for tune)."""

import sys

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.logs import UserError, run_stage
from deepfake_detector.paths import BASELINES_DIR, FACES_CSV, MANIFEST_CSV
from deepfake_detector.tables import load_face_table
from deepfake_detector.train.run import train_and_calibrate


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    name = sys.argv[1] if len(sys.argv) == 2 else ""
    if name not in params.baselines:
        raise UserError(
            f"usage: python stages/baselines.py NAME, NAME one of baselines in params.yaml: {sorted(params.baselines)}"
        )
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    train_and_calibrate(
        params.baseline(name), faces, BASELINES_DIR / name / "model", BASELINES_DIR / name / "metrics.json"
    )


if __name__ == "__main__":
    run_stage(main)
