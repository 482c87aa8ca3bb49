"""Stage extract_frames: N uniformly spaced frames per video (decoding only those); images pass through."""

from pathlib import Path

import cv2
import pandas as pd
from tqdm import tqdm

from deepfake_detector.config import load_params
from deepfake_detector.io import atomic_dir
from deepfake_detector.logs import run_stage
from deepfake_detector.media.frames import MediaError, sample_frames
from deepfake_detector.paths import FRAMES_CSV, FRAMES_DIR, MANIFEST_CSV
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import FRAMES, MANIFEST, read_table, write_table


def main() -> None:
    params = load_params()
    cfg = params.frames
    manifest = read_table(MANIFEST_CSV, MANIFEST)
    summary = StageSummary("extract_frames")
    max_bytes = params.data.max_file_mb * 1024 * 1024
    rows = []
    with atomic_dir(FRAMES_DIR) as out:
        for item in tqdm(manifest.itertuples(index=False), total=len(manifest), desc="extract_frames", unit="item"):
            try:
                if _size(item.path) > max_bytes:
                    raise MediaError(f"{item.path}: larger than data.max_file_mb={params.data.max_file_mb}")
                if item.media == "image":
                    rows.append({"item_id": item.item_id, "frame_idx": 0, "t": 0.0, "path": item.path})
                    continue
                for frame in sample_frames(item.path, cfg.per_video):
                    target = out / item.item_id / f"{frame.index:06d}.{cfg.image_format}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
                    cv2.imwrite(str(target), bgr, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                    final = FRAMES_DIR / target.relative_to(out)
                    rows.append({"item_id": item.item_id, "frame_idx": frame.index, "t": frame.t, "path": str(final)})
            except MediaError as err:
                summary.skip(item.path, str(err))
    frames = pd.DataFrame(rows) if rows else FRAMES.empty()
    write_table(frames, FRAMES_CSV, FRAMES)
    summary.counts = {
        "items_in": len(manifest),
        "items_out": int(frames["item_id"].nunique()),
        "frames_out": len(frames),
        "videos": int((manifest["media"] == "video").sum()),
        "images": int((manifest["media"] == "image").sum()),
    }
    summary.write()


def _size(path: str) -> int:
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"{path}: file not found")
    return p.stat().st_size


if __name__ == "__main__":
    run_stage(main)
