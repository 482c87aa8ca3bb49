"""How often the out-of-distribution check withholds a verdict: the packaged model, through the Predictor the
CLI and the service use, on a few files of each folder named (docs/serving.md#out-of-distribution-faces).

    python scripts/ood_shares.py --model artifacts/model --per-folder 40 FOLDER...

Prints one JSON line per folder: files scored, files withheld as out_of_distribution (and their share), the
median and 95th percentile of the main faces' embedding distances, and the model's range (max_distance).
Files are taken in sorted order, evenly spaced over the folder, so a re-run scores the same ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import media_files


def spread(files: list[Path], count: int) -> list[Path]:
    """`count` files evenly spaced over the sorted list (all of them when there are fewer)."""
    if len(files) <= count:
        return files
    return [files[int(i)] for i in np.linspace(0, len(files) - 1, count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"), help="a packaged model folder")
    parser.add_argument("--per-folder", type=int, default=40, help="files scored per folder")
    args = parser.parse_args()
    predictor = Predictor(args.model)
    limit = predictor.spec.embedding_range.max_distance if predictor.spec.embedding_range else None
    for folder in args.folders:
        results = [predictor.predict_path(path) for path in spread(media_files([folder]), args.per_folder)]
        distances = [
            f.embedding_distance for r in results for f in r.faces if f.track == 0 and f.embedding_distance is not None
        ]
        withheld = sum(bool(r.reason) and r.reason["code"] == "out_of_distribution" for r in results)
        scored = sum(r.error is None for r in results)
        print(
            json.dumps(
                {
                    "folder": str(folder),
                    "files": scored,
                    "out_of_distribution": withheld,
                    "share": round(withheld / scored, 3) if scored else None,
                    "distance_median": round(float(np.median(distances)), 3) if distances else None,
                    "distance_p95": round(float(np.percentile(distances, 95)), 3) if distances else None,
                    "max_distance": None if limit is None else round(limit, 3),
                }
            )
        )


if __name__ == "__main__":
    main()
