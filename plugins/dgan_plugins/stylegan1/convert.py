"""`dgan backbone convert` for StyleGAN1: a release `.for_g_all.pt` (or dgan .pt) -> dgan-stylegan1.

Options: `avg_latent=FILE` (the release's `avg_latent_stylegan1.npy`, the
truncation centre its annotated images were rendered with) and
`truncation_cutoff=N` (w+ rows truncated; 8, or 7 at 256 px, as the release).
"""
from __future__ import annotations

from pathlib import Path

OPTIONS = ("avg_latent", "truncation_cutoff")


def convert(src: Path, dst: Path, **options) -> tuple[dict, list]:
    from dgan_cli.checksum import file_sha256
    from dgan_cli.errors import DganError
    from dgan_plugins.stylegan1.backbone import weights_sha256
    from dgan_plugins.stylegan1.checkpoint import FORMAT_NAMES, load_any, save_checkpoint, set_avg_latent

    unknown = [k for k in options if k not in OPTIONS]
    if unknown:
        raise DganError(f"stylegan1 conversion has no option '{unknown[0]}'", hint=f"options: {', '.join(OPTIONS)}")
    generator, fmt = load_any(src)
    avg_source = "kept" if fmt == "dgan" else "estimated (mean w of 8000 seeded z)"
    if "avg_latent" in options:
        avg_path = Path(options["avg_latent"])
        set_avg_latent(generator, read_npy(avg_path), avg_path)
        avg_source = str(avg_path)
    if "truncation_cutoff" in options:
        generator = with_cutoff(generator, options["truncation_cutoff"])
    save_checkpoint(dst, generator, extra={"converted_from": {"format": fmt, "sha256": file_sha256(src),
                                                              "avg_latent": avg_source}})
    config = generator.config
    summary = {"source": str(src), "source_format": fmt, "output": str(dst), "output_sha256": file_sha256(dst),
               "weights_sha256": weights_sha256(generator), "resolution": config["resolution"],
               "z_dim": config["z_dim"], "w_dim": config["w_dim"], "num_ws": generator.num_ws,
               "truncation_cutoff": config["truncation_cutoff"], "avg_latent": avg_source,
               "parameters": sum(p.numel() for p in generator.parameters()), "config": config}
    rows = [["source", f"{src} ({FORMAT_NAMES[fmt]})"], ["output", str(dst)], ["resolution", config["resolution"]],
            ["z / w dims", f"{config['z_dim']} / {config['w_dim']}"], ["number of ws", generator.num_ws],
            ["truncation", f"psi 0.7 on rows < {config['truncation_cutoff']}"], ["average latent", avg_source],
            ["parameters", summary["parameters"]], ["output sha256", summary["output_sha256"][:16]]]
    return summary, rows


def read_npy(path: Path):
    """A numeric .npy array (pickled objects refused)."""
    import numpy as np

    from dgan_cli.errors import DganError

    try:
        return np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DganError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DganError(f"{path}: not a plain numeric .npy array ({exc})") from None


def with_cutoff(generator, value):
    """The same weights and average latent under another truncation cutoff."""
    from dgan_cli.errors import DganError
    from dgan_plugins.stylegan1.networks import Generator

    try:
        cutoff = int(value)
    except ValueError:
        cutoff = -1
    if not 0 <= cutoff <= generator.num_ws:
        raise DganError(f"truncation_cutoff must be an integer in 0..{generator.num_ws}, got '{value}'")
    rebuilt = Generator(**{**generator.config, "truncation_cutoff": cutoff})
    rebuilt.load_state_dict(generator.state_dict())
    rebuilt.avg_latent.copy_(generator.avg_latent)
    return rebuilt.eval()
