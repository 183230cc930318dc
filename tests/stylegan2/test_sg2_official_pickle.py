"""Official stylegan2-ada-pytorch network pickles: loaded as data, malicious ones refused."""
import builtins
import os
import pickle

import pytest
import torch

import dgan_cli
from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2.checkpoint import load_any
from dgan_plugins.stylegan2.formats import sniff_format
from sg2_helpers import tiny_generator
from sg2_official_writer import module_record, official_modules, snapshot, write_pickle


def assert_same_generator(loaded, original):
    assert loaded.init_kwargs == original.init_kwargs
    assert list(loaded.state_dict()) == list(original.state_dict())
    for name, tensor in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    z = torch.randn(3, original.z_dim, generator=torch.Generator().manual_seed(1))
    c = torch.eye(original.c_dim)[:3] if original.c_dim else None
    with torch.no_grad():
        for psi, cutoff in [(1, None), (0.6, 2)]:
            assert torch.equal(loaded(z, c, truncation_psi=psi, truncation_cutoff=cutoff),
                               original(z, c, truncation_psi=psi, truncation_cutoff=cutoff))


@pytest.mark.parametrize("protocol", [2, 3, 4])  # 3: the official snapshots' protocol (Python 3.7)
def test_snapshot_pickle_loads_and_reproduces_the_generator(tmp_path, protocol):
    G = tiny_generator(seed=protocol)
    path = tmp_path / "network-snapshot.pkl"
    write_pickle(path, snapshot(G), protocol=protocol)
    assert sniff_format(path) == "official"
    loaded, fmt = load_any(path)
    assert fmt == "official"
    assert_same_generator(loaded, G)


def test_conditional_generator_and_public_loader(tmp_path):
    G = tiny_generator(c_dim=4, img_resolution=8)
    path = tmp_path / "cond.pkl"
    write_pickle(path, snapshot(G))
    backbone = dgan_cli.load_backbone(path)
    assert backbone.source_format == "official"
    assert_same_generator(backbone.generator, G)
    assert not any(p.requires_grad for p in backbone.generator.parameters())


def test_embedded_source_code_is_never_executed(tmp_path):
    marker = tmp_path / "ran"
    G = tiny_generator()
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
    path = tmp_path / "code.pkl"
    write_pickle(path, snapshot(G, g_ema_record=module_record(G, G.init_kwargs, module_src=code)))
    loaded, _ = load_any(path)  # module_src is data: the network loads, the code does not run
    assert_same_generator(loaded, G)
    assert not marker.exists()


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class ExecsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("payload", [RunsCommand, ExecsCode])
@pytest.mark.parametrize("where", ["top", "inside_g_ema"])
def test_pickle_asking_for_other_globals_is_refused(tmp_path, payload, where):
    marker = tmp_path / "ran"
    G = tiny_generator()
    data = snapshot(G)
    if where == "top":
        data["training_set_kwargs"] = payload(marker)
    else:
        data["G_ema"].meta["state"]["_buffers"]["noise_const"] = payload(marker)
    path = tmp_path / "evil.pkl"
    write_pickle(path, data)

    # Control: the stand-in modules make a normal load possible, and it does run the payload.
    with official_modules():
        pickle.loads(path.read_bytes())
    assert marker.exists()
    marker.unlink()

    with pytest.raises(CheckpointError, match=r"evil\.pkl: refused: the pickle asks for '(posix|nt|os|builtins)\."):
        load_any(path)
    assert not marker.exists()


def test_malicious_storage_blob_is_refused(tmp_path):
    marker = tmp_path / "ran"
    G = tiny_generator()
    data = snapshot(G)

    class EvilStorage:
        def __reduce__(self):
            import io
            buffer = io.BytesIO()
            torch.save(RunsCommand(marker), buffer)
            return torch.storage._load_from_bytes, (buffer.getvalue(),)

    data["G_ema"].meta["state"]["_buffers"]["noise_const"] = EvilStorage()
    path = tmp_path / "evil.pkl"
    write_pickle(path, data)
    with pytest.raises(CheckpointError, match="evil.pkl: not a readable network pickle"):
        load_any(path)
    assert not marker.exists()


def test_truncated_pickle(tmp_path):
    path = tmp_path / "cut.pkl"
    write_pickle(path, snapshot(tiny_generator()))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.pkl: not a readable network pickle"):
        load_any(path)


def test_tensor_that_does_not_match_the_config(tmp_path):
    G = tiny_generator()
    data = snapshot(G)
    conv = data["G_ema"].meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"]
    conv.meta["state"]["_modules"]["conv0"].meta["state"]["_parameters"]["weight"] = torch.nn.Parameter(
        torch.zeros(7, 16, 3, 3), requires_grad=False)
    path = tmp_path / "bad.pkl"
    write_pickle(path, data)
    with pytest.raises(CheckpointError, match=r"'synthesis\.b8\.conv0\.weight' has shape \[7, 16, 3, 3\]"):
        load_any(path)


def test_other_network_classes_are_refused(tmp_path):
    G = tiny_generator()
    data = snapshot(G)
    data["G_ema"].meta["state"]["_modules"]["synthesis"].meta["class_name"] = "SynthesisNetworkV3"
    path = tmp_path / "sg3.pkl"
    write_pickle(path, data)
    with pytest.raises(CheckpointError, match="'synthesis' is a SynthesisNetworkV3, expected SynthesisNetwork"):
        load_any(path)


def test_unknown_init_kwargs_are_refused(tmp_path):
    G = tiny_generator()
    kwargs = G.init_kwargs
    kwargs["synthesis_kwargs"]["magnitude_ema_beta"] = 0.999
    path = tmp_path / "kw.pkl"
    write_pickle(path, snapshot(G, g_ema_record=module_record(G, kwargs)))
    with pytest.raises(CheckpointError, match="unknown synthesis_kwargs key 'magnitude_ema_beta'"):
        load_any(path)


def test_pickle_without_g_ema(tmp_path):
    path = tmp_path / "nog.pkl"
    data = snapshot(tiny_generator())
    del data["G_ema"]
    write_pickle(path, data)
    with pytest.raises(CheckpointError, match="no G_ema network"):
        load_any(path)
