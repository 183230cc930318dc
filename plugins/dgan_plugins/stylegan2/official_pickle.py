"""Read NVlabs stylegan2-ada-pytorch network pickles as data, never as code.

An official `.pkl` is a pickle of {"G", "D", "G_ema", "augment_pipe",
"training_set_kwargs"}. Each network object was pickled by
`torch_utils.persistence` as a call `_reconstruct_persistent_obj(meta)` where
meta = {type: "class", version, module_src: <the source of training/networks.py>,
class_name, state: <the module's __dict__>}; sub-modules sit in
state["_modules"], tensors in "_parameters"/"_buffers" (pickled by torch as
`_rebuild_parameter` / `_rebuild_tensor_v2` over `torch.storage._load_from_bytes`
blobs), and the constructor arguments in "_init_kwargs" (a `dnnlib.EasyDict`).

Normal unpickling would exec `module_src`. Here the unpickler resolves only
those few names, each to a small local stand-in: a persistent object becomes a
`Record(class_name, state)` (module_src is kept as an unread string), storage
blobs are read with `torch.load(weights_only=True)`. Any other global is refused
before anything is called. Every stand-in is created per load, so a pickle
cannot alter them for the next file.
"""
from __future__ import annotations

import collections
import inspect
import io
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2.networks import Generator, plain_config

NUMERIC_DTYPE_KINDS = "biuf"


@dataclass
class Record:
    """A persistent object as recorded in the pickle: its class name and state."""

    class_name: str
    state: dict


class RefusedGlobal(Exception):
    """The pickle asked for a global outside the official network records."""


class _Call:
    """A per-load wrapper of a stand-in function: a BUILD opcode aimed at it changes nothing beyond this load."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        return self.fn(*args)


def _reconstruct(meta) -> Record:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("persistent object record of an unknown type")
    if not isinstance(meta.get("class_name"), str) or not isinstance(meta.get("state"), dict):
        raise pickle.UnpicklingError("persistent object record without class_name/state")
    return Record(meta["class_name"], dict(meta["state"]))


def _load_storage(blob):
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError("tensor storage is not a byte string")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation notices
        storage = torch.load(io.BytesIO(bytes(blob)), map_location="cpu", weights_only=True)
    if not isinstance(storage, torch.storage.TypedStorage):
        raise pickle.UnpicklingError("tensor storage blob does not hold a typed storage")
    return storage


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, torch.storage.TypedStorage):
        raise pickle.UnpicklingError("tensor without a storage")
    if hooks or metadata:
        raise pickle.UnpicklingError("tensor with hooks or extra attributes")
    if not (isinstance(offset, int) and all(isinstance(v, int) for v in (*size, *stride))):
        raise pickle.UnpicklingError("tensor with a malformed shape")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), False,
                                               collections.OrderedDict())


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    if not isinstance(data, torch.Tensor) or hooks or state:
        raise pickle.UnpicklingError("parameter with hooks or extra attributes")
    return data


def _latin1_bytes(text, encoding):
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("byte string in an unexpected encoding")
    return text.encode("latin1")


def _numpy_dtype(spec, align=False, copy=False):
    dtype = np.dtype(spec)
    if dtype.kind not in NUMERIC_DTYPE_KINDS:
        raise pickle.UnpicklingError(f"numpy dtype {spec!r} is not numeric")
    return np.dtype(spec, align, copy)


def _numpy_scalar(dtype, data):
    if not isinstance(dtype, np.dtype) or dtype.kind not in NUMERIC_DTYPE_KINDS or not isinstance(data, bytes):
        raise pickle.UnpicklingError("numpy scalar of a non-numeric type")
    return np.frombuffer(data, dtype=dtype, count=1)[0]


def _allowed_globals() -> dict:
    """(module, name) -> stand-in, fresh for every load."""
    easy_dict = type("EasyDict", (dict,), {})
    ordered_dict = type("OrderedDict", (collections.OrderedDict,), {})
    table = {
        ("torch_utils.persistence", "_reconstruct_persistent_obj"): _Call(_reconstruct),
        ("dnnlib.util", "EasyDict"): easy_dict,
        ("dnnlib", "EasyDict"): easy_dict,
        ("collections", "OrderedDict"): ordered_dict,
        ("builtins", "set"): _Call(set),
        ("builtins", "frozenset"): _Call(frozenset),
        # Protocol 2 streams: Python 2 module names, and bytes written as latin-1 text.
        ("__builtin__", "set"): _Call(set),
        ("__builtin__", "frozenset"): _Call(frozenset),
        ("_codecs", "encode"): _Call(_latin1_bytes),
        ("torch._utils", "_rebuild_tensor_v2"): _Call(_rebuild_tensor),
        ("torch._utils", "_rebuild_parameter"): _Call(_rebuild_parameter),
        ("torch._utils", "_rebuild_parameter_with_state"): _Call(_rebuild_parameter),
        ("torch.storage", "_load_from_bytes"): _Call(_load_storage),
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "scalar")] = _Call(_numpy_scalar)
    table[("numpy", "dtype")] = _Call(_numpy_dtype)
    return table


class _RecordUnpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self._allowed = _allowed_globals()

    def find_class(self, module, name):
        found = self._allowed.get((module, name))
        if found is None:
            raise RefusedGlobal(f"{module}.{name}")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not part of a network pickle")


def read_records(path: Path):
    """Unpickle `path` with only the official records allowed."""
    try:
        with open(path, "rb") as fh:
            return _RecordUnpickler(fh).load()
    except RefusedGlobal as exc:
        raise CheckpointError(f"{path}: refused: the pickle asks for '{exc}', which is not part of a "
                              "StyleGAN2-ADA network pickle (it could run code); nothing was executed") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # truncated or corrupt stream: any unpickling failure is the file's fault
        raise CheckpointError(f"{path}: not a readable network pickle ({_reason(exc)})") from None


def generator_record(data, path: Path) -> Record:
    """The G_ema record of an unpickled network pickle (or a bare pickled Generator)."""
    if isinstance(data, dict) and "G_ema" in data:
        data = data["G_ema"]
    if not isinstance(data, Record):
        raise CheckpointError(f"{path}: no G_ema network in this pickle")
    if data.class_name != "Generator":
        raise CheckpointError(f"{path}: G_ema is a {data.class_name!r}, not a StyleGAN2 Generator")
    return data


def init_kwargs(record: Record, path: Path) -> dict:
    """The Generator's constructor arguments, as plain dicts and lists."""
    args = record.state.get("_init_args", ())
    kwargs = record.state.get("_init_kwargs", {})
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise CheckpointError(f"{path}: G_ema has no readable init arguments")
    names = list(inspect.signature(Generator.__init__).parameters)[1:]
    if len(args) > len(names):
        raise CheckpointError(f"{path}: G_ema has {len(args)} positional init arguments, expected at most {len(names)}")
    return plain_config({**dict(zip(names, args)), **kwargs})


def state_tensors(record: Record, path: Path, expected_classes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Flatten the record tree into state-dict entries, checking each module's class name.

    `expected_classes` maps module paths ("" = root, "mapping", "synthesis.b4"...)
    to the official class names of our generator's modules.
    """
    out: dict[str, torch.Tensor] = {}

    def visit(prefix: str, rec) -> None:
        where = prefix.rstrip(".") or "G_ema"
        if not isinstance(rec, Record):
            raise CheckpointError(f"{path}: '{where}' is not a network module record")
        expected = expected_classes.get(prefix.rstrip("."))
        if expected is None:
            raise CheckpointError(f"{path}: unexpected sub-module '{where}' ({rec.class_name})")
        if rec.class_name != expected:
            raise CheckpointError(f"{path}: '{where}' is a {rec.class_name}, expected {expected} "
                                  "(not a StyleGAN2/ADA generator?)")
        state = rec.state
        params, buffers = state.get("_parameters", {}), state.get("_buffers", {})
        modules, skip = state.get("_modules", {}), state.get("_non_persistent_buffers_set", set())
        if not all(isinstance(d, dict) for d in (params, buffers, modules)):
            raise CheckpointError(f"{path}: '{where}' has a malformed module state")
        for name, tensor in [*params.items(), *((n, b) for n, b in buffers.items() if n not in skip)]:
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointError(f"{path}: '{prefix}{name}' is not a tensor")
            out[prefix + name] = tensor
        for name, child in modules.items():
            if child is not None:
                visit(f"{prefix}{name}.", child)

    visit("", record)
    return out


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
