"""Interpreter checkpoints: one torch file, readable with `torch.load(weights_only=True)`.

Layout: {"format": "dgan-interpreter", "format_version": 1, "config": <JSON
text>, "members": [state_dict, ...]}. The JSON config names the head and its
options, the label names, the feature layers, the image size, the backbone's
identity and how the ensemble was trained; nothing in the file is code.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from dgan_cli.checksum import file_sha256
from dgan_cli.errors import CheckpointError, DganError
from dgan_cli.interpreter.ensemble import Ensemble
from dgan_cli.interpreter.fast import FastEnsemble
from dgan_cli.types import LayerInfo

FORMAT = "dgan-interpreter"
FORMAT_VERSION = 1


@dataclass
class Interpreter:
    """A trained ensemble with everything needed to run it on a backbone's features."""

    head: Any
    head_name: str
    label_names: list
    layers: Sequence[LayerInfo]
    image_hw: tuple
    backbone: dict
    ensemble: Ensemble
    training: dict = field(default_factory=dict)
    source_sha256: str = ""  # of the file it was loaded from

    def config(self) -> dict:
        return {
            "head": {"name": self.head_name, "label_names": list(self.label_names), "options": self.head.config()},
            "layers": [layer.as_dict() for layer in self.layers],
            "image_hw": list(self.image_hw),
            "backbone": self.backbone,
            "ensemble": {"members": len(self.ensemble), "in_dim": self.ensemble.in_dim,
                         "num_outputs": self.ensemble.num_outputs, "hidden": list(self.ensemble.hidden)},
            "training": self.training,
        }

    def fast(self, device: str | torch.device = "cpu") -> FastEnsemble:
        return FastEnsemble(self.ensemble, self.layers, self.image_hw, device=device)

    def save(self, path) -> None:
        """Write atomically: a crash never leaves a half-written checkpoint under `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION,
                   "config": json.dumps(self.config(), sort_keys=True),
                   "members": [{k: v.detach().cpu() for k, v in m.state_dict().items()}
                               for m in self.ensemble.members]}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            torch.save(payload, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path, registry=None) -> "Interpreter":
        """Read a checkpoint and rebuild its head through the plugin registry."""
        from dgan_cli.registry import default_registry

        path = Path(path)
        payload = read_payload(path)
        try:
            cfg = json.loads(payload["config"])
            head_cfg, ens_cfg = cfg["head"], cfg["ensemble"]
            layers = tuple(LayerInfo(**d) for d in cfg["layers"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: damaged interpreter config ({exc})") from exc
        spec = (registry or default_registry()).get("head", head_cfg["name"])
        try:
            head = spec.build(head_cfg["label_names"], **head_cfg["options"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: head '{head_cfg['name']}' cannot be rebuilt ({exc})") from exc
        ensemble = Ensemble(ens_cfg["in_dim"], ens_cfg["num_outputs"], ens_cfg["members"], ens_cfg["hidden"])
        if head.num_outputs != ensemble.num_outputs or len(payload["members"]) != len(ensemble):
            raise CheckpointError(f"{path}: ensemble does not match its head ({head.num_outputs} outputs)")
        try:
            for member, state in zip(ensemble.members, payload["members"]):
                member.load_state_dict(state)
        except (RuntimeError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{path}: member weights do not fit the recorded shapes") from exc
        return cls(head, head_cfg["name"], head_cfg["label_names"], layers, tuple(cfg["image_hw"]),
                   cfg.get("backbone") or {}, ensemble.eval(), cfg.get("training", {}), file_sha256(path))

    def check_backbone(self, identity: dict, path="interpreter") -> None:
        """Refuse to run on features of a generator other than the one it was trained on."""
        mine = self.backbone.get("sha256")
        if mine != identity.get("sha256"):
            raise DganError(f"{path}: trained on backbone {self.backbone.get('name', '?')} "
                            f"sha256 {str(mine)[:12]}, not on the given one "
                            f"({identity.get('name', '?')} sha256 {str(identity.get('sha256'))[:12]})")


def read_payload(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such interpreter checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for foreign or truncated files
        raise CheckpointError(f"{path}: not a readable interpreter checkpoint ({type(exc).__name__})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dgan interpreter checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: interpreter format v{payload.get('format_version')}, "
                              f"this dgan reads v{FORMAT_VERSION}")
    return payload
