"""`dgan show` draws every label kind: a kind no built-in or head draws gets a panel by shape, never grey."""
from __future__ import annotations

import numpy as np
from PIL import Image

from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_plugins.pipeline.show import MISSING
from dgan_plugins.pipeline.show_panels import TEXT_PANEL, default_panel


def test_default_panels_by_shape():
    normals = np.zeros((4, 4, 3), np.float32)
    normals[..., 0] = np.linspace(-1, 1, 4)
    panel = default_panel("normals", normals, (4, 4), 2)
    assert panel.shape == (8, 8, 3) and panel[..., 0].min() == 0 and panel[..., 0].max() == 255
    flow = default_panel("flow", np.ones((4, 4, 2)), (4, 4), 1)
    assert flow.shape == (4, 4, 3)
    odd = default_panel("boxes", np.zeros((5, 4), np.float32), (4, 4), 32)
    assert tuple(odd[0, 0]) == TEXT_PANEL and (odd > 200).any()  # words on a coloured panel


def test_unknown_kind_in_a_cache_is_drawn_not_grey(run_cli, tmp_path):
    cache = tmp_path / "c.h5"
    writer = CacheWriter.open(cache, CacheSpec(image_shape=(8, 8, 3)))
    writer.declare_labels("normals", LabelSchema((8, 8, 3), "float32", 0))
    label = np.zeros((1, 8, 8, 3), np.float32)
    label[0, :, :, 2] = np.arange(8)
    writer.append(images=np.zeros((1, 8, 8, 3), np.uint8), labels={"normals": label})
    writer.finish()
    out = tmp_path / "sheet.png"
    result = run_cli("show", cache, "--out", out, "--scale", "1")
    assert result.code == 0, result.err
    sheet = np.asarray(Image.open(out).convert("RGB"))
    panel = sheet[4:12, 4 + 8 + 4:4 + 8 + 4 + 8]  # GAP, image panel, GAP, then the normals panel
    assert not (panel == MISSING).all(-1).any()
    assert panel[..., 2].max() == 255 and panel[..., 2].min() == 0
