"""Shared vocabulary: log and print sinks, and matching module names against a policy."""

from __future__ import annotations

_PRINTS = frozenset(
    # sys.stdout.write is left out on purpose: it is a program's output channel (an askpass
    # helper must write the password there), not a log.
    {"print", "pprint", "pprint.pprint", "sys.stderr.write", "click.echo",
     "click.secho", "typer.echo", "typer.secho", "rich.print", "console.print", "console.log",
     "println", "System.out.println", "System.out.print", "System.err.println",
     "System.err.print", "System.out.printf", "System.err.printf"}
)
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log",
     "trace", "dir", "d", "i", "w", "e", "v", "wtf"}
)


def is_sink_name(name: str) -> bool:
    """Whether a dotted callee prints or logs its arguments.

    Args:
        name: for example ``print``, ``logger.info``, ``self.log.debug``, ``console.error``,
            ``Log.d`` (Android).

    Returns:
        True for print functions and for log methods called on a receiver whose last
        component names a logger (``logger``, ``log``, ``LOGGER``, ``console``...).
    """
    if name in _PRINTS:
        return True
    receiver, _dot, method = name.rpartition(".")
    if not receiver or method not in _LOG_METHODS:
        return False
    last = receiver.rsplit(".", 1)[-1].lower()
    return "log" in last or last == "console"


def module_matches(module: str, forbidden: tuple[str, ...], sep: str) -> bool:
    """Whether a module name is forbidden, comparing whole components.

    Args:
        module: the imported name (``firebase_admin.auth``, ``firebase/app``).
        forbidden: policy entries; an entry ending in ``/*`` or ``.*`` forbids everything
            below it.
        sep: the component separator of the language (``.`` or ``/``).

    Returns:
        True when the module equals an entry or lies below it: ``firebase_admin.auth``
        matches ``firebase_admin``, ``firebase_admin_compat`` does not.
    """
    for entry in forbidden:
        base = entry[:-2] if entry.endswith(("/*", ".*")) else entry
        if module == base or module.startswith(base + sep):
            return True
    return False


def hides_value(next_value: str, after_value: str) -> bool:
    """Whether the tokens after a secret expression consume it without printing it.

    ``x.length``, ``x?.size``, ``x != null``, ``x === undefined`` print a number or a
    boolean, not the secret.

    Args:
        next_value: the token right after the expression.
        after_value: the token after that.

    Returns:
        True when the secret's value does not reach the output.
    """
    if next_value in (".", "?.", "(", "["):
        return True
    return next_value in ("!", "=") and after_value == "="
