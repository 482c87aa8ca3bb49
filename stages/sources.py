"""Stage sources: fingerprint the local dataset folders that live outside the project (see
data/sources/fingerprint.py). Always runs (it is cheap: it lists files); the download stage depends on its
output, so a changed folder re-indexes the data and an unchanged one lets DVC skip the whole pipeline."""

import logging
from pathlib import Path

from deepfake_detector.config import load_params
from deepfake_detector.data.sources.fingerprint import fingerprint_sources
from deepfake_detector.io import write_json
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import SOURCES_JSON

log = logging.getLogger("sources")


def main() -> None:
    params = load_params()
    fingerprints = fingerprint_sources(params.data.datasets, Path.cwd())
    write_json(fingerprints, SOURCES_JSON)
    for name, entry in fingerprints.items():
        found = entry["fingerprint"]
        log.info(
            "%s: %s",
            name,
            f"{found['files']} files, {found['bytes']} bytes"
            if found
            else "tracked by DVC (inside the project) or remote: nothing to fingerprint",
        )


if __name__ == "__main__":
    run_stage(main)
