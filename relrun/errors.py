"""The one exception tree of relrun.

Exceptions are inert data: they carry a message and the exit code the CLI maps them to.
They never print or log; the CLI boundary (``relrun.cli``) turns them into output.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ROLLBACK_FAILED = 3
EXIT_INTERRUPTED = 130


class RelrunError(Exception):
    """Base of every error relrun raises on purpose."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One positioned problem in an input file."""

    file: str
    line: int
    column: int
    message: str
    path: str = ""

    def __str__(self) -> str:
        at = f" (at {self.path})" if self.path else ""
        return _one_line(f"{self.file}:{self.line}:{self.column}: error: {self.message}{at}")


def _one_line(text: str) -> str:
    # Keys and values quoted from hostile input may hold line breaks (also U+0085, U+2028)
    # or terminal escapes; one problem is one line, so they are shown escaped.
    return printable(text)


def printable(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control or other non-printable character escaped (as ESC: x1b).

    Args:
        text: a message that may quote hostile input (paths, runbook strings).
        keep_newlines: keep line feeds (a multi-line message of relrun's own).

    Returns:
        The text, safe to print to a terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        c
        if c.isprintable() or (keep_newlines and c == "\n")
        else c.encode("unicode_escape").decode()
        for c in text
    )


class InputError(RelrunError):
    """Bad input: invalid runbook, inventory or arguments (exit 2).

    Carries every problem found, so all of them are reported at once.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))


class GateFailed(RelrunError):
    """A gate, release, drill or check failed and the environment is safe (exit 1)."""

    exit_code = EXIT_FAILED


class RunFailed(RelrunError):
    """Running Ansible failed before it could report a result (exit 1)."""

    exit_code = EXIT_FAILED


class ToolMissing(RelrunError):
    """An external program relrun needs is not installed (exit 2: fix the machine)."""

    exit_code = EXIT_BAD_INPUT


class RollbackFailed(RelrunError):
    """The rollback failed or is incomplete; a human must look (exit 3)."""

    exit_code = EXIT_ROLLBACK_FAILED


class Interrupted(RelrunError):
    """Interrupted by a signal; the rollback it triggered has finished (exit 130)."""

    exit_code = EXIT_INTERRUPTED


class IncompleteRun(RelrunError):
    """A previous run of this environment died before finishing (exit 1: recover first)."""

    exit_code = EXIT_FAILED


class LockHeld(RelrunError):
    """Another release or drill holds the environment's lock (exit 1: nothing moved)."""

    exit_code = EXIT_FAILED
