"""Face-crop datasets for training, over the faces table joined with the manifest (tables.load_face_table):
one row per usable crop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from deepfake_detector.config import TrainConfig
from deepfake_detector.media.frames import read_crop
from deepfake_detector.models.preprocess import eval_transform
from deepfake_detector.train.augment import train_transform
from deepfake_detector.train.self_blend import crop_landmarks, self_blend


class CropDataset(Dataset):
    def __init__(self, rows: pd.DataFrame, transform, self_blend_rate: float = 0.0, seed: int = 0):
        """`self_blend_rate`: share of real crops turned into self-blended fakes, each time they are drawn."""
        self.paths = rows["crop_path"].tolist()
        self.labels = rows["label"].to_numpy(dtype=np.float32)
        self.transform = transform
        self.self_blend_rate = self_blend_rate
        if self_blend_rate > 0:  # as fractions of the crop side (the crop square recorded in faces.csv)
            self.landmarks = [crop_landmarks(r) for r in rows.itertuples(index=False)]
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        image, label = read_crop(self.paths[i]), self.labels[i]
        if self.self_blend_rate > 0 and label == 0 and self.rng.random() < self.self_blend_rate:
            landmarks = None if self.landmarks[i] is None else self.landmarks[i] * image.shape[0]
            image, label = self_blend(image, landmarks, self.rng).image, np.float32(1.0)
        image = self.transform(image=image)["image"]
        return torch.from_numpy(image.transpose(2, 0, 1).copy()), torch.tensor(label)


def balanced_sampler(cells: np.ndarray, seed: int) -> WeightedRandomSampler:
    """Each cell (a class, or one dataset's class: sampling_cells) drawn equally often, whatever its size."""
    cells = cells.astype(int)
    counts = np.bincount(cells, minlength=2).astype(float)
    weights = 1.0 / counts[cells]
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(torch.as_tensor(weights), num_samples=len(cells), generator=generator)


def sampling_cells(rows: pd.DataFrame, balance: str) -> np.ndarray:
    """The cell of each row the balanced sampler evens out (train.balance): its label, or its (dataset, label)
    pair."""
    if balance == "label":
        return rows["label"].to_numpy()
    return pd.factorize(rows["dataset"].astype(str) + "/" + rows["label"].astype(str), sort=True)[0]


def cell_weights(cells: np.ndarray) -> np.ndarray:
    """A weight per row that gives every cell the same total: n / (cells * the row's cell count), sklearn's
    "balanced" class weights, for the linear probe's loss."""
    counts = np.bincount(cells).astype(np.float64)
    return len(cells) / (np.count_nonzero(counts) * counts[cells])


def check_splits(train_rows: pd.DataFrame, val_rows: pd.DataFrame, blend_only: bool = False) -> None:
    """Both classes in both splits; self_blend_only makes its fakes from real crops, so its train split needs
    reals only."""
    train_ok = len(train_rows) > 0 if blend_only else train_rows["label"].nunique() == 2
    if not train_ok or val_rows["label"].nunique() < 2:
        raise ValueError(
            "training needs real and fake faces in both the train and val splits (real ones only in train with "
            f"train.self_blend_only); got train labels {sorted(train_rows['label'].unique())}, "
            f"val labels {sorted(val_rows['label'].unique())}"
        )


def make_loaders(
    faces: pd.DataFrame,
    train: TrainConfig,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    seed: int,
    max_train_items: int | None = None,
) -> tuple[DataLoader, DataLoader]:
    """The train loader (augmented, balanced as train.balance says, with self-blended fakes) and the val one;
    `max_train_items`: a sample of the train split (the tune stage's trials)."""
    train_rows = faces[faces["split"] == "train"]
    blend_only = train.self_blend_only and train.self_blend_rate > 0
    if blend_only:
        train_rows = train_rows[train_rows["label"] == 0]
    if max_train_items and len(train_rows) > max_train_items:
        train_rows = train_rows.sample(max_train_items, random_state=seed)
    val_rows = faces[faces["split"] == "val"]
    check_splits(train_rows, val_rows, blend_only)
    transform = train_transform(
        train.input_size, train.augment.strength, mean, std, seed, train.multiscale, train.augment.crop_scale_min
    )
    train_set = CropDataset(train_rows, transform, train.self_blend_rate, seed)
    val_set = CropDataset(val_rows, eval_transform(train.input_size, mean, std))
    generator = torch.Generator().manual_seed(seed)
    # real-only rows: the self-blend rate sets the class mix, nothing to balance
    balanced = train.balance != "none" and not blend_only
    sampler = balanced_sampler(sampling_cells(train_rows, train.balance), seed) if balanced else None
    batch_size, workers = train.batch_size, train.num_workers
    train_loader = DataLoader(
        train_set,
        batch_size=batch_size,
        sampler=sampler,
        shuffle=sampler is None,
        generator=generator,
        num_workers=workers,
        drop_last=len(train_set) > batch_size,
    )
    val_loader = DataLoader(val_set, batch_size=batch_size * 2, shuffle=False, num_workers=workers)
    return train_loader, val_loader
