"""The `dgan` command: a Typer app assembled from the core and every plugin."""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from typing import Optional, Sequence

import typer
from rich.markup import escape as escape_markup
from typer._click import exceptions as click_exc

from dgan_cli import __version__
from dgan_cli.console import err_console, set_quiet
from dgan_cli.errors import DganError
from dgan_cli.registry import Registry, default_registry

CORE_GROUPS = {
    "backbone": "Inspect, convert and train generator checkpoints.",
    "cache": "Inspect and check HDF5 feature caches.",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dgan {__version__}")
        raise typer.Exit()


def build_app(registry: Registry) -> typer.Typer:
    """Assemble the CLI from the core commands and the registry's plugin commands."""
    from dgan_cli.commands import backbone_cmd, cache_cmd, plugins_cmd, run_cmd

    app = typer.Typer(name="dgan", no_args_is_help=True, rich_markup_mode="rich",
                      pretty_exceptions_enable=False, add_completion=False,
                      help="Turn a pretrained StyleGAN2/ADA generator into labelled training images.")

    @app.callback()
    def root(
        version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True,
                                               help="Show the version and exit."),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        set_quiet(quiet)

    groups = {name: typer.Typer(no_args_is_help=True, help=text) for name, text in CORE_GROUPS.items()}
    plugins_cmd.register(app, registry)
    run_cmd.register(app, lambda args: main(args, registry=registry))
    backbone_cmd.register(groups["backbone"], registry)
    cache_cmd.register(groups["cache"])

    taken = {"plugins", "run", "results"} | set(groups)
    for spec in registry.specs("command"):
        target = groups.get(spec.group) if spec.group else app
        if target is None:
            registry.conflicts.append(f"command '{spec.name}': unknown group '{spec.group}'")
            continue
        if not spec.group:
            if spec.name in taken:
                registry.conflicts.append(f"command '{spec.name}' clashes with a core command; skipped")
                continue
            taken.add(spec.name)
        if isinstance(spec.app, typer.Typer):
            target.add_typer(spec.app, name=spec.name, help=spec.summary or None)
        else:
            target.command(name=spec.name, help=spec.summary or None)(spec.app)
    for name, group in groups.items():
        app.add_typer(group, name=name)
    return app


def command_tree(registry: Registry):
    """The whole CLI as a click command: what `dgan_cli.recipe.plan` checks recipe stages against."""
    return typer.main.get_command(build_app(registry))


def run_recipe(recipe, registry: Registry, **options) -> dict:
    """`dgan_cli.recipe.run_recipe` with this CLI's commands (the API a plugin such as `demo` uses)."""
    from dgan_cli import recipe as recipes

    return recipes.run_recipe(recipe, command_tree(registry), lambda args: main(args, registry=registry), **options)


class _Interrupts:
    """Ctrl-C, seen by dgan itself: typer turns a KeyboardInterrupt into a silent exit 130.

    A signal handler can run where Python cannot raise (a weakref callback, a __del__ during garbage
    collection): there the KeyboardInterrupt would be printed as "Exception ignored" and lost.
    `unraisable` keeps it off stderr and raises it again a millisecond later, by SIGALRM.
    """

    def __init__(self):
        self.seen = False
        self.hook = sys.unraisablehook

    def __call__(self, signum, frame) -> None:
        self.seen = True
        if _in_c_callback(frame):  # raised there, it would break the HDF5 write under way: retry soon
            signal.setitimer(signal.ITIMER_REAL, 0.001)
            return
        raise KeyboardInterrupt

    def unraisable(self, report) -> None:
        if self.seen and issubclass(report.exc_type, KeyboardInterrupt):
            signal.setitimer(signal.ITIMER_REAL, 0.001)
        else:
            self.hook(report)


# Modules whose functions C code calls back (h5py's file driver): an exception there cannot reach
# the caller, and HDF5 goes on with a write half done.
_C_CALLBACK_MODULES = frozenset({"dgan_cli.cache.guarded"})


def _in_c_callback(frame) -> bool:
    while frame is not None:
        if frame.f_globals.get("__name__") in _C_CALLBACK_MODULES:
            return True
        frame = frame.f_back
    return False


def main(argv: Optional[Sequence[str]] = None, registry: Registry | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2, Ctrl-C one line and 130."""
    args = list(sys.argv[1:] if argv is None else argv)
    interrupts = _Interrupts()
    previous = _handle_sigint(interrupts)
    try:
        code = _run(args, registry, interrupts)
    except KeyboardInterrupt:  # a second Ctrl-C while the first was being reported
        code = 130
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGALRM, previous[1])
            sys.unraisablehook = interrupts.hook
    return code


def _handle_sigint(interrupts: _Interrupts):
    """Install `interrupts` for SIGINT (and its SIGALRM retry) and return the handlers before; None where
    there is nothing to do: off the main thread, or where SIGINT is ignored (jobs a non-interactive shell
    starts in the background)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return None
    sys.unraisablehook = interrupts.unraisable
    return signal.signal(signal.SIGINT, interrupts), signal.signal(signal.SIGALRM, interrupts)


def _run(args: list[str], registry: Registry | None, interrupts: _Interrupts) -> int:
    debug = "--debug" in args or os.environ.get("DGAN_DEBUG") == "1"
    try:
        app = build_app(registry or default_registry())
        command = typer.main.get_command(app)
        result = command.main(args=args, prog_name="dgan", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except DganError as exc:
        if debug:
            traceback.print_exc()
        if interrupts.seen:  # what the Ctrl-C broke, as below
            return _interrupted()
        _error(exc.one_line())
        return exc.exit_code
    except click_exc.ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort as exc:
        if not isinstance(exc.__cause__, EOFError):
            return _interrupted()
        # typer reports an EOFError as a Ctrl-C; a reader that missed one is a bug, not an interrupt.
        if debug:
            traceback.print_exception(exc.__cause__)
        _error(f"unexpected end of a file ({exc.__cause__ or 'EOFError'})")
        return 1
    except KeyboardInterrupt:
        return _interrupted()
    except Exception:
        # A Ctrl-C inside a callback from C code (h5py's type converters and file driver) comes
        # out as that library's own error.
        if not interrupts.seen:
            raise
        if debug:
            traceback.print_exc()
        return _interrupted()
    return _interrupted() if interrupts.seen else code


def _interrupted() -> int:
    err_console.print("Interrupted; work written so far is kept (run the same command again to resume).",
                      highlight=False, soft_wrap=True)
    return 130


def _error(line: str) -> None:
    from dgan_cli.distributed import rank_prefix

    err_console.print(f"[red]Error:[/red] {escape_markup(rank_prefix() + line)}", highlight=False, soft_wrap=True)


def entry() -> None:
    sys.exit(main())
