"""Stage tune: an Optuna study (seeded TPE sampler, median pruning, SQLite storage that survives re-runs)."""

import hashlib
import logging

import optuna

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.io import write_json
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import FACES_CSV, MANIFEST_CSV, TUNE_DIR
from deepfake_detector.tables import load_face_table
from deepfake_detector.train.search import run_study

log = logging.getLogger("tune")


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    TUNE_DIR.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data_key = "-" + hashlib.sha256(FACES_CSV.read_bytes()).hexdigest()[:8]  # new crops, new study
    study = run_study(faces, params, storage=f"sqlite:///{TUNE_DIR / 'optuna.db'}", data_key=data_key)
    best = study.best_trial
    write_json(
        {"value": best.value, "trial": best.number, "study": study.study_name, "params": best.params},
        TUNE_DIR / "best_params.json",
    )
    states = [t.state.name for t in study.trials]
    log.info(
        "study %s: %d trials (%s); best val AUC %.4f with %s",
        study.study_name,
        len(states),
        {s: states.count(s) for s in set(states)},
        best.value,
        best.params,
    )


if __name__ == "__main__":
    run_stage(main)
