"""Stage extract_frames: N uniformly spaced frames per video (decoding only those); images pass through."""

from functools import partial

import pandas as pd

from deepfake_detector.config import load_params
from deepfake_detector.engines import Progress, UnitFiles, run_units
from deepfake_detector.io import resumable_dir, run_key
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import FRAMES_CSV, FRAMES_DIR, MANIFEST_CSV
from deepfake_detector.preprocess import gather
from deepfake_detector.preprocess.extract_frames import FrameExtractor, FrameItem
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import FRAMES, MANIFEST, read_table, write_table


def main() -> None:
    params = load_params()
    manifest = read_table(MANIFEST_CSV, MANIFEST)
    items = [FrameItem(i.item_id, i.path, i.media) for i in manifest.itertuples(index=False)]
    summary = StageSummary("extract_frames")
    # a failed run keeps the videos it finished; the next run with the same items, params and code resumes
    with resumable_dir(FRAMES_DIR, run_key(items, params.frames, params.data.max_file_mb)) as (out, finished):
        extractor = partial(FrameExtractor, params.frames, params.data.max_file_mb, FRAMES_DIR)
        done = run_units(
            items,
            extractor,
            params.compute,
            Progress("extract_frames"),
            resume_dir=finished,
            files=UnitFiles(out, inputs=lambda item: [item.path]),
        )
    rows = gather(done, summary.skip)
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


if __name__ == "__main__":
    run_stage(main)
