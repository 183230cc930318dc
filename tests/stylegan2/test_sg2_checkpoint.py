"""dgan's own checkpoint format: safe to load, atomic to write, strict about content."""
import hashlib
import os

import pytest
import torch

import dgan_cli
from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2.checkpoint import load_generator, read_checkpoint, save_checkpoint
from dgan_plugins.stylegan2.formats import sniff_format
from sg2_helpers import tiny_generator


def test_round_trip(tmp_path):
    G = tiny_generator(c_dim=2)
    path = save_checkpoint(tmp_path / "g.pt", G, extra={"training": {"step": 7, "kimg": 0.5}})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "dgan-stylegan2" and raw["format_version"] == 1
    assert raw["config"] == G.init_kwargs and raw["training"] == {"step": 7, "kimg": 0.5}
    assert sniff_format(path) == "dgan"
    H = load_generator(path)
    assert not H.training
    for name, tensor in G.state_dict().items():
        assert torch.equal(H.state_dict()[name], tensor)
    z, c = torch.randn(2, 16), torch.eye(2)
    with torch.no_grad():
        assert torch.equal(H(z, c, truncation_psi=0.8), G(z, c, truncation_psi=0.8))
    assert read_checkpoint(path)["training"]["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]  # no temp file left behind


def test_same_generator_same_bytes(tmp_path):
    a = save_checkpoint(tmp_path / "a.pt", tiny_generator(seed=4))
    b = save_checkpoint(tmp_path / "b.pt", tiny_generator(seed=4))
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def test_extra_may_not_replace_reserved_keys(tmp_path):
    with pytest.raises(ValueError, match="'config'"):
        save_checkpoint(tmp_path / "g.pt", tiny_generator(), extra={"config": {}})
    assert not any(tmp_path.iterdir())


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "g.pt", tiny_generator(seed=1))
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, tiny_generator(seed=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.pt"]


def write_raw(path, **changes):
    G = tiny_generator()
    data = {"format": "dgan-stylegan2", "format_version": 1, "config": G.init_kwargs,
            "state_dict": dict(G.state_dict())}
    data.update(changes)
    torch.save(data, path)
    return data


def test_tensor_problems_are_one_line_errors(tmp_path):
    path = tmp_path / "g.pt"
    data = write_raw(path)
    state = dict(data["state_dict"])
    state["synthesis.b16.torgb.weight"] = torch.zeros(3, 5, 1, 1)
    write_raw(path, state_dict=state)
    with pytest.raises(CheckpointError, match=r"g.pt: 'synthesis.b16.torgb.weight' has shape \[3, 5, 1, 1\]"):
        load_generator(path)
    del state["synthesis.b16.torgb.weight"]
    write_raw(path, state_dict=state)
    with pytest.raises(CheckpointError, match="'synthesis.b16.torgb.weight' is missing"):
        load_generator(path)
    state = dict(data["state_dict"])
    state["mapping.fc1.bias"] = torch.full_like(state["mapping.fc1.bias"], float("nan"))
    write_raw(path, state_dict=state)
    with pytest.raises(CheckpointError, match="'mapping.fc1.bias' contains NaN"):
        load_generator(path)


def test_config_problems(tmp_path):
    path = tmp_path / "g.pt"
    write_raw(path, format_version=2)
    with pytest.raises(CheckpointError, match="format version 2 is not supported"):
        load_generator(path)
    config = tiny_generator().init_kwargs
    write_raw(path, config={**config, "img_resolution": 32})
    with pytest.raises(CheckpointError, match="is missing"):
        load_generator(path)
    write_raw(path, config={**config, "img_resolution": 12})
    with pytest.raises(CheckpointError, match="invalid generator config"):
        load_generator(path)


def test_truncated_and_unknown_files(tmp_path):
    path = save_checkpoint(tmp_path / "g.pt", tiny_generator())
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match="cut.pt: "):
        load_generator(cut)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="junk.pt: not a StyleGAN2 checkpoint"):
        load_generator(junk)
    with pytest.raises(CheckpointError, match="junk.pt: not a checkpoint format"):
        dgan_cli.load_backbone(junk)
    with pytest.raises(CheckpointError, match="stylegan2 needs a checkpoint file"):
        dgan_cli.load_backbone("stylegan2")


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_torch_file_carrying_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    write_raw(path, training=RunsCommand(marker))
    with pytest.raises(CheckpointError, match="evil.pt: refused: the file asks for '(posix|nt|os).system'"):
        load_generator(path)
    assert not marker.exists()
