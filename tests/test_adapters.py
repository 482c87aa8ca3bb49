"""Adapters on tiny trees with the datasets' published file names, and on the real samples in ../shared/data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_detector.config import DatasetConfig, SplitConfig
from deepfake_detector.data.adapters import LayoutError, get_adapter
from deepfake_detector.data.manifest import index_dataset
from deepfake_detector.validation.facts import group_splits


def write_video(path: Path, frames: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    writer = cv2.VideoWriter(str(path), fourcc, 25.0, (32, 32))
    for i in range(frames):
        writer.write(np.full((32, 32, 3), 40 * i, dtype=np.uint8))
    writer.release()
    assert path.stat().st_size > 0
    return path


def write_jpg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((8, 8, 3), dtype=np.uint8))
    return path


def index(adapter: str, root: Path, **options) -> dict[str, object]:
    """Items keyed by their path inside the root, for readable assertions."""
    return {item.path.relative_to(root).as_posix(): item for item in get_adapter(adapter)(root, options)}


def manifest(adapter: str, root: Path, **options):
    cfg = DatasetConfig(name="ds", adapter=adapter, source={"kind": "local", "path": str(root)}, options=options)
    return index_dataset(root, cfg, SplitConfig(val=0.3, test=0.3), seed=0)


# --- FaceForensics++ ---------------------------------------------------------------------------------


def ffpp_tree(root: Path, comp: str = "c23") -> Path:
    for vid in ("000", "003", "100", "200"):
        write_video(root / f"original_sequences/youtube/{comp}/videos/{vid}.mp4")
    for name in ("01__kitchen_pan", "02__talking_against_wall"):
        write_video(root / f"original_sequences/actors/{comp}/videos/{name}.mp4")
    for method, pairs in {"Deepfakes": ("000_003", "003_000"), "Face2Face": ("100_200", "200_100")}.items():
        for pair in pairs:
            write_video(root / f"manipulated_sequences/{method}/{comp}/videos/{pair}.mp4")
    write_video(root / f"manipulated_sequences/DeepFakeDetection/{comp}/videos/01_02__meeting_serious__YVGY8LOK.mp4")
    return root


def test_ffpp_labels_methods_groups(tmp_path):
    root = ffpp_tree(tmp_path)
    items = index("ffpp", root)
    assert len(items) == 11
    fake = items["manipulated_sequences/Deepfakes/c23/videos/000_003.mp4"]
    assert (fake.label, fake.method, fake.split) == (1, "Deepfakes", None)
    real = items["original_sequences/youtube/c23/videos/003.mp4"]
    assert (real.label, real.method) == (0, "real")
    groups = {path: item.group for path, item in items.items()}
    # both ids of a swap pair and all their videos share one group
    assert len({g for p, g in groups.items() if "000" in p or "003" in p}) == 1
    assert (
        groups["original_sequences/youtube/c23/videos/100.mp4"]
        == groups["manipulated_sequences/Face2Face/c23/videos/200_100.mp4"]
    )
    assert (
        groups["original_sequences/youtube/c23/videos/100.mp4"]
        != groups["original_sequences/youtube/c23/videos/000.mp4"]
    )
    # DFD videos: grouped by the leading actor id
    dfd = items["manipulated_sequences/DeepFakeDetection/c23/videos/01_02__meeting_serious__YVGY8LOK.mp4"]
    assert dfd.method == "DeepFakeDetection"
    assert dfd.group == items["original_sequences/actors/c23/videos/01__kitchen_pan.mp4"].group
    assert dfd.group != items["original_sequences/actors/c23/videos/02__talking_against_wall.mp4"].group


def test_ffpp_swaps_join_transitively(tmp_path):
    root = ffpp_tree(tmp_path)
    write_video(root / "manipulated_sequences/FaceShifter/c23/videos/003_100.mp4")
    groups = {item.group for item in index("ffpp", root).values() if item.group.startswith("youtube")}
    assert len(groups) == 1  # 000-003 and 100-200 are now connected through 003-100


def test_ffpp_compression_and_methods_options(tmp_path):
    root = ffpp_tree(tmp_path, "c40")
    write_video(root / "original_sequences/youtube/raw/videos/000.mp4")
    with pytest.raises(LayoutError, match=r"compression 'c23'.*available: \['c40', 'raw'\]"):
        index("ffpp", root)
    items = index("ffpp", root, compression="c40", methods=["Deepfakes"], originals=["youtube"])
    assert {i.method for i in items.values()} == {"real", "Deepfakes"}
    assert len(items) == 4 + 2  # youtube originals + Deepfakes: no actors videos
    with pytest.raises(LayoutError, match=r"\['Bogus'\] not found; available: \['DeepFakeDetection', 'Deepfakes'"):
        index("ffpp", root, compression="c40", methods=["Bogus"])


def test_ffpp_official_splits(tmp_path):
    root = ffpp_tree(tmp_path / "ffpp")
    splits = tmp_path / "splits"
    splits.mkdir()
    for name, pairs in {"train": [["000", "003"]], "val": [], "test": [["100", "200"]]}.items():
        (splits / f"{name}.json").write_text(json.dumps(pairs))
    items = index("ffpp", root, splits_dir=str(splits))
    assert items["manipulated_sequences/Deepfakes/c23/videos/003_000.mp4"].split == "train"
    assert items["original_sequences/youtube/c23/videos/200.mp4"].split == "test"
    assert items["original_sequences/actors/c23/videos/01__kitchen_pan.mp4"].split is None
    df = manifest("ffpp", root, splits_dir=str(splits))
    assert group_splits(df)["n_splits"].eq(1).all()
    assert set(df.loc[df.path.str.contains("Face2Face"), "split"]) == {"test"}
    (splits / "val.json").unlink()
    with pytest.raises(LayoutError, match="val.json missing"):
        index("ffpp", root, splits_dir=str(splits))


def test_ffpp_wrong_layout(tmp_path):
    write_video(tmp_path / "videos" / "000.mp4")
    with pytest.raises(LayoutError, match=r"not in the 'ffpp' layout: missing \['original_sequences'"):
        index("ffpp", tmp_path)


# --- DFDC --------------------------------------------------------------------------------------------


def dfdc_part(folder: Path, metadata: dict, videos: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps(metadata))
    for name in videos:
        write_video(folder / name)
    return folder


DFDC_META = {
    "aaa.mp4": {"label": "REAL", "split": "train", "original": None},
    "bbb.mp4": {"label": "FAKE", "split": "train", "original": "aaa.mp4"},
    "ccc.mp4": {"label": "FAKE", "split": "train", "original": "ddd.mp4"},
    "eee.mp4": {"label": "REAL", "split": "train", "original": None},  # listed, not downloaded
}


def test_dfdc_single_part(tmp_path):
    root = dfdc_part(tmp_path, DFDC_META, ["aaa.mp4", "bbb.mp4", "ccc.mp4", "unlisted.mp4"])
    items = index("dfdc", root)
    assert set(items) == {"aaa.mp4", "bbb.mp4", "ccc.mp4"}
    assert [(items[n].label, items[n].method, items[n].group) for n in sorted(items)] == [
        (0, "real", "aaa"),
        (1, "dfdc", "aaa"),
        (1, "dfdc", "ddd"),
    ]
    assert all(item.split is None for item in items.values())


def test_dfdc_parts_and_test_set(tmp_path):
    dfdc_part(tmp_path / "dfdc_train_part_0", DFDC_META, ["aaa.mp4", "bbb.mp4"])
    dfdc_part(tmp_path / "dfdc_train_part_1", {"xyz.mp4": {"label": "FAKE", "original": "qqq.mp4"}}, ["xyz.mp4"])
    test = tmp_path / "test"
    test.mkdir()
    (test / "labels.csv").write_text("filename,label\nt1.mp4,0\nt2.mp4,1\n")
    write_video(test / "t1.mp4")
    write_video(test / "t2.mp4")
    items = index("dfdc", tmp_path)
    assert set(items) == {
        "dfdc_train_part_0/aaa.mp4",
        "dfdc_train_part_0/bbb.mp4",
        "dfdc_train_part_1/xyz.mp4",
        "test/t1.mp4",
        "test/t2.mp4",
    }
    assert items["dfdc_train_part_1/xyz.mp4"].group == "qqq"
    assert (items["test/t1.mp4"].label, items["test/t1.mp4"].split) == (0, "test")
    assert (items["test/t2.mp4"].label, items["test/t2.mp4"].method) == (1, "dfdc")
    assert group_splits(manifest("dfdc", tmp_path))["n_splits"].eq(1).all()


def test_dfdc_wrong_layout(tmp_path):
    write_video(tmp_path / "aaa.mp4")
    with pytest.raises(LayoutError, match="expected metadata.json beside the"):
        index("dfdc", tmp_path)


# --- DFDC faces (Kaggle derivative) ------------------------------------------------------------------


def test_dfdc_faces(tmp_path):
    for name in ("aaa", "bbb", "ccc"):
        write_jpg(tmp_path / "faces_224" / f"{name}.jpg")
    (tmp_path / "metadata.csv").write_text(
        "videoname,original_width,original_height,label,original\n"
        "aaa.mp4,129,129,REAL,\n"
        "bbb.mp4,155,155,FAKE,aaa.mp4\n"
        "ccc.mp4,107,107,FAKE,zzz.mp4\n"
        "missing.mp4,100,100,REAL,\n"
    )
    items = index("dfdc_faces", tmp_path)
    assert set(items) == {"faces_224/aaa.jpg", "faces_224/bbb.jpg", "faces_224/ccc.jpg"}
    assert [(i.label, i.method, i.group) for i in items.values()] == [
        (0, "real", "aaa"),
        (1, "dfdc", "aaa"),
        (1, "dfdc", "zzz"),
    ]
    assert all(item.cropped and item.media == "image" for item in items.values())


def test_dfdc_faces_wrong_layout(tmp_path):
    write_jpg(tmp_path / "faces" / "aaa.jpg")
    with pytest.raises(LayoutError, match=r"'dfdc_faces' layout: missing \['faces_224', 'metadata.csv'\]"):
        index("dfdc_faces", tmp_path)
    (tmp_path / "faces_224").mkdir()
    (tmp_path / "metadata.csv").write_text("name,label\naaa.mp4,REAL\n")
    with pytest.raises(LayoutError, match="needs columns"):
        index("dfdc_faces", tmp_path)


# --- Celeb-DF ----------------------------------------------------------------------------------------


def celebdf_tree(root: Path) -> Path:
    for rel in (
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0000.mp4",
        "Celeb-real/id2_0001.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "Celeb-synthesis/id2_id3_0001.mp4",
        "YouTube-real/00000.mp4",
    ):
        write_video(root / rel)
    (root / "List_of_testing_videos.txt").write_text("1 YouTube-real/00000.mp4\n0 Celeb-synthesis/id2_id3_0001.mp4\n")
    return root


def test_celebdf(tmp_path):
    items = index("celebdf", celebdf_tree(tmp_path))
    summary = {p: (i.label, i.method, i.group, i.split) for p, i in items.items()}
    assert summary == {
        "Celeb-real/id0_0000.mp4": (0, "real", "id0", "trainval"),
        "Celeb-real/id1_0000.mp4": (0, "real", "id0", "trainval"),
        "Celeb-real/id2_0001.mp4": (0, "real", "id2", "trainval"),
        "Celeb-synthesis/id0_id1_0000.mp4": (1, "celebdf_synthesis", "id0", "trainval"),
        "Celeb-synthesis/id2_id3_0001.mp4": (1, "celebdf_synthesis", "id2", "test"),
        "YouTube-real/00000.mp4": (0, "real", "yt_00000", "test"),
    }
    df = manifest("celebdf", tmp_path)
    assert group_splits(df)["n_splits"].eq(1).all()
    assert set(df.loc[df.group == "ds/id2", "split"]) == {"test"}  # the identity follows its listed video


def test_celebdf_group_by_target(tmp_path):
    items = index("celebdf", celebdf_tree(tmp_path), group_by="target")
    assert items["Celeb-real/id1_0000.mp4"].group == "id1"
    assert items["Celeb-synthesis/id0_id1_0000.mp4"].group == "id0"


def test_celebdf_bad_list_and_layout(tmp_path):
    root = celebdf_tree(tmp_path / "celebdf")
    (root / "List_of_testing_videos.txt").write_text("0 YouTube-real/00000.mp4\n")
    with pytest.raises(LayoutError, match="YouTube-real/00000.mp4 is listed as fake"):
        index("celebdf", root)
    write_video(tmp_path / "other" / "Celeb-real" / "id0_0000.mp4")
    with pytest.raises(LayoutError, match=r"'celebdf' layout: missing \['Celeb-synthesis'\]"):
        index("celebdf", tmp_path / "other")


# --- DeepFake-TIMIT ----------------------------------------------------------------------------------


def dftimit_tree(root: Path) -> Path:
    for rel in (
        "higher_quality/fadg0/sa1-video-fram1.avi",
        "higher_quality/fram1/sa1-video-fadg0.avi",
        "higher_quality/mcem0/si1-video-mdab0.avi",
        "lower_quality/fadg0/sa1-video-fram1.avi",
    ):
        write_video(root / rel)
    (root / "higher_quality/fadg0/sa1.wav").write_bytes(b"RIFF")  # audio beside the videos is not an item
    return root


def test_dftimit_with_vidtimit(tmp_path):
    root = dftimit_tree(tmp_path / "DeepfakeTIMIT")
    vidtimit = tmp_path / "VidTIMIT"
    write_video(vidtimit / "fadg0/video/sa1.avi")
    write_video(vidtimit / "mdab0/video/sx1.avi")
    items = get_adapter("dftimit")(root, {"vidtimit_root": str(vidtimit)})
    summary = sorted((i.path.relative_to(tmp_path).as_posix(), i.label, i.method, i.group) for i in items)
    assert summary == [
        ("DeepfakeTIMIT/higher_quality/fadg0/sa1-video-fram1.avi", 1, "dftimit_hq", "fadg0"),
        ("DeepfakeTIMIT/higher_quality/fram1/sa1-video-fadg0.avi", 1, "dftimit_hq", "fadg0"),
        ("DeepfakeTIMIT/higher_quality/mcem0/si1-video-mdab0.avi", 1, "dftimit_hq", "mcem0"),
        ("DeepfakeTIMIT/lower_quality/fadg0/sa1-video-fram1.avi", 1, "dftimit_lq", "fadg0"),
        ("VidTIMIT/fadg0/video/sa1.avi", 0, "real", "fadg0"),
        ("VidTIMIT/mdab0/video/sx1.avi", 0, "real", "mcem0"),
    ]


def test_dftimit_layout_errors(tmp_path):
    with pytest.raises(LayoutError, match="expected higher_quality/<subject>/"):
        index("dftimit", tmp_path)
    root = dftimit_tree(tmp_path / "DeepfakeTIMIT")
    frames = tmp_path / "VidTIMIT" / "fadg0" / "video" / "sa1"
    frames.mkdir(parents=True)
    (frames / "001").write_bytes(b"\xff\xd8")  # VidTIMIT's extensionless JPEG frames
    with pytest.raises(LayoutError, match="frame folders like .*sa1: convert each to a video file"):
        index("dftimit", root, vidtimit_root=str(tmp_path / "VidTIMIT"))


# --- real samples in ../shared/data ------------------------------------------------------------------

REAL = {  # folder: (adapter, options, reals, fakes, methods) from ../shared/data/README.md
    "dfdc_faces_dev": ("dfdc_faces", {}, 4000, 4000, {"real", "dfdc"}),
    "ffpp_c40_dev": (
        "ffpp",
        {"compression": "c40"},
        5,
        8,
        {"real", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"},
    ),
    "celebdf_v2_clips": ("celebdf", {}, 7, 7, {"real", "celebdf_synthesis"}),
    "dfdc_train_sample": ("dfdc", {}, 0, 2, {"dfdc"}),
}


@pytest.mark.real_data
@pytest.mark.parametrize("folder", sorted(REAL))
def test_real_samples(folder, shared_data):  # shared_data (conftest) skips with a reason when absent
    if not (shared_data / folder).is_dir():
        pytest.skip(f"real-data sample {shared_data / folder} not found")
    adapter, options, reals, fakes, methods = REAL[folder]
    cfg = DatasetConfig(
        name=folder, adapter=adapter, source={"kind": "local", "path": str(shared_data)}, options=options
    )
    df = index_dataset(shared_data / folder, cfg, SplitConfig(), seed=42)
    assert ((df.label == 0).sum(), (df.label == 1).sum()) == (reals, fakes)
    assert set(df.method) == methods
    assert group_splits(df)["n_splits"].eq(1).all()
    assert df.item_id.is_unique and df.path.map(lambda p: Path(p).exists()).all()


@pytest.mark.real_data
def test_real_samples_groups(shared_data):
    ffpp = index("ffpp", shared_data / "ffpp_c40_dev", compression="c40")
    assert len({i.group for p, i in ffpp.items() if "/actors/" not in p}) == 1  # 183 and 253 swap both ways
    assert len({i.group for p, i in ffpp.items() if "/actors/" in p}) == 3
    celeb = index("celebdf", shared_data / "celebdf_v2_clips")
    assert all(item.split == "test" for item in celeb.values())  # every sample clip is in the testing list
    assert (
        celeb["Celeb-synthesis/id4_id0_0004_segment_1.mp4"].group
        == celeb["Celeb-synthesis/id17_id1_0000_segment_1.mp4"].group
    )
    faces = index("dfdc_faces", shared_data / "dfdc_faces_dev")
    assert all(item.cropped for item in faces.values())
