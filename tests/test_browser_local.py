"""The in-browser check ("Check on this device") in a real headless Chromium: the verdict computed in the page
with ONNX Runtime Web equals the service's, nothing but static files is fetched while checking, and the page
works from a plain static file server. Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import cv2
import httpx
import numpy as np
import pytest
from test_browser import ARTIFACTS, CHROMIUM, TIMEOUT_MS, browser, unplayable_copy  # noqa: F401  (fixture: Chromium)
from test_real_server import free_port, running_server
from test_service import media  # noqa: F401  (fixture: the demo media)
from test_web import web_model_dir  # noqa: F401  (fixture: the tiny model with its web model files)

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


@pytest.fixture
def page(browser, web_server):  # noqa: F811
    page = open_page(browser, web_server)
    page.wait_for_function("modelCard !== null")
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
def test_images_checked_on_this_device_get_the_services_verdict_and_upload_nothing(page, web_server, images):
    """Per image: the same verdict, treatment, probability (within 0.01) and face boxes (within 2 px) as the
    service, the API's structure labelled "checked on this device", and only static files fetched."""
    # what each image exercises, as the service sees it: treatment and faces found
    paths = {
        "portrait": ("scene", 1),
        "no_face": ("scene", 0),
        "two_people": ("scene", 2),
        "face_crop": ("face_crop", 1),
        "large": ("scene", 1),
    }
    for name, path in images.items():
        local, requests = check_locally(page, path)
        served = api(web_server, "image", path)
        assert (served["treated_as"], len(served["faces"])) == paths[name], (name, served)
        assert local["checked_on"] == "this device", name
        assert set(local) - {"checked_on"} == set(served), name
        assert (local["verdict"], local["treated_as"], local["reason"]) == (
            served["verdict"],
            served["treated_as"],
            served["reason"],
        ), (name, local, served)
        if served["fake_probability"] is None:
            assert local["fake_probability"] is None, name
        else:
            assert local["fake_probability"] == pytest.approx(served["fake_probability"], abs=0.01), name
        assert len(local["faces"]) == len(served["faces"]), name
        for mine, theirs in zip(local["faces"], served["faces"], strict=True):
            assert mine["box"] == pytest.approx(theirs["box"], abs=2), name
            assert mine["crop_box"] == pytest.approx(theirs["crop_box"], abs=2), name
            assert mine["fake_probability"] == pytest.approx(theirs["fake_probability"], abs=0.01), name
        assert [t["verdict"] for t in local["tracks"]] == [t["verdict"] for t in served["tracks"]], name
        assert only_static_files(requests), (name, requests)
        assert "Checked on this device" in page.inner_text("#status"), name
        assert page.evaluate(DETAIL, "checked on") == "this device", name
        if name == "two_people":
            page.wait_for_function("document.getElementById('overlay').dataset.boxes === '2'")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser_local_two_faces.png"), full_page=True)


@pytest.mark.timeout(900)
def test_a_video_checked_on_this_device_samples_the_models_frames_and_uploads_nothing(
    page, web_server, web_model_dir, media
):  # noqa: F811
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

    clip = media["video"]
    local, requests = check_locally(page, clip)
    assert set(local) - {"checked_on"} == set(api(web_server, "video", clip))  # the API's structure
    frames = json.loads((web_model_dir / WEB_FACTS).read_text())["frames_per_video"]
    predictor = Predictor(web_model_dir)
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
