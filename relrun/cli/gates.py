"""``relrun pause``, ``resume``, ``promote``, ``abort``: an operator's hands on a release."""

from __future__ import annotations

from pathlib import Path

import typer

from relrun.cli.app import app
from relrun.errors import InputError

GateInventoryOpt = typer.Option(
    None, "-i", "--inventory",
    help="The environment: its release on this controller, or one another controller "
    "started, found through its router host's lease. None: the project's running release "
    "or drill, private sandbox drills included.",
)
RunOpt = typer.Option(None, "--run", help="The run id, when several run.")
ReasonOpt = typer.Option(..., "--reason", help="Why: it goes in the journal and the reports.")


def _say(text: str) -> None:
    typer.echo(f"relrun: {text}", err=True)


def _reason(reason: str) -> str:
    if not reason.strip():
        raise InputError("--reason must say why (it goes in the journal and the reports)")
    return reason.strip()


@app.command()
def pause(
    inventory: Path | None = GateInventoryOpt, run: str | None = RunOpt, reason: str = ReasonOpt
) -> int:
    """Hold the running release at the end of its current bake, judged as ever."""
    from relrun.workflows.gates import ask_gate

    return ask_gate("pause", inventory, run, _reason(reason), _say)


@app.command()
def resume(
    inventory: Path | None = GateInventoryOpt, run: str | None = RunOpt, reason: str = ReasonOpt
) -> int:
    """End an operator's pause: the release goes on with its next stage."""
    from relrun.workflows.gates import ask_gate

    return ask_gate("resume", inventory, run, _reason(reason), _say)


@app.command()
def promote(
    inventory: Path | None = GateInventoryOpt,
    run: str | None = RunOpt,
    reason: str = ReasonOpt,
    full: bool = typer.Option(
        False, "--full", help="Skip the stages left: straight to the last stage's weight."
    ),
) -> int:
    """End this stage's bake and pause (or approval) now; --full skips to the final weight."""
    from relrun.workflows.gates import ask_gate

    return ask_gate("promote", inventory, run, _reason(reason), _say, "full" if full else "stage")


@app.command()
def abort(
    inventory: Path | None = GateInventoryOpt,
    run: str | None = RunOpt,
    reason: str = ReasonOpt,
    wait: float = typer.Option(
        600.0, "--wait", min=1.0, help="Seconds to wait for its rollback to finish."
    ),
) -> int:
    """Roll the running release back in its own playbook (as at a breach), and wait for it."""
    from relrun.workflows.gates import abort as run_abort

    return run_abort(inventory, run, _reason(reason), _say, wait)
