"""One verdict per person: an image with two faces, a video with two people, a bystander who does not count.

Through the Predictor behind the CLI and the service, on rendered demo faces MTCNN finds."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from test_judge import judged, save  # noqa: F401  (fixture: the untrained model with params.yaml's judge rules)

from deepfake_detector.media.frames import sample_frames
from deepfake_detector.prediction import PredictOptions


def demo_images(corpus: Path) -> tuple[np.ndarray, np.ndarray]:
    """A real and a fake demo portrait (RGB, the same size), so the two people get different scores."""
    real, fake = (sorted((corpus / label).rglob("*.jpg"))[0] for label in ("real", "fake"))
    return tuple(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in (real, fake))


def write_video(frames: list[np.ndarray], path: Path, fps: float = 8.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def check_file_verdict_is_the_highest_person(result) -> None:
    judged_tracks = [t for t in result.tracks if t.fake_probability is not None]
    decider = max(judged_tracks, key=lambda t: t.fake_probability)
    assert result.decided_by_track == decider.track and result.fake_probability == decider.fake_probability
    assert result.verdict == decider.verdict


def test_an_image_with_two_faces_gets_a_verdict_per_face(judged, tiny_corpus, tmp_path):  # noqa: F811
    left, right = demo_images(tiny_corpus)
    result = judged.predict_path(save(np.hstack([left, right]), tmp_path / "two.png"))
    assert [t.track for t in result.tracks] == [0, 1] and sorted(f.track for f in result.faces) == [0, 1]
    halves = {f.track: (f.box[0] + f.box[2]) / 2 >= left.shape[1] for f in result.faces}  # True: right half
    assert set(halves.values()) == {False, True}  # each face on its own half
    for face, track in ((f, result.tracks[f.track]) for f in result.faces):
        assert track.fake_probability == face.fake_probability and track.faces == 1
    check_file_verdict_is_the_highest_person(result)
    alone = judged.predict_path(save(left, tmp_path / "one.png"))
    assert len(alone.tracks) == 1 and alone.decided_by_track == 0
    assert alone.fake_probability == alone.faces[0].fake_probability


def test_a_video_with_two_people_gets_a_verdict_per_person(judged, tiny_corpus, tmp_path):  # noqa: F811
    videos = [sorted((tiny_corpus / label).rglob("*.mp4"))[0] for label in ("real", "fake")]
    clips = [[f.rgb for f in sample_frames(v, 6)] for v in videos]
    side_by_side = write_video([np.hstack(pair) for pair in zip(*clips, strict=True)], tmp_path / "two.mp4")
    result = judged.predict_path(side_by_side, PredictOptions(frames_per_video=6))
    assert len(result.tracks) == 2 and all(t.faces >= 3 and t.verdict in ("fake", "real") for t in result.tracks)
    width = clips[0][0].shape[1]
    for track in (0, 1):
        sides = {(f.box[0] + f.box[2]) / 2 >= width for f in result.faces if f.track == track}
        assert len(sides) == 1  # a person's track stays on their half
    check_file_verdict_is_the_highest_person(result)


def test_a_bystander_seen_in_one_frame_does_not_count(judged, tiny_corpus, tmp_path):  # noqa: F811
    main, bystander = demo_images(tiny_corpus)
    grey = np.full_like(bystander, 128)
    frames = [np.hstack([main, bystander if i == 2 else grey]) for i in range(6)]
    result = judged.predict_path(write_video(frames, tmp_path / "bystander.mp4"), PredictOptions(frames_per_video=6))
    assert len(result.tracks) == 2 and result.tracks[1].faces == 1
    assert result.tracks[1].verdict == "cannot_judge" and result.tracks[1].reason["code"] == "too_few_face_frames"
    assert result.decided_by_track == 0 and result.fake_probability == result.tracks[0].fake_probability
