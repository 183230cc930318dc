"""`dgan backbone convert` for StyleGAN2: an official .pkl, rosinality .pt or dgan .pt -> dgan's format."""
from __future__ import annotations

from pathlib import Path


def convert(src: Path, dst: Path, **options) -> tuple[dict, list]:
    """Write `src` as a dgan-stylegan2 checkpoint; (summary, table rows) for `dgan backbone convert`."""
    from dgan_cli.checksum import file_sha256
    from dgan_cli.errors import DganError
    from dgan_plugins.stylegan2.backbone import state_dict_sha256
    from dgan_plugins.stylegan2.checkpoint import FORMAT_NAMES, load_any, save_checkpoint

    if options:
        raise DganError(f"stylegan2 conversion takes no --option (got '{next(iter(options))}')")
    generator, fmt = load_any(src)
    save_checkpoint(dst, generator, extra={"converted_from": {"format": fmt, "sha256": file_sha256(src)}})
    summary = {
        "source": str(src), "source_format": fmt, "output": str(dst), "output_sha256": file_sha256(dst),
        "weights_sha256": state_dict_sha256(generator), "resolution": generator.img_resolution,
        "z_dim": generator.z_dim, "c_dim": generator.c_dim, "w_dim": generator.w_dim, "num_ws": generator.num_ws,
        "parameters": sum(p.numel() for p in generator.parameters()), "config": generator.init_kwargs,
    }
    rows = [["source", f"{src} ({FORMAT_NAMES[fmt]})"], ["output", str(dst)],
            ["resolution", summary["resolution"]], ["z / w dims", f"{summary['z_dim']} / {summary['w_dim']}"],
            ["number of ws", summary["num_ws"]], ["parameters", summary["parameters"]],
            ["output sha256", summary["output_sha256"][:16]]]
    return summary, rows
