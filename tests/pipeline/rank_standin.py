"""`dgan` with the stand-in backbones, for torchrun tests (run as a script by each rank).

Adds `standin-ranked`: the `standin` generator, pausing after each forward
pass and counting them per rank in $STANDIN_CALLS_FILE.<RANK>, so a test can
kill one rank part-way through its share.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interpreter"))
import interp_standin  # noqa: E402

from dgan_cli import hookimpl  # noqa: E402


class RankedStandin(interp_standin.StandinBackbone):
    def synthesize(self, ws, layers=None, noise_mode: str = "const"):
        out = super().synthesize(ws, layers, noise_mode)
        self.calls = getattr(self, "calls", 0) + 1
        Path(f"{os.environ['STANDIN_CALLS_FILE']}.{os.environ.get('RANK', '0')}").write_text(str(self.calls))
        time.sleep(0.2)
        return out


class RankedPlugin:
    @hookimpl
    def dgan_backbones(self):
        return [interp_standin.backbone_spec(0, "standin-ranked", RankedStandin)]


if __name__ == "__main__":
    import torch

    import dgan_cli.registry as reg
    from dgan_cli.cli import main

    torch.set_num_threads(1)
    reg._REGISTRY = interp_standin.registry_with_standin()
    reg._REGISTRY.register(RankedPlugin(), "ranked")
    sys.exit(main(sys.argv[1:]))
