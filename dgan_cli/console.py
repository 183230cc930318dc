"""The one stderr console, progress bars, and JSON results.

Only the core creates a live display: plugins call `progress(...)` and get a
handle, so two bars never compete (Rich allows one live display at a time).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from dgan_cli.atomic import atomic_output

err_console = Console(stderr=True)
out_console = Console()
_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    return _quiet


class _Bar:
    def __init__(self, progress: Progress | None, task: Any):
        self._progress, self._task = progress, task

    def advance(self, n: float = 1, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=n, **fields)

    def update(self, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, **fields)


_active: Progress | None = None


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[_Bar]:
    """A progress bar on stderr; nested calls add a line to the running display."""
    global _active
    if _quiet:
        yield _Bar(None, None)
        return
    if _active is not None:
        task = _active.add_task(description, total=total)
        try:
            yield _Bar(_active, task)
        finally:
            _active.remove_task(task)
        return
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=False)
    _active = bar
    try:
        with bar:
            yield _Bar(bar, bar.add_task(description, total=total))
    finally:
        _active = None


def warn(message: str) -> None:
    """One line on stderr for something accepted with an assumption the user should know about."""
    from rich.markup import escape as escape_markup

    from dgan_cli.untrusted import escape

    err_console.print(f"[yellow]Warning:[/yellow] {escape_markup(escape(message))}", highlight=False,
                      soft_wrap=True)


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Results go to stdout as a Rich table."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_cell(v) for v in row])
    out_console.print(table)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_json(path: str | os.PathLike | None, data: Any) -> None:
    """Write a command's results as JSON (atomically); no-op when path is None."""
    if path is None:
        return
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
