"""Training from a cache, determinism, early stop, and the checkpoint round trip."""
import json

import numpy as np
import pytest
import torch

from dgan_cli.cache import CacheReader
from dgan_cli.errors import CheckpointError, DganError
from dgan_cli.interpreter import Interpreter, TrainOptions, naive_outputs, train_ensemble
from dgan_cli.registry import default_registry

from interp_standin import StandinBackbone, make_cache, segmentation_cache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("interp") / "seg.h5"
    segmentation_cache(path, seeds=(1, 2))
    return path


def _head():
    return default_registry().get("head", "segmentation").build(["a", "b", "c"])


def _train(cache, **kw):
    opts = TrainOptions(**{"members": 2, "pixels_per_image": 128, "iters": 12, **kw})
    with CacheReader(cache) as reader:
        return train_ensemble(reader, _head(), reader.layers, opts)


def test_interp_training_is_deterministic(cache):
    a, reports = _train(cache, seed=3)
    b, _ = _train(cache, seed=3)
    c, _ = _train(cache, seed=4)
    for ma, mb in zip(a.members, b.members):
        for (k, va), vb in zip(ma.state_dict().items(), mb.state_dict().values()):
            assert torch.equal(va, vb), k
    assert not torch.equal(a.members[0][0].weight, c.members[0][0].weight)
    assert not torch.equal(a.members[0][0].weight, a.members[1][0].weight)
    assert [r.iterations for r in reports] == [12, 12] and [r.pixels for r in reports] == [256, 256]
    assert all(np.isfinite(r.final_loss) and "accuracy" in r.metrics for r in reports)


def test_interp_training_stops_early(cache):
    _, reports = _train(cache, iters=None, epochs=50, patience=0, batch_size=32)
    assert all(r.stopped_early and r.iterations < 50 * 8 for r in reports)


def test_interp_training_needs_labels(tmp_path):
    make_cache(tmp_path / "bare.h5", [1], {}, {"segmentation": _head().label_schema((16, 16))})
    with CacheReader(tmp_path / "bare.h5") as reader, pytest.raises(DganError, match="no sample carries"):
        train_ensemble(reader, _head(), reader.layers, TrainOptions(members=1))


def test_interp_checkpoint_round_trip(cache, tmp_path):
    ensemble, reports = _train(cache)
    with CacheReader(cache) as reader:
        layers, feats = reader.layers, reader.features(0)
    interp = Interpreter(_head(), "segmentation", ["a", "b", "c"], layers, (16, 16),
                         StandinBackbone().identity(), ensemble, {"members": [r.final_loss for r in reports]})
    interp.save(tmp_path / "i.pt")
    raw = torch.load(tmp_path / "i.pt", weights_only=True)
    config = json.loads(raw["config"])
    assert config["head"] == {"name": "segmentation", "label_names": ["a", "b", "c"], "options": {"balanced": False}}
    assert config["backbone"]["sha256"] == StandinBackbone().identity()["sha256"]
    assert [l["name"] for l in config["layers"]] == ["b4", "b8", "b16a", "b16b"]
    again = Interpreter.load(tmp_path / "i.pt")
    batch = {k: torch.from_numpy(v.astype(np.float32))[None] for k, v in feats.items()}
    torch.testing.assert_close(again.fast()(batch), naive_outputs(ensemble, batch, layers, (16, 16)),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(DganError, match="not on the given one"):
        again.check_backbone(StandinBackbone(weight_seed=1).identity())


def test_interp_checkpoint_refuses_foreign_files(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="not a readable interpreter checkpoint"):
        Interpreter.load(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a dgan interpreter checkpoint"):
        Interpreter.load(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no such"):
        Interpreter.load(tmp_path / "missing.pt")
