"""Release `.for_g_all.pt` files and dgan-stylegan1 checkpoints through the CLI: info, convert, refusals."""
import json

import numpy as np
import torch

from dgan_plugins.stylegan1.backbone import load_backbone_file
from dgan_plugins.stylegan1.checkpoint import DGAN_FORMAT
from sg1_helpers import release_state, save_release


class Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_info_reads_a_release_file(tmp_path, run_cli):
    src = save_release(tmp_path / "karras2019stylegan-x-128x128.for_g_all.pt", release_state(128))
    res = run_cli("backbone", "info", src, "--json", tmp_path / "info.json")
    assert res.code == 0, res.err
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["identity"]["name"] == "stylegan1" and info["resolution"] == 128 and info["num_ws"] == 12
    assert info["pixel_feature_dims"] == 2 * (16 + 16 + 8 + 8 + 4 + 4)


def test_convert_keeps_weights_and_sets_the_release_average_latent(tmp_path, run_cli):
    src = save_release(tmp_path / "g.for_g_all.pt", release_state(64))
    raw = load_backbone_file(src)
    plain, with_avg = tmp_path / "plain.pt", tmp_path / "avg.pt"
    assert run_cli("-q", "backbone", "convert", src, plain).code == 0
    assert load_backbone_file(plain).identity() == raw.identity()  # same weights, same estimated average
    avg = np.random.RandomState(0).randn(18, raw.w_dim)
    np.save(tmp_path / "avg.npy", avg)
    res = run_cli("-q", "backbone", "convert", src, with_avg, "--option", f"avg_latent={tmp_path / 'avg.npy'}",
                  "--option", "truncation_cutoff=6", "--json", tmp_path / "c.json")
    assert res.code == 0, res.err
    data = torch.load(with_avg, weights_only=True)
    assert data["format"] == DGAN_FORMAT and data["config"]["truncation_cutoff"] == 6
    for name, tensor in torch.load(src, weights_only=True).items():
        assert torch.equal(data["state_dict"][name], tensor)
    converted = load_backbone_file(with_avg)
    assert np.array_equal(converted.generator.avg_latent.numpy(), avg[:10].astype(np.float32))
    assert converted.identity()["sha256"] != raw.identity()["sha256"]
    assert json.loads((tmp_path / "c.json").read_text())["source_format"] == "release"
    bad = run_cli("backbone", "convert", src, tmp_path / "x.pt", "--option", "psi=0.5")
    assert bad.code == 2 and "no option 'psi'" in bad.err and not (tmp_path / "x.pt").exists()


def test_a_pickled_object_is_refused_with_nothing_run(tmp_path, run_cli):
    marker = tmp_path / "ran"
    state = release_state(64)
    state["g_synthesis.torgb.bias"] = Payload(marker)
    src = tmp_path / "evil.for_g_all.pt"
    torch.save(state, src)
    for args in (["backbone", "info", src], ["backbone", "convert", src, tmp_path / "out.pt"]):
        res = run_cli(*args)
        assert res.code == 2 and "refused" in res.err and len(res.err.strip().splitlines()) == 1, res.err
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def test_damaged_release_files_are_one_line_errors(tmp_path, run_cli):
    state = release_state(64)
    del state["g_synthesis.blocks.16x16.epi1.style_mod.lin.bias"]
    res = run_cli("backbone", "info", save_release(tmp_path / "a.pt", state))
    assert res.code == 2 and "style_mod.lin.bias' is missing" in res.err
    state = release_state(64)
    state["g_synthesis.blocks.8x8.conv1.weight"] = torch.zeros(16, 16, 5, 5)
    res = run_cli("backbone", "info", save_release(tmp_path / "b.pt", state))
    assert res.code == 2 and "conv1.weight' has shape [16, 16, 5, 5]" in res.err
    state = release_state(64)
    state["g_mapping.dense3.bias"][0] = float("nan")
    res = run_cli("backbone", "info", save_release(tmp_path / "c.pt", state))
    assert res.code == 2 and "NaN" in res.err and "Traceback" not in res.err
