"""dgan: labelled training images from a pretrained StyleGAN2/ADA generator."""
__version__ = "0.1.0"

from dgan_cli.hookspecs import hookimpl  # noqa: E402


def load_backbone(source, device="cpu"):
    """Load a backbone by registered name (e.g. "toy") or checkpoint path."""
    from dgan_cli.registry import load_backbone as _load

    return _load(source, device=device)


__all__ = ["__version__", "hookimpl", "load_backbone"]
