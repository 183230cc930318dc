"""Options of one distillation run. Defaults are the paper's unless noted.

`syn_ratio` is alpha, the synthetic share of each batch: 1 trains on G(w) only
("squeeze"), 0 on real images only (plain VICReg), anything between mixes both
("squeeze and span", the paper's 0.5).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from dgan_cli.errors import DganError

METHOD_NAMES = {"squeeze": "squeeze only (synthetic)", "vicreg-real": "VICReg on real images only",
                "squeeze-span": "squeeze and span"}


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 200                 # CPU-sized default; the paper trains 200-800 epochs on GPUs
    batch_size: int = 32             # synthetic + real images per step (paper: 512)
    syn_ratio: float = 0.5           # alpha
    resolution: int = 0              # student input size; 0 = the generator's resolution
    stem: str = "auto"               # "cifar" (3x3 conv1, no max-pool), "imagenet", or "auto" (cifar up to 32px)
    dim: int = 2048                  # teacher / projector output width
    squeeze_hidden: int = 2048
    squeeze_depth: int = 3
    projector_layers: int = 5
    distance_weight: float = 25.0    # lambda
    variance_weight: float = 25.0    # mu
    covariance_weight: float = 1.0   # nu
    lr: float = 0.03                 # base lr; the step size is lr * batch_size / 256, cosine-decayed
    momentum: float = 0.9
    weight_decay: float = 5e-4
    truncation_psi: float = 1.0
    layers: tuple[str, ...] = ()     # generator layers to squeeze; () = the last layer of every resolution
    seed: int = 0

    @property
    def method(self) -> str:
        if self.syn_ratio >= 1.0:
            return "squeeze"
        return "vicreg-real" if self.syn_ratio <= 0.0 else "squeeze-span"

    @property
    def syn_batch(self) -> int:
        return round(self.batch_size * self.syn_ratio)

    @property
    def real_batch(self) -> int:
        return self.batch_size - self.syn_batch

    def as_dict(self) -> dict:
        data = asdict(self)
        data["layers"] = list(self.layers)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["layers"] = tuple(values.get("layers", ()))
        return cls(**values)

    def validate(self) -> None:
        """Raise DganError for option values no run can use."""
        if self.steps < 1:
            raise DganError(f"--steps must be at least 1, not {self.steps}")
        if not 0.0 <= self.syn_ratio <= 1.0:
            raise DganError(f"--syn-ratio must lie in [0, 1], not {self.syn_ratio}")
        if self.batch_size < 2:
            raise DganError(f"--batch-size must be at least 2, not {self.batch_size}")
        for name, size in (("synthetic", self.syn_batch), ("real", self.real_batch)):
            if size == 1:
                raise DganError(f"--batch-size {self.batch_size} with --syn-ratio {self.syn_ratio} gives a "
                                f"{name} batch of 1; the variance terms need at least 2")
        if self.stem not in ("auto", "cifar", "imagenet"):
            raise DganError(f"--stem must be auto, cifar or imagenet, not '{self.stem}'")
        if self.resolution and self.resolution < 8:
            raise DganError(f"--resolution must be at least 8, not {self.resolution}")
        if min(self.dim, self.squeeze_hidden, self.squeeze_depth, self.projector_layers) < 1:
            raise DganError("--dim, squeeze width/depth and projector layers must be positive")
        if self.lr <= 0:
            raise DganError(f"--lr must be positive, not {self.lr}")
