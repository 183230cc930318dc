"""The LABELS file: label names per kind, in the labelled-folder format's `labels.json`.

    {"segmentation": {"classes": ["background", "skin", ...], "palette": [[r, g, b], ...]},
     "keypoints": {"names": ["left_eye", ...], "skeleton": [[0, 1], ...]},
     "depth": {"unit": "m", "png_scale": 1000, ...}}

Only the kinds present are required (other keys, such as the folder format's
"format"/"version"/"count", are ignored); an annotation of a kind the file
does not describe is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dgan_cli.errors import DganError
from dgan_cli.untrusted import check_names, read_json

DEPTH_PNG_SCALE = "png_scale"  # 16-bit PNG steps per depth unit
DEPTH_FAR = "far"              # depth at or beyond it is no reading (background), as in labelled folders


@dataclass(frozen=True)
class LabelNames:
    path: Path
    raw: dict = field(repr=False)

    def entry(self, kind: str) -> dict:
        """The labels.json entry of `kind`, refused in one line when absent."""
        if kind not in self.raw:
            kinds = [k for k, v in self.raw.items() if isinstance(v, dict)]
            raise DganError(f"{self.path}: no '{kind}' entry, but the annotations have {kind} labels",
                            hint=f"it describes: {', '.join(kinds) or 'nothing'}")
        if not isinstance(self.raw[kind], dict):
            raise DganError(f"{self.path}: '{kind}' must be a JSON object")
        return self.raw[kind]

    @property
    def classes(self) -> list[str]:
        return _names(self, "segmentation", "classes")

    @property
    def palette(self) -> list[tuple[int, int, int]] | None:
        palette = self.entry("segmentation").get("palette")
        return None if palette is None else [tuple(int(v) for v in colour) for colour in palette]

    @property
    def keypoints(self) -> list[str]:
        return _names(self, "keypoints", "names")

    @property
    def depth_png_scale(self) -> float:
        scale = self.entry("depth").get(DEPTH_PNG_SCALE)
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise DganError(f"{self.path}: depth needs a positive '{DEPTH_PNG_SCALE}' to read 16-bit PNGs",
                            hint="or give the depth maps as .npy files")
        return float(scale)

    @property
    def depth_far(self) -> float | None:
        far = self.entry("depth").get(DEPTH_FAR)
        if far is None:
            return None
        if not isinstance(far, (int, float)) or not far > 0:
            raise DganError(f"{self.path}: depth '{DEPTH_FAR}' must be a positive number, got {far!r}")
        return float(far)


def read_label_names(path: Path) -> LabelNames:
    raw = read_json(path, "LABELS file")
    if not isinstance(raw, dict):
        raise DganError(f"{path}: expected a JSON object of label kinds")
    return LabelNames(Path(path), raw)


def _names(names: LabelNames, kind: str, key: str) -> list[str]:
    return check_names(f"{names.path}: '{kind}.{key}'", names.entry(kind).get(key))
