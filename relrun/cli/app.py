"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

from relrun import __version__


def _version(value: bool) -> None:
    if value:
        typer.echo(f"relrun {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="relrun",
    help="Render release runbooks into Ansible playbooks; release, drill and roll back.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks on errors."),
    non_interactive: bool = typer.Option(
        False,
        "--non-interactive",
        envvar="RELRUN_NON_INTERACTIVE",
        help="For schedulers: plain output, never a prompt; what would wait for a human fails.",
    ),
) -> None:
    """Render release runbooks into Ansible playbooks; release, drill and roll back."""
    from relrun.cli import errors

    errors.DEBUG = debug
    errors.NON_INTERACTIVE = non_interactive
