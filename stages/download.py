"""Stage download: acquire every dataset in params.yaml and write the manifest (one row per video/image)."""

from pathlib import Path

import pandas as pd

from deepfake_detector.config import load_params
from deepfake_detector.data.adapters import LayoutError
from deepfake_detector.data.manifest import index_dataset, probe_sizes
from deepfake_detector.data.sources import SourceError, acquire
from deepfake_detector.data.splits import hold_out_methods, hold_out_shared_people
from deepfake_detector.logs import UserError, run_stage
from deepfake_detector.paths import MANIFEST_CSV
from deepfake_detector.summary import StageSummary
from deepfake_detector.tables import MANIFEST, write_table


def main() -> None:
    params = load_params()
    summary = StageSummary("download")
    parts = []
    for dataset in params.data.datasets:
        try:
            root = acquire(dataset.source, Path.cwd())
            parts.append(index_dataset(root, dataset, params.data.split, params.seed, params.data.duplicate_bits))
        except (SourceError, LayoutError) as err:
            raise UserError(f"dataset '{dataset.name}': {err}") from None
    manifest = probe_sizes(pd.concat(parts, ignore_index=True))
    if manifest.empty:
        raise UserError("no media found in any dataset; check data.datasets in params.yaml")
    try:
        manifest = hold_out_methods(manifest, params.data.holdout_methods)
    except ValueError as err:
        raise UserError(f"params.yaml: {err}") from None
    manifest = hold_out_shared_people(manifest)
    write_table(manifest, MANIFEST_CSV, MANIFEST)
    summary.counts = {
        "items": len(manifest),
        "by_dataset": manifest.groupby("dataset").size().to_dict(),
        "by_label": manifest["label"].map({0: "real", 1: "fake"}).value_counts().to_dict(),
        "by_split": manifest["split"].value_counts().to_dict(),
        "by_media": manifest["media"].value_counts().to_dict(),
    }
    summary.write()


if __name__ == "__main__":
    run_stage(main)
