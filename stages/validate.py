"""Stage validate: Great Expectations suites over the manifest and faces tables; stops the pipeline on failure
with a readable report (artifacts/validate/report.txt) and an HTML page (artifacts/validate/index.html)."""

import logging

from deepfake_detector.config import load_params
from deepfake_detector.logs import UserError, run_stage
from deepfake_detector.paths import FACES_CSV, MANIFEST_CSV, VALIDATE_DIR
from deepfake_detector.tables import FACES, MANIFEST, read_table
from deepfake_detector.validation import validate_tables

log = logging.getLogger("validate")


def main() -> None:
    params = load_params()
    manifest = read_table(MANIFEST_CSV, MANIFEST)
    faces = read_table(FACES_CSV, FACES)
    report = validate_tables(
        manifest, faces, params.validate_, VALIDATE_DIR, holdout_methods=params.data.holdout_methods
    )
    print(report.to_text())
    if not report.success:
        raise UserError(f"data validation failed; see {VALIDATE_DIR / 'report.txt'} and {VALIDATE_DIR / 'index.html'}")
    log.info("all expectations met; report in %s", VALIDATE_DIR)


if __name__ == "__main__":
    run_stage(main)
