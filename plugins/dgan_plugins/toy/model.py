"""The toy creature (world v2) as a list of ellipsoids, drawn from one latent vector.

Every visible thing is an ellipsoid (head, ears, eyes, nose, hair, body...),
so one z-buffered ray/quadric test renders images, part labels, depth and
shading alike. This module only builds the scene; `render.py` rasterises it.

The world is a function of a latent: a 128-d standard normal vector, used at
unit RMS exactly as a StyleGAN2 mapping network normalises its z. Class is
the argmax of the first four components; every other factor reads one
component through the normal CDF as a uniform number. A seed draws its latent
with numpy, so a generator whose z has the same size can be trained on pairs
(z, render(z)) and, sampled from its prior, still shows the world's own
distribution (docs/toy-world.md).

Coordinates: object space has x to the creature's left (image right when it
faces the camera), y up, z away from the camera; its head centre is the
origin and the head is about 2 units tall. Camera space is the same frame
rotated by the pose and pushed `distance` units away from the camera.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PART_CLASSES = ("background", "face", "hair", "ear", "eye", "eyebrow", "nose", "mouth", "body")
OBJECT_CLASSES = ("human", "cat", "bear", "dog")
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right", "left_ear", "right_ear")
SKELETON = ((0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4), (0, 5), (1, 6))
PALETTE = ((0, 0, 0), (230, 180, 140), (110, 60, 30), (220, 90, 90), (60, 120, 230),
           (150, 100, 230), (240, 220, 60), (200, 40, 60), (60, 170, 90))
FAR_DEPTH = 12.0
LATENT_DIM = 128
WORLD_VERSION = 2

# Drawing slots, in a fixed order; a creature without a part disables its slot.
SLOTS = ("body", "neck", "head", "muzzle", "hair_cap", "hair_back", "ear_l", "ear_r",
         "eye_l", "eye_r", "iris_l", "iris_r", "brow_l", "brow_r", "nose", "mouth")
SLOT_PART = np.array([PART_CLASSES.index(p) for p in (
    "body", "body", "face", "face", "hair", "hair", "ear", "ear",
    "eye", "eye", "eye", "eye", "eyebrow", "eyebrow", "nose", "mouth")], np.uint8)
_S = {name: i for i, name in enumerate(SLOTS)}

# Each keypoint: the slots that count as "its part" for visibility, the slot it
# sits on, and its (u, v) position on that ellipsoid's front, in radii.
KEYPOINT_ANCHORS = (
    (("eye_l", "iris_l"), "iris_l", (0.0, 0.0)),
    (("eye_r", "iris_r"), "iris_r", (0.0, 0.0)),
    (("nose",), "nose", (0.0, 0.0)),
    (("mouth",), "mouth", (0.6, 0.0)),
    (("mouth",), "mouth", (-0.6, 0.0)),
    (("ear_l",), "ear_l", None),  # per-class position, see _EAR_KEYPOINT
    (("ear_r",), "ear_r", None),
)
KEYPOINT_OWNERS = tuple(tuple(_S[s] for s in owners) for owners, _, _ in KEYPOINT_ANCHORS)
_EAR_KEYPOINT = {"human": (0.45, 0.0), "cat": (0.0, 0.35), "bear": (0.0, 0.3), "dog": (0.0, -0.35)}


@dataclass
class Scene:
    """One sample's ellipsoids in camera space plus camera and lighting."""

    object_class: int
    centres: np.ndarray    # [P, 3] camera space
    quadrics: np.ndarray   # [P, 3, 3] M with (p - c)^T M (p - c) = 1 on the surface
    extents: np.ndarray    # [P, 2] half-size of each silhouette along x and y
    albedo: np.ndarray     # [P, 3] in [0, 1]
    enabled: np.ndarray    # [P] bool
    keypoints: np.ndarray  # [K, 3] camera space
    scale: float           # pixels per unit
    centre_px: tuple       # (x, y) pixel position of the head centre
    light: np.ndarray      # [3] unit vector towards the light
    ambient: float
    background: dict       # top and bottom colour of the vertical gradient


def seed_latent(seed: int) -> np.ndarray:
    """The latent of a seed: standard normal, with its class component moved to seed % 4.

    Swapping the largest of the first four components into place keeps the
    distribution given the class, and makes any 4k consecutive seeds hold
    exactly k samples of each class.
    """
    z = np.random.default_rng(seed).standard_normal(LATENT_DIM)
    top, want = int(np.argmax(z[:4])), seed % len(OBJECT_CLASSES)
    z[[top, want]] = z[[want, top]]
    return z


class _Factors:
    """Hands out the latent's components in a fixed order, each as a number in [0, 1)."""

    def __init__(self, z: np.ndarray):
        z = np.asarray(z, np.float64)
        if z.shape != (LATENT_DIM,):
            raise ValueError(f"a toy latent has shape ({LATENT_DIM},), got {z.shape}")
        self.z = z / math.sqrt(max(float(np.mean(z * z)), 1e-12))
        self.next = len(OBJECT_CLASSES)

    def unit(self) -> float:
        value = 0.5 * (1.0 + math.erf(self.z[self.next] / math.sqrt(2.0)))
        self.next += 1
        return min(max(value, 0.0), 1.0 - 1e-12)

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.unit()

    def jitter(self, value: float, rel: float = 0.1) -> float:
        return value * (1.0 + rel * self.uniform(-1.0, 1.0))

    def pick(self, options):
        return options[int(self.unit() * len(options))]

    def colour(self, base, spread: float = 0.06) -> np.ndarray:
        return np.clip(np.asarray(base) + [self.uniform(-spread, spread) for _ in range(3)], 0.0, 1.0)


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


class _Builder:
    """Collects ellipsoids in object space for one creature."""

    def __init__(self):
        n = len(SLOTS)
        self.centre = np.zeros((n, 3))
        self.radii = np.ones((n, 3))
        self.rot = np.tile(np.eye(3), (n, 1, 1))
        self.albedo = np.zeros((n, 3))
        self.enabled = np.zeros(n, bool)

    def add(self, slot, centre, radii, albedo, roll=0.0):
        i = _S[slot]
        self.centre[i], self.radii[i], self.albedo[i] = centre, radii, albedo
        self.rot[i] = _rot_z(roll)
        self.enabled[i] = True

    def front(self, slot, u, v):
        """Object-space point on the front of a placed ellipsoid at (u, v) radii."""
        i = _S[slot]
        w = np.sqrt(max(0.0, 1.0 - u * u - v * v))
        local = np.array([u, v, -w]) * self.radii[i]
        return self.centre[i] + self.rot[i] @ local

    def on_surface(self, slot, x, y, radii, albedo, sink=0.35, roll=0.0, into=None):
        """Place a feature on the front of `slot` at object (x, y), partly sunk in."""
        i = _S[slot]
        c, r = self.centre[i], self.radii[i]
        q = 1.0 - ((x - c[0]) / r[0]) ** 2 - ((y - c[1]) / r[1]) ** 2
        z = c[2] - r[2] * np.sqrt(max(q, 0.0))
        self.add(into, (x, y, z + sink * radii[2]), radii, albedo, roll)


_SKIN = ((0.96, 0.80, 0.68), (0.87, 0.66, 0.50), (0.66, 0.46, 0.32), (0.42, 0.28, 0.20))
_HAIR = ((0.10, 0.08, 0.07), (0.35, 0.20, 0.10), (0.75, 0.55, 0.25), (0.55, 0.15, 0.08), (0.6, 0.6, 0.6))
_FUR = {"cat": ((0.90, 0.55, 0.20), (0.55, 0.55, 0.58), (0.95, 0.93, 0.88), (0.30, 0.26, 0.24)),
        "bear": ((0.45, 0.28, 0.15), (0.30, 0.20, 0.14), (0.85, 0.80, 0.70)),
        "dog": ((0.80, 0.62, 0.38), (0.36, 0.26, 0.18), (0.92, 0.88, 0.80), (0.55, 0.35, 0.20))}
_IRIS = ((0.25, 0.45, 0.75), (0.35, 0.22, 0.12), (0.30, 0.55, 0.30), (0.10, 0.10, 0.10))


def _human(f: _Factors, b: _Builder) -> None:
    skin = f.colour(f.pick(_SKIN), 0.04)
    hair = f.colour(f.pick(_HAIR), 0.04)
    a = f.jitter(0.8, 0.06)
    b.add("head", (0, 0, 0), (a, 1.0, 0.85), skin)
    b.add("neck", (0, -1.05, 0.15), (f.jitter(0.36), 0.55, 0.36), skin * 0.88)
    ear_y = f.uniform(-0.1, 0.05)
    for side, slot in ((1, "ear_l"), (-1, "ear_r")):
        b.add(slot, (side * (a + 0.02), ear_y, 0.05), (0.18, 0.25, 0.12), skin * 0.9)
    b.add("hair_cap", (0, f.uniform(0.2, 0.32), 0.12), (a * 1.1, 0.98, 0.95), hair)
    if f.unit() < 0.45:
        b.add("hair_back", (0, -0.35, 0.45), (a * 1.25, f.jitter(1.05), 0.55), hair)
    eye_x, eye_y = f.jitter(0.32, 0.06), f.uniform(0.02, 0.12)
    iris = f.colour(f.pick(_IRIS), 0.04)
    brow_tilt, brow_lift = f.uniform(-0.2, 0.2), f.uniform(0.24, 0.3)
    for side, s in ((1, "l"), (-1, "r")):
        b.on_surface("head", side * eye_x, eye_y, (0.2, 0.13, 0.08), (0.96, 0.96, 0.94), into=f"eye_{s}")
        b.on_surface("head", side * eye_x, eye_y, (0.1, 0.1, 0.07), iris, sink=0.0, into=f"iris_{s}")
        b.on_surface("head", side * eye_x, eye_y + brow_lift, (0.23, 0.075, 0.06), hair * 0.8,
                     roll=side * brow_tilt, into=f"brow_{s}")
    b.on_surface("head", 0, -0.22, (0.13, f.jitter(0.22, 0.1), 0.2), skin * 0.78, sink=0.1, into="nose")
    lips = f.colour((0.72, 0.28, 0.3), 0.06)
    b.on_surface("head", 0, f.uniform(-0.6, -0.52), (f.jitter(0.28, 0.1), f.jitter(0.1, 0.15), 0.06),
                 lips, into="mouth")
    b.add("body", (0, -2.1, 0.35), (f.jitter(1.5), 0.95, 0.7), f.colour((0.5, 0.5, 0.5), 0.4))


def _animal(f: _Factors, b: _Builder, kind: str) -> None:
    fur = f.colour(f.pick(_FUR[kind]), 0.05)
    light_fur = np.clip(fur * 0.4 + 0.6, 0, 1)
    dark = f.colour((0.12, 0.1, 0.1), 0.03)
    a = f.jitter({"cat": 1.0, "bear": 1.0, "dog": 0.85}[kind], 0.06)
    b.add("head", (0, 0, 0), (a, {"cat": 0.88, "bear": 0.95, "dog": 1.0}[kind], 0.9), fur)
    b.add("neck", (0, -1.0, 0.2), (f.jitter(0.5), 0.6, 0.45), fur * 0.88)
    ear_size, ear_tilt = f.jitter(1.0, 0.12), f.uniform(0.0, 1.0)
    for side, slot in ((1, "ear_l"), (-1, "ear_r")):
        if kind == "cat":
            b.add(slot, (side * 0.55 * a, 0.8, 0.12), (0.26, 0.45 * ear_size, 0.1), fur * 0.92,
                  roll=-side * (0.25 + 0.25 * ear_tilt))
        elif kind == "bear":
            b.add(slot, (side * 0.7 * a, 0.72, 0.12), (0.28 * ear_size, 0.28 * ear_size, 0.12), fur * 0.8)
        else:
            b.add(slot, (side * (a + 0.05), -0.15, 0.0), (0.22, 0.52 * ear_size, 0.1), fur * 0.65,
                  roll=side * 0.35 * ear_tilt)
    eye_x = f.jitter({"cat": 0.36, "bear": 0.34, "dog": 0.3}[kind], 0.06)
    eye_y = f.uniform(0.08, 0.18)
    eye_r = {"cat": (0.2, 0.14), "bear": (0.13, 0.13), "dog": (0.15, 0.14)}[kind]
    iris_r = {"cat": (0.06, 0.12), "bear": (0.09, 0.09), "dog": (0.09, 0.09)}[kind]
    white = (0.7, 0.85, 0.3) if kind == "cat" else (0.95, 0.95, 0.92)
    white = f.colour(white, 0.04)
    for side, s in ((1, "l"), (-1, "r")):
        b.on_surface("head", side * eye_x, eye_y, eye_r + (0.08,), white, into=f"eye_{s}")
        b.on_surface("head", side * eye_x, eye_y, iris_r + (0.07,), dark, sink=0.0, into=f"iris_{s}")
        if kind == "dog":
            b.on_surface("head", side * eye_x, eye_y + 0.24, (0.14, 0.075, 0.06), light_fur, into=f"brow_{s}")
    if kind == "cat":
        b.on_surface("head", 0, -0.2, (0.13, 0.09, 0.08), f.colour((0.9, 0.5, 0.55), 0.04), into="nose")
        b.on_surface("head", 0, -0.45, (0.2, 0.08, 0.05), dark, into="mouth")
    else:
        snout = (0.44, 0.34, 0.4) if kind == "bear" else (0.36, 0.32, 0.5)
        b.on_surface("head", 0, -0.32, snout, light_fur, sink=0.45, into="muzzle")
        b.on_surface("muzzle", 0, -0.18, (0.17, 0.11, 0.1), dark, sink=0.2, into="nose")
        b.on_surface("muzzle", 0, -0.47, (0.2, 0.08, 0.05), dark * 1.3, into="mouth")
    b.add("body", (0, -2.1, 0.35), (f.jitter(1.5), 0.95, 0.7), fur * 0.95)


def sample_scene(seed: int, resolution: int) -> Scene:
    """The scene of one seed (its `seed_latent`)."""
    return scene_from_latent(seed_latent(seed), resolution)


def scene_from_latent(z: np.ndarray, resolution: int) -> Scene:
    """Draw one creature, pose, light and background from a latent vector alone."""
    f = _Factors(z)
    object_class = int(np.argmax(f.z[:len(OBJECT_CLASSES)]))
    kind = OBJECT_CLASSES[object_class]
    # pose, framing, light and background first, so that each keeps its component in every class
    yaw, pitch, roll = f.uniform(-0.12, 0.12), f.uniform(-0.06, 0.06), f.uniform(-0.04, 0.04)
    scale = resolution * f.uniform(0.325, 0.345)
    centre_px = (resolution * (0.5 + f.uniform(-0.01, 0.01)), resolution * (0.46 + f.uniform(-0.01, 0.01)))
    light = np.array([f.uniform(-0.5, 0.5), f.uniform(0.0, 0.5), -1.0])
    ambient = f.uniform(0.55, 0.7)
    top = np.array([f.uniform(0.2, 0.85) for _ in range(3)])
    background = {"top": top, "bottom": np.clip(top + [f.uniform(-0.2, 0.2) for _ in range(3)], 0.0, 1.0)}

    b = _Builder()
    if kind == "human":
        _human(f, b)
    else:
        _animal(f, b, kind)

    distance = 6.0 * 0.24 * resolution / scale  # bigger on screen = closer
    pose = _rot_z(roll) @ _rot_y(yaw) @ _rot_x(pitch)
    offset = np.array([0.0, 0.0, distance])
    ear_uv = _EAR_KEYPOINT[kind]
    keypoints = []
    for (_, slot, uv), name in zip(KEYPOINT_ANCHORS, KEYPOINT_NAMES):
        if uv is None:  # ears: the left one's (u, v) mirrored for the right
            uv = ear_uv if name == "left_ear" else (-ear_uv[0], ear_uv[1])
        keypoints.append(b.front(slot, *uv))
    keypoints = np.array(keypoints) @ pose.T + offset

    rot = pose @ b.rot
    centres = b.centre @ pose.T + offset
    quadrics = rot @ (np.eye(3) / b.radii[:, None, :] ** 2) @ rot.transpose(0, 2, 1)
    # silhouette half-extents: sqrt of the diagonal of M^-1 = R diag(r^2) R^T
    extents = np.sqrt(np.einsum("pij,pj->pi", rot[:, :2] ** 2, b.radii ** 2))
    return Scene(object_class=object_class, centres=centres, quadrics=quadrics, extents=extents, albedo=b.albedo,
                 enabled=b.enabled, keypoints=keypoints, scale=scale, centre_px=centre_px,
                 light=light / np.linalg.norm(light), ambient=ambient, background=background)
