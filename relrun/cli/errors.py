"""Map relrun's exceptions to exit codes and one-line messages, in exactly one place."""

from __future__ import annotations

import sys
import traceback

import typer
from typer.exceptions import TyperException

from relrun.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, InputError, RelrunError, printable
from relrun.run import signals

DEBUG = False
NON_INTERACTIVE = False


def run_cli(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the Typer app and return the process exit code.

    Args:
        app: the application.
        args: arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit code per the contract in the design: 0, 1, 2, 3 or 130.
    """
    try:
        result = app(args=args, standalone_mode=False)
    except RelrunError as err:
        if DEBUG:
            traceback.print_exc()
        if isinstance(err, InputError) and err.problems:
            for problem in err.problems:
                print(problem, file=sys.stderr)
        else:
            # Bad input is quoted input: one line, every control character escaped.
            bad_input = isinstance(err, InputError)
            message = printable(err.message, keep_newlines=not bad_input)
            print(f"relrun: error: {message}", file=sys.stderr)
        return err.exit_code
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.Abort:
        print("relrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TyperException as err:
        # Usage errors (bad options, missing arguments): Typer formats them.
        err.show()  # type: ignore[attr-defined]
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("relrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0


def run_main(app: typer.Typer) -> int:
    """Run the Typer app as the ``relrun`` process: signals included, return the exit code.

    SIGTERM interrupts like SIGINT, so a command stopped outside its run loop cleans up
    and exits 130; a signal recorded while relrun was starting ends it before anything is
    done (also 130). Neither ever shows a traceback.

    Args:
        app: the application.

    Returns:
        The exit code per the contract in the design.
    """
    signals.interrupt_on_signals()
    try:
        started = signals.take_pending()
        if started:
            print(
                f"relrun: interrupted (signal {started[0]} while starting): nothing was done",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        code = run_cli(app)
    except KeyboardInterrupt:  # between run_cli's own handlers and its return
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED and signals.interrupted_by() is not None:
        # Typer turns the KeyboardInterrupt into a silent 130; the operator is told why.
        print(f"relrun: interrupted (signal {signals.interrupted_by()})", file=sys.stderr)
    return code
