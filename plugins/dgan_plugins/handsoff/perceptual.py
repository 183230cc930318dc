"""LPIPS from the lpips package, its ImageNet backbone read from the local torch cache only.

The lpips package ships its small linear calibration layers; the VGG-16 or
AlexNet trunk it builds on comes from torchvision's ImageNet checkpoint. dgan
never downloads: it looks for torchvision's file, under torchvision's own
name, in `torch.hub.get_dir()/checkpoints/` (`$TORCH_HOME/hub/checkpoints`),
and reads it as plain tensors (`weights_only`). When the file is missing the
user gets one line naming the file and the loss that needs no download.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

from dgan_cli.errors import CheckpointError, DganError

# lpips net name -> torchvision weights enum holding the ImageNet checkpoint URL.
TRUNKS = {"vgg": "VGG16_Weights", "alex": "AlexNet_Weights"}
NO_DOWNLOAD_LOSS = "pixel+msssim"
# AlexNet's stride-4 stem needs room; huge images are compared at 256 px as in the StyleGAN2 projector.
MIN_SIDE, MAX_SIDE = 64, 256


def trunk_file(net: str) -> Path:
    """Where torchvision keeps the ImageNet checkpoint of this lpips trunk."""
    from torch import hub
    from torchvision import models

    url = getattr(models, TRUNKS[net]).IMAGENET1K_V1.url
    return Path(hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def trunk_available(net: str) -> bool:
    return trunk_file(net).is_file()


def load_lpips(net: str = "vgg", device: str = "cpu"):
    """A frozen `lpips.LPIPS` with the ImageNet trunk from the torch cache; DganError if absent."""
    import torch

    path = trunk_file(net)
    if not path.is_file():
        raise DganError(f"LPIPS-{net} needs torchvision's ImageNet weights {path.name}, not found in {path.parent}",
                        hint=f"put that file there, or choose --loss {NO_DOWNLOAD_LOSS} (needs no downloaded weights)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable torchvision checkpoint ({type(exc).__name__})",
                              hint="delete it and copy a good one") from exc
    import lpips

    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained=`
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    model.net.load_state_dict(_trunk_state(model.net, state, path))
    return model.eval().requires_grad_(False).to(device)


def _trunk_state(trunk, state: dict, path: Path) -> dict:
    """Rename torchvision's `features.<i>.<param>` keys to lpips' `slice<k>.<i>.<param>`."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a state dict (a {type(state).__name__})")
    slice_of = {child: name for name, block in trunk.named_children() for child, _ in block.named_children()}
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "features" and parts[1] in slice_of:
            renamed[f"{slice_of[parts[1]]}.{parts[1]}.{parts[2]}"] = value
    wanted = set(trunk.state_dict())
    if set(renamed) != wanted or any(renamed[k].shape != v.shape for k, v in trunk.state_dict().items()):
        raise CheckpointError(f"{path}: not the torchvision checkpoint lpips expects "
                              f"({len(wanted - set(renamed))} trunk tensors missing or of another shape)")
    return renamed


def lpips_distance(model, x, y):
    """LPIPS per image pair (NCHW in [-1, 1]) -> [N], images brought to 64..256 px first."""
    import torch.nn.functional as F

    side = min(x.shape[2], x.shape[3])
    target = min(max(side, MIN_SIDE), MAX_SIDE)
    if target != side:
        size = (round(x.shape[2] * target / side), round(x.shape[3] * target / side))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=target < side)
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False, antialias=target < side)
    return model(x, y).flatten()
