"""``relrun sandbox …`` commands (filled in by the sandbox work)."""

from __future__ import annotations

import typer

from relrun.cli.app import app

sandbox_app = typer.Typer(help="Start, control and stop the local sandbox environment.")
app.add_typer(sandbox_app, name="sandbox")
