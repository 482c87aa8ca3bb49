"""Group-aware splits: every group (identity, source video, swap pair) lands on exactly one side."""

from __future__ import annotations

import hashlib
import logging

import pandas as pd

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def stable_unit(group: str, seed: int) -> float:
    """A deterministic number in [0, 1) per group: stable across runs, machines and dataset order."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).hexdigest()
    return int(digest[:12], 16) / 16**12


def assign_splits(df: pd.DataFrame, val: float, test: float, seed: int) -> pd.Series:
    """Fill missing splits by group. Given splits are kept; "trainval" means train or val, never test.

    Groups are shuffled by a seeded hash and dealt out by item count (test first, then val, the rest train),
    so even a handful of groups yields every split, and adding a dataset never reshuffles another's groups.
    A group that already has a given split sends all its unassigned items there too.
    """
    split = df["split"].fillna("").astype(str).to_numpy(dtype=object)
    given = pd.Series(split).isin(list(SPLITS))
    group_split = dict(zip(df["group"][given.to_numpy()], split[given.to_numpy()], strict=True))
    for pool, fractions in (("", {"test": test, "val": val}), ("trainval", {"val": val / max(1 - test, 1e-9)})):
        mask = (split == pool) & ~df["group"].isin(group_split).to_numpy()
        sizes = df.loc[mask, "group"].value_counts()
        group_split.update(_deal(sizes, fractions, seed))
    return pd.Series(
        [s if s in SPLITS else group_split[g] for s, g in zip(split, df["group"], strict=True)],
        index=df.index,
        dtype="string",
    )


def _deal(sizes: pd.Series, fractions: dict[str, float], seed: int) -> dict[str, str]:
    """Groups in hash order; each split takes groups until it holds its fraction of the items.

    A split with a positive fraction gets at least one group even when a large group before it overshot
    the previous split's share, as long as a group is left for train.
    """
    order = sorted(sizes.index, key=lambda g: stable_unit(str(g), seed))
    total, taken, result = sizes.sum(), 0, {}
    bounds, cumulative = [], 0.0
    for name, fraction in fractions.items():
        cumulative += fraction
        if fraction > 0:
            bounds.append((name, cumulative * total))
    stage, used = 0, set()
    for i, group in enumerate(order):
        while stage < len(bounds) and taken >= bounds[stage][1] and (bounds[stage][0] in used or i == len(order) - 1):
            stage += 1
        name = bounds[stage][0] if stage < len(bounds) else "train"
        result[group] = name
        used.add(name)
        taken += int(sizes[group])
    return result


def hold_out_methods(manifest: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Leave-methods-out: every fake of `methods` goes to test, so the model never sees them in train or val.
    Reals and other fakes keep their group split. Raises ValueError naming unknown methods."""
    if not methods:
        return manifest
    known = set(manifest.loc[manifest["label"] == 1, "method"].astype(str))
    unknown = sorted(set(methods) - known)
    if unknown:
        raise ValueError(
            f"data.holdout_methods: {unknown} not among the manifest's manipulation methods {sorted(known)}"
        )
    return manifest.assign(split=manifest["split"].where(~held_out_fakes(manifest, methods), "test"))


def held_out_fakes(manifest: pd.DataFrame, methods: list[str]) -> pd.Series:
    """The rows hold_out_methods moved to test: they share groups with train/val items on purpose."""
    return (manifest["label"] == 1) & manifest["method"].isin(methods)


def hold_out_shared_people(manifest: pd.DataFrame) -> pd.DataFrame:
    """A person that one dataset tests and another would train or validate on (datasets of the same people,
    datasets[].identities_of, share group names) goes to test in both: the same face at another compression
    must not be trained on and then tested as unseen, and keeping it in test keeps the unseen set whole. A
    dataset's own groups never straddle splits (but for held-out fakes)."""
    datasets_of = manifest.groupby("group")["dataset"].nunique()
    shared = set(datasets_of[datasets_of > 1].index)
    tested = set(manifest.loc[manifest["split"] == "test", "group"])
    move = manifest["group"].isin(shared & tested) & (manifest["split"] != "test")
    for dataset, part in manifest[move].groupby("dataset"):
        log.info(
            "%s: %d items moved to test, another dataset tests their people: %s",
            dataset,
            len(part),
            sorted(part["group"].unique()),
        )
    return manifest.assign(split=manifest["split"].where(~move, "test"))


def hold_out_datasets(manifest: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Leave-datasets-out: every item of `names` goes to test, as if their role were `unseen`."""
    return manifest.assign(split=manifest["split"].where(~manifest["dataset"].isin(names), "test"))


def training_sets(training: list[str]) -> list[list[str]]:
    """Leave-one-dataset-out's training sets: all the training datasets, all but each one, then each one
    alone (the single-source models it must beat); a set reached twice comes once (of two datasets, all but
    one is the other alone)."""
    candidates = [training, *([t for t in training if t != out] for out in training), *([t] for t in training)]
    sets: list[list[str]] = []
    for candidate in candidates:
        if candidate and candidate not in sets:
            sets.append(candidate)
    return sets


def leave_one_dataset_out(manifest: pd.DataFrame, training: list[str]) -> list[tuple[list[str], pd.DataFrame]]:
    """(datasets trained on, manifest) per training set of training_sets: the other training datasets all in
    test, as if unseen; the trained ones keep their splits."""
    return [
        (trained, hold_out_datasets(manifest, [t for t in training if t not in trained]))
        for trained in training_sets(training)
    ]
