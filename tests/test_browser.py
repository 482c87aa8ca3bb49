"""The upload page in a real headless Chromium: upload an image and a video, see the verdict and the boxes.

Needs /usr/bin/chromium (CI: `apt-get update && apt-get install -y chromium chromium-driver`).
Screenshots go to tests/artifacts/ (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from test_service import CONFIG, media, server  # noqa: F401  (fixtures: the demo media and a real server)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)"),
]


@pytest.fixture(scope="module")
def page(server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server)
            yield page
        finally:
            browser.close()


def webm_copy(video: Path, out: Path) -> Path:
    """The demo MP4 (MPEG-4 part 2, which Chromium cannot play) re-encoded as VP9 WebM."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    ok, frame = cap.read()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"VP90"), fps, frame.shape[1::-1])
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


@pytest.mark.timeout(400)
def test_upload_image_shows_verdict_and_boxes(page, media):  # noqa: F811
    assert "Deepfake detector" in page.title()
    upload(page, media["image"])
    assert page.inner_text("#verdict").lower() in ("fake", "real")
    assert page.inner_text("#probability").endswith("%")
    assert page.is_hidden("#video")  # no empty video player under the image
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    drawn = page.evaluate("""() => {  // some box pixels are painted on the overlay canvas
        const c = document.getElementById('overlay');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n; }""")
    assert drawn > 100
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser_image.png"), full_page=True)


@pytest.mark.timeout(400)
def test_upload_video_shows_timeline(page, media, tmp_path):  # noqa: F811
    upload(page, webm_copy(media["video"], tmp_path / "clip.webm"))
    assert page.inner_text("#verdict").lower() in ("fake", "real")
    assert page.is_hidden("#image")  # the image of the upload before is gone
    page.wait_for_function("Number(document.getElementById('timeline').dataset.points) >= 2")
    page.wait_for_function("document.getElementById('overlay').dataset.boxes === '1'")
    assert page.is_visible("#timeline")
    page.screenshot(path=str(ARTIFACTS / "browser_video.png"), full_page=True)


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
