"""Procedural, photo-like face renderer (numpy + OpenCV only) with 68-point iBUG landmarks.

Faces (face.py: traits, pose, expression, scene) are drawn in a canonical frame (origin between the eyes, x
right, y down, unit = half the face width), lifted onto a head ellipsoid for depth, rotated by the pose and
projected orthographically. Every part is a soft, blurred layer so the result has the shading cues a face
detector relies on.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_detector.demo.face import (
    HEAD_AXES,
    HEAD_CENTER_Y,
    NOSE_HEIGHT,
    Camera,
    Color,
    Expression,
    Identity,
    Pose,
    Scene,
    canonical_landmarks,
    ellipse,
    eye_outline,
    forehead_outline,
    jaw_outline,
    mouth_outline,
    rand_color,
    surface_depth,
)

SCLERA: Color = (215, 222, 228)
PUPIL: Color = (18, 16, 18)
MOUTH_INSIDE: Color = (45, 35, 60)
TEETH: Color = (200, 210, 215)

SENSOR_NOISE = 2.0  # std of per-pixel noise, keeps flat areas from looking synthetic
MASK_EPS = 1e-3  # mask values below this are treated as outside the layer


# ----------------------------------------------------------------------------- drawing


class _Canvas:
    """Premultiplied foreground layer over a background, with soft anti-aliased masks."""

    def __init__(self, size: int, unit: float):
        self.size = size
        self.unit = unit
        self.fg = np.zeros((size, size, 3), np.float32)
        self.alpha = np.zeros((size, size), np.float32)

    def mask(self, pts: np.ndarray, blur: float = 0.01, closed: bool = True, thickness: float = 0) -> np.ndarray:
        """Polygon (or polyline if thickness > 0) mask; `blur` and `thickness` in canonical units."""
        m = np.zeros((self.size, self.size), np.uint8)
        p = np.round(np.asarray(pts) * 16).astype(np.int32).reshape(-1, 1, 2)
        if thickness > 0:
            cv2.polylines(m, [p], closed, 255, max(1, round(thickness * self.unit)), cv2.LINE_AA, shift=4)
        else:
            cv2.fillPoly(m, [p], 255, cv2.LINE_AA, shift=4)
        m = m.astype(np.float32) / 255
        sigma = blur * self.unit
        return cv2.GaussianBlur(m, (0, 0), sigma) if sigma > 0.3 else m

    def paint(self, mask: np.ndarray, color: Color | np.ndarray, opacity: float = 1.0) -> None:
        """Composite `color` (BGR or a full-size texture) over the layer, only inside the mask's bounding box."""
        x, y, w, h = cv2.boundingRect((mask > MASK_EPS).astype(np.uint8))
        if w == 0:
            return
        roi = (slice(y, y + h), slice(x, x + w))
        a = (mask[roi] * opacity)[..., None]
        color = np.asarray(color, np.float32)
        color = color[roi] if color.ndim == 3 else color
        self.fg[roi] = self.fg[roi] * (1 - a) + color * a
        self.alpha[roi] = self.alpha[roi] * (1 - a[..., 0]) + a[..., 0]


def _scale(color: Color, k: float) -> Color:
    return tuple(float(min(255, c * k)) for c in color)  # type: ignore[return-value]


def render_background(scene: Scene, size: int) -> np.ndarray:
    rng = np.random.default_rng(scene.seed)
    c0, c1, c2 = (np.array(c, np.float32) for c in scene.colors)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ang = rng.uniform(0, 2 * np.pi)
    t = np.clip((np.cos(ang) * (xx - 0.5) + np.sin(ang) * (yy - 0.5)) + 0.5, 0, 1)[..., None]
    img = c0 * (1 - t) + c1 * t
    if scene.background == "texture":
        cells = int(rng.integers(4, 24))
        noise = cv2.resize(rng.random((cells, cells)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
        img = img * (1 - 0.6 * noise[..., None]) + c2 * 0.6 * noise[..., None]
        img += rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    elif scene.background == "shapes":
        for _ in range(int(rng.integers(4, 12))):
            m = np.zeros((size, size), np.uint8)
            cx, cy = rng.integers(0, size, 2)
            r = int(rng.integers(size // 16, size // 3))
            if rng.random() < 0.5:
                cv2.circle(m, (int(cx), int(cy)), r, 255, -1)
            else:
                cv2.rectangle(m, (int(cx - r), int(cy - r // 2)), (int(cx + r), int(cy + r)), 255, -1)
            m = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), float(rng.uniform(1.5, 6)))[..., None]
            img = img * (1 - 0.8 * m) + np.array(rand_color(rng), np.float32) * 0.8 * m
    return img


def _shading(scene: Scene, cam: Camera, size: int) -> np.ndarray:
    """Lambertian shading of the head ellipsoid under a directional light (H, W, 3 multiplier)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = cam.project(np.array([[0.0, HEAD_CENTER_Y]]), z=np.zeros(1))[0]
    nx = (xx - c[0]) / (HEAD_AXES[0] * cam.unit * 1.1)
    ny = (yy - c[1]) / (HEAD_AXES[1] * cam.unit * 1.1)
    nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0.02, 1))
    norm = np.sqrt(nx**2 + ny**2 + nz**2)
    e = scene.light_elevation
    light = np.array([np.cos(scene.light_angle) * (1 - e), np.sin(scene.light_angle) * (1 - e), e])
    light /= np.linalg.norm(light)
    lambert = np.clip((nx * light[0] + ny * light[1] + nz * light[2]) / norm, 0, 1)
    shade = scene.ambient + scene.light_intensity * lambert
    tint = np.array([1 - 0.06 * scene.warmth, 1.0, 1 + 0.06 * scene.warmth], np.float32)
    return shade[..., None] * tint


def _texture(rng: np.random.Generator, size: int, cells: int, amount: float, streak: int = 0) -> np.ndarray:
    """Multiplicative low-frequency mottling (and optional vertical streaks for hair)."""
    low = cv2.resize(rng.normal(0, 1, (cells, cells)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    tex = 1 + amount * low
    if streak:
        fine = cv2.blur(rng.normal(0, 1, (size, size)).astype(np.float32), (1, streak))
        tex = tex + amount * 2 * fine
    return tex[..., None]


def _draw_body(cv: _Canvas, cam: Camera, ident: Identity, skin_tex: np.ndarray) -> None:
    fw = ident.face_width
    shoulders = np.vstack([[[-3.2, 6.0]], ellipse(0, 2.6, 2.8, 0.75, 24, np.pi, 2 * np.pi), [[3.2, 6.0]]])
    cv.paint(cv.mask(cam.body(shoulders), 0.03), ident.clothing)
    neck = np.array([[-0.5 * fw, 0.6], [0.5 * fw, 0.6], [0.55 * fw, 1.95], [-0.55 * fw, 1.95]])
    cv.paint(cv.mask(cam.body(neck), 0.015), np.asarray(ident.skin, np.float32) * 0.85 * skin_tex)
    collar = ellipse(0, 1.9, 0.75 * fw, 0.3, 20, 0, np.pi)
    cv.paint(cv.mask(cam.body(collar), 0.03), _scale(ident.clothing, 0.7), 0.8)


def _draw_head(cv: _Canvas, cam: Camera, ident: Identity, skin_tex: np.ndarray, hair_tex: np.ndarray) -> None:
    fw, skin = ident.face_width, np.asarray(ident.skin, np.float32)
    hair = np.asarray(ident.hair, np.float32) * hair_tex
    if ident.hair_style in ("medium", "long"):
        bottom = 1.0 if ident.hair_style == "medium" else 2.4
        back = np.vstack(
            [
                ellipse(0, -0.15, fw + 0.3, 1.1, 20, np.pi, 2 * np.pi),
                [[fw + 0.35, bottom], [-fw - 0.35, bottom]],
            ]
        )
        cv.paint(cv.mask(cam.project(back, z=np.full(len(back), -0.2)), 0.03), hair * 0.8)
    chin_shadow = ellipse(0, ident.chin_y, 0.55 * fw, 0.3)
    cv.paint(cv.mask(cam.project(chin_shadow, z=np.zeros(len(chin_shadow))), 0.1), skin * 0.5, 0.7)
    for side in (-1, 1):
        ear = ellipse(side * fw * 0.97, 0.18, 0.13, 0.26, 20)
        cv.paint(cv.mask(cam.project(ear, z=np.full(len(ear), 0.05)), 0.02), skin * 0.9 * skin_tex)
        inner = ellipse(side * fw * 1.0, 0.2, 0.06, 0.15, 16)
        cv.paint(cv.mask(cam.project(inner, z=np.full(len(inner), 0.05)), 0.03), skin * 0.65, 0.6)
    outline = np.vstack([jaw_outline(ident), forehead_outline(ident)[::-1]])
    face = cv.mask(cam.project(outline), 0.015)
    cv.paint(face, skin * skin_tex)
    rim = cv.mask(cam.project(outline), 0.12)
    cv.paint(np.clip(face - rim, 0, 1) * 2.0, skin * 0.7, 0.6)  # darker face edge = rounded form
    for side in (-1, 1):  # cheek colour
        cheek = ellipse(side * 0.5, 0.45, 0.22, 0.15)
        cv.paint(cv.mask(cam.project(cheek), 0.12), np.asarray(ident.lip, np.float32), 0.2)
    if ident.beard:
        jaw = jaw_outline(ident)
        lower = jaw[(jaw[:, 1] > 0.45)]
        inner = np.array(
            [[0.8 * lower[-1, 0], 0.45], [0.35, 0.6], [0.0, 0.58], [-0.35, 0.6], [0.8 * lower[0, 0], 0.45]]
        )
        poly = np.vstack([lower, inner])
        cv.paint(cv.mask(cam.project(poly), 0.03), hair * 0.9, 0.8)
    if ident.hair_style != "bald":
        cap = ellipse(0, -0.05, fw + 0.08, 1.15, 24, np.pi, 2 * np.pi)
        hl = ident.hairline
        line = np.column_stack([np.linspace(fw * 0.95, -fw * 0.95, 11), hl + 0.25 * np.linspace(-1, 1, 11) ** 4])
        poly = np.vstack(
            [[[-fw - 0.08, 0.15]], cap, [[fw + 0.08, 0.15]], [[fw * 0.95, 0.1]], line, [[-fw * 0.95, 0.1]]]
        )
        cv.paint(cv.mask(cam.project(poly, z_offset=0.05), 0.02), hair)


def _draw_eyes(cv: _Canvas, cam: Camera, ident: Identity, expr: Expression) -> None:
    skin = np.asarray(ident.skin, np.float32)
    dark = np.minimum(skin * 0.3, 40)
    for side in (-1, 1):
        cx = side * ident.eye_spacing
        socket = ellipse(cx, -0.05, ident.eye_width * 1.5, 0.17)
        cv.paint(cv.mask(cam.project(socket), 0.06), skin * 0.7, 0.7)
        upper, lower = eye_outline(ident, expr, side)
        eye = cv.mask(cam.project(np.vstack([upper, lower[::-1][1:-1]])), 0.004)
        cv.paint(eye, SCLERA)
        ic = cx + expr.gaze * ident.eye_width * 0.5
        r = min(ident.eye_height * 0.95, ident.eye_width * 0.55)
        iris = cv.mask(cam.project(ellipse(ic, 0.0, r, r)), 0.005) * eye
        cv.paint(iris, ident.eye_color)
        cv.paint(cv.mask(cam.project(ellipse(ic, 0.0, r * 0.45, r * 0.45)), 0.004) * eye, PUPIL)
        glint = cv.mask(cam.project(ellipse(ic + 0.3 * r, -0.3 * r, 0.15 * r, 0.15 * r)), 0.002) * eye
        cv.paint(glint, (245, 245, 245), 0.8)
        lid = np.vstack([upper, [[upper[-1, 0] + side * 0.04, upper[-1, 1] - 0.02]]]) if side > 0 else upper
        cv.paint(cv.mask(cam.project(lid), 0.006, closed=False, thickness=0.035), dark)
        cv.paint(cv.mask(cam.project(lower), 0.01, closed=False, thickness=0.015), skin * 0.5, 0.6)
        crease = upper + [0, -0.05 - 0.4 * ident.eye_height]
        cv.paint(cv.mask(cam.project(crease[1:-1]), 0.012, closed=False, thickness=0.015), skin * 0.55, 0.5)


def _draw_brows(cv: _Canvas, cam: Camera, ident: Identity, lm: np.ndarray) -> None:
    color = np.minimum(np.asarray(ident.hair, np.float32) * 0.7, np.asarray(ident.skin, np.float32) * 0.45)
    for k in range(2):
        pts = lm[17 + 5 * k : 22 + 5 * k]
        th = ident.brow_thickness * np.array([0.6, 1.0, 1.1, 1.0, 0.8])
        poly = np.vstack(
            [
                pts - np.column_stack([np.zeros(5), th / 2]),
                (pts + np.column_stack([np.zeros(5), th / 2]))[::-1],
            ]
        )
        cv.paint(cv.mask(cam.project(poly), 0.008), color, 0.9)


def _draw_nose(cv: _Canvas, cam: Camera, ident: Identity, scene: Scene) -> None:
    skin = np.asarray(ident.skin, np.float32)
    nl, nw = ident.nose_length, ident.nose_width
    shadow_side = -1 if np.cos(scene.light_angle) > 0 else 1
    side_line = np.array(
        [[shadow_side * 0.07, 0.02], [shadow_side * 0.09, 0.22 * nl], [shadow_side * nw * 0.8, 0.42 * nl]]
    )
    cv.paint(cv.mask(cam.project(side_line, z_offset=0.1), 0.035, closed=False, thickness=0.05), skin * 0.6, 0.6)
    tip = ellipse(0, 0.4 * nl, 0.07, 0.06)
    cv.paint(cv.mask(cam.project(tip, z_offset=NOSE_HEIGHT), 0.03), np.minimum(skin * 1.25, 255), 0.5)
    under = ellipse(0, 0.54 * nl, nw * 1.0, 0.045)
    cv.paint(cv.mask(cam.project(under, z_offset=0.1), 0.03), skin * 0.5, 0.6)
    for side in (-1, 1):
        wing = ellipse(side * nw * 0.75, 0.45 * nl, 0.07, 0.06)
        cv.paint(cv.mask(cam.project(wing, z_offset=0.12), 0.03), skin * 0.7, 0.6)
        nostril = ellipse(side * nw * 0.42, 0.5 * nl, 0.05, 0.022)
        cv.paint(cv.mask(cam.project(nostril, z_offset=0.15), 0.01), skin * 0.25, 0.9)


def _draw_mouth(cv: _Canvas, cam: Camera, ident: Identity, expr: Expression) -> None:
    m = mouth_outline(ident, expr)
    lip = np.asarray(ident.lip, np.float32)
    cv.paint(cv.mask(cam.project(np.vstack([m["upper_outer"], m["lower_outer"][::-1]])), 0.01), lip)
    cv.paint(
        cv.mask(cam.project(m["upper_outer"][1:-1] + [0, 0.015]), 0.01, closed=False, thickness=0.02),
        lip * 0.8,
        0.5,
    )
    inner = np.vstack([m["upper_inner"], m["lower_inner"][::-1]])
    if expr.mouth_open > 0.05:
        inside = cv.mask(cam.project(inner), 0.006)
        cv.paint(inside, MOUTH_INSIDE)
        teeth = m["upper_inner"] + [0, 0.06 * expr.mouth_open + 0.01]
        teeth_mask = cv.mask(cam.project(np.vstack([m["upper_inner"], teeth[::-1]])), 0.006) * inside
        cv.paint(teeth_mask, TEETH, 0.85)
    cv.paint(cv.mask(cam.project(m["upper_inner"]), 0.008, closed=False, thickness=0.02), lip * 0.35, 0.9)
    shine = m["lower_outer"][2:-2] * [0.5, 1] + [0, -0.55 * ident.lip_thickness]
    cv.paint(cv.mask(cam.project(shine), 0.02, closed=False, thickness=0.02), np.minimum(lip * 1.3, 255), 0.35)


def _draw_glasses(cv: _Canvas, cam: Camera, ident: Identity) -> None:
    frame = (30, 30, 35)
    w = ident.eye_width * 1.45
    for side in (-1, 1):
        rim = ellipse(side * ident.eye_spacing, 0.0, w, 0.17, 28)
        pts = cam.project(rim, z_offset=0.15)
        cv.paint(cv.mask(pts, 0.012), (230, 225, 215), 0.08)
        cv.paint(cv.mask(pts, 0.004, thickness=0.03), frame, 0.95)
        arm = np.array([[side * (ident.eye_spacing + w), -0.03], [side * ident.face_width, 0.0]])
        cv.paint(cv.mask(cam.project(arm, z_offset=0.15), 0.004, closed=False, thickness=0.03), frame, 0.9)
    bridge = np.array([[-ident.eye_spacing + w, -0.04], [0, -0.07], [ident.eye_spacing - w, -0.04]])
    cv.paint(cv.mask(cam.project(bridge, z_offset=0.3), 0.004, closed=False, thickness=0.03), frame, 0.95)


def render_face(
    ident: Identity, pose: Pose, expr: Expression, scene: Scene, size: int = 256, noise_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Render one face. Returns (BGR uint8 image of shape (size, size, 3), (68, 2) float32 pixel landmarks)."""
    cam = Camera(pose, size)
    cv = _Canvas(size, cam.unit)
    rng = np.random.default_rng(noise_seed)
    skin_tex = _texture(np.random.default_rng(scene.seed + 1), size, 10, 0.04)
    hair_tex = _texture(np.random.default_rng(scene.seed + 2), size, 12, 0.08, streak=9)
    lm, lift = canonical_landmarks(ident, expr)
    _draw_body(cv, cam, ident, skin_tex)
    _draw_head(cv, cam, ident, skin_tex, hair_tex)
    _draw_eyes(cv, cam, ident, expr)
    _draw_brows(cv, cam, ident, lm)
    _draw_nose(cv, cam, ident, scene)
    _draw_mouth(cv, cam, ident, expr)
    if ident.glasses:
        _draw_glasses(cv, cam, ident)
    bg = render_background(scene, size)
    img = bg * (1 - cv.alpha[..., None]) + cv.fg * _shading(scene, cam, size)
    img = cv2.GaussianBlur(img, (0, 0), 0.6) + rng.normal(0, SENSOR_NOISE, img.shape).astype(np.float32)
    points = cam.project(lm, z=surface_depth(lm[:, 0], lm[:, 1]) + lift)
    return np.clip(img, 0, 255).astype(np.uint8), points.astype(np.float32)
