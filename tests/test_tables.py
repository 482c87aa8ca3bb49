"""Table schemas round-trip through CSV, and atomic writes leave nothing behind when the writer fails."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepfake_detector.io import atomic_dir, atomic_path, read_json, write_json
from deepfake_detector.tables import FACES, FRAMES, MANIFEST, read_table, write_table


def _manifest() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["d/real/a", "d/fake/b", "d/fake/c"],
            "dataset": ["d", "d", "d"],
            "path": ["data/d/real/a.jpg", "data/d/fake/b.mp4", "data/d/fake/c.png"],
            "media": ["image", "video", "image"],
            "label": [0, 1, 1],
            "method": ["real", "faceswap", "selfblend"],
            "group": ["d/g1", "d/g1", "d/g2"],
            "split": ["train", "train", "test"],
            "cropped": [False, True, False],
            "width": [256, -1, 64],
            "height": [256, -1, 64],
        }
    )


def _faces() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["d/real/a", "d/fake/b", "d/fake/b"],
            "frame_idx": [0, 3, 9],
            "found": [True, False, True],
            "x1": [10.5, 0.0, 12.0],
            "y1": [11.25, 0.0, 13.0],
            "x2": [90.0, 0.0, 80.0],
            "y2": [95.0, 0.0, 81.0],
            "landmarks": ["[[1.0, 2.0]]", "", "[[3.5, 4.5]]"],
            "landmarks68": ["[[1.0, 2.0]]", "", ""],
            "prob": [0.999, 0.0, 0.95],
            "face_px": [84.0, 0.0, 68.0],
            "crop_x": [-2, 0, 3],
            "crop_y": [0, 0, 1],
            "crop_side": [109, 0, 88],
            "crop_path": ["crops/a.jpg", "", "crops/b_9.jpg"],
        }
    )


def test_manifest_round_trip_keeps_bools(tmp_path: Path) -> None:
    path = write_table(_manifest(), tmp_path / "manifest.csv", MANIFEST)
    text = path.read_text()
    assert "False" in text and "True" in text  # written as words...
    back = read_table(path, MANIFEST)
    assert back["cropped"].tolist() == [False, True, False]  # ...and "False" does not read back as truthy
    assert back["cropped"].dtype == bool
    assert back["label"].dtype == "int64"
    pd.testing.assert_frame_equal(back, MANIFEST.check(_manifest()))


def test_faces_round_trip_keeps_empty_strings_and_floats(tmp_path: Path) -> None:
    back = read_table(write_table(_faces(), tmp_path / "faces.csv", FACES), FACES)
    assert back["found"].tolist() == [True, False, True]
    assert back["landmarks"].tolist()[1] == ""  # empty, not NaN / "<NA>"
    assert back["crop_path"].tolist() == ["crops/a.jpg", "", "crops/b_9.jpg"]
    assert back["x1"].tolist() == [10.5, 0.0, 12.0]
    pd.testing.assert_frame_equal(back, FACES.check(_faces()))


def test_frames_round_trip_and_column_order(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {"path": ["f/0.jpg", "f/1.jpg"], "t": [0.0, 0.5], "frame_idx": [0, 12], "item_id": ["a", "b"], "extra": [1, 2]}
    )
    back = read_table(write_table(df, tmp_path / "frames.csv", FRAMES), FRAMES)
    assert list(back.columns) == list(FRAMES.columns)  # schema order; unknown columns dropped
    assert back["frame_idx"].tolist() == [0, 12]
    assert back["t"].tolist() == [0.0, 0.5]


@pytest.mark.parametrize("words", [("false", "true"), ("0", "1"), (" FALSE ", "True")])
def test_bool_text_variants(tmp_path: Path, words: tuple[str, str]) -> None:
    df = _manifest().astype({"cropped": object})
    df["cropped"] = [words[0], words[1], words[0]]
    assert MANIFEST.check(df)["cropped"].tolist() == [False, True, False]


def test_bad_bool_text_is_rejected() -> None:
    df = _manifest().astype({"cropped": object})
    df["cropped"] = ["no", "yes", "no"]
    with pytest.raises(ValueError, match="'no' is not a boolean"):
        MANIFEST.check(df)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    df = _manifest().drop(columns=["split", "cropped"])
    target = tmp_path / "manifest.csv"
    with pytest.raises(ValueError) as info:
        write_table(df, target, MANIFEST)
    message = str(info.value)
    assert "manifest table" in message and str(target) in message
    assert "['split', 'cropped']" in message
    assert not target.exists()

    # and on read: a CSV from an older stage missing a column
    _faces().drop(columns=["face_px"]).to_csv(tmp_path / "faces.csv", index=False)
    with pytest.raises(ValueError, match=r"faces table in .*faces\.csv is missing columns \['face_px'\]"):
        read_table(tmp_path / "faces.csv", FACES)


def test_read_missing_table_says_which_stage(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="frames table not found; run the stage that writes it first"):
        read_table(tmp_path / "frames.csv", FRAMES)


def test_empty_table_round_trip(tmp_path: Path) -> None:
    back = read_table(write_table(MANIFEST.empty(), tmp_path / "m.csv", MANIFEST), MANIFEST)
    assert len(back) == 0
    assert list(back.columns) == list(MANIFEST.columns)


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_atomic_path_commits_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_text() == "new"
    assert _leftovers(target.parent, {"out.txt"}) == []


def test_atomic_path_leaves_nothing_when_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("boom")
    assert not target.exists()
    assert _leftovers(tmp_path, set()) == []


def test_atomic_path_keeps_old_file_when_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path, {"out.txt"}) == []


def test_atomic_dir_commits_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("stale")
    with atomic_dir(target) as tmp:
        assert list(tmp.iterdir()) == []
        (tmp / "a.txt").write_text("a")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert _leftovers(tmp_path, {"out"}) == []


def test_atomic_dir_leaves_nothing_when_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(KeyError), atomic_dir(target) as tmp:
        (tmp / "partial.txt").write_text("x")
        raise KeyError("boom")
    assert not target.exists()
    assert _leftovers(tmp_path, set()) == []


def test_atomic_dir_keeps_old_folder_when_block_raises(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "good.txt").write_text("good")
    with pytest.raises(ValueError), atomic_dir(target) as tmp:
        (tmp / "partial.txt").write_text("x")
        raise ValueError("boom")
    assert [p.name for p in target.iterdir()] == ["good.txt"]
    assert _leftovers(tmp_path, {"out"}) == []


def test_write_table_failure_keeps_previous_table(tmp_path: Path) -> None:
    target = write_table(_manifest(), tmp_path / "manifest.csv", MANIFEST)
    before = target.read_bytes()
    bad = _manifest()
    bad["label"] = ["zero", "one", "one"]  # not an int64
    with pytest.raises((ValueError, TypeError)):
        write_table(bad, target, MANIFEST)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"manifest.csv"}) == []


def test_json_round_trip(tmp_path: Path) -> None:
    data = {"b": [1, 2], "a": {"x": 1.5}, "p": Path("x/y")}
    path = write_json(data, tmp_path / "d" / "m.json")
    assert read_json(path) == {"a": {"x": 1.5}, "b": [1, 2], "p": "x/y"}
    assert path.read_text().endswith("\n")
