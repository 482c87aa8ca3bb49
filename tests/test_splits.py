"""Group-aware splits (assign_splits) and dataset indexing (index_dataset) on the tiny demo corpus."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepfake_detector.config import DataConfig, DatasetConfig, SourceConfig, SplitConfig
from deepfake_detector.data.adapters import LayoutError
from deepfake_detector.data.manifest import index_dataset
from deepfake_detector.data.splits import (
    SPLITS,
    assign_splits,
    hold_out_datasets,
    hold_out_methods,
    hold_out_shared_people,
    leave_one_dataset_out,
    training_sets,
)
from deepfake_detector.tables import MANIFEST
from deepfake_detector.validation.facts import group_splits


def _frame(sizes: list[int], split: str | list[str] = "") -> pd.DataFrame:
    groups = np.repeat([f"g{i:03d}" for i in range(len(sizes))], sizes)
    return pd.DataFrame({"group": groups, "split": split})


def _group_split(df: pd.DataFrame, splits: pd.Series) -> dict[str, str]:
    return dict(zip(df["group"], splits, strict=True))


def test_deterministic_and_row_order_free() -> None:
    df = _frame([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])
    a = assign_splits(df, 0.2, 0.25, seed=7)
    b = assign_splits(df, 0.2, 0.25, seed=7)
    pd.testing.assert_series_equal(a, b)
    assert a.dtype == "string" and a.index.equals(df.index)
    shuffled = df.sample(frac=1, random_state=0)
    c = assign_splits(shuffled, 0.2, 0.25, seed=7)
    assert _group_split(shuffled, c) == _group_split(df, a)
    # another seed deals the groups differently
    others = [_group_split(df, assign_splits(df, 0.2, 0.25, seed=s)) for s in range(8, 12)]
    assert any(o != _group_split(df, a) for o in others)


def test_random_group_sizes_never_leak_and_fill_every_split() -> None:
    """Hypothesis-style: many seeds, random group counts (>= 6) and sizes."""
    for seed in range(150):
        rng = np.random.default_rng(seed)
        sizes = rng.integers(1, 20, int(rng.integers(6, 40))).tolist()
        df = _frame(sizes)
        df["split"] = assign_splits(df, 0.15, 0.2, seed)
        assert group_splits(df)["n_splits"].eq(1).all(), seed
        counts = df["split"].value_counts()
        assert set(counts.index) == set(SPLITS), (seed, sizes, counts.to_dict())


def test_fractions_are_close_with_many_small_groups() -> None:
    df = _frame([1] * 400)
    counts = assign_splits(df, 0.2, 0.25, seed=3).value_counts(normalize=True)
    assert counts["test"] == pytest.approx(0.25, abs=0.01)
    assert counts["val"] == pytest.approx(0.2, abs=0.01)
    assert counts["train"] == pytest.approx(0.55, abs=0.01)


def test_six_equal_groups_fill_every_split() -> None:
    for seed in range(30):
        splits = assign_splits(_frame([5] * 6), 0.15, 0.2, seed)
        assert set(splits) == set(SPLITS), seed


def test_two_groups_keep_a_train_split() -> None:
    for seed in range(30):
        splits = assign_splits(_frame([6, 6]), 0.2, 0.25, seed)
        assert "train" in set(splits) and "test" in set(splits)


def test_zero_fractions_leave_split_empty() -> None:
    splits = assign_splits(_frame([2] * 20), 0.0, 0.0, seed=1)
    assert set(splits) == {"train"}
    splits = assign_splits(_frame([2] * 20), 0.3, 0.0, seed=1)
    assert set(splits) == {"train", "val"}


def test_given_splits_are_kept_and_pull_their_group() -> None:
    df = _frame([4] * 12)
    given = ["" for _ in range(len(df))]
    given[0] = "test"  # one item of g000 is given as test: the other three follow it
    given[4] = "train"  # g001 likewise
    for i in range(8, 12):
        given[i] = "val"  # g002 fully given
    df["split"] = given
    out = assign_splits(df, 0.2, 0.25, seed=5)
    assert out[df["group"] == "g000"].unique().tolist() == ["test"]
    assert out[df["group"] == "g001"].unique().tolist() == ["train"]
    assert out[df["group"] == "g002"].unique().tolist() == ["val"]
    assert group_splits(df.assign(split=out))["n_splits"].eq(1).all()


def test_given_splits_survive_whatever_the_fractions() -> None:
    df = _frame([1] * 30)
    df["split"] = ["test"] * 10 + [""] * 20
    out = assign_splits(df, 0.0, 0.0, seed=0)
    assert (out[:10] == "test").all()
    assert (out[10:] == "train").all()


def test_trainval_is_never_test() -> None:
    for seed in range(40):
        rng = np.random.default_rng(seed)
        df = _frame(rng.integers(1, 10, 20).tolist(), "trainval")
        out = assign_splits(df, 0.2, 0.3, seed)
        assert "test" not in set(out), seed
        assert set(out) == {"train", "val"}, seed
        assert group_splits(df.assign(split=out))["n_splits"].eq(1).all()


def test_mixed_pools_each_group_once() -> None:
    sizes = [3] * 30
    df = _frame(sizes)
    df["split"] = np.repeat(["", "trainval", "test"], [30, 30, 30])
    out = assign_splits(df, 0.2, 0.25, seed=11)
    assert (out[60:] == "test").all()
    assert "test" not in set(out[30:60])
    assert group_splits(df.assign(split=out))["n_splits"].eq(1).all()


def test_leaked_groups_reports_a_leak() -> None:
    df = pd.DataFrame({"group": ["a", "a", "b"], "split": ["train", "test", "val"]})
    assert group_splits(df).query("n_splits > 1")["group"].tolist() == ["a"]


# -------------------------------------------------------------------------------------------- index_dataset


def _dataset(root: Path, **kwargs) -> DatasetConfig:
    return DatasetConfig(name="demo", adapter="demo", source=SourceConfig(path=str(root)), **kwargs)


def test_index_tiny_corpus(tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tiny_corpus.parent)
    df = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(val=0.2, test=0.25), seed=42)
    assert list(df.columns) == list(MANIFEST.columns)
    assert len(df) == 24
    assert (df["label"] == 0).sum() == 12 and (df["label"] == 1).sum() == 12
    assert df["media"].value_counts().to_dict() == {"image": 16, "video": 8}
    assert df["method"].value_counts().to_dict() == {
        "real": 12,
        "faceswap": 3,
        "reenact": 3,
        "resynthesis": 3,
        "selfblend": 3,
    }
    assert df["item_id"].is_unique
    assert "demo/real/images/id00_img00" in set(df["item_id"])
    assert set(df["group"]) == {"demo/pair00", "demo/pair01"}
    assert set(df["dataset"]) == {"demo"}
    for path in df["path"]:
        assert not os.path.isabs(path) and path.startswith("demo/"), path
        assert (tiny_corpus.parent / path).is_file()
    assert set(df["split"]) <= set(SPLITS)
    assert group_splits(df)["n_splits"].eq(1).all()
    assert "train" in set(df["split"])  # two groups: one for test, the other must stay in train
    assert not df["cropped"].any()
    again = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(val=0.2, test=0.25), seed=42)
    pd.testing.assert_frame_equal(df, again)


def test_index_paths_relative_to_working_dir(tiny_corpus: Path) -> None:
    df = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(), seed=42)
    for path in df["path"]:
        assert not os.path.isabs(path)
        assert Path(path).resolve().is_relative_to(tiny_corpus.resolve())
        assert Path(path).is_file()


def test_max_items_keeps_whole_groups(tiny_corpus: Path) -> None:
    full = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(), seed=42)
    small = index_dataset(tiny_corpus, _dataset(tiny_corpus, max_items=5), SplitConfig(), seed=42)
    assert 0 < len(small) < len(full)
    assert set(small["label"]) == {0, 1}
    assert (small["label"] == 0).sum() >= 5 and (small["label"] == 1).sum() >= 5
    assert set(small["item_id"]) <= set(full["item_id"])
    for (group, label), part in small.groupby(["group", "label"]):
        whole = full[(full["group"] == group) & (full["label"] == label)]
        assert set(part["item_id"]) == set(whole["item_id"]), group
    assert small["item_id"].is_monotonic_increasing  # sorted, deterministic
    again = index_dataset(tiny_corpus, _dataset(tiny_corpus, max_items=5), SplitConfig(), seed=42)
    pd.testing.assert_frame_equal(small, again)


def test_unseen_role_puts_everything_in_test(tiny_corpus: Path) -> None:
    df = index_dataset(tiny_corpus, _dataset(tiny_corpus, role="unseen"), SplitConfig(), seed=42)
    assert len(df) == 24
    assert set(df["split"]) == {"test"}


def test_holdout_methods_send_all_their_fakes_to_test(tiny_corpus: Path) -> None:
    df = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(val=0.2, test=0.25), seed=42)
    out = hold_out_methods(df, ["faceswap", "reenact"])
    held = out["method"].isin(["faceswap", "reenact"])
    assert held.sum() == 6 and set(out.loc[held, "split"]) == {"test"}
    pd.testing.assert_series_equal(out.loc[~held, "split"], df.loc[~held, "split"])  # the rest as before
    assert set(out.loc[(out["label"] == 1) & ~held & (out["split"] != "test"), "method"]) == {
        "resynthesis",
        "selfblend",
    }
    pd.testing.assert_frame_equal(hold_out_methods(df, []), df)


def test_holdout_methods_unknown_name_is_a_clear_error(tiny_corpus: Path) -> None:
    df = index_dataset(tiny_corpus, _dataset(tiny_corpus), SplitConfig(), seed=42)
    with pytest.raises(ValueError, match=r"data.holdout_methods: \['face2face'\] not among .*'faceswap'"):
        hold_out_methods(df, ["faceswap", "face2face"])
    with pytest.raises(ValueError, match="'real'"):  # reals are not a manipulation method
        hold_out_methods(df, ["real"])


def test_wrong_layout_is_a_layout_error(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    with pytest.raises(LayoutError, match="expected real/ and fake/ folders, or labels.csv"):
        index_dataset(tmp_path, _dataset(tmp_path), SplitConfig(), seed=42)
    bad_label = tmp_path / "labels.csv"
    bad_label.write_text("path,label\na.jpg,maybe\n")
    with pytest.raises(LayoutError, match="label 'maybe' for a.jpg is not one of 0/1/real/fake"):
        index_dataset(tmp_path, _dataset(tmp_path), SplitConfig(), seed=42)
    bad_label.write_text("file,kind\na.jpg,real\n")
    with pytest.raises(LayoutError, match="needs columns 'path' and 'label'"):
        index_dataset(tmp_path, _dataset(tmp_path), SplitConfig(), seed=42)


def test_duplicate_images_share_a_group_so_they_share_a_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import cv2
    import numpy as np

    from deepfake_detector.data.dedup import merge_duplicate_groups

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        cv2.imwrite(f"{name}.jpg", rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    cv2.imwrite("a_copy.jpg", cv2.imread("a.jpg"))  # the same picture filed under another video
    df = pd.DataFrame(
        {"path": ["a.jpg", "a_copy.jpg", "b.jpg", "c.jpg"], "group": ["g1", "g2", "g3", "g4"], "media": ["image"] * 4}
    )
    merged = merge_duplicate_groups(df)
    assert merged["group"].tolist() == ["g1", "g1", "g3", "g4"]


# ------------------------------------------------------------------------------ datasets of the same people


def _people(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=["dataset", "group", "split"]).assign(label=0, method="real")
    return table.astype({"dataset": "string", "group": "string", "split": "string"})  # the manifest's types


def test_identities_of_names_groups_after_the_other_dataset(tiny_corpus: Path) -> None:
    df = index_dataset(
        tiny_corpus, _dataset(tiny_corpus, role="unseen", identities_of="ffpp_c23"), SplitConfig(), seed=42
    )
    assert set(df["group"]) == {"ffpp_c23/pair00", "ffpp_c23/pair01"}
    assert set(df["dataset"]) == {"demo"} and df["item_id"].str.startswith("demo/").all()


def test_identities_of_must_name_another_listed_dataset() -> None:
    source = {"kind": "local", "path": "d"}
    with pytest.raises(ValueError, match=r"datasets.c40.identities_of: 'c32' is not another dataset"):
        DataConfig(
            datasets=[
                {"name": "c23", "adapter": "ffpp", "source": source},
                {"name": "c40", "adapter": "ffpp", "source": source, "identities_of": "c32"},
            ]
        )
    with pytest.raises(ValueError, match="'c40' is not another dataset"):
        DataConfig(datasets=[{"name": "c40", "adapter": "ffpp", "source": source, "identities_of": "c40"}])


def test_people_another_dataset_tests_go_to_test_in_both() -> None:
    manifest = _people(
        [
            ("c23", "c23/p183", "train"),
            ("c23", "c23/p183", "train"),
            ("c23", "c23/p1", "val"),
            ("c23", "c23/p2", "test"),
            ("c23", "c23/p3", "train"),  # nobody else's: stays
            ("c40", "c23/p183", "test"),
            ("c40", "c23/p183", "test"),  # c40 tests p183: c23's two go to test
            ("c40", "c23/p1", "test"),  # validated on in c23: to test
            ("c40", "c23/p2", "test"),  # tested in c23 too: nothing moves
            ("c40", "c40/actor_01", "test"),
            ("demo", "demo/p1", "train"),
            ("demo", "demo/p1", "test"),  # its own held-out fake: stays
        ]
    )
    assert group_splits(manifest[manifest["dataset"] != "demo"]).query("n_splits > 1")["group"].tolist() == [
        "c23/p1",
        "c23/p183",
    ]
    held = hold_out_shared_people(manifest)
    assert held["split"].tolist() == ["test", "test", "test", "test", "train", *["test"] * 5, "train", "test"]
    pd.testing.assert_frame_equal(held.drop(columns="split"), manifest.drop(columns="split"))  # nothing dropped
    assert group_splits(held[held["dataset"] != "demo"])["n_splits"].eq(1).all()


# ------------------------------------------------------------------------------ leave-one-dataset-out


def test_training_sets_are_all_then_all_but_each_then_each_alone() -> None:
    assert training_sets(["a", "b", "c"]) == [["a", "b", "c"], ["b", "c"], ["a", "c"], ["a", "b"], ["a"], ["b"], ["c"]]
    assert training_sets(["a", "b"]) == [["a", "b"], ["b"], ["a"]]  # all but one is the other alone: once
    assert training_sets(["a"]) == [["a"]]


def test_leave_one_dataset_out_tests_every_dataset_it_does_not_train_on() -> None:
    manifest = _people(
        [
            ("dfdc", "dfdc/v1", "train"),
            ("dfdc", "dfdc/v2", "val"),
            ("dfdc", "dfdc/v3", "test"),
            ("c23", "c23/p1", "train"),
            ("c23", "c23/p2", "val"),
            ("c23", "c23/p3", "test"),
            ("celebdf", "celebdf/x", "test"),  # unseen in the profile: test in every run
        ]
    )
    runs = leave_one_dataset_out(manifest, ["dfdc", "c23"])
    assert [trained for trained, _ in runs] == [["dfdc", "c23"], ["c23"], ["dfdc"]]
    for trained, table in runs:
        fitted = table[table["split"] != "test"]
        assert sorted(fitted["dataset"].unique()) == sorted(trained)
        assert set(fitted["split"]) == {"train", "val"}
        kept = table["dataset"].isin(trained)
        pd.testing.assert_series_equal(table.loc[kept, "split"], manifest.loc[kept, "split"])  # splits as before
        assert (table.loc[~kept, "split"] == "test").all() and len(table) == len(manifest)
    pd.testing.assert_frame_equal(runs[0][1], manifest)
    pd.testing.assert_frame_equal(hold_out_datasets(manifest, []), manifest)
