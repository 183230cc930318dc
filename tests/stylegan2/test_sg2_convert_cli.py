"""`dgan backbone convert`: official / rosinality -> dgan format, through the real CLI."""
import json

import torch

from dgan_cli.cli import main
from dgan_plugins.stylegan2.checkpoint import read_checkpoint
from sg2_helpers import to_rosinality_state, tiny_generator
from sg2_official_writer import snapshot, write_pickle


def test_convert_official_pickle(tmp_path):
    G = tiny_generator()
    src, dst, report = tmp_path / "net.pkl", tmp_path / "out" / "g.pt", tmp_path / "convert.json"
    write_pickle(src, snapshot(G))
    assert main(["--quiet", "backbone", "convert", str(src), str(dst), "--json", str(report)]) == 0
    data = read_checkpoint(dst)
    assert data["config"] == G.init_kwargs
    assert data["converted_from"]["format"] == "official"
    for name, tensor in G.state_dict().items():
        assert torch.equal(data["state_dict"][name], tensor)
    summary = json.loads(report.read_text())
    assert summary["source_format"] == "official" and summary["num_ws"] == 6 and summary["resolution"] == 16


def test_convert_rosinality_and_refuse_overwrite(tmp_path, capsys):
    G = tiny_generator(synthesis_kwargs=dict(channel_base=128, channel_max=16))
    src, dst = tmp_path / "ros.pt", tmp_path / "g.pt"
    torch.save({"g_ema": to_rosinality_state(G), "latent_avg": G.mapping.w_avg.clone()}, src)
    assert main(["backbone", "convert", str(src), str(dst)]) == 0
    before = dst.read_bytes()
    assert main(["backbone", "convert", str(src), str(dst)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert dst.read_bytes() == before
    assert main(["backbone", "convert", str(src), str(dst), "--force"]) == 0


def test_convert_bad_input_is_one_line(tmp_path, capsys):
    src = tmp_path / "junk.pkl"
    src.write_bytes(b"\x80\x04 torch_utils.persistence garbage")
    assert main(["backbone", "convert", str(src), str(tmp_path / "g.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "junk.pkl: not a readable network pickle" in err and "Traceback" not in err
    assert not (tmp_path / "g.pt").exists()
