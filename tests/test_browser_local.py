"""The in-browser check ("Check on this device") in a real headless Chromium: the verdict computed in the page
with ONNX Runtime Web equals the service's, nothing but static files is fetched while checking, and the page
works from a plain static file server. Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import cv2
import httpx
import numpy as np
import pytest
from test_browser import ARTIFACTS, CHROMIUM, TIMEOUT_MS, browser, unplayable_copy  # noqa: F401  (fixture: Chromium)
from test_real_server import free_port, running_server
from test_service import media  # noqa: F401  (fixture: the demo media)
from test_web import web_model_dir  # noqa: F401  (fixture: the tiny model with its web model files)

from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.paths import MODEL_DIR
from deepfake_detector.prediction import PredictOptions
from deepfake_detector.serving.web import WEB_FACTS, write_site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)"),
]
STATIC_PREFIXES = ("/static/", "/web_model/")
DETAIL = (
    "(key) => [...document.querySelectorAll('#details dt')]"
    ".find((d) => d.textContent === key)?.nextElementSibling.textContent"
)
CHECK_TIMEOUT_MS = 300_000  # a video's frames through MTCNN and the classifier in WebAssembly, on a busy CPU


@pytest.fixture(scope="module")
def web_server(web_model_dir, tmp_path_factory):  # noqa: F811
    with running_server(web_model_dir, tmp_path_factory.mktemp("web_server")) as url:
        yield url


def open_page(browser, url, width=1200, height=900, **options):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": height}, **options)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function("document.readyState === 'complete'")
    return page


@pytest.fixture(scope="module")
def packaged_model_dir(tiny_pipeline) -> Path:
    """The package stage's own model folder from the tiny pipeline run: trained and calibrated (temperature, bias,
    threshold, video aggregation chosen on validation), with its judge rules, embedding range, method head and
    web model files, as `make demo` writes artifacts/model."""
    return tiny_pipeline[0] / MODEL_DIR


class ServedModel(NamedTuple):
    kind: str  # "untrained" or "packaged"
    model: Path
    url: str


@pytest.fixture(scope="module", params=["untrained", "packaged"])
def model_server(request, tmp_path_factory) -> ServedModel:
    """Each model folder the page's verdicts are compared on, served: the tiny untrained one (sharp probabilities)
    and the package stage's (every field of model.json a trained model has)."""
    if request.param == "untrained":
        yield ServedModel("untrained", request.getfixturevalue("web_model_dir"), request.getfixturevalue("web_server"))
        return
    model = request.getfixturevalue("packaged_model_dir")
    with running_server(model, tmp_path_factory.mktemp("packaged_server")) as url:
        yield ServedModel("packaged", model, url)


def loaded_page(browser, url: str):  # noqa: F811
    page = open_page(browser, url)
    page.wait_for_function("modelCard !== null")
    return page


@pytest.fixture
def page(browser, web_server):  # noqa: F811
    page = loaded_page(browser, web_server)
    yield page
    page.close()


@pytest.fixture
def model_page(browser, model_server):  # noqa: F811
    page = loaded_page(browser, model_server.url)
    yield page
    page.close()


def check_locally(page, path) -> tuple[dict, list[tuple[str, str]]]:
    """The page's verdict on `path` with the box ticked, and every request (method, URL) made meanwhile."""
    requests = []
    page.on("request", lambda r: requests.append((r.method, r.url)))
    page.check("#local")
    page.evaluate("document.getElementById('verdict').textContent = ''")
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('verdict').textContent.length > 0", timeout=CHECK_TIMEOUT_MS)
    return page.evaluate("current.result"), requests


def only_static_files(requests: list[tuple[str, str]]) -> bool:
    return all(
        method == "GET" and (httpx.URL(url).path.startswith(STATIC_PREFIXES) or url.startswith("blob:"))
        for method, url in requests
    )


def api(server: str, kind: str, path) -> dict:
    with open(path, "rb") as f:
        return httpx.post(f"{server}/predict_{kind}", files={kind: (path.name, f.read())}, timeout=120).json()


def checked_like_the_service(page, server: str, images: dict):
    """Checks each image on the page and through the service, asserts what must agree (the verdict, reason and
    treatment, the probabilities within 0.01, the boxes within 2 px, the embedding distances and method
    probabilities within 0.01, the API's keys plus "checked_on", only static files fetched) and yields the name
    and both answers while the page shows that image."""
    for name, path in images.items():
        local, requests = check_locally(page, path)
        served = api(server, "image", path)
        assert local["checked_on"] == "this device", name
        assert set(local) - {"checked_on"} == set(served), name
        same = ("verdict", "treated_as", "reason")
        assert [local[k] for k in same] == [served[k] for k in same], (name, local, served)
        assert_close(local["fake_probability"], served["fake_probability"], name)
        assert_same_manipulation(local["manipulation"], served["manipulation"], name)
        assert len(local["faces"]) == len(served["faces"]), name
        for mine, theirs in zip(local["faces"], served["faces"], strict=True):
            assert mine["box"] == pytest.approx(theirs["box"], abs=2), name
            assert mine["crop_box"] == pytest.approx(theirs["crop_box"], abs=2), name
            for key in ("fake_probability", "embedding_distance"):
                assert_close(mine[key], theirs[key], name)
            assert_same_probabilities(mine["method_probabilities"], theirs["method_probabilities"], name)
        assert [t["verdict"] for t in local["tracks"]] == [t["verdict"] for t in served["tracks"]], name
        assert only_static_files(requests), (name, requests)
        yield name, local, served


def assert_close(mine: float | None, theirs: float | None, name: str) -> None:
    """Both absent, or equal within 0.01."""
    assert (mine is None) == (theirs is None), (name, mine, theirs)
    if theirs is not None:
        assert mine == pytest.approx(theirs, abs=0.01), name


def assert_same_manipulation(mine: dict | None, theirs: dict | None, name: str) -> None:
    """A verdict's manipulation: the same method, its probabilities within 0.01."""
    assert (mine is None) == (theirs is None), (name, mine, theirs)
    if theirs is not None:
        assert mine["method"] == theirs["method"], (name, mine, theirs)
        assert_same_probabilities(mine["probabilities"], theirs["probabilities"], name)


def assert_same_probabilities(mine: dict | None, theirs: dict | None, name: str) -> None:
    """Method -> probability maps (a face's method head), both absent or equal within 0.01."""
    assert (mine is None) == (theirs is None), (name, mine, theirs)
    if theirs is not None:
        assert mine == pytest.approx(theirs, abs=0.01), name


def resize_cases() -> list[tuple[str, np.ndarray, int, int]]:
    """(interpolation, image, width, height) as the page resizes: crops shrunk by area (whole and fractional
    multiples), crops and frames resized linearly (enlarged, shrunk, halved), odd shapes, noisy and smooth."""
    rng = np.random.default_rng(0)
    cases = []
    for i in range(48):
        w, h = (int(v) for v in rng.integers(2, 160, 2))
        kind = "area" if i % 2 else "linear"
        if (kind == "area" and i % 3 < 2) or i % 8 == 6:  # whole multiples: 2 x 2 or 3 x 3 blocks
            k = 2 + i % 3 if kind == "area" else 2  # INTER_LINEAR halves as INTER_AREA does
            tw, th = max(1, w // k), max(1, h // k)
            w, h = tw * k, th * k
        elif kind == "area":
            tw, th = (int(rng.integers(1, v + 1)) for v in (w, h))
        else:
            tw, th = (64, 64) if i % 4 == 0 else (int(v) for v in rng.integers(1, 200, 2))
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cases.append((kind, cv2.GaussianBlur(image, (5, 5), 1.5) if i % 4 > 1 else image, tw, th))
    return cases


def test_the_pages_resizes_are_opencvs_to_the_bit(page):
    """resizeArea and resizeLinear (local_detect.js) give cv2.resize's INTER_AREA and INTER_LINEAR pixels
    exactly: OpenCV's 8-bit paths round in fixed point, and a one-level difference over a crop moved a trained
    model's probability by up to 0.04 through its frequency branch."""
    interpolation = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}
    for kind, image, w, h in resize_cases():
        got = page.evaluate(
            "([kind, w, h, tw, th, b64]) => Array.from((kind === 'area' ? resizeArea : resizeLinear)"
            "({w, h, data: Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))}, tw, th).data)",
            [kind, image.shape[1], image.shape[0], w, h, base64.b64encode(image.tobytes()).decode()],
        )
        want = cv2.resize(image, (w, h), interpolation=interpolation[kind])
        assert np.array_equal(np.array(got, np.uint8).reshape(want.shape), want), (kind, image.shape, w, h)


@pytest.fixture(scope="module")
def images(media, tmp_path_factory):  # noqa: F811
    """The demo portrait, and what exercises the rest of the path: two people, a tight face crop (detected again
    with padding), a large copy (downsized before detection) and a picture without a face."""
    out = tmp_path_factory.mktemp("local_images")
    rgb = cv2.imread(str(media["image"]))
    cases = {"portrait": media["image"], "no_face": media["no_face"]}
    for name, image in {
        "two_people.png": cv2.hconcat([rgb, cv2.flip(rgb, 1)]),
        "face_crop.png": rgb[55:200, 60:200],
        "large.png": cv2.resize(rgb, (900, 900), interpolation=cv2.INTER_CUBIC),
    }.items():
        cv2.imwrite(str(out / name), image)
        cases[name.split(".")[0]] = out / name
    return cases


@pytest.mark.timeout(900)
def test_images_checked_on_this_device_get_the_services_verdict_and_upload_nothing(model_page, model_server, images):
    """Per image and model folder: the same verdict, treatment, probability (within 0.01) and face boxes (within
    2 px) as the service, the API's structure labelled "checked on this device", and only static files fetched.
    The package stage's model also compares what only a trained model has: embedding distances, the method
    head's probabilities and the calibrated threshold."""
    _, model, server = model_server
    page = model_page
    # what each image exercises, as the service sees it: treatment and faces found
    paths = {
        "portrait": ("scene", 1),
        "no_face": ("scene", 0),
        "two_people": ("scene", 2),
        "face_crop": ("face_crop", 1),
        "large": ("scene", 1),
    }
    spec, judged = ModelSpec.load(model), []
    for name, _, served in checked_like_the_service(page, server, images):
        judged += [served] if served["fake_probability"] is not None else []
        assert (served["treated_as"], len(served["faces"])) == paths[name], (name, served)
        assert "Checked on this device" in page.inner_text("#status"), name
        assert page.evaluate(DETAIL, "checked on") == "this device", name
        if name == "two_people":
            page.wait_for_function("document.getElementById('overlay').dataset.boxes === '2'")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"browser_local_two_faces_{spec.version}.png"), full_page=True)
    if model_server.kind == "packaged":  # the comparisons above covered what only a trained model has
        assert spec.method_head and spec.embedding_range and spec.judge and spec.temperature != 1.0
        assert judged and all(s["manipulation"] and s["faces"][0]["embedding_distance"] for s in judged)


@pytest.mark.timeout(900)
def test_a_video_checked_on_this_device_samples_the_models_frames_and_uploads_nothing(model_page, model_server, media):  # noqa: F811
    """The page seeks to the centres of frames_per_video equal parts of the clip (the demo's H.264), which are
    the frames the Predictor picks by number when the clip's duration is its frame count over its frame rate
    (as here): its verdict and video probability (within 0.01) equal the Predictor's with web.json's
    frames_per_video, the service's serve.frames_per_video (the test service's config differs: only the
    structure of its answer is compared). Chromium's frames differ from OpenCV's by about 1 level per pixel
    (YUV to RGB), which the sharp test calibration turns into up to ~0.012 per frame and MTCNN into boxes up
    to ~3 px apart; on the page's own pixels each frame's probability is the Predictor's within 0.01 and each
    box within 2 px."""
    from deepfake_detector.inference import Predictor
    from deepfake_detector.media.frames import Frame

    _, model, server = model_server
    page = model_page
    clip = media["video"]
    local, requests = check_locally(page, clip)
    assert set(local) - {"checked_on"} == set(api(server, "video", clip))  # the API's structure
    frames = json.loads((model / WEB_FACTS).read_text())["frames_per_video"]
    predictor = Predictor(model)
    python = predictor.predict_path(clip, PredictOptions(frames_per_video=frames)).to_dict()
    assert local["verdict"] == python["verdict"]
    assert local["fake_probability"] == pytest.approx(python["fake_probability"], abs=0.01)
    decoded = [
        Frame(i, t, np.array(rgb, np.uint8).reshape(h, w, 3))
        for i, t, w, h, rgb in page.evaluate(
            "(n) => videoFrames(current.file, n)"
            ".then((fs) => fs.map((f) => [f.index, f.t, f.img.w, f.img.h, Array.from(f.img.data)]))",
            frames,
        )
    ]
    same_pixels = predictor.predict_frames(decoded, "video", clip.name).to_dict()
    assert [f["fake_probability"] for f in local["faces"]] == pytest.approx(
        [f["fake_probability"] for f in same_pixels["faces"]], abs=0.01
    )
    boxes = np.array([[f["box"] for f in r["faces"]] for r in (local, same_pixels)])
    assert np.abs(boxes[0] - boxes[1]).max() <= 2
    assert local["media"] == "video" and local["frames"] == frames
    assert [f["frame_idx"] for f in local["faces"]] == list(range(frames))  # the demo face is in every frame
    assert local["verdict"] in ("fake", "real") and len(local["timeline"]) == frames
    assert only_static_files(requests), requests
    page.wait_for_function("Number(document.getElementById('timeline').dataset.points) >= 2")


@pytest.mark.timeout(600)
def test_each_sampled_video_frame_is_the_frame_at_its_time(page, tmp_path):
    """A 2-s 12-fps H.264 clip (the demo corpus' encoder) whose frame k is a flat grey of level 10k + 5: every
    one of 16 samples, in three runs, has the level of the frame shown at its time. After `seeked` Chromium can
    still hand over the frame shown before the seek (seen under load before the page waited for the frame to be
    presented), which this catches when it happens."""
    from deepfake_detector.demo.corpus import _write

    fps, count, samples = 12, 24, 16
    clip = tmp_path / "levels.mp4"
    _write(clip, [np.full((64, 64, 3), 10 * k + 5, np.uint8) for k in range(count)], fps)
    for _ in range(3):
        levels = page.evaluate(
            "([b64, n]) => videoFrames(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'levels.mp4'),"
            " n).then((fs) => fs.map((f) => [f.t, f.img.data.reduce((a, b) => a + b, 0) / f.img.data.length]))",
            [base64.b64encode(clip.read_bytes()).decode(), samples],
        )
        for i, (t, level) in enumerate(levels):
            assert t == pytest.approx((i + 0.5) * count / fps / samples, abs=1e-3)
            assert level == pytest.approx(10 * int(t * fps) + 5, abs=3), (i, t, level)


@pytest.mark.timeout(900)
def test_a_video_this_browser_cannot_decode_says_so(page, media, tmp_path):  # noqa: F811
    """MPEG-4 Part 2, which Chromium does not play."""
    page.check("#local")
    page.set_input_files("#file", str(unplayable_copy(media["video"], tmp_path / "clip.mp4")))
    page.wait_for_function("document.getElementById('status').classList.contains('error')", timeout=CHECK_TIMEOUT_MS)
    assert "this browser cannot decode the video" in page.inner_text("#status")


@pytest.mark.timeout(600)
def test_on_a_phone_the_keyboard_ticks_the_on_device_check(browser, web_server, media):  # noqa: F811
    """Under the service, 390 px wide: Tab goes file picker, heatmaps, on-device check; Space ticks it."""
    phone = open_page(browser, web_server, 390, 844, is_mobile=True, has_touch=True)
    for expected in ("file", "explain", "local"):
        phone.keyboard.press("Tab")
        assert phone.evaluate("document.activeElement.id") == expected
    assert "deleted from the server" in phone.inner_text("#privacy")
    phone.keyboard.press("Space")
    assert phone.is_checked("#local")
    assert "never leaves this device" in phone.inner_text("#privacy")  # the header's promise follows the mode
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.close()


@contextlib.contextmanager
def static_file_server(folder):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.timeout(900)
def test_the_page_works_from_a_plain_static_file_server_on_a_phone(
    browser, web_model_dir, web_server, images, tmp_path
):  # noqa: F811
    """`deepfake web-site`'s folder under python -m http.server, on a 390-px screen: the on-device check is the
    only mode (ticked, locked), reachable with the keyboard, and gives the service's verdict."""
    site = write_site(web_model_dir, tmp_path / "site")
    with static_file_server(site) as url:
        phone = open_page(browser, url, 390, 844, is_mobile=True, has_touch=True)
        phone.on("filechooser", lambda _chooser: None)  # as test_browser's phone test: no native dialog races
        phone.wait_for_function("document.getElementById('local').disabled")
        assert phone.is_checked("#local") and "never leaves this device" in phone.inner_text("#privacy")
        phone.keyboard.press("Tab")
        assert phone.evaluate("document.activeElement.id") == "file"
        with phone.expect_file_chooser() as chooser:
            phone.keyboard.press("Space")
        requests = []
        phone.on("request", lambda r: requests.append((r.method, r.url)))
        chooser.value.set_files(str(images["portrait"]))
        phone.wait_for_function("document.getElementById('verdict').textContent.length > 0", timeout=CHECK_TIMEOUT_MS)
        local = phone.evaluate("current.result")
        served = api(web_server, "image", images["portrait"])
        assert local["fake_probability"] == pytest.approx(served["fake_probability"], abs=0.01)
        assert only_static_files(requests), requests
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        phone.screenshot(path=str(ARTIFACTS / "browser_local_phone.png"), full_page=True)
        phone.close()


@pytest.mark.timeout(600)
def test_a_model_folder_without_web_files_says_where_to_find_them(browser, tiny_model_dir, media, tmp_path):  # noqa: F811
    with running_server(tiny_model_dir, tmp_path) as url:
        page = open_page(browser, url)
        page.check("#local")
        page.set_input_files("#file", str(media["image"]))
        page.wait_for_function("document.getElementById('status').classList.contains('error')")
        assert "this model has no web model files; serve the package stage's model folder" in page.inner_text("#status")
        page.close()
