"""The pipeline's tables (manifest, frames, faces): one schema each, checked on every read and write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepfake_detector.io import atomic_path

LABELS = {0: "real", 1: "fake"}
SPLITS = ("train", "val", "test")
MEDIA = ("image", "video")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: dict[str, str]  # column -> pandas dtype

    def check(self, df: pd.DataFrame, source: str = "") -> pd.DataFrame:
        where = f" in {source}" if source else ""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise ValueError(f"{self.name} table{where} is missing columns {missing}; expected {list(self.columns)}")
        df = df[list(self.columns)].copy()
        for column, dtype in self.columns.items():
            if dtype == "bool" and not pd.api.types.is_bool_dtype(df[column]):  # CSV text: "False" must stay False
                df[column] = df[column].map(_parse_bool)
        return df.astype(self.columns).reset_index(drop=True)

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in self.columns.items()})


MANIFEST = TableSchema(
    "manifest",
    {
        "item_id": "string",  # unique across datasets: "<dataset>/<path inside the dataset>"
        "dataset": "string",
        "path": "string",  # relative to the project root (or absolute)
        "media": "string",  # image | video
        "label": "int64",  # 0 real, 1 fake
        "method": "string",  # manipulation method, "real" for reals
        "group": "string",  # items of one group never land in two splits
        "split": "string",  # train | val | test
        "cropped": "bool",  # the file is already a face crop (skip or pad detection)
        "width": "int64",  # -1 when unknown
        "height": "int64",
    },
)

FRAMES = TableSchema(
    "frames",
    {
        "item_id": "string",
        "frame_idx": "int64",  # index in the video; 0 for images
        "t": "float64",  # seconds into the video; 0 for images
        "path": "string",  # the extracted frame (or the image itself)
    },
)

FACES = TableSchema(
    "faces",
    {
        "item_id": "string",
        "frame_idx": "int64",
        "found": "bool",  # False: no face in this frame (kept so detection rate can be measured)
        "x1": "float64",
        "y1": "float64",
        "x2": "float64",
        "y2": "float64",
        "landmarks": "string",  # JSON [[x, y] * 5] in frame pixels, "" when not found
        # JSON [[x, y] * 68] in frame pixels (media/landmarks.py), "" when not found or faces.dense_landmarks off
        "landmarks68": "string",
        "prob": "float64",
        "face_px": "float64",  # max(box w, h) in source pixels, before any resize
        # the square the crop was cut from (media/faces.crop_square), in source pixels; 0 when not found
        "crop_x": "int64",
        "crop_y": "int64",
        "crop_side": "int64",
        "crop_path": "string",  # "" when not found
    },
)


def _parse_bool(value) -> bool:
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise ValueError(f"'{value}' is not a boolean (true/false)")
    return text in ("true", "1")


def read_table(path: str | Path, schema: TableSchema) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: {schema.name} table not found; run the stage that writes it first")
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    return schema.check(df, str(path))


def write_table(df: pd.DataFrame, path: str | Path, schema: TableSchema) -> Path:
    df = schema.check(df, str(path))
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def load_face_table(manifest_csv: str | Path, faces_csv: str | Path) -> pd.DataFrame:
    """Found faces with their item's label, split, dataset, method and group."""
    manifest = read_table(manifest_csv, MANIFEST)
    faces = read_table(faces_csv, FACES)
    faces = faces[faces["found"]]
    meta = manifest[["item_id", "dataset", "media", "label", "method", "group", "split"]]
    return faces.merge(meta, on="item_id", how="inner").sort_values(["item_id", "frame_idx"]).reset_index(drop=True)
