"""Face manipulations on (BGR uint8 image, (68, 2) pixel landmarks): swap, re-enactment, re-synthesis, SBI.

Each is a real, if simple, version of a deepfake family: landmark warps, colour transfer and Poisson or
alpha blending, so the fakes carry the same kind of seams and resampling traces as the real thing.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_detector.demo.face import BROWS, EYES, JAW, MOUTH

# Points used to align a driver face to a target: eye corners and nose bridge do not move with expression.
STABLE_POINTS = [36, 39, 42, 45, 27, 28, 29, 30]
SWAP_ERODE = 0.04  # fraction of the face width trimmed off the swap mask, keeps the seam inside the face
REGION_MARGIN = 0.12  # fraction of the face width added around the mouth/eyes in re-enactment
SBI_RATIOS = (0.25, 0.5, 0.75, 1.0)


def face_width(lm: np.ndarray) -> float:
    return float(np.ptp(lm[JAW, 0]))


def hull_mask(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """uint8 (0/255) filled convex hull of `points`."""
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), 255)
    return mask


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles of `points` as (T, 3) indices into `points`."""
    lo = points.min(0) - 10
    hi = points.max(0) + 10
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    for p in points:
        subdiv.insert((float(p[0]), float(p[1])))
    tris = []
    for t in subdiv.getTriangleList().reshape(-1, 3, 2):
        idx = [int(np.argmin(np.sum((points - v) ** 2, axis=1))) for v in t]
        if len(set(idx)) == 3:
            tris.append(idx)
    return np.array(tris, np.int32)


def warp_piecewise_affine(
    src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, out_shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `src` so `src_pts` land on `dst_pts`, triangle by triangle. Returns (image, uint8 coverage mask)."""
    out = np.zeros(out_shape, src.dtype)
    covered = np.zeros(out_shape[:2], np.uint8)
    h, w = out_shape[:2]
    for tri in triangulate(dst_pts):
        s, d = src_pts[tri].astype(np.float32), dst_pts[tri].astype(np.float32)
        x, y, bw, bh = cv2.boundingRect(d)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, (d - [x0, y0]).astype(np.float32))
        patch = cv2.warpAffine(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        tri_mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(tri_mask, np.round(d - [x0, y0]).astype(np.int32), 255)
        sel = tri_mask > 0
        out[y0:y1, x0:x1][sel] = patch[sel]
        covered[y0:y1, x0:x1][sel] = 255
    return out, covered


def match_color(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the LAB mean/std of `src` to `ref` inside `mask` (Reinhard colour transfer)."""
    sel = mask > 0
    if sel.sum() < 10:
        return src
    s = cv2.cvtColor(src, cv2.COLOR_BGR2LAB).astype(np.float32)
    r = cv2.cvtColor(ref, cv2.COLOR_BGR2LAB).astype(np.float32)
    s_mu, s_sd = s[sel].mean(0), s[sel].std(0) + 1e-3
    r_mu, r_sd = r[sel].mean(0), r[sel].std(0) + 1e-3
    s = (s - s_mu) / s_sd * r_sd + r_mu
    return cv2.cvtColor(np.clip(s, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)


def _feather(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), max(sigma, 0.5))[..., None]


def _alpha_blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = fg.astype(np.float32) * alpha + bg.astype(np.float32) * (1 - alpha)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _trim_border(mask: np.ndarray, margin: int = 3) -> np.ndarray:
    """seamlessClone needs the mask clear of the image border."""
    mask = mask.copy()
    mask[:margin], mask[-margin:], mask[:, :margin], mask[:, -margin:] = 0, 0, 0, 0
    return mask


def face_swap(
    target_img: np.ndarray, target_lm: np.ndarray, source_img: np.ndarray, source_lm: np.ndarray
) -> np.ndarray:
    """Put the source identity's face into the target frame.

    Piecewise-affine warp of the source by the 68 landmarks onto the target geometry, Reinhard colour
    correction in LAB inside the face hull, then Poisson blending (cv2.seamlessClone).
    """
    warped, covered = warp_piecewise_affine(source_img, source_lm, target_lm, target_img.shape)
    mask = hull_mask(target_img.shape, np.vstack([target_lm[JAW], target_lm[BROWS]]))
    k = max(3, int(SWAP_ERODE * face_width(target_lm)) | 1)
    mask = _trim_border(cv2.erode(mask & covered, np.ones((k, k), np.uint8)))
    if mask.sum() == 0:
        return target_img.copy()
    warped = match_color(warped, target_img, mask)
    x, y, w, h = cv2.boundingRect(mask)
    return cv2.seamlessClone(warped, target_img, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)


def _align(points: np.ndarray, src_lm: np.ndarray, dst_lm: np.ndarray) -> np.ndarray:
    """Map `points` from the src face frame into the dst face frame with a similarity on stable points."""
    m, _ = cv2.estimateAffinePartial2D(src_lm[STABLE_POINTS], dst_lm[STABLE_POINTS])
    return cv2.transform(points.reshape(-1, 1, 2).astype(np.float32), m).reshape(-1, 2)


def reenact(
    img: np.ndarray, lm: np.ndarray, driver_img: np.ndarray, driver_lm: np.ndarray, eyes: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Give `img` the mouth (and eye) expression of a driver frame of the same person.

    The driver's mouth/eye shape is aligned into the target frame, the driver face is warped piecewise-affine
    onto the target landmarks with those regions replaced, colour-matched, and alpha-blended back only inside
    soft masks around the mouth and eyes. Returns (image, landmarks after re-enactment).
    """
    new_lm = lm.copy()
    regions = [MOUTH, EYES] if eyes else [MOUTH]
    aligned = _align(driver_lm, driver_lm, lm)
    for region in regions:
        new_lm[region] = aligned[region]
    warped, covered = warp_piecewise_affine(driver_img, driver_lm, new_lm, img.shape)
    margin = REGION_MARGIN * face_width(lm)
    mask = np.zeros(img.shape[:2], np.uint8)
    for region in regions:
        for side in [slice(36, 42), slice(42, 48)] if region == EYES else [region]:
            pts = np.vstack([lm[side], new_lm[side]])
            center = pts.mean(0)
            grown = center + (pts - center) * 1.15 + np.sign(pts - center) * margin * 0.5
            mask |= hull_mask(img.shape, grown)
    mask &= covered
    warped = match_color(warped, img, mask)
    return _alpha_blend(warped, img, _feather(mask, margin * 0.35)), new_lm


def resynthesize(img: np.ndarray, lm: np.ndarray, factor: int = 4, mode: str = "nearest") -> np.ndarray:
    """Re-render the face through a low-resolution bottleneck, like a decoder that up-samples its output.

    The face box is down-sampled by `factor`, up-sampled either with nearest neighbour ("nearest") or by a
    stride-2 transposed convolution whose uneven kernel leaves the typical checkerboard ("checkerboard"),
    lightly smoothed and blended back inside a soft landmark-hull mask.
    """
    h, w = img.shape[:2]
    x, y, bw, bh = cv2.boundingRect(np.round(lm).astype(np.int32))
    pad = int(0.15 * max(bw, bh))
    x0, y0, x1, y1 = max(x - pad, 0), max(y - pad, 0), min(x + bw + pad, w), min(y + bh + pad, h)
    crop = img[y0:y1, x0:x1]
    small = cv2.resize(crop, (max(2, (x1 - x0) // factor), max(2, (y1 - y0) // factor)), interpolation=cv2.INTER_AREA)
    if mode == "checkerboard":
        up = small.astype(np.float32)
        while up.shape[0] < crop.shape[0]:
            up = _transposed_conv2x(up)
        up = cv2.resize(up, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    else:
        up = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    up = cv2.GaussianBlur(up, (0, 0), 0.7)
    synth = img.copy()
    synth[y0:y1, x0:x1] = np.clip(up, 0, 255).astype(np.uint8)
    mask = hull_mask(img.shape, np.vstack([lm[JAW], lm[BROWS]]))
    return _alpha_blend(synth, img, _feather(mask, 0.05 * face_width(lm)))


# Stride-2 transposed-convolution kernel of size 3: even output pixels get weight 1, odd ones 2 * 0.45,
# so the output is modulated with period 2 in both axes (the checkerboard of Odena et al., 2016).
_TCONV_TAPS = np.array([0.45, 1.0, 0.45], np.float32)
_TCONV_GAIN = ((1 + 2 * 0.45) / 2) ** 2  # mean gain over the four output phases, keeps brightness


def _transposed_conv2x(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    up = np.zeros((2 * h, 2 * w) + x.shape[2:], np.float32)
    up[::2, ::2] = x
    kernel = np.outer(_TCONV_TAPS, _TCONV_TAPS)
    return cv2.filter2D(up, -1, kernel, borderType=cv2.BORDER_REFLECT) / _TCONV_GAIN


def _sbi_color_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = img.astype(np.float32) + rng.uniform(-20, 20, 3)  # RGB shift
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-3, 3)) % 180
    hsv[..., 1:] *= rng.uniform(0.9, 1.1, 2)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    contrast, brightness = rng.uniform(0.9, 1.1), rng.uniform(-10, 10)
    return np.clip((out - 128) * contrast + 128 + brightness, 0, 255).astype(np.uint8)


def _sbi_frequency_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Either blur through a down/up-sampling or sharpen: changes the high-frequency statistics."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        k = rng.uniform(0.5, 0.8)
        small = cv2.resize(img, (max(2, int(w * k)), max(2, int(h * k))), interpolation=cv2.INTER_LINEAR)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blur = cv2.GaussianBlur(img, (0, 0), 1.0)
    return cv2.addWeighted(img, 1.5, blur, -0.5, 0)


def _sbi_mask(shape: tuple[int, ...], lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landmark hull, elastically deformed and blurred with a random kernel; float (H, W, 1) in [0, 1]."""
    h, w = shape[:2]
    fw = face_width(lm)
    pts = lm if rng.random() < 0.5 else np.vstack([lm[JAW], lm[BROWS]])
    center = pts.mean(0)
    pts = center + (pts - center) * rng.uniform(0.9, 1.05)
    mask = hull_mask(shape, pts).astype(np.float32) / 255
    grid = rng.normal(0, 0.04 * fw, (2, 4, 4)).astype(np.float32)  # coarse random displacement field
    dx, dy = (cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) for g in grid)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mask = cv2.remap(mask, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    k = 2 * int(rng.integers(int(0.04 * fw) + 1, int(0.12 * fw) + 2)) + 1
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    mask = mask / max(float(mask.max()), 1e-6)
    return mask[..., None]


def self_blend(img: np.ndarray, lm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Self-blended image (SBI, Shiohara & Yamasaki, CVPR 2022).

    Signature: self_blend(img: (H, W, 3) BGR uint8, lm: (68, 2) float pixel landmarks of the face in img,
    rng: np.random.Generator) -> (H, W, 3) BGR uint8. Pure: `img` is not modified and the result depends
    only on the inputs (the same rng state gives the same fake), so training code can call it on real face
    crops as an on-the-fly fake generator.

    A colour- and frequency-jittered copy of the face, slightly rescaled and shifted, is blended into the
    original inside a deformed, blurred landmark-hull mask with a blend ratio drawn from {0.25, 0.5, 0.75, 1}.
    """
    h, w = img.shape[:2]
    source = _sbi_frequency_jitter(_sbi_color_jitter(img, rng), rng)
    center = lm.mean(0)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, 2) * face_width(lm)
    m = np.array([[scale, 0, (1 - scale) * center[0] + shift[0]], [0, scale, (1 - scale) * center[1] + shift[1]]])
    source = cv2.warpAffine(source, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    mask = _sbi_mask(img.shape, lm, rng) * rng.choice(SBI_RATIOS)
    return _alpha_blend(source, img, mask)
