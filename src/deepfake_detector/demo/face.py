"""The demo renderer's faces: a person's traits, head pose, expression and scene (each sampled from a random
generator), the 68 iBUG landmarks in the canonical frame and the camera that projects them (render.py draws).

The canonical frame: origin between the eyes, x right, y down, unit = half the face width; points are lifted
onto a head ellipsoid for depth, rotated by the pose and projected orthographically.
"""

from __future__ import annotations

from dataclasses import dataclass

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
SKIN_ANCHORS = np.array([(40, 58, 88), (62, 95, 140), (95, 140, 195), (135, 175, 225), (175, 205, 240)], float)

HEAD_CENTER_Y = 0.2  # canonical y of the head ellipsoid centre (eyes are at y = 0)
HEAD_AXES = (1.1, 1.45, 1.0)  # ellipsoid semi-axes (x, y, depth)
PIVOT_DEPTH = 0.5  # rotation pivot behind the face surface, like a neck joint
NOSE_HEIGHT = 0.35
MAX_MOUTH_GAP = 0.24


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


def rand_color(rng: np.random.Generator, lo: float = 20, hi: float = 235) -> Color:
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
        clothing=rand_color(rng),
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
        colors=(rand_color(rng), rand_color(rng), rand_color(rng)),
        seed=int(rng.integers(2**31)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        light_elevation=float(rng.uniform(0.55, 0.95)),
        light_intensity=float(rng.uniform(0.45, 0.75)),
        ambient=float(rng.uniform(0.45, 0.6)),
        warmth=float(rng.uniform(-1, 1)),
    )


# ----------------------------------------------------------------------------- geometry


def surface_depth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ax, ay, az = HEAD_AXES
    return az * np.sqrt(np.clip(1 - (x / ax) ** 2 - ((y - HEAD_CENTER_Y) / ay) ** 2, 0, 1))


def _rotation(pose: Pose) -> np.ndarray:
    y, p, r = np.radians([pose.yaw, pose.pitch, pose.roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class Camera:
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
            z = surface_depth(pts[:, 0], pts[:, 1])
        p3 = np.column_stack([pts, np.broadcast_to(z, len(pts)) + z_offset]) - self.pivot
        p3 = p3 @ self.rot.T + self.pivot
        return self.center + self.unit * p3[:, :2]

    def body(self, pts: np.ndarray) -> np.ndarray:
        """Neck and shoulders follow only the translation and scale, not the head rotation."""
        return self.center + self.unit * np.asarray(pts, float).reshape(-1, 2)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 32, start: float = 0, end: float = 2 * np.pi):
    t = np.linspace(start, end, n, endpoint=end - start < 2 * np.pi - 1e-6)
    return np.column_stack([cx + rx * np.cos(t), cy + ry * np.sin(t)])


def eye_outline(ident: Identity, expr: Expression, side: int, n: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid curves (left to right in the image) in canonical coords."""
    cx, w = side * ident.eye_spacing, ident.eye_width
    h = ident.eye_height * max(expr.eye_open, 0.04)
    x = np.linspace(-1, 1, n)
    bump = (1 - x**2) ** 0.8
    skew = 1 + 0.25 * x * side  # outer half of the upper lid is a bit fuller
    upper = np.column_stack([cx + w * x, -h * bump * skew])
    lower = np.column_stack([cx + w * x, 0.6 * h * bump + 0.01 * (1 - expr.eye_open)])
    return upper, lower


def mouth_outline(ident: Identity, expr: Expression) -> dict[str, np.ndarray]:
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


def jaw_outline(ident: Identity, n: int = 17) -> np.ndarray:
    """Lower face outline from the image-left temple via the chin to the image-right temple."""
    top, fw = -0.05, ident.face_width
    t = np.linspace(np.pi, 0, n)
    c, s = np.cos(t), np.sin(t)
    x = fw * np.sign(c) * np.abs(c) ** (2 / ident.jaw_power)
    depth = np.abs(s) ** (2 / ident.jaw_power)
    y = top + (ident.chin_y - top) * depth
    x = x * (1 - (1 - ident.jaw_width) * depth**2)
    return np.column_stack([x, y])


def forehead_outline(ident: Identity, n: int = 15) -> np.ndarray:
    return ellipse(0, -0.05, ident.face_width * 0.98, 1.0, n, np.pi, 2 * np.pi)[1:-1]


def canonical_landmarks(ident: Identity, expr: Expression) -> tuple[np.ndarray, np.ndarray]:
    """68 canonical (x, y) points and their depth offsets above the head surface."""
    lm = np.zeros((N_LANDMARKS, 2))
    lift = np.zeros(N_LANDMARKS)
    lm[JAW] = jaw_outline(ident)
    for k, side in enumerate((-1, 1)):
        xs = side * ident.eye_spacing + ident.eye_width * np.array([-1.25, -0.7, -0.1, 0.45, 0.95]) * -side
        xs = np.sort(xs)
        rel = (xs - side * ident.eye_spacing) / ident.eye_width * side  # -1 inner .. +1 outer
        ys = -ident.brow_raise - ident.brow_arch * (1 - (rel - 0.1) ** 2) + 0.03 * rel
        lm[17 + 5 * k : 22 + 5 * k] = np.column_stack([xs, ys])
        upper, lower = eye_outline(ident, expr, side)
        idx = 36 + 6 * k
        lm[idx] = upper[0]
        lm[idx + 1 : idx + 3] = upper[[2, 4]]
        lm[idx + 3] = upper[-1]
        lm[idx + 4 : idx + 6] = lower[[4, 2]]
    nl, nw = ident.nose_length, ident.nose_width
    lm[27:31] = np.column_stack([np.zeros(4), np.linspace(0.0, 0.42 * nl, 4)])
    lift[27:31] = NOSE_HEIGHT * np.linspace(0.25, 1.0, 4)
    lm[31:36] = np.column_stack([nw * np.array([-1, -0.5, 0, 0.5, 1]), 0.48 * nl + np.array([0, 0.03, 0.04, 0.03, 0])])
    lift[31:36] = NOSE_HEIGHT * np.array([0.2, 0.45, 0.6, 0.45, 0.2])
    m = mouth_outline(ident, expr)
    lm[48:55] = m["upper_outer"][[0, 1, 3, 4, 5, 7, 8]]
    lm[55:60] = m["lower_outer"][[7, 5, 4, 3, 1]]
    lm[60:65] = m["upper_inner"][[0, 2, 4, 6, 8]]
    lm[65:68] = m["lower_inner"][[6, 4, 2]]
    return lm, lift
