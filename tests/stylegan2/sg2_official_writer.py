"""Test helper: write NVlabs stylegan2-ada-pytorch network pickles without NVlabs code.

The official `torch_utils.persistence` pickles each network module as the call
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with
meta = {type: "class", version: 6, module_src, class_name, state: module.__dict__},
sub-modules nested in state["_modules"], the constructor arguments in
state["_init_args"] / state["_init_kwargs"] (a `dnnlib.util.EasyDict`), and
tensors pickled by torch itself. The top-level object of a snapshot is a dict
{training_set_kwargs, G, D, G_ema, augment_pipe}.

Here stand-in modules named `torch_utils.persistence` and `dnnlib.util` are put in
sys.modules only while pickling, so the stream names exactly those globals.
"""
from __future__ import annotations

import pickle
import sys
import types
from contextlib import contextmanager

import numpy as np
import torch

PERSISTENCE_VERSION = 6
MODULE_SRC = "# source of training/networks.py would be here\nimport torch\n"
NUMPY_FLOAT_ATTRS = ("weight_gain", "act_gain")  # np.float64 in the official modules


def _reconstruct_persistent_obj(meta):
    """Stand-in for the official function: a plain pickle.load with these modules returns the meta dicts."""
    return meta


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    __module__ = "dnnlib.util"


@contextmanager
def official_modules():
    """Temporarily provide the module names the official pickles refer to."""
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    fakes = {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence,
             "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class Persistent:
    """Pickles as one persistence record."""

    def __init__(self, class_name: str, state: dict, module_src: str = MODULE_SRC):
        self.meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=module_src,
                         class_name=class_name, state=state)

    def __reduce__(self):
        return _reconstruct_persistent_obj, (self.meta,)


def to_easydict(value):
    if isinstance(value, dict):
        return EasyDict({k: to_easydict(v) for k, v in value.items()})
    return value


def module_record(module: torch.nn.Module, init_kwargs: dict | None = None, module_src: str = MODULE_SRC,
                  class_name: str | None = None) -> Persistent:
    """The record of `module` and its sub-modules, as the official persistence writes it."""
    state = dict(module.__dict__)
    state["_parameters"] = type(module._parameters)(
        (k, None if p is None else torch.nn.Parameter(p.detach().clone(), requires_grad=False))
        for k, p in module._parameters.items())
    state["_buffers"] = type(module._buffers)((k, b.detach().clone()) for k, b in module._buffers.items())
    state["_modules"] = type(module._modules)(
        (k, module_record(m, module_src=module_src)) for k, m in module._modules.items())
    state.pop("_config", None)
    for name in NUMPY_FLOAT_ATTRS:
        if isinstance(state.get(name), float):
            state[name] = np.float64(state[name])
    state["_init_args"] = ()
    state["_init_kwargs"] = to_easydict(init_kwargs or {})
    return Persistent(class_name or type(module).__name__, state, module_src)


def discriminator_stand_in() -> Persistent:
    """A small D record: official snapshots carry D, which a G_ema reader must skip."""
    block = torch.nn.Module()
    block.register_parameter("weight", torch.nn.Parameter(torch.randn(4, 3, 1, 1)))
    d = torch.nn.Module()
    d.add_module("b8", block)
    return module_record(d, init_kwargs={"c_dim": 0, "img_resolution": 8, "img_channels": 3},
                         class_name="Discriminator")


def snapshot(generator, g_ema_record: Persistent | None = None, training_set_kwargs=None) -> dict:
    """The dict a training snapshot pickles (G, D, G_ema, augment_pipe, training_set_kwargs)."""
    record = g_ema_record or module_record(generator, generator.init_kwargs)
    return dict(training_set_kwargs=training_set_kwargs or to_easydict(
                    dict(class_name="training.dataset.ImageFolderDataset", path="data.zip", resolution=16)),
                G=module_record(generator, generator.init_kwargs), D=discriminator_stand_in(),
                G_ema=record, augment_pipe=None)


def write_pickle(path, obj, protocol: int = 3) -> None:
    with official_modules():
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=protocol)
