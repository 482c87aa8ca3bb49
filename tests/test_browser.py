"""The upload page in a real headless Chromium: upload an image and a video, see the verdict and the boxes.

Needs /usr/bin/chromium (CI: `apt-get update && apt-get install -y chromium chromium-driver`).
Screenshots go to tests/artifacts/ (gitignored). Those the docs show are also written to docs/images/ when
REFRESH_DOCS_IMAGES=1 is set (see docs/development.md), so the docs never change by accident.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import cv2
import httpx
import pytest
from c2pa_signing import SIGNER_NAME, SIGNER_ORG, sign
from test_real_server import running_server, server  # noqa: F401  (fixture: a real server)
from test_service import CONFIG, media  # noqa: F401  (fixture: the demo media)

from deepfake_detector.evidence import FAKE_RGB, REAL_RGB

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_IMAGES = Path(__file__).parents[1] / "docs" / "images"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(browser, server):  # noqa: F811
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    return page


def unplayable_copy(video: Path, out: Path) -> Path:
    """The video's frames as MPEG-4 Part 2 (OpenCV's mp4v), which Chromium does not play: a stand-in for the
    HEVC, AVI and MKV files users upload (the demo corpus is H.264, which it plays)."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    ok, frame = cap.read()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame.shape[1::-1])
    while ok:
        writer.write(frame)
        ok, frame = cap.read()
    writer.release()
    cap.release()
    return out


def upload(page, path: Path) -> None:
    page.evaluate("document.getElementById('verdict').textContent = ''")
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('verdict').textContent.length > 0")


def screenshot(page, name: str, for_docs: bool = False) -> None:
    """The page as tests/artifacts/<name>; with `for_docs` and REFRESH_DOCS_IMAGES=1, docs/images/<name> too."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    if for_docs and os.environ.get("REFRESH_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(exist_ok=True)
        shutil.copyfile(ARTIFACTS / name, DOCS_IMAGES / name)


def painted_pixels(page, canvas_id: str) -> int:
    """How many pixels of a canvas are not transparent."""
    return page.evaluate(
        """(id) => {
        const c = document.getElementById(id);
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n; }""",
        canvas_id,
    )


@pytest.mark.timeout(400)
def test_upload_image_shows_verdict_and_boxes(page, media):  # noqa: F811
    assert "Deepfake detector" in page.title()
    upload(page, media["image"])
    assert page.inner_text("#verdict").lower() in ("fake", "real")
    assert page.inner_text("#probability").endswith("%")
    assert page.is_hidden("#video")  # no empty video player under the image
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    assert painted_pixels(page, "overlay") > 100  # the box is drawn
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser_image.png"), full_page=True)


@pytest.mark.timeout(400)
def test_an_image_with_two_faces_shows_a_box_and_a_verdict_per_person(page, media, tmp_path):  # noqa: F811
    rgb = cv2.imread(str(media["image"]))
    two = tmp_path / "two_people.png"
    cv2.imwrite(str(two), cv2.hconcat([rgb, cv2.flip(rgb, 1)]))
    upload(page, two)
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '2'")
    assert "person 1:" in page.inner_text("#details") and "verdict from person" in page.inner_text("#details")
    page.screenshot(path=str(ARTIFACTS / "browser_two_faces.png"), full_page=True)


@pytest.mark.timeout(400)
def test_on_a_phone_with_the_keyboard_only(browser, server, media):  # noqa: F811
    """A 390-px-wide screen: nothing scrolls sideways; Tab reaches the file picker, Space opens it, and the
    verdict shows."""
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.set_default_timeout(TIMEOUT_MS)
    # Intercept file choosers from the start: Playwright turns interception on only when the first listener is
    # added, without waiting, so `expect_file_chooser` just before an instant key press could lose the race and
    # let Chromium open (and, headless, drop) its own dialog; that was this test's rare timeout.
    phone.on("filechooser", lambda _chooser: None)
    phone.goto(server)
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.id") == "file"
    with phone.expect_file_chooser() as chooser:
        phone.keyboard.press("Space")
    chooser.value.set_files(str(media["image"]))
    phone.wait_for_function("document.getElementById('verdict').textContent.length > 0")
    phone.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(ARTIFACTS / "browser_phone.png"), full_page=True)
    phone.close()


@pytest.mark.timeout(400)
def test_heatmap_toggle_draws_where_the_model_looked(page, media):  # noqa: F811
    """With the box ticked the upload asks for heatmaps and draws them; unticked, they are hidden again."""
    page.check("#explain")
    upload(page, media["image"])
    page.wait_for_function("document.getElementById('overlay').dataset.heatmaps === '1'")
    page.screenshot(path=str(ARTIFACTS / "browser_heatmap.png"), full_page=True)
    page.uncheck("#explain")
    page.wait_for_function("document.getElementById('overlay').dataset.heatmaps === '0'")
    assert page.evaluate("document.getElementById('overlay').dataset.boxes") == "1"  # the box stays


@pytest.mark.timeout(400)
def test_upload_video_shows_timeline(page, media):  # noqa: F811
    upload(page, media["video"])  # the demo corpus' H.264, which the page's player plays
    assert page.inner_text("#verdict").lower() in ("fake", "real")
    assert page.is_hidden("#image")  # the image of the upload before is gone
    page.wait_for_function("Number(document.getElementById('timeline').dataset.points) >= 2")
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    assert page.is_visible("#timeline")
    assert page.is_visible("#stage") and page.evaluate("document.getElementById('video').error") is None  # it plays
    # clicking a late sampled frame's dot goes there and shows that frame's face
    last = page.evaluate("current.result.timeline.at(-2)")
    page.locator("#timeline").scroll_into_view_if_needed()  # the evidence frame may push it below the fold
    over = page.locator("#timeline .u-over").bounding_box()
    x, y = page.evaluate(f"[plot.valToPos({last['t']}, 'x'), plot.valToPos({last['fake_probability']}, 'y')]")
    page.mouse.click(over["x"] + x, over["y"] + y)
    page.wait_for_function(f"document.getElementById('face-view').dataset.frame === '{last['frame_idx']}'")
    assert abs(page.evaluate("document.getElementById('video').currentTime") - last["t"]) < 0.05
    assert page.inner_text("#face-caption").startswith(f"Frame {last['frame_idx']} at {last['t']:.2f} s: person 1")
    assert painted_pixels(page, "face-crops") > 0.9 * page.evaluate("document.getElementById('face-crops').width") * 128
    page.screenshot(path=str(ARTIFACTS / "browser_video.png"), full_page=True)


def box_edge_colour(page, frame: dict) -> list[float]:
    """The median colour, as the page decoded it, of the shown evidence frame along the top of its box."""
    x1, y1, x2, _ = (round(v * frame["scale"]) for v in frame["box"])
    return page.evaluate(
        """([x1, y1, x2]) => {
        const img = document.getElementById('evidence-frame');
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(x1, y1, x2 - x1 + 1, 1).data;
        const median = (k) => { const v = []; for (let i = k; i < px.length; i += 4) v.push(px[i]);
                                v.sort((a, b) => a - b); return v[v.length >> 1]; };
        return [median(0), median(1), median(2)]; }""",
        [x1, y1, x2],
    )


@pytest.mark.timeout(400)
def test_a_video_the_browser_cannot_play_shows_its_evidence_frames(page, media, tmp_path):  # noqa: F811
    """A video Chromium cannot play (MPEG-4 Part 2): no empty player; the frame that weighed most in the verdict
    shows with its face boxed, a timeline dot shows its own frame, and the buttons step through them."""
    page.wait_for_function("modelCard !== null")  # else a click on the page's end could race its first layout
    upload(page, unplayable_copy(media["video"], tmp_path / "clip.mp4"))
    page.wait_for_function("document.getElementById('stage').hidden")  # the player failed and was hidden
    assert page.is_visible("#evidence-frame") and "cannot play the file" in page.inner_text("#status")
    result = page.evaluate("current.result")
    frames = {(e["track"], e["frame_idx"]): e for e in result["evidence_frames"]}
    assert sorted(frames) == sorted((f["track"], f["frame_idx"]) for f in result["faces"])  # ?frames=all
    top = next(e for e in frames.values() if e["role"] == "highest" and e["track"] == result["decided_by_track"])
    img = page.locator("#evidence-frame")
    assert img.get_attribute("src") == f"data:image/jpeg;base64,{top['jpeg']}"
    assert img.get_attribute("data-frame") == str(top["frame_idx"]) and "fake" in img.get_attribute("alt")
    assert page.evaluate("document.getElementById('evidence-frame').naturalWidth") == top["width"]
    colour = FAKE_RGB if top["fake_probability"] >= result["threshold"] else REAL_RGB
    assert max(abs(a - b) for a, b in zip(box_edge_colour(page, top), colour, strict=True)) <= 25  # JPEG's blur

    point = next(p for p in result["timeline"] if p["frame_idx"] != top["frame_idx"])
    page.locator("#timeline").scroll_into_view_if_needed()  # the evidence frame may push it below the fold
    over = page.locator("#timeline .u-over").bounding_box()
    x, y = page.evaluate(f"[plot.valToPos({point['t']}, 'x'), plot.valToPos({point['fake_probability']}, 'y')]")
    page.mouse.click(over["x"] + x, over["y"] + y)
    page.wait_for_function(f"document.getElementById('evidence-frame').dataset.frame === '{point['frame_idx']}'")
    clicked = frames[(point["track"], point["frame_idx"])]
    assert img.get_attribute("src") == f"data:image/jpeg;base64,{clicked['jpeg']}"
    assert page.inner_text("#evidence-caption").startswith(f"Frame {point['frame_idx']} at {point['t']:.2f} s")
    screenshot(page, "evidence_frames.png", for_docs=True)

    order = sorted(frames.values(), key=lambda e: (e["t"], e["track"]))
    at = order.index(clicked)
    page.focus("#evidence-prev" if at > 0 else "#evidence-next")  # the keyboard steps through the frames too
    page.keyboard.press("Enter")
    stepped = order[at - 1 if at > 0 else at + 1]
    page.wait_for_function(f"document.getElementById('evidence-frame').dataset.frame === '{stepped['frame_idx']}'")


@pytest.mark.timeout(400)
def test_evidence_frames_on_a_phone(browser, server, media):  # noqa: F811
    """390 px wide: the demo video's player and its evidence frame below it fit the screen, and nothing scrolls
    sideways."""
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.set_default_timeout(TIMEOUT_MS)
    phone.goto(server)
    upload(phone, media["video"])
    phone.wait_for_function("document.getElementById('video').readyState >= 1")  # it plays: H.264
    phone.wait_for_function("document.getElementById('evidence-frame').naturalWidth > 0")
    for element in ("#video", "#evidence-frame"):
        box = phone.locator(element).bounding_box()
        assert box["width"] > 0 and box["x"] + box["width"] <= 390, element
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(phone, "evidence_frames_phone.png")
    phone.close()


@pytest.mark.timeout(400)
def test_bad_file_shows_an_error(page, media):  # noqa: F811
    page.set_input_files("#file", str(media["text_as_jpg"]))
    page.wait_for_function("document.getElementById('status').classList.contains('error')")
    assert "not a supported image" in page.inner_text("#status")


@pytest.mark.timeout(400)
def test_a_file_without_a_face_says_cannot_judge_and_why(page, media):  # noqa: F811
    """After the video above: the image replaces it, and the verdict says why there is none."""
    upload(page, media["no_face"])
    assert page.inner_text("#verdict").lower() == "cannot judge"
    assert "no face found in 1 frame(s)" in page.inner_text("#details")
    assert page.inner_text("#probability") == "–"
    assert page.is_visible("#image") and page.is_hidden("#video") and page.is_hidden("#timeline-box")
    page.screenshot(path=str(ARTIFACTS / "browser_cannot_judge.png"), full_page=True)


@pytest.mark.timeout(400)
def test_the_verdict_downloads_as_json_and_as_a_one_page_report(page, browser, server, media, tmp_path):  # noqa: F811
    """On a portrait a generator signed: the page shows the credentials beside the verdict; the JSON is the
    API's verdict with the file's hash and the model's version, threshold and calibration; the report is one
    printed page that says the same."""
    signed = sign(media["image"], tmp_path / "signed portrait.jpg")
    upload(page, signed)
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    assert f"content credentials signed by {SIGNER_ORG} / {SIGNER_NAME}" in page.inner_text("#details")
    with page.expect_download() as got:
        page.click("#download-json")
    assert got.value.suggested_filename == "signed portrait.verdict.json"
    saved = json.loads(Path(got.value.path()).read_text())
    card = httpx.get(f"{server}/model").json()
    with open(signed, "rb") as f:
        api = httpx.post(f"{server}/predict_image", files={"image": (signed.name, f.read())}, timeout=60).json()
    assert saved["file"] == {
        "name": signed.name,
        "bytes": signed.stat().st_size,
        "sha256": hashlib.sha256(signed.read_bytes()).hexdigest(),
    }
    assert saved["model"]["version"] == card["version"] == saved["result"]["model_version"]
    assert saved["model"]["threshold"] == card["spec"]["threshold"]
    assert saved["model"]["calibration"]["temperature"] == card["spec"]["temperature"]
    assert saved["model"]["calibration"]["bias"] == card["spec"]["bias"]
    assert saved["result"]["fake_probability"] == api["fake_probability"]
    assert saved["result"]["credentials"] == api["credentials"] and api["credentials"]["generated_by_ai"]

    with page.expect_download() as got:
        page.click("#download-report")
    report = tmp_path / "report.html"
    got.value.save_as(report)
    view = browser.new_page(viewport={"width": 900, "height": 1200})
    view.goto(report.as_uri())
    text = view.inner_text("body")
    assert saved["result"]["verdict"].upper() in text and f"{card['spec']['threshold']:.3f}" in text
    assert saved["file"]["sha256"] in text and card["version"] in text and "Imaginary Diffusion 2.1" in text
    assert view.evaluate("document.images.length === 1 && document.images[0].naturalWidth > 0")  # the picture
    view.screenshot(path=str(ARTIFACTS / "browser_report.png"), full_page=True)
    pdf = view.pdf(format="A4")  # as a reviewer would print it
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    view.close()


@pytest.fixture(scope="module")
def evidence_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model as the package stage ships a trained one: model.onnx with its embedding output (exported
    by the package stage's own function), and a method head and an embedding range in model.json. Threshold 0:
    every face is fake, so the page shows the method."""
    import numpy as np

    from deepfake_detector.inference import Predictor
    from deepfake_detector.models.export import export_model
    from deepfake_detector.models.spec import ONNX_FILE, EmbeddingRange, MethodHead, ModelSpec

    dest = tmp_path_factory.mktemp("evidence") / "model"
    shutil.copytree(tiny_model_dir, dest, ignore=shutil.ignore_patterns(ONNX_FILE))
    trained = Predictor(dest, backend="torch")
    inputs = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    export_model(trained, dest, inputs, opset=18, atol=1e-3)
    dim = trained.logits_and_embeddings([np.zeros((64, 64, 3), np.uint8)])[1].shape[1]
    head = MethodHead(
        methods=["faceswap", "reenact"],
        coef=np.random.default_rng(1).normal(0, 0.05, (2, dim)).tolist(),
        intercept=[0.0, 0.0],
        train_faces={"faceswap": 1, "reenact": 1},
    )
    spread = EmbeddingRange(mean=[0.0] * dim, scale=[1.0] * dim, max_distance=1e6, quantile=0.995, faces=1)
    ModelSpec.load(dest).model_copy(update={"method_head": head, "embedding_range": spread, "threshold": 0.0}).save(
        dest
    )
    return dest


@pytest.mark.timeout(400)
def test_a_fake_verdict_shows_the_most_likely_method_and_the_embedding_distance(
    browser, evidence_model, media, tmp_path_factory
):  # noqa: F811
    """The page and its report say what the API says: the deciding person's most likely manipulation and how
    far the main face lies from the validation faces."""
    with running_server(evidence_model, tmp_path_factory.mktemp("evidence_server")) as url:
        with open(media["image"], "rb") as f:
            api = httpx.post(
                f"{url}/predict_image", files={"image": (media["image"].name, f.read())}, timeout=60
            ).json()
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.wait_for_function("modelCard !== null")  # the page reads the range's limit from GET /model
        upload(page, media["image"])
        details = page.inner_text("#details")
        method = api["manipulation"]
        assert api["verdict"] == "fake" and method["method"] in ("faceswap", "reenact"), api
        assert f"{method['method']} ({100 * method['probability']:.1f} %, if it is fake)" in details, details
        distance = api["faces"][0]["embedding_distance"]
        assert f"{distance:.2f} (about 1 is typical; over 1000000.00: cannot judge)" in details, details
        page.screenshot(path=str(ARTIFACTS / "browser_method.png"), full_page=True)
        with page.expect_download() as got:
            page.click("#download-report")
        report = Path(got.value.path()).read_text()
        assert f"{method['method']} ({100 * method['probability']:.1f} %, if it is fake)" in report
        page.close()
