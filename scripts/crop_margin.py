"""The margin a face-crop dataset was cut with, so other datasets' faces can be framed the same way.

Datasets published as face crops (dfdc_faces) are used whole (faces.already_cropped: skip), while videos go
through MTCNN and are cropped at faces.margin x the box side. A model trained on tight crops and shown loose
ones (hair, background, black borders) is tested on a different framing, not only on unseen fakes. This
prints the crop side / MTCNN box side of a sample of a dataset's images; set faces.margin to the median.
Uses only the train split, so nothing is chosen on test data.

Run after the download stage:  python scripts/crop_margin.py --dataset dfdc_faces --sample 300
"""

from __future__ import annotations

import argparse
import json
import logging

import numpy as np
import pandas as pd

from deepfake_detector.config import load_params
from deepfake_detector.media.faces import FaceDetector, cut_margin
from deepfake_detector.media.frames import read_image
from deepfake_detector.paths import MANIFEST_CSV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="a dataset name from params.yaml (data.datasets)")
    parser.add_argument("--sample", type=int, default=300, help="images measured (train split, seeded sample)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    params = load_params()
    manifest = pd.read_csv(MANIFEST_CSV)
    images = manifest[
        (manifest["dataset"] == args.dataset) & (manifest["split"] == "train") & (manifest["media"] == "image")
    ]
    if images.empty:
        raise SystemExit(
            f"no train images of dataset {args.dataset!r} in {MANIFEST_CSV}; "
            f"datasets there: {sorted(manifest['dataset'].unique())}"
        )
    images = images.sample(min(args.sample, len(images)), random_state=params.seed)
    detector = FaceDetector(params.faces.model_copy(update={"already_cropped": "pad"}))
    margins = [cut_margin(read_image(path), detector) for path in images["path"]]
    found = np.array([m for m in margins if m is not None])
    if not len(found):
        raise SystemExit(f"MTCNN found no face in the {len(images)} sampled images of {args.dataset!r}")
    quartiles = np.percentile(found, [25, 50, 75]).round(3).tolist()
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "measured": len(found),
                "no_face": len(images) - len(found),
                "margin_quartiles": quartiles,
                "suggested_faces_margin": round(quartiles[1], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
