"""Plugin discovery: collection by kind, name clashes, unknown names, broken plugins."""
from __future__ import annotations

import importlib.metadata as md
import sys
import types

import pytest

from dgan_cli import hookimpl
from dgan_cli.errors import PluginError
from dgan_cli.registry import Registry, discover
from dgan_cli.specs import CommandSpec, FilterSpec, HeadSpec


def plugin(name: str, **hooks) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(__name__=name)
    for hook, result in hooks.items():
        def impl(result=result):
            if isinstance(result, Exception):
                raise result
            return result
        setattr(ns, hook, hookimpl(impl))
    return ns


def head(name: str) -> HeadSpec:
    return HeadSpec(name=name, summary="", build=lambda **kw: None)


def test_specs_are_collected_by_kind_with_provenance():
    reg = Registry()
    reg.register(plugin("a", dgan_heads=[head("segmentation"), head("depth")]), "a")
    reg.register(plugin("b", dgan_filters=[FilterSpec(name="js", summary="", build=dict)]), "b")
    assert reg.names("head") == ["depth", "segmentation"]
    assert reg.get("filter", "js").name == "js"
    assert reg.plugin_of("head", "depth") == "a"
    assert reg.plugins["a"].components == [("head", "segmentation", "1"), ("head", "depth", "1")]


def test_name_clash_keeps_first_and_reports_both():
    reg = Registry()
    reg.register(plugin("a", dgan_heads=[head("segmentation")]), "a")
    reg.register(plugin("b", dgan_heads=[head("segmentation")]), "b")
    assert reg.plugin_of("head", "segmentation") == "a"
    assert "'a' and 'b'" in reg.conflicts[0]
    assert reg.plugins["b"].status.startswith("failed: name clash")


def test_unknown_name_suggests_the_closest():
    reg = Registry()
    reg.register(plugin("a", dgan_heads=[head("segmentation"), head("keypoints")]), "a")
    with pytest.raises(PluginError) as err:
        reg.get("head", "segmentaton")
    assert err.value.one_line() == "unknown head 'segmentaton' (did you mean 'segmentation'?)"


def test_a_hook_that_raises_is_recorded_not_fatal():
    reg = Registry()
    reg.register(plugin("bad", dgan_heads=RuntimeError("boom"), dgan_filters=[FilterSpec("js", "", dict)]), "bad")
    assert reg.plugins["bad"].status == "failed: dgan_heads: RuntimeError: boom"
    assert reg.names("filter") == ["js"]


def test_discover_records_import_failures(monkeypatch):
    good = types.ModuleType("dgan_test_good")
    good.dgan_commands = hookimpl(lambda: [CommandSpec(name="hello", app=lambda: None)])
    monkeypatch.setitem(sys.modules, "dgan_test_good", good)
    eps = [md.EntryPoint(name="good", value="dgan_test_good", group="dgan"),
           md.EntryPoint(name="broken", value="dgan_test_no_such_module", group="dgan")]
    reg = discover(eps)
    assert reg.plugins["good"].status == "ok"
    assert reg.names("command") == ["hello"]
    assert reg.plugins["broken"].status.startswith("failed: ModuleNotFoundError")


def test_builtins_are_registered_through_the_entry_point_group():
    eps = {ep.name: ep.value for ep in md.entry_points(group="dgan")}
    assert eps["builtin-stylegan2"] == "dgan_plugins.stylegan2"
    reg = discover()
    assert all(rec.status == "ok" for rec in reg.plugins.values() if rec.builtin), \
        {n: r.status for n, r in reg.plugins.items()}
