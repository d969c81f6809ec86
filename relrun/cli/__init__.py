"""Command-line interface: parse arguments, call one library function, map errors to exit codes.

This is the only place where exceptions become exit codes and messages on standard error.
"""

from __future__ import annotations

import sys

from relrun.run import signals as _signals

# Importing the commands takes seconds on a loaded machine: a signal meanwhile is recorded
# and obeyed by main() (exit 130), not a KeyboardInterrupt traceback or a bare 143. The old
# handlers come back at the end of the import, so a program importing relrun.cli (a test
# run) keeps its own Ctrl-C.
_STARTUP = _signals.record_signals()
try:
    from relrun.cli.app import app
    from relrun.cli.errors import run_cli, run_main

    # Command modules register themselves on ``app`` when imported.
    from relrun.cli import commands as _commands  # noqa: F401  # isort: skip
    from relrun.cli import sandbox as _sandbox  # noqa: F401  # isort: skip
    from relrun.cli import scan as _scan  # noqa: F401  # isort: skip
    from relrun.cli import history as _history  # noqa: F401  # isort: skip
    from relrun.cli import gates as _gates  # noqa: F401  # isort: skip
finally:
    _signals.restore_signals(_STARTUP)

__all__ = ["app", "main", "run_cli"]


def main() -> None:
    """Entry point of the ``relrun`` console script."""
    sys.exit(run_main(app))
