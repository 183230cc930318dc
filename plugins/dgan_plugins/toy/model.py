"""The toy creature as a list of ellipsoids, drawn at random from one seed.

Every visible thing is an ellipsoid (head, ears, eyes, nose, hair, body, an
occluder), so one z-buffered ray/quadric test renders images, part labels,
depth and shading alike. This module only samples the scene: where each
ellipsoid is, its colour and part class; `render.py` rasterises it.

Coordinates: object space has x to the creature's left (image right when it
faces the camera), y up, z away from the camera; its head centre is the
origin and the head is about 2 units tall. Camera space is the same frame
rotated by the pose and pushed `distance` units away from the camera.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PART_CLASSES = ("background", "face", "hair", "ear", "eye", "eyebrow", "nose", "mouth", "body")
OBJECT_CLASSES = ("human", "cat", "bear", "dog")
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right", "left_ear", "right_ear")
SKELETON = ((0, 1), (0, 2), (1, 2), (2, 3), (2, 4), (3, 4), (0, 5), (1, 6))
PALETTE = ((0, 0, 0), (230, 180, 140), (110, 60, 30), (220, 90, 90), (60, 120, 230),
           (150, 100, 230), (240, 220, 60), (200, 40, 60), (60, 170, 90))
FAR_DEPTH = 12.0

# Drawing slots, in a fixed order; a creature without a part disables its slot.
SLOTS = ("body", "neck", "head", "muzzle", "hair_cap", "hair_back", "ear_l", "ear_r",
         "eye_l", "eye_r", "iris_l", "iris_r", "brow_l", "brow_r", "nose", "mouth", "occluder")
SLOT_PART = np.array([PART_CLASSES.index(p) for p in (
    "body", "body", "face", "face", "hair", "hair", "ear", "ear",
    "eye", "eye", "eye", "eye", "eyebrow", "eyebrow", "nose", "mouth", "background")], np.uint8)
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
    background: dict       # parameters of the background texture


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


def _jitter(rng, value, rel=0.1):
    return value * (1.0 + rel * rng.uniform(-1.0, 1.0))


def _colour(rng, base, spread=0.08):
    return np.clip(np.asarray(base) + rng.uniform(-spread, spread, 3), 0.0, 1.0)


_SKIN = ((0.96, 0.80, 0.68), (0.87, 0.66, 0.50), (0.66, 0.46, 0.32), (0.42, 0.28, 0.20))
_HAIR = ((0.10, 0.08, 0.07), (0.35, 0.20, 0.10), (0.75, 0.55, 0.25), (0.55, 0.15, 0.08), (0.6, 0.6, 0.6))
_FUR = {"cat": ((0.90, 0.55, 0.20), (0.55, 0.55, 0.58), (0.95, 0.93, 0.88), (0.20, 0.18, 0.18)),
        "bear": ((0.45, 0.28, 0.15), (0.25, 0.17, 0.12), (0.85, 0.80, 0.70)),
        "dog": ((0.80, 0.62, 0.38), (0.30, 0.22, 0.16), (0.92, 0.88, 0.80), (0.55, 0.35, 0.20))}
_EYE_IRIS = ((0.25, 0.45, 0.75), (0.35, 0.22, 0.12), (0.30, 0.55, 0.30), (0.10, 0.10, 0.10))


def _human(rng, b):
    skin = _colour(rng, _SKIN[rng.integers(len(_SKIN))], 0.05)
    hair = _colour(rng, _HAIR[rng.integers(len(_HAIR))], 0.05)
    a = _jitter(rng, 0.8, 0.08)
    b.add("head", (0, 0, 0), (a, 1.0, 0.85), skin)
    b.add("neck", (0, -1.05, 0.15), (_jitter(rng, 0.36), 0.55, 0.36), skin * 0.9)
    ear_y = rng.uniform(-0.1, 0.05)
    for side, slot in ((1, "ear_l"), (-1, "ear_r")):
        b.add(slot, (side * (a + 0.02), ear_y, 0.05), (0.16, 0.22, 0.12), skin * 0.95)
    if rng.random() < 0.9:
        lift = rng.uniform(0.15, 0.3)
        b.add("hair_cap", (0, lift, 0.12), (a * 1.1, 0.98, 0.95), hair)
        if rng.random() < 0.45:
            b.add("hair_back", (0, -0.35, 0.45), (a * 1.25, _jitter(rng, 1.05), 0.55), hair)
    eye_x, eye_y = _jitter(rng, 0.31, 0.08), rng.uniform(0.05, 0.18)
    gaze = rng.uniform(-0.04, 0.04, 2)
    iris = _colour(rng, _EYE_IRIS[rng.integers(len(_EYE_IRIS))], 0.05)
    brow_tilt = rng.uniform(-0.25, 0.25)
    for side, s in ((1, "l"), (-1, "r")):
        b.on_surface("head", side * eye_x, eye_y, (0.17, 0.11, 0.08), (0.96, 0.96, 0.94), into=f"eye_{s}")
        b.on_surface("head", side * eye_x + gaze[0], eye_y + gaze[1], (0.085, 0.085, 0.07), iris,
                     sink=0.0, into=f"iris_{s}")
        b.on_surface("head", side * eye_x, eye_y + rng.uniform(0.18, 0.25), (0.2, 0.065, 0.06),
                     hair * 0.8, roll=side * brow_tilt, into=f"brow_{s}")
    b.on_surface("head", 0, -0.2, (0.1, _jitter(rng, 0.2), _jitter(rng, 0.2)), skin * 0.92,
                 sink=0.1, into="nose")
    lips = _colour(rng, (0.75, 0.3, 0.3), 0.08)
    b.on_surface("head", 0, rng.uniform(-0.58, -0.48), (_jitter(rng, 0.26), _jitter(rng, 0.08, 0.25), 0.06),
                 lips, into="mouth")
    _add_body(rng, b, clothes=rng.uniform(0.1, 0.9, 3))


def _add_body(rng, b, clothes):
    b.add("body", (0, -2.1, 0.35), (_jitter(rng, 1.5), 0.95, 0.7), clothes)


def _animal(rng, b, kind):
    fur = _colour(rng, _FUR[kind][rng.integers(len(_FUR[kind]))], 0.06)
    light_fur = np.clip(fur * 0.4 + 0.6, 0, 1)
    dark = _colour(rng, (0.12, 0.1, 0.1), 0.04)
    width = {"cat": 1.0, "bear": 1.0, "dog": 0.85}[kind]
    a = _jitter(rng, width, 0.07)
    b.add("head", (0, 0, 0), (a, {"cat": 0.88, "bear": 0.95, "dog": 1.0}[kind], 0.9), fur)
    b.add("neck", (0, -1.0, 0.2), (_jitter(rng, 0.5), 0.6, 0.45), fur * 0.9)
    for side, slot in ((1, "ear_l"), (-1, "ear_r")):
        if kind == "cat":
            b.add(slot, (side * 0.55 * a, 0.8, 0.12), (0.24, _jitter(rng, 0.45), 0.1), fur,
                  roll=-side * rng.uniform(0.25, 0.5))
        elif kind == "bear":
            b.add(slot, (side * 0.7 * a, 0.72, 0.12), (_jitter(rng, 0.27),) * 2 + (0.12,), fur * 0.85)
        else:
            b.add(slot, (side * (a + 0.05), -0.15, 0.0), (0.2, _jitter(rng, 0.52), 0.1), fur * 0.7,
                  roll=side * rng.uniform(0.0, 0.35))
    eye_x, eye_y = _jitter(rng, {"cat": 0.36, "bear": 0.34, "dog": 0.3}[kind], 0.08), rng.uniform(0.1, 0.22)
    eye_r = {"cat": (0.19, 0.13), "bear": (0.09, 0.09), "dog": (0.12, 0.11)}[kind]
    iris_r = {"cat": (0.045, 0.11), "bear": (0.07, 0.07), "dog": (0.08, 0.08)}[kind]
    white = (0.7, 0.85, 0.3) if kind == "cat" else (0.95, 0.95, 0.92)
    for side, s in ((1, "l"), (-1, "r")):
        b.on_surface("head", side * eye_x, eye_y, eye_r + (0.08,), _colour(rng, white, 0.05), into=f"eye_{s}")
        b.on_surface("head", side * eye_x, eye_y, iris_r + (0.07,), dark, sink=0.0, into=f"iris_{s}")
        if kind == "dog" and rng.random() < 0.7:
            b.on_surface("head", side * eye_x, eye_y + 0.2, (0.1, 0.06, 0.06), light_fur, into=f"brow_{s}")
    if kind == "cat":
        b.on_surface("head", 0, -0.2, (0.09, 0.06, 0.08), _colour(rng, (0.9, 0.5, 0.55), 0.05), into="nose")
        b.on_surface("head", 0, -0.42, (0.16, 0.065, 0.05), dark, into="mouth")
    else:
        snout = (0.42, 0.32, 0.4) if kind == "bear" else (0.34, 0.3, 0.5)
        b.on_surface("head", 0, -0.32, snout, light_fur, sink=0.45, into="muzzle")
        b.on_surface("muzzle", 0, -0.2, (0.15, 0.1, 0.1), dark, sink=0.2, into="nose")
        b.on_surface("muzzle", 0, -0.45, (0.17, 0.065, 0.05), dark * 1.3, into="mouth")
    _add_body(rng, b, clothes=fur * 0.95)


def _background(rng) -> dict:
    """Base colour plus three soft colour waves (30% keep a single wave)."""
    angle = rng.uniform(0, np.pi, 3)
    freq = rng.uniform(0.5, 3.0, 3)  # cycles per image
    colour = rng.uniform(-0.15, 0.15, (3, 3))
    if rng.random() < 0.3:
        colour[1:] = 0.0
    return {"base": rng.uniform(0.15, 0.85, 3),
            "freq": np.stack([freq * np.cos(angle), freq * np.sin(angle)], axis=1),
            "phase": rng.uniform(0, 2 * np.pi, 3), "sharp": rng.uniform(0.5, 3.0, 3), "colour": colour}


def sample_scene(seed: int, resolution: int) -> Scene:
    """Draw one creature, pose, light and background from `seed` alone."""
    rng = np.random.default_rng(seed)
    object_class = seed % len(OBJECT_CLASSES)  # every 4 consecutive seeds hold one of each class
    kind = OBJECT_CLASSES[object_class]
    b = _Builder()
    if kind == "human":
        _human(rng, b)
    else:
        _animal(rng, b, kind)

    yaw, pitch, roll = rng.uniform(-0.6, 0.6), rng.uniform(-0.25, 0.25), np.clip(rng.normal(0, 0.15), -0.4, 0.4)
    scale = resolution * rng.uniform(0.19, 0.29)
    centre_px = (resolution * (0.5 + rng.uniform(-0.12, 0.12)), resolution * (0.5 + rng.uniform(-0.1, 0.1)))
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
    albedo, enabled = b.albedo, b.enabled
    if rng.random() < 0.3:  # an occluder in front of the creature (labelled background)
        i = _S["occluder"]
        r = np.array([rng.uniform(0.15, 0.35), rng.uniform(0.5, 1.5), 0.25])
        orient = _rot_z(rng.uniform(0, np.pi))
        centres[i] = (rng.uniform(-1.1, 1.1), rng.uniform(-1.1, 1.1), distance - 2.5)
        quadrics[i] = orient @ np.diag(1.0 / r ** 2) @ orient.T
        extents[i] = np.sqrt((orient[:2] ** 2) @ r ** 2)
        albedo[i] = rng.uniform(0.05, 0.95, 3)
        enabled[i] = True

    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.0, 0.6), -1.0])
    return Scene(object_class=object_class, centres=centres, quadrics=quadrics, extents=extents, albedo=albedo,
                 enabled=enabled, keypoints=keypoints, scale=scale, centre_px=centre_px,
                 light=light / np.linalg.norm(light), ambient=rng.uniform(0.45, 0.65),
                 background=_background(rng))
