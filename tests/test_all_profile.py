"""The `all` profile (profiles/all.yaml) on the real samples: its FaceForensics++ datasets indexed as the
download stage does, the identity pair c23 shares with c40 held out of training so c40's test stays whole, and the
leave-one-dataset-out runs planned on that manifest. Reads ../shared/data in place; skipped where it is absent."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from deepfake_detector.config import Params
from deepfake_detector.data.manifest import index_dataset
from deepfake_detector.data.splits import hold_out_shared_people, leave_one_dataset_out
from deepfake_detector.profiles import profile_params
from deepfake_detector.validation.facts import group_splits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def ffpp_manifest(shared_data: Path) -> pd.DataFrame:
    """The profile's FF++ c23 (train) and c40 (unseen) items, split and filtered as stages/download.py does
    (the 8,000 DFDC crops are left out: hashing them takes a minute, and they share no people with FF++)."""
    params = Params.model_validate(profile_params("all", root=PROJECT_ROOT))
    parts = [
        index_dataset(shared_data / Path(d.source.path).name, d, params.data.split, params.seed)
        for d in params.data.datasets
        if d.adapter == "ffpp"
    ]
    return pd.concat(parts, ignore_index=True)


def test_the_profile_trains_on_dfdc_and_c23_and_holds_out_c40_and_celebdf() -> None:
    params = Params.model_validate(profile_params("all", root=PROJECT_ROOT))
    roles = {d.name: (d.role, d.identities_of) for d in params.data.datasets}
    assert roles == {
        "dfdc_faces": ("train", None),
        "ffpp_c23": ("train", None),
        "ffpp_c40": ("unseen", "ffpp_c23"),
        "celebdf_v2": ("unseen", None),
    }
    assert params.train.balance == "dataset_label"
    assert (params.faces.margin, params.faces.already_cropped) == (0.83, "skip")  # DFDC crops' own framing


def test_the_pair_c40_tests_is_not_trained_on_in_c23(ffpp_manifest: pd.DataFrame) -> None:
    pair = ffpp_manifest[ffpp_manifest["group"] == "ffpp_c23/youtube_183"]  # 183 and 253, one group in both
    assert pair.groupby(["dataset", "split"]).size().to_dict() == {
        ("ffpp_c23", "train"): 8,
        ("ffpp_c40", "test"): 10,
    }
    assert group_splits(ffpp_manifest).query("n_splits > 1")["group"].tolist() == [
        "ffpp_c23/youtube_183"
    ]  # what validate would stop on
    kept = hold_out_shared_people(ffpp_manifest)
    assert kept[kept["group"] == "ffpp_c23/youtube_183"].groupby(["dataset", "split"]).size().to_dict() == {
        ("ffpp_c23", "test"): 8,
        ("ffpp_c40", "test"): 10,
    }
    c40 = kept[kept["dataset"] == "ffpp_c40"]
    assert c40.groupby("label").size().to_dict() == {0: 5, 1: 8}  # all 13 videos: c40 keeps an AUC of its own
    assert group_splits(kept)["n_splits"].eq(1).all()
    c23 = kept[kept["dataset"] == "ffpp_c23"].groupby(["split", "label"]).size().to_dict()
    assert c23 == {
        ("test", 0): 16,
        ("test", 1): 28,
        ("train", 0): 18,
        ("train", 1): 37,
        ("val", 0): 9,
        ("val", 1): 13,
    }


def test_leave_one_dataset_out_on_the_profiles_manifest(ffpp_manifest: pd.DataFrame) -> None:
    kept = hold_out_shared_people(ffpp_manifest)
    runs = dict((tuple(trained), table) for trained, table in leave_one_dataset_out(kept, ["dfdc_faces", "ffpp_c23"]))
    assert list(runs) == [("dfdc_faces", "ffpp_c23"), ("ffpp_c23",), ("dfdc_faces",)]
    assert (runs[("dfdc_faces",)]["split"] == "test").all()  # c23 left out: all 121 of its videos tested
    pd.testing.assert_frame_equal(runs[("ffpp_c23",)], kept)  # DFDC left out: c23 trains as in the profile
