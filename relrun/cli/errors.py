"""Map relrun's exceptions to exit codes and one-line messages, in exactly one place."""

from __future__ import annotations

import sys
import traceback

import click
import typer

from relrun.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, InputError, RelrunError

DEBUG = False


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
            print(f"relrun: error: {err.message}", file=sys.stderr)
        return err.exit_code
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.Abort:
        print("relrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except click.ClickException as err:
        err.show()
        return EXIT_BAD_INPUT if err.exit_code == 2 else err.exit_code
    except KeyboardInterrupt:
        print("relrun: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return result if isinstance(result, int) else 0
