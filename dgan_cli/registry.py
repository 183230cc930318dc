"""Plugin discovery and the component registry.

Every plugin, built-in or third-party, is an entry point in the `dgan` group.
A plugin that fails to import (or whose hook raises) is recorded, reported by
`dgan plugins`, and otherwise skipped: it never breaks another command.
Components are chosen by name; two plugins claiming one name is an error for
that name only.
"""
from __future__ import annotations

import difflib
import importlib.metadata as md
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pluggy

from dgan_cli import hookspecs
from dgan_cli.errors import CheckpointError, DganError, PluginError

ENTRY_POINT_GROUP = "dgan"

# hook name -> component kind
HOOKS = {
    "dgan_backbones": "backbone",
    "dgan_label_sources": "label_source",
    "dgan_formats": "format",
    "dgan_heads": "head",
    "dgan_filters": "filter",
    "dgan_distillers": "distiller",
    "dgan_commands": "command",
    "dgan_data_sources": "data_source",
}


@dataclass
class PluginRecord:
    """One plugin as `dgan plugins` shows it."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    builtin: bool = False
    error: str | None = None
    components: list = field(default_factory=list)  # (kind, name, version)

    @property
    def status(self) -> str:
        return "ok" if self.error is None else f"failed: {self.error}"


@dataclass(frozen=True)
class Component:
    spec: Any
    plugin: str


class Registry:
    """Loaded plugins and the components they provide, by kind and name."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginRecord] = {}
        self._components: dict[str, dict[str, Component]] = {k: {} for k in HOOKS.values()}
        self.conflicts: list[str] = []

    # -- loading -----------------------------------------------------------
    def register(self, obj: Any, name: str, *, distribution: str = "", version: str = "",
                 builtin: bool = False) -> PluginRecord:
        """Register a plugin object (module or instance) and collect its specs."""
        record = PluginRecord(name=name, module=getattr(obj, "__name__", type(obj).__name__),
                              distribution=distribution, version=version, builtin=builtin)
        self.plugins[name] = record
        try:
            self.pm.register(obj, name=name)
        except Exception as exc:  # a malformed hookimpl must not break the CLI
            record.error = _short(exc)
            return record
        self._collect(name, obj, record)
        return record

    def record_failure(self, name: str, module: str, error: BaseException, *,
                       distribution: str = "", version: str = "", builtin: bool = False) -> None:
        self.plugins[name] = PluginRecord(name=name, module=module, distribution=distribution,
                                          version=version, builtin=builtin, error=_short(error))

    def _collect(self, name: str, obj: Any, record: PluginRecord) -> None:
        for hook, kind in HOOKS.items():
            impl = getattr(obj, hook, None)
            if impl is None:
                continue
            try:
                specs = list(impl() or [])
            except Exception as exc:
                record.error = f"{hook}: {_short(exc)}"
                continue
            for spec in specs:
                self._add(kind, spec, name, record)

    def _add(self, kind: str, spec: Any, plugin: str, record: PluginRecord) -> None:
        key = f"{spec.group} {spec.name}" if kind == "command" and spec.group else spec.name
        existing = self._components[kind].get(key)
        if existing is not None:
            msg = f"{kind} '{key}' is provided by both '{existing.plugin}' and '{plugin}'; using '{existing.plugin}'"
            self.conflicts.append(msg)
            record.error = record.error or f"name clash: {kind} '{key}'"
            return
        self._components[kind][key] = Component(spec, plugin)
        record.components.append((kind, key, spec.version))

    # -- lookup --------------------------------------------------------------
    def specs(self, kind: str) -> list:
        return [c.spec for _, c in sorted(self._components[kind].items())]

    def names(self, kind: str) -> list[str]:
        return sorted(self._components[kind])

    def get(self, kind: str, name: str):
        found = self._components[kind].get(name)
        if found is None:
            label = {"format": "annotation format", "data_source": "training data source"}.get(
                kind, kind.replace("_", " "))
            known = self.names(kind)
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else (
                f"installed: {', '.join(known)}" if known else f"no {label} plugin is installed")
            raise PluginError(f"unknown {label} '{name}'", hint=hint)
        return found.spec

    def plugin_of(self, kind: str, name: str) -> str:
        return self._components[kind][name].plugin


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _env_names(var: str) -> set[str] | None:
    value = os.environ.get(var)
    return None if value is None else {n.strip() for n in value.split(",") if n.strip()}


def discover(entry_points: Iterable[md.EntryPoint] | None = None) -> Registry:
    """Load every plugin of the `dgan` entry-point group into a new registry.

    DGAN_DISABLE_PLUGINS=a,b skips plugins by entry-point name (e.g. to get
    past a broken one); DGAN_LOAD_PLUGINS=a,b loads only those.
    """
    registry = Registry()
    only, disabled = _env_names("DGAN_LOAD_PLUGINS"), _env_names("DGAN_DISABLE_PLUGINS") or set()
    if entry_points is None:
        entry_points = md.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(entry_points, key=lambda e: e.name):
        if ep.name in disabled or (only is not None and ep.name not in only):
            continue
        dist = getattr(ep, "dist", None)
        info = dict(distribution=dist.name if dist else "", version=dist.version if dist else "",
                    builtin=ep.value.split(".")[0] == "dgan_plugins")
        if ep.name in registry.plugins:
            registry.record_failure(ep.name, ep.value, PluginError("entry-point name already used"), **info)
            continue
        try:
            obj = ep.load()
        except Exception as exc:
            registry.record_failure(ep.name, ep.value, exc, **info)
            continue
        registry.register(obj, ep.name, **info)
    return registry


_REGISTRY: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry, discovered on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = discover()
    return _REGISTRY


def load_backbone(source: str | os.PathLike, device: str = "cpu", registry: Registry | None = None):
    """Load a backbone by registered name (e.g. "toy") or by checkpoint path."""
    registry = registry or default_registry()
    text = str(source)
    if text in registry.names("backbone"):
        return registry.get("backbone", text).load(None, device=device)
    path = Path(text)
    if not path.exists():
        known = registry.names("backbone")
        close = difflib.get_close_matches(text, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"named backbones: {', '.join(known) or 'none'}"
        raise DganError(f"backbone '{text}': no such file and no backbone of that name", hint=hint)
    if not path.is_file():
        raise CheckpointError(f"{path}: not a checkpoint file")
    takers = [spec for spec in registry.specs("backbone") if _accepts(spec, path)]
    if not takers:
        raise CheckpointError(f"{path}: not a checkpoint format any installed backbone plugin reads")
    if len(takers) > 1:
        names = ", ".join(s.name for s in takers)
        raise CheckpointError(f"{path}: claimed by several backbone plugins ({names})")
    return takers[0].load(path, device=device)


def _accepts(spec, path: Path) -> bool:
    try:
        return bool(spec.accepts(path))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from exc
