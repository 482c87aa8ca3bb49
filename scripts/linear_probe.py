#!/usr/bin/env python3
"""How much the ImageNet features of a pretrained backbone already separate real from fake DFDC faces.

A diagnostic for the pretrained-backbone work (docs/pretrained.md): the frozen backbone's pooled features of
every face crop of ../shared/data/dfdc_faces_dev, then a logistic regression on 75% of the groups, scored
on the other 25% (a fake stays with the real video it was made from: `original` is the group key). No
fine-tuning, so it separates what the data allows from what a training recipe gets out of it.

    python scripts/linear_probe.py --size 128 --per-label 4000   # every crop
    python scripts/linear_probe.py --size 128 --per-label 2000   # the real profile's sample size
    python scripts/linear_probe.py --size 128 --per-label 4000 --random-split   # groups ignored: leakage?
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import timm
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupShuffleSplit

from deepfake_detector.data.adapters.dfdc_faces import index_dfdc_faces
from deepfake_detector.models.preprocess import to_model_input
from deepfake_detector.models.pretrained import find_weights, load_into

DATASET = Path("../shared/data/dfdc_faces_dev")
VAL_SHARE = 0.25
BATCH = 64


def load_metadata(root: Path, per_label: int, seed: int) -> pd.DataFrame:
    """The dataset as the pipeline indexes it (the dfdc_faces adapter: paths, labels, groups), sampled per label."""
    items = pd.DataFrame(
        [{"path": str(i.path), "label": i.label, "group": i.group} for i in index_dfdc_faces(root, {})]
    )
    return pd.concat([rows.sample(min(per_label, len(rows)), random_state=seed) for _, rows in items.groupby("label")])


def features(paths: list[str], backbone: str, size: int) -> np.ndarray:
    source = find_weights(backbone)
    model = timm.create_model(backbone, pretrained=False, num_classes=1)
    load_into(model, source)
    model.reset_classifier(0)
    model.eval()
    out = []
    for start in range(0, len(paths), BATCH):
        crops = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths[start : start + BATCH]]
        with torch.no_grad():
            out.append(model(torch.from_numpy(to_model_input(crops, size, source.mean, source.std))).numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--per-label", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATASET)
    parser.add_argument(
        "--random-split",
        action="store_true",
        help="split crops at random, ignoring groups (fakes beside their source video): to measure leakage",
    )
    args = parser.parse_args()
    meta = load_metadata(args.data, args.per_label, args.seed)
    started = time.perf_counter()
    x, y = features(meta["path"].tolist(), args.backbone, args.size), meta["label"].to_numpy()
    print(f"{len(meta)} crops, {x.shape[1]} features at {args.size} px in {time.perf_counter() - started:.0f} s")
    groups = np.arange(len(meta)) if args.random_split else meta["group"].to_numpy()
    split = GroupShuffleSplit(1, test_size=VAL_SHARE, random_state=args.seed)
    train, val = next(split.split(x, y, groups))
    kind = "random" if args.random_split else "grouped"
    for c in (0.1, 0.5, 2.0):
        probe = LogisticRegression(C=c, max_iter=5000).fit(x[train], y[train])
        auc = roc_auc_score(y[val], probe.predict_proba(x[val])[:, 1])
        print(f"C={c}: validation AUC {auc:.3f} ({len(train)} train, {len(val)} validation crops, {kind} split)")


if __name__ == "__main__":
    main()
