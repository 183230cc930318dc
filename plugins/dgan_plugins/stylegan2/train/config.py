"""Training settings: defaults, the run's config.json, and the resume check.

Every option of `dgan backbone train` arrives here as a value or None ("not
given"). A new run fills the gaps with defaults; a resumed run fills them
from the run's config.json and refuses any given value that would change the
training (only the bookkeeping fields in RESUME_MAY_CHANGE may differ).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import DganError

CONFIG_FORMAT = "dgan-train-config/1"

# Defaults for the 64px toy world on a CPU (official StyleGAN2-ADA values where it has them).
DEFAULTS: dict[str, Any] = {
    "steps": 10000,
    "batch": 32,
    "channel_base": 4096,
    "channel_max": 128,
    "z_dim": 128,
    "w_dim": 128,
    "mapping_layers": 2,
    "mapping_lr": 0.01,
    "lr": 0.0025,
    "r1_every": 16,
    "pl_weight": 0.0,
    "pl_every": 4,
    "ema_rampup": 0.05,
    "style_mixing": 0.9,
    "augment": "color,translation,cutout",
    "seed": 0,
    "snapshot_every": 500,
    "log_every": 10,
    "keep_checkpoints": 5,
    "device": "auto",
    "objective": "gan",
    "recon_weight": 20.0,
    "paired_pool": 1,
}
# gan: the adversarial game alone. paired: regress G(z) on the data source's own
# image of z (pixel + edge L1; a source that renders from latents, e.g. toy).
# paired+gan: both, the reconstruction weighted by recon_weight. paired_pool > 1
# mines hard examples: of pool x batch latents, the step regresses on the batch
# that G reconstructs worst, so regions of z it has not learned (a whole image
# class) get the steps instead of the ones it already draws.
OBJECTIVES = ("gan", "paired", "paired+gan")

# Fields that do not change what is computed, so a resume may set them anew.
# The objective and its settings may change too: a run regresses first, then adds the game.
RESUME_MAY_CHANGE = ("steps", "device", "snapshot_every", "log_every", "keep_checkpoints", "objective",
                     "recon_weight", "paired_pool")


@dataclass(frozen=True)
class TrainConfig:
    data: str  # absolute folder path, or a registered data source's name ("toy")
    resolution: int
    data_images: int  # images in the folder (or the toy seed pool) when the run started
    steps: int
    batch: int
    channel_base: int
    channel_max: int
    z_dim: int
    w_dim: int
    mapping_layers: int
    mapping_lr: float
    lr: float
    r1_gamma: float
    r1_every: int
    pl_weight: float
    pl_every: int
    ema_kimg: float
    ema_rampup: float
    style_mixing: float
    augment: str
    seed: int
    snapshot_every: int
    log_every: int
    keep_checkpoints: int
    device: str
    objective: str
    recon_weight: float
    paired_pool: int

    @property
    def paired(self) -> bool:
        return self.objective in ("paired", "paired+gan")

    @property
    def adversarial(self) -> bool:
        return self.objective in ("gan", "paired+gan")

    def as_dict(self) -> dict:
        return {"format": CONFIG_FORMAT, **asdict(self)}


def _field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def data_key(data: str) -> str:
    """How --data is recorded: a registered data source's name ('toy'), or the folder's absolute path."""
    from dgan_cli.registry import default_registry

    if data in default_registry().names("data_source"):
        return data
    return str(Path(data).expanduser().resolve())


def policy_key(augment: str) -> str:
    """How --augment is recorded: 'none' or the canonical comma-separated list."""
    from dgan_plugins.stylegan2.train.augment import parse_policy

    return ",".join(parse_policy(augment)) or "none"


def new_config(options: dict[str, Any], resolution: int, data_images: int) -> TrainConfig:
    """Settings of a fresh run: given options, else defaults and official heuristics."""
    values = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    batch = values["batch"]
    if values.get("r1_gamma") is None:
        values["r1_gamma"] = 0.0002 * resolution**2 / max(batch, 1)  # StyleGAN2-ADA 'auto' heuristic
    if values.get("ema_kimg") is None:
        values["ema_kimg"] = batch * 10 / 32
    values.update(data=data_key(values["data"]), resolution=resolution, data_images=data_images,
                  augment=policy_key(values["augment"]))
    config = TrainConfig(**{name: values[name] for name in _field_names()})
    validate(config)
    return config


def resumed_config(recorded: dict[str, Any], options: dict[str, Any]) -> TrainConfig:
    """The recorded settings, with the given options checked against them."""
    if recorded.get("format") != CONFIG_FORMAT:
        raise DganError(f"config.json is not a dgan training config (format {recorded.get('format')!r})")
    values = {name: recorded[name] for name in _field_names() if name in recorded}
    for name in ("objective", "recon_weight", "mapping_lr", "paired_pool"):  # runs from before these options
        values.setdefault(name, DEFAULTS[name])
    missing = [name for name in _field_names() if name not in values]
    if missing:
        raise DganError(f"config.json lacks {', '.join(missing)}; it was not written by this dgan version")
    given = {k: v for k, v in options.items() if v is not None}
    if "data" in given:
        given["data"] = data_key(given["data"])
    if "augment" in given:
        given["augment"] = policy_key(given["augment"])
    for name, value in given.items():
        if name in RESUME_MAY_CHANGE or name == "toy_images":
            continue
        if name in values and value != values[name]:
            flag = "--" + name.replace("_", "-")
            raise DganError(
                f"cannot resume: the run was started with {flag} {values[name]}, not {value}",
                hint="leave the option out to keep the run's setting, or train into a new --out folder",
            )
    if values["data"] == "toy" and given.get("toy_images", values["data_images"]) != values["data_images"]:
        raise DganError(f"cannot resume: the run was started with --toy-images {values['data_images']}")
    values.update({k: v for k, v in given.items() if k in RESUME_MAY_CHANGE})
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    checks = [
        (config.resolution >= 4 and config.resolution & (config.resolution - 1) == 0,
         f"--resolution must be a power of two >= 4, got {config.resolution}"),
        (config.batch >= 1, f"--batch must be at least 1, got {config.batch}"),
        (config.steps >= 0, f"--steps must be >= 0, got {config.steps}"),
        (config.seed >= 0, f"--seed must be >= 0, got {config.seed}"),
        (min(config.channel_base, config.channel_max, config.z_dim, config.w_dim) >= 1,
         "--channel-base, --channel-max, --z-dim and --w-dim must be positive"),
        (config.mapping_layers >= 1, "--mapping-layers must be at least 1"),
        (0 < config.mapping_lr <= 1, f"--mapping-lr must be in (0, 1], got {config.mapping_lr}"),
        (config.lr > 0, f"--lr must be positive, got {config.lr}"),
        (config.r1_gamma >= 0 and config.pl_weight >= 0, "--r1-gamma and --pl-weight must be >= 0"),
        (config.r1_every >= 1 and config.pl_every >= 1, "regularisation intervals must be at least 1"),
        (config.ema_kimg >= 0, "--ema-kimg must be >= 0"),
        (0 <= config.style_mixing <= 1, "--style-mixing must be between 0 and 1"),
        (config.snapshot_every >= 1 and config.log_every >= 1, "--snapshot-every and --log-every must be >= 1"),
        (config.keep_checkpoints >= 0, "--keep-checkpoints must be >= 0 (0 keeps all)"),
        (config.objective in OBJECTIVES, f"--objective must be one of {', '.join(OBJECTIVES)}, "
                                         f"got {config.objective!r}"),
        (config.recon_weight >= 0, f"--recon-weight must be >= 0, got {config.recon_weight}"),
        (config.paired_pool >= 1, f"--paired-pool must be at least 1, got {config.paired_pool}"),
        (config.device in ("auto", "cpu", "cuda") or config.device.startswith("cuda:"),
         f"--device must be cpu, cuda or auto, got {config.device!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise DganError(message)


def read_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DganError(f"{path.parent} holds no training run to resume (no config.json)") from None
    except (OSError, ValueError) as error:
        raise DganError(f"unreadable training config {path}: {error}") from None


def write_config(path: Path, config: TrainConfig) -> None:
    """Write config.json atomically (a crash never leaves half a file)."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(config.as_dict(), indent=2) + "\n")
