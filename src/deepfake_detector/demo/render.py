"""Procedural, photo-like face renderer (numpy + OpenCV only) with 68-point iBUG landmarks.

Faces are drawn in a canonical frame (origin between the eyes, x right, y down, unit = half the face
width), lifted onto a head ellipsoid for depth, rotated by the pose and projected orthographically.
Every part is a soft, blurred layer so the result has the shading cues a face detector relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Color = tuple[float, float, float]  # BGR, 0-255

# Landmark index ranges of the 68-point iBUG layout (image-left part first).
JAW = slice(0, 17)
BROWS = slice(17, 27)
NOSE = slice(27, 36)
EYES = slice(36, 48)
MOUTH = slice(48, 68)
N_LANDMARKS = 68

HAIR_STYLES = ("bald", "short", "medium", "long")
HAIR_COLORS: tuple[Color, ...] = (
    (20, 20, 25),
    (25, 35, 55),
    (35, 55, 90),
    (60, 110, 165),
    (40, 70, 140),
    (150, 150, 155),
    (80, 95, 120),
)
EYE_COLORS: tuple[Color, ...] = ((40, 50, 70), (30, 60, 100), (110, 90, 60), (90, 110, 70), (70, 80, 85))
# Skin tone anchors from dark to light (BGR); identities interpolate between neighbours.
SKIN_ANCHORS = np.array(
    [(40, 58, 88), (62, 95, 140), (95, 140, 195), (135, 175, 225), (175, 205, 240)], float
)
SCLERA: Color = (215, 222, 228)
PUPIL: Color = (18, 16, 18)
MOUTH_INSIDE: Color = (45, 35, 60)
TEETH: Color = (200, 210, 215)

HEAD_CENTER_Y = 0.2  # canonical y of the head ellipsoid centre (eyes are at y = 0)
HEAD_AXES = (1.1, 1.45, 1.0)  # ellipsoid semi-axes (x, y, depth)
PIVOT_DEPTH = 0.5  # rotation pivot behind the face surface, like a neck joint
NOSE_HEIGHT = 0.35
MAX_MOUTH_GAP = 0.24
SENSOR_NOISE = 2.0  # std of per-pixel noise, keeps flat areas from looking synthetic
MASK_EPS = 1e-3  # mask values below this are treated as outside the layer


@dataclass(frozen=True)
class Identity:
    """Fixed per person: geometry, colours and accessories."""

    face_width: float
    jaw_width: float
    chin_y: float
    jaw_power: float
    skin: Color
    lip: Color
    hair: Color
    hair_style: str
    hairline: float
    eye_color: Color
    eye_spacing: float
    eye_width: float
    eye_height: float
    brow_arch: float
    brow_thickness: float
    brow_raise: float
    nose_width: float
    nose_length: float
    mouth_width: float
    lip_thickness: float
    glasses: bool
    beard: bool
    clothing: Color


@dataclass(frozen=True)
class Pose:
    """Head pose: angles in degrees, centre as a fraction of the image, scale as face half-width / size."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    cx: float = 0.5
    cy: float = 0.45
    scale: float = 0.17


@dataclass(frozen=True)
class Expression:
    eye_open: float = 1.0  # 0 closed (blink) .. 1 open
    mouth_open: float = 0.0  # 0 closed .. 1 wide open (talking)
    smile: float = 0.0
    gaze: float = 0.0  # horizontal iris offset, fraction of the eye half-width


@dataclass(frozen=True)
class Scene:
    """Background and lighting; `seed` drives the background texture."""

    background: str
    colors: tuple[Color, Color, Color]
    seed: int
    light_angle: float  # direction in the image plane, radians
    light_elevation: float  # 0 grazing .. 1 frontal
    light_intensity: float
    ambient: float
    warmth: float  # -1 cold .. 1 warm light tint


def _rand_color(rng: np.random.Generator, lo: float = 20, hi: float = 235) -> Color:
    return tuple(float(c) for c in rng.uniform(lo, hi, 3))  # type: ignore[return-value]


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw one person; skin tone covers the full dark-to-light range."""
    t = rng.uniform(0, len(SKIN_ANCHORS) - 1)
    i = min(int(t), len(SKIN_ANCHORS) - 2)
    skin = SKIN_ANCHORS[i] + (t - i) * (SKIN_ANCHORS[i + 1] - SKIN_ANCHORS[i])
    skin = np.clip(skin * rng.uniform(0.93, 1.07, 3), 0, 255)
    lip = np.clip(skin * np.array([0.72, 0.68, 0.92]) + rng.uniform(-8, 8, 3), 0, 255)
    return Identity(
        face_width=float(rng.uniform(0.95, 1.08)),
        jaw_width=float(rng.uniform(0.72, 0.95)),
        chin_y=float(rng.uniform(1.22, 1.42)),
        jaw_power=float(rng.uniform(2.0, 3.2)),
        skin=tuple(skin),
        lip=tuple(lip),
        hair=HAIR_COLORS[rng.integers(len(HAIR_COLORS))],
        hair_style=HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=[0.1, 0.4, 0.25, 0.25])],
        hairline=float(rng.uniform(-0.78, -0.58)),
        eye_color=EYE_COLORS[rng.integers(len(EYE_COLORS))],
        eye_spacing=float(rng.uniform(0.38, 0.46)),
        eye_width=float(rng.uniform(0.17, 0.21)),
        eye_height=float(rng.uniform(0.075, 0.095)),
        brow_arch=float(rng.uniform(0.0, 0.07)),
        brow_thickness=float(rng.uniform(0.04, 0.075)),
        brow_raise=float(rng.uniform(0.22, 0.3)),
        nose_width=float(rng.uniform(0.13, 0.2)),
        nose_length=float(rng.uniform(0.9, 1.1)),
        mouth_width=float(rng.uniform(0.27, 0.35)),
        lip_thickness=float(rng.uniform(0.05, 0.08)),
        glasses=bool(rng.random() < 0.3),
        beard=bool(rng.random() < 0.25),
        clothing=_rand_color(rng),
    )


def sample_pose(rng: np.random.Generator) -> Pose:
    return Pose(
        yaw=float(rng.uniform(-18, 18)),
        pitch=float(rng.uniform(-8, 8)),
        roll=float(rng.uniform(-10, 10)),
        cx=float(rng.uniform(0.42, 0.58)),
        cy=float(rng.uniform(0.38, 0.48)),
        scale=float(rng.uniform(0.16, 0.2)),
    )


def sample_expression(rng: np.random.Generator) -> Expression:
    blink = rng.random() < 0.1
    return Expression(
        eye_open=float(rng.uniform(0.05, 0.2) if blink else rng.uniform(0.75, 1.0)),
        mouth_open=float(rng.choice([0.0, rng.uniform(0.1, 0.8)])),
        smile=float(rng.uniform(0, 0.6)),
        gaze=float(rng.uniform(-0.25, 0.25)),
    )


def sample_scene(rng: np.random.Generator) -> Scene:
    return Scene(
        background=("gradient", "texture", "shapes")[rng.integers(3)],
        colors=(_rand_color(rng), _rand_color(rng), _rand_color(rng)),
        seed=int(rng.integers(2**31)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        light_elevation=float(rng.uniform(0.55, 0.95)),
        light_intensity=float(rng.uniform(0.45, 0.75)),
        ambient=float(rng.uniform(0.45, 0.6)),
        warmth=float(rng.uniform(-1, 1)),
    )


# ----------------------------------------------------------------------------- geometry


def _depth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ax, ay, az = HEAD_AXES
    return az * np.sqrt(np.clip(1 - (x / ax) ** 2 - ((y - HEAD_CENTER_Y) / ay) ** 2, 0, 1))


def _rotation(pose: Pose) -> np.ndarray:
    y, p, r = np.radians([pose.yaw, pose.pitch, pose.roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class _Camera:
    """Maps canonical face points to pixels for one pose and image size."""

    def __init__(self, pose: Pose, size: int):
        self.rot = _rotation(pose)
        self.unit = pose.scale * size
        self.center = np.array([pose.cx * size, pose.cy * size])
        self.pivot = np.array([0.0, HEAD_CENTER_Y, PIVOT_DEPTH])

    def project(self, pts: np.ndarray, z: np.ndarray | None = None, z_offset: float = 0.0) -> np.ndarray:
        """(N, 2) canonical points -> (N, 2) pixels; depth follows the head surface unless given."""
        pts = np.asarray(pts, float).reshape(-1, 2)
        if z is None:
            z = _depth(pts[:, 0], pts[:, 1])
        p3 = np.column_stack([pts, np.broadcast_to(z, len(pts)) + z_offset]) - self.pivot
        p3 = p3 @ self.rot.T + self.pivot
        return self.center + self.unit * p3[:, :2]

    def body(self, pts: np.ndarray) -> np.ndarray:
        """Neck and shoulders follow only the translation and scale, not the head rotation."""
        return self.center + self.unit * np.asarray(pts, float).reshape(-1, 2)


def _ellipse(
    cx: float, cy: float, rx: float, ry: float, n: int = 32, start: float = 0, end: float = 2 * np.pi
):
    t = np.linspace(start, end, n, endpoint=end - start < 2 * np.pi - 1e-6)
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def _eye_outline(ident: Identity, expr: Expression, side: int, n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid curves (left to right in the image) in canonical coords."""
    cx, w = side * ident.eye_spacing, ident.eye_width
    h = ident.eye_height * max(expr.eye_open, 0.04)
    x = np.linspace(-1, 1, n)
    bump = (1 - x**2) ** 0.8
    skew = 1 + 0.25 * x * side  # outer half of the upper lid is a bit fuller
    upper = np.column_stack([cx + w * x, -h * bump * skew])
    lower = np.column_stack([cx + w * x, 0.6 * h * bump + 0.01 * (1 - expr.eye_open)])
    return upper, lower


def _mouth_outline(ident: Identity, expr: Expression) -> dict[str, np.ndarray]:
    """Outer and inner lip contours (left to right) in canonical coords."""
    ym = 0.55 + 0.3 * ident.nose_length
    w = ident.mouth_width * (1 + 0.12 * expr.smile - 0.15 * expr.mouth_open)
    gap = MAX_MOUTH_GAP * expr.mouth_open
    lift = -0.05 * expr.smile
    x = np.linspace(-1, 1, 9)
    corner = lift * x**2
    bump = 1 - x**2
    bow = 1 - 0.35 * np.exp(-((x / 0.18) ** 2))  # cupid's bow dip in the upper lip
    t = ident.lip_thickness
    return {
        "upper_outer": np.column_stack([w * x, ym + corner - (gap / 2 + t * bow) * bump]),
        "upper_inner": np.column_stack([w * x, ym + corner - gap / 2 * bump]),
        "lower_inner": np.column_stack([w * x, ym + corner + gap / 2 * bump]),
        "lower_outer": np.column_stack([w * x, ym + corner + (gap / 2 + 1.3 * t) * bump]),
    }


def _jaw(ident: Identity, n: int = 17) -> np.ndarray:
    """Lower face outline from the image-left temple via the chin to the image-right temple."""
    top, fw = -0.05, ident.face_width
    t = np.linspace(np.pi, 0, n)
    c, s = np.cos(t), np.sin(t)
    x = fw * np.sign(c) * np.abs(c) ** (2 / ident.jaw_power)
    depth = np.abs(s) ** (2 / ident.jaw_power)
    y = top + (ident.chin_y - top) * depth
    x = x * (1 - (1 - ident.jaw_width) * depth**2)
    return np.column_stack([x, y])


def _forehead(ident: Identity, n: int = 15) -> np.ndarray:
    return _ellipse(0, -0.05, ident.face_width * 0.98, 1.0, n, np.pi, 2 * np.pi)[1:-1]


def canonical_landmarks(ident: Identity, expr: Expression) -> tuple[np.ndarray, np.ndarray]:
    """68 canonical (x, y) points and their depth offsets above the head surface."""
    lm = np.zeros((N_LANDMARKS, 2))
    lift = np.zeros(N_LANDMARKS)
    lm[JAW] = _jaw(ident)
    for k, side in enumerate((-1, 1)):
        xs = side * ident.eye_spacing + ident.eye_width * np.array([-1.25, -0.7, -0.1, 0.45, 0.95]) * -side
        xs = np.sort(xs)
        rel = (xs - side * ident.eye_spacing) / ident.eye_width * side  # -1 inner .. +1 outer
        ys = -ident.brow_raise - ident.brow_arch * (1 - (rel - 0.1) ** 2) + 0.03 * rel
        lm[17 + 5 * k : 22 + 5 * k] = np.column_stack([xs, ys])
        upper, lower = _eye_outline(ident, expr, side)
        idx = 36 + 6 * k
        lm[idx] = upper[0]
        lm[idx + 1 : idx + 3] = upper[[2, 4]]
        lm[idx + 3] = upper[-1]
        lm[idx + 4 : idx + 6] = lower[[4, 2]]
    nl, nw = ident.nose_length, ident.nose_width
    lm[27:31] = np.column_stack([np.zeros(4), np.linspace(0.0, 0.42 * nl, 4)])
    lift[27:31] = NOSE_HEIGHT * np.linspace(0.25, 1.0, 4)
    lm[31:36] = np.column_stack(
        [nw * np.array([-1, -0.5, 0, 0.5, 1]), 0.48 * nl + np.array([0, 0.03, 0.04, 0.03, 0])]
    )
    lift[31:36] = NOSE_HEIGHT * np.array([0.2, 0.45, 0.6, 0.45, 0.2])
    m = _mouth_outline(ident, expr)
    lm[48:55] = m["upper_outer"][[0, 1, 3, 4, 5, 7, 8]]
    lm[55:60] = m["lower_outer"][[7, 5, 4, 3, 1]]
    lm[60:65] = m["upper_inner"][[0, 2, 4, 6, 8]]
    lm[65:68] = m["lower_inner"][[6, 4, 2]]
    return lm, lift


# ----------------------------------------------------------------------------- drawing


class _Canvas:
    """Premultiplied foreground layer over a background, with soft anti-aliased masks."""

    def __init__(self, size: int, unit: float):
        self.size = size
        self.unit = unit
        self.fg = np.zeros((size, size, 3), np.float32)
        self.alpha = np.zeros((size, size), np.float32)

    def mask(
        self, pts: np.ndarray, blur: float = 0.01, closed: bool = True, thickness: float = 0
    ) -> np.ndarray:
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
        noise = cv2.resize(
            rng.random((cells, cells)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
        )
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
            img = img * (1 - 0.8 * m) + np.array(_rand_color(rng), np.float32) * 0.8 * m
    return img


def _shading(scene: Scene, cam: _Camera, size: int) -> np.ndarray:
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
    low = cv2.resize(
        rng.normal(0, 1, (cells, cells)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    tex = 1 + amount * low
    if streak:
        fine = cv2.blur(rng.normal(0, 1, (size, size)).astype(np.float32), (1, streak))
        tex = tex + amount * 2 * fine
    return tex[..., None]


def _draw_body(cv: _Canvas, cam: _Camera, ident: Identity, skin_tex: np.ndarray) -> None:
    fw = ident.face_width
    shoulders = np.vstack([[[-3.2, 6.0]], _ellipse(0, 2.6, 2.8, 0.75, 24, np.pi, 2 * np.pi), [[3.2, 6.0]]])
    cv.paint(cv.mask(cam.body(shoulders), 0.03), ident.clothing)
    neck = np.array([[-0.5 * fw, 0.6], [0.5 * fw, 0.6], [0.55 * fw, 1.95], [-0.55 * fw, 1.95]])
    cv.paint(cv.mask(cam.body(neck), 0.015), np.asarray(ident.skin, np.float32) * 0.85 * skin_tex)
    collar = _ellipse(0, 1.9, 0.75 * fw, 0.3, 20, 0, np.pi)
    cv.paint(cv.mask(cam.body(collar), 0.03), _scale(ident.clothing, 0.7), 0.8)


def _draw_head(
    cv: _Canvas, cam: _Camera, ident: Identity, skin_tex: np.ndarray, hair_tex: np.ndarray
) -> None:
    fw, skin = ident.face_width, np.asarray(ident.skin, np.float32)
    hair = np.asarray(ident.hair, np.float32) * hair_tex
    if ident.hair_style in ("medium", "long"):
        bottom = 1.0 if ident.hair_style == "medium" else 2.4
        back = np.vstack(
            [
                _ellipse(0, -0.15, fw + 0.3, 1.1, 20, np.pi, 2 * np.pi),
                [[fw + 0.35, bottom], [-fw - 0.35, bottom]],
            ]
        )
        cv.paint(cv.mask(cam.project(back, z=np.full(len(back), -0.2)), 0.03), hair * 0.8)
    chin_shadow = _ellipse(0, ident.chin_y, 0.55 * fw, 0.3)
    cv.paint(cv.mask(cam.project(chin_shadow, z=np.zeros(len(chin_shadow))), 0.1), skin * 0.5, 0.7)
    for side in (-1, 1):
        ear = _ellipse(side * fw * 0.97, 0.18, 0.13, 0.26, 20)
        cv.paint(cv.mask(cam.project(ear, z=np.full(len(ear), 0.05)), 0.02), skin * 0.9 * skin_tex)
        inner = _ellipse(side * fw * 1.0, 0.2, 0.06, 0.15, 16)
        cv.paint(cv.mask(cam.project(inner, z=np.full(len(inner), 0.05)), 0.03), skin * 0.65, 0.6)
    outline = np.vstack([_jaw(ident), _forehead(ident)[::-1]])
    face = cv.mask(cam.project(outline), 0.015)
    cv.paint(face, skin * skin_tex)
    rim = cv.mask(cam.project(outline), 0.12)
    cv.paint(np.clip(face - rim, 0, 1) * 2.0, skin * 0.7, 0.6)  # darker face edge = rounded form
    for side in (-1, 1):  # cheek colour
        cheek = _ellipse(side * 0.5, 0.45, 0.22, 0.15)
        cv.paint(cv.mask(cam.project(cheek), 0.12), np.asarray(ident.lip, np.float32), 0.2)
    if ident.beard:
        jaw = _jaw(ident)
        lower = jaw[(jaw[:, 1] > 0.45)]
        inner = np.array(
            [[0.8 * lower[-1, 0], 0.45], [0.35, 0.6], [0.0, 0.58], [-0.35, 0.6], [0.8 * lower[0, 0], 0.45]]
        )
        poly = np.vstack([lower, inner])
        cv.paint(cv.mask(cam.project(poly), 0.03), hair * 0.9, 0.8)
    if ident.hair_style != "bald":
        cap = _ellipse(0, -0.05, fw + 0.08, 1.15, 24, np.pi, 2 * np.pi)
        hl = ident.hairline
        line = np.column_stack(
            [np.linspace(fw * 0.95, -fw * 0.95, 11), hl + 0.25 * np.linspace(-1, 1, 11) ** 4]
        )
        poly = np.vstack(
            [[[-fw - 0.08, 0.15]], cap, [[fw + 0.08, 0.15]], [[fw * 0.95, 0.1]], line, [[-fw * 0.95, 0.1]]]
        )
        cv.paint(cv.mask(cam.project(poly, z_offset=0.05), 0.02), hair)


def _draw_eyes(cv: _Canvas, cam: _Camera, ident: Identity, expr: Expression) -> None:
    skin = np.asarray(ident.skin, np.float32)
    dark = np.minimum(skin * 0.3, 40)
    for side in (-1, 1):
        cx = side * ident.eye_spacing
        socket = _ellipse(cx, -0.05, ident.eye_width * 1.5, 0.17)
        cv.paint(cv.mask(cam.project(socket), 0.06), skin * 0.7, 0.7)
        upper, lower = _eye_outline(ident, expr, side)
        eye = cv.mask(cam.project(np.vstack([upper, lower[::-1][1:-1]])), 0.004)
        cv.paint(eye, SCLERA)
        ic = cx + expr.gaze * ident.eye_width * 0.5
        r = min(ident.eye_height * 0.95, ident.eye_width * 0.55)
        iris = cv.mask(cam.project(_ellipse(ic, 0.0, r, r)), 0.005) * eye
        cv.paint(iris, ident.eye_color)
        cv.paint(cv.mask(cam.project(_ellipse(ic, 0.0, r * 0.45, r * 0.45)), 0.004) * eye, PUPIL)
        glint = cv.mask(cam.project(_ellipse(ic + 0.3 * r, -0.3 * r, 0.15 * r, 0.15 * r)), 0.002) * eye
        cv.paint(glint, (245, 245, 245), 0.8)
        lid = np.vstack([upper, [[upper[-1, 0] + side * 0.04, upper[-1, 1] - 0.02]]]) if side > 0 else upper
        cv.paint(cv.mask(cam.project(lid), 0.006, closed=False, thickness=0.035), dark)
        cv.paint(cv.mask(cam.project(lower), 0.01, closed=False, thickness=0.015), skin * 0.5, 0.6)
        crease = upper + [0, -0.05 - 0.4 * ident.eye_height]
        cv.paint(cv.mask(cam.project(crease[1:-1]), 0.012, closed=False, thickness=0.015), skin * 0.55, 0.5)


def _draw_brows(cv: _Canvas, cam: _Camera, ident: Identity, lm: np.ndarray) -> None:
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


def _draw_nose(cv: _Canvas, cam: _Camera, ident: Identity, scene: Scene) -> None:
    skin = np.asarray(ident.skin, np.float32)
    nl, nw = ident.nose_length, ident.nose_width
    shadow_side = -1 if np.cos(scene.light_angle) > 0 else 1
    side_line = np.array(
        [[shadow_side * 0.07, 0.02], [shadow_side * 0.09, 0.22 * nl], [shadow_side * nw * 0.8, 0.42 * nl]]
    )
    cv.paint(
        cv.mask(cam.project(side_line, z_offset=0.1), 0.035, closed=False, thickness=0.05), skin * 0.6, 0.6
    )
    tip = _ellipse(0, 0.4 * nl, 0.07, 0.06)
    cv.paint(cv.mask(cam.project(tip, z_offset=NOSE_HEIGHT), 0.03), np.minimum(skin * 1.25, 255), 0.5)
    under = _ellipse(0, 0.54 * nl, nw * 1.0, 0.045)
    cv.paint(cv.mask(cam.project(under, z_offset=0.1), 0.03), skin * 0.5, 0.6)
    for side in (-1, 1):
        wing = _ellipse(side * nw * 0.75, 0.45 * nl, 0.07, 0.06)
        cv.paint(cv.mask(cam.project(wing, z_offset=0.12), 0.03), skin * 0.7, 0.6)
        nostril = _ellipse(side * nw * 0.42, 0.5 * nl, 0.05, 0.022)
        cv.paint(cv.mask(cam.project(nostril, z_offset=0.15), 0.01), skin * 0.25, 0.9)


def _draw_mouth(cv: _Canvas, cam: _Camera, ident: Identity, expr: Expression) -> None:
    m = _mouth_outline(ident, expr)
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
    cv.paint(
        cv.mask(cam.project(shine), 0.02, closed=False, thickness=0.02), np.minimum(lip * 1.3, 255), 0.35
    )


def _draw_glasses(cv: _Canvas, cam: _Camera, ident: Identity) -> None:
    frame = (30, 30, 35)
    w = ident.eye_width * 1.45
    for side in (-1, 1):
        rim = _ellipse(side * ident.eye_spacing, 0.0, w, 0.17, 28)
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
    cam = _Camera(pose, size)
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
    points = cam.project(lm, z=_depth(lm[:, 0], lm[:, 1]) + lift)
    return np.clip(img, 0, 255).astype(np.uint8), points.astype(np.float32)
