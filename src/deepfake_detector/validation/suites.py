"""The suites: the expectations each derived table must meet, each with the fix its failure names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import great_expectations.expectations as gxe  # GX analytics are off: see the package's __init__
import pandas as pd

from deepfake_detector.config import ValidateConfig
from deepfake_detector.data.splits import held_out_fakes
from deepfake_detector.tables import MEDIA, SPLITS
from deepfake_detector.validation.facts import (
    class_ratios,
    crop_facts,
    detection_rates,
    faces_with_items,
    group_splits,
    media_facts,
)


@dataclass
class Suite:
    """One GX suite over one derived table; `ids` are the columns that name an offending row."""

    suite: str
    df: pd.DataFrame
    ids: list[str]
    expectations: list[gxe.Expectation]


def manifest_suites(manifest: pd.DataFrame, cfg: ValidateConfig, root: Path, holdout_methods: list[str]) -> list[Suite]:
    m = media_facts(manifest, root)

    items = Suite(
        "manifest",
        m,
        ["path"],
        [
            _unique(
                "item_id",
                "Each item_id must be unique: drop the duplicate rows or fix the adapter's id scheme.",
            ),
            _in_set(
                "label",
                [0, 1],
                "label must be 0 (real) or 1 (fake): fix the dataset adapter's label mapping.",
            ),
            _in_set("split", list(SPLITS), "split must be train, val or test: re-run the split stage."),
            _in_set("media", list(MEDIA), "media must be image or video: fix the dataset adapter."),
            _in_set(
                "exists",
                [True],
                "File missing: re-run ingest, or fix the path (relative to the project root).",
            ),
            _in_set("decodes", [True], "File is corrupt or not a readable image/video: re-download it or drop it."),
        ],
    )
    splits = Suite(
        "manifest_splits",
        class_ratios(m),
        ["split", "n_real", "n_fake"],
        [
            _between(
                "class_ratio",
                1.0,
                cfg.max_class_ratio,
                f"Classes in this split are more unbalanced than validate.max_class_ratio={cfg.max_class_ratio}: "
                "subsample the majority class (datasets[].max_items) or add data of the minority class.",
            )
        ],
    )
    groups = Suite(
        "manifest_groups",
        # held-out fakes sit in test while their group's reals train, by design (leave-methods-out)
        group_splits(m[~held_out_fakes(m, holdout_methods)]),
        ["group", "splits"],
        [
            _in_set(
                "n_splits",
                [1],
                "A group (source video / identity) is in several splits, so test faces leak into training: "
                "fix the split stage so that each group lands in exactly one split.",
            )
        ],
    )
    return [items, splits, groups]


def faces_suites(faces: pd.DataFrame, manifest: pd.DataFrame, cfg: ValidateConfig, root: Path) -> list[Suite]:
    f = faces_with_items(faces, manifest)

    rows = Suite(
        "faces",
        f,
        ["item_id", "frame_idx"],
        [
            _in_set(
                "in_manifest",
                [True],
                "Face rows refer to items missing from the manifest: re-run the faces stage.",
            ),
            _between("prob", 0.0, 1.0, "Detector probability must be in [0, 1]: check the face detector's output."),
        ],
    )
    found = f[f["found"].astype(bool)].reset_index(drop=True)
    crops = Suite(
        "faces_crops",
        crop_facts(found, cfg.max_hash_distance, root),
        ["crop_path", "split", "duplicate_of"],
        [
            _not_null("face_px", "Found faces need a size: fix the faces stage."),
            _between(
                "face_px",
                cfg.min_face_source_px,
                cfg.max_face_source_px,
                f"Face size outside [{cfg.min_face_source_px}, {cfg.max_face_source_px}] source px: raise "
                "faces.min_face_detect_px (detection px) to drop tiny detections, lower validate.min_face_source_px "
                "to accept them, or check the source resolution.",
            ),
            _in_set("crop_exists", [True], "Crop missing: re-run the faces stage."),
            _in_set(
                "crop_decodes",
                [True],
                "Crop unreadable (corrupt file): delete it and re-run the faces stage.",
            ),
            _in_set(
                "crop_not_blank",
                [True],
                "Crop is blank (black or flat): check frame extraction and the crop box, then re-run the faces stage.",
            ),
            _in_set(
                "unique_across_splits",
                [True],
                f"The same image (perceptual hash within {cfg.max_hash_distance} bits) is in two splits: "
                "drop one copy, or give both items one group so they share a split.",
            ),
        ],
    )
    datasets = Suite(
        "faces_datasets",
        detection_rates(f),
        ["dataset", "n_found", "n_rows"],
        [
            _between(
                "detection_rate",
                cfg.min_detection_rate,
                1.0,
                f"Fewer than {cfg.min_detection_rate:.0%} of frames have a face: check faces.min_prob and "
                "faces.detect_max_side, or drop faceless media from the dataset.",
            )
        ],
    )
    return [rows, crops, datasets]


def _in_set(column: str, values: list, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, meta={"fix": fix})


def _between(column: str, lo: float, hi: float, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi, meta={"fix": fix})


def _unique(column: str, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeUnique(column=column, meta={"fix": fix})


def _not_null(column: str, fix: str) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToNotBeNull(column=column, meta={"fix": fix})
