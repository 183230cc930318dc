"""`dgan plugins`: every installed plugin, what it provides, and whether it loaded."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dgan_cli.console import err_console, print_table, write_json
from dgan_cli.registry import Registry


def inventory(registry: Registry) -> list[dict]:
    """One entry per plugin (JSON-stable): also recorded in each cache's provenance."""
    rows = []
    for name, rec in sorted(registry.plugins.items()):
        rows.append({
            "plugin": name, "module": rec.module, "distribution": rec.distribution,
            "version": rec.version, "builtin": rec.builtin, "status": rec.status,
            "components": [{"kind": k, "name": n, "version": v} for k, n, v in rec.components],
        })
    return rows


def register(app: typer.Typer, registry: Registry) -> None:
    @app.command("plugins")
    def plugins(
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the list as JSON."),
        external: bool = typer.Option(False, "--external", help="Hide the built-in plugins."),
    ) -> None:
        """List installed plugins: kind, name, version, distribution, status."""
        data = [p for p in inventory(registry) if not (external and p["builtin"])]
        rows = []
        for p in data:
            origin = f"{p['distribution']} {p['version']}".strip() + (" (built-in)" if p["builtin"] else "")
            for c in p["components"] or [{"kind": "-", "name": "-", "version": "-"}]:
                rows.append([p["plugin"], c["kind"], c["name"], c["version"], origin, p["status"]])
        print_table("dgan plugins", ["Plugin", "Kind", "Name", "Version", "Distribution", "Status"], rows)
        for line in registry.conflicts:
            err_console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
        write_json(json_path, {"plugins": data, "conflicts": registry.conflicts})
