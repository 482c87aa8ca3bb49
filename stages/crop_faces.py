"""Stage crop_faces: MTCNN on every frame, the tracked main face cropped with a margin; misses recorded."""

import logging
import time

import cv2
import pandas as pd
from tqdm import tqdm

from deepfake_detector.config import load_params
from deepfake_detector.io import atomic_dir
from deepfake_detector.logs import run_stage
from deepfake_detector.media.faces import FaceDetector, crop_square, cut_square
from deepfake_detector.media.frames import MediaError, read_image
from deepfake_detector.paths import FACES_CSV, FACES_DIR, FRAMES_CSV, MANIFEST_CSV
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import FACES, FRAMES, MANIFEST, read_table, write_table

log = logging.getLogger("crop_faces")
CROP_JPEG_QUALITY = 95
NOT_FOUND = {"found": False, "x1": 0.0, "y1": 0.0, "x2": 0.0, "y2": 0.0, "landmarks": "", "prob": 0.0,
             "face_px": 0.0, "crop_x": 0, "crop_y": 0, "crop_side": 0, "crop_path": ""}


def item_batches(frames: pd.DataFrame, min_frames: int):
    """Consecutive items grouped until they hold at least `min_frames` frames (one detection batch)."""
    batch, count = [], 0
    for item_id, item_frames in frames.groupby("item_id", sort=True):
        batch.append((item_id, item_frames))
        count += len(item_frames)
        if count >= min_frames:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def main() -> None:
    params = load_params()
    cfg = params.faces
    manifest = read_table(MANIFEST_CSV, MANIFEST).set_index("item_id")
    frames = read_table(FRAMES_CSV, FRAMES)
    detector = FaceDetector(cfg, params.compute.detect_device)
    log.info("face detection on %s", detector.device)
    summary = StageSummary("crop_faces")
    rows = []
    started = time.perf_counter()
    progress = tqdm(total=len(frames), desc="crop_faces", unit="frame")
    with atomic_dir(FACES_DIR) as out:
        for batch in item_batches(frames, cfg.batch_size):
            decoded = []
            for item_id, item_frames in batch:
                try:
                    decoded.append((item_id, item_frames, [read_image(p) for p in item_frames["path"]]))
                except MediaError as err:
                    summary.skip(str(manifest.at[item_id, "path"]), str(err))
            found = detector.main_faces_many([(images, bool(manifest.at[i, "cropped"])) for i, _, images in decoded])
            for (item_id, item_frames, images), faces in zip(decoded, found, strict=True):
                cropped = bool(manifest.at[item_id, "cropped"])
                for frame_idx, image, face in zip(item_frames["frame_idx"], images, faces, strict=True):
                    rows.append(face_row(item_id, int(frame_idx), image, face, out, cfg, cropped))
            progress.update(sum(len(f) for _, f in batch))
    progress.close()
    elapsed = time.perf_counter() - started
    faces_table = pd.DataFrame(rows) if rows else FACES.empty()
    write_table(faces_table, FACES_CSV, FACES)
    summary.counts = _counts(faces_table, manifest, len(frames))
    summary.write()
    # throughput goes to the log, not the summary: the summary is a committed metrics file, and a clock
    # reading in it would change with every run (benchmarks/preprocess_benchmark.py parses this line)
    log.info("%.2f frames/s (without start-up): %d frames in %.1f s",
             len(frames) / elapsed if elapsed else 0.0, len(frames), elapsed)


def face_row(item_id: str, frame_idx: int, image, face, out, cfg, cropped: bool) -> dict:
    """The faces-table row of one frame; the crop is written under `out` when a face was found.
    Items that are face crops already are cropped inside the image (no black border). The square the crop
    was cut from is recorded, so nothing downstream re-derives it from faces.margin."""
    row = {"item_id": item_id, "frame_idx": frame_idx, **NOT_FOUND}
    if face is None:
        return row
    target = out / item_id / f"{frame_idx:06d}.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    square = crop_square(image.shape, face, cfg.margin, fit_inside=cropped)
    crop = cut_square(image, square, cfg.crop_size)
    cv2.imwrite(str(target), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
    x1, y1, x2, y2 = face.box
    row.update(found=True, x1=x1, y1=y1, x2=x2, y2=y2, landmarks=face.landmarks_json(), prob=face.prob,
               face_px=face.size_px, crop_x=square.x, crop_y=square.y, crop_side=square.side,
               crop_path=str(FACES_DIR / target.relative_to(out)))
    return row


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
