"""What the five command-line tools share (typer; no heavy imports): ``--version`` and whether an option was
given."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import typer

from . import __version__


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the option of parameter ``name`` was given (on the command line or by its variable), not defaulted."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def version_line(tool: str) -> str:
    return f"{tool} {__version__}"


def _with_version(f: Callable[..., Any], tool: str) -> Callable[..., Any]:
    """``f`` with one more option, ``--version``: print ``tool`` and the package's version, exit 0 (eager: before
    the other options are checked)."""

    def show(value: bool) -> None:
        if value:
            print(version_line(tool))
            raise typer.Exit()

    @functools.wraps(f)
    def run(*args: Any, version: bool = False, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    sig = inspect.signature(f)
    option = typer.Option(False, "--version", is_eager=True, callback=show, help="Show the version and exit.")
    run.__signature__ = sig.replace(parameters=[*sig.parameters.values(), inspect.Parameter(
        "version", inspect.Parameter.KEYWORD_ONLY, default=option, annotation=bool)])
    run.__annotations__ = {**f.__annotations__, "version": bool}
    return run


class ToolTyper(typer.Typer):
    """The app of one of the tools: no shell completion, plain tracebacks, and ``--version`` on its command (or,
    for a tool with subcommands, on its callback: the command registered after a callback gets none)."""

    def __init__(self, tool: str, **kwargs: Any) -> None:
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)
        self.tool = tool

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(*args, **kwargs)
        return register if self.registered_callback is not None else self._versioned(register)

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self._versioned(super().callback(*args, **kwargs))

    def _versioned(self, register: Callable[[Callable[..., Any]], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
            register(_with_version(f, self.tool))
            return f  # the module keeps the function as written

        return decorate
