"""Stage crop_faces: MTCNN on every frame, the tracked main face cropped with a margin; misses recorded."""

from functools import partial

import pandas as pd

from deepfake_detector.config import load_params
from deepfake_detector.engines import Progress, UnitFiles, run_units
from deepfake_detector.io import resumable_dir, run_key
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import FACES_CSV, FACES_DIR, FRAMES_CSV, MANIFEST_CSV
from deepfake_detector.preprocess import gather
from deepfake_detector.preprocess.crop_faces import FaceCropper, batch_frames, face_batches
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import FACES, FRAMES, MANIFEST, read_table, write_table


def main() -> None:
    params = load_params()
    manifest = read_table(MANIFEST_CSV, MANIFEST).set_index("item_id")
    frames = read_table(FRAMES_CSV, FRAMES)
    batches = face_batches(frames, manifest, params.faces.batch_size)
    summary = StageSummary("crop_faces")
    # a failed run keeps the batches it finished; the next run with the same frames, params and code resumes
    compute = params.compute
    key = run_key(batches, params.faces, compute.detect_device, compute.detect_threads)
    with resumable_dir(FACES_DIR, key) as (out, finished):
        cropper = partial(FaceCropper, params.faces, compute.detect_device, compute.detect_threads, FACES_DIR)
        frames_in = Progress("crop_faces", "frame", size=lambda batch: sum(len(item.frames) for item in batch))
        done = run_units(
            batches, cropper, compute, frames_in, resume_dir=finished, files=UnitFiles(out, inputs=batch_frames)
        )
    rows = gather(done, summary.skip)
    faces_table = pd.DataFrame(rows) if rows else FACES.empty()
    write_table(faces_table, FACES_CSV, FACES)
    summary.counts = _counts(faces_table, manifest, len(frames))
    summary.write()


def _counts(faces: pd.DataFrame, manifest: pd.DataFrame, frames_in: int) -> dict:
    with_dataset = faces.join(manifest["dataset"], on="item_id")
    rate = with_dataset.groupby("dataset")["found"].mean().round(4).to_dict()
    return {
        "frames_in": frames_in,
        "frames_out": len(faces),
        "faces_found": int(faces["found"].sum()),
        "detection_rate": round(float(faces["found"].mean()), 4) if len(faces) else 0.0,
        "detection_rate_by_dataset": rate,
    }


if __name__ == "__main__":
    run_stage(main)
