"""Command-line interface: parse arguments, call one library function, map errors to exit codes.

This is the only place where exceptions become exit codes and messages on standard error.
"""

from __future__ import annotations

import sys

from relrun.cli.app import app
from relrun.cli.errors import run_cli

# Command modules register themselves on ``app`` when imported.
from relrun.cli import commands as _commands  # noqa: F401  # isort: skip
from relrun.cli import sandbox as _sandbox  # noqa: F401  # isort: skip
from relrun.cli import scan as _scan  # noqa: F401  # isort: skip
from relrun.cli import history as _history  # noqa: F401  # isort: skip


def main() -> None:
    """Entry point of the ``relrun`` console script."""
    sys.exit(run_cli(app))
