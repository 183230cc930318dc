"""`dgan backbone convert` hands SRC to the backbone plugin that accepts it: any plugin can add a format."""
from __future__ import annotations

import json

from dgan_cli import hookimpl
from dgan_cli.registry import Registry
from dgan_cli.specs import BackboneSpec


def registry_with_converter(calls: list) -> Registry:
    def convert(src, dst, **options):
        calls.append(options)
        dst.write_text("converted")
        return {"options": options}, [["source", str(src)]]

    class P:
        @hookimpl
        def dgan_backbones(self):
            return [BackboneSpec(name="ext", summary="x", load=lambda s, device="cpu": None,
                                 accepts=lambda p: p.suffix == ".ext", convert=convert),
                    BackboneSpec(name="plain", summary="y", load=lambda s, device="cpu": None,
                                 accepts=lambda p: p.suffix == ".plain")]

    reg = Registry()
    reg.register(P(), "third-party")
    return reg


def test_convert_dispatches_by_accepts_and_passes_options(tmp_path, run_cli):
    calls = []
    reg = registry_with_converter(calls)
    src = tmp_path / "g.ext"
    src.write_text("weights")
    res = run_cli("-q", "backbone", "convert", src, tmp_path / "out", "--option", "a=1", "--option", "b=x=y",
                  "--json", tmp_path / "s.json", registry=reg)
    assert res.code == 0, res.err
    assert calls == [{"a": "1", "b": "x=y"}] and (tmp_path / "out").read_text() == "converted"
    assert json.loads((tmp_path / "s.json").read_text()) == {"options": {"a": "1", "b": "x=y"}}
    assert run_cli("backbone", "convert", src, tmp_path / "out", registry=reg).code == 2  # exists, no --force
    other = tmp_path / "g.plain"
    other.write_text("weights")
    res = run_cli("backbone", "convert", other, tmp_path / "o2", registry=reg)
    assert res.code == 2 and "not a checkpoint format any installed backbone plugin converts" in res.err
    res = run_cli("backbone", "convert", src, tmp_path / "o3", "--option", "novalue", registry=reg)
    assert res.code == 2 and "--option expects KEY=VALUE" in res.err and len(calls) == 1
