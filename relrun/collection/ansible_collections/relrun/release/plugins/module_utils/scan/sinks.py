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
     "trace", "dir", "d", "i", "w", "e", "v", "wtf", "table"}
)
# HTTP responses: what they are given goes to the client.
_RESPONSES = frozenset(
    {"jsonify", "flask.jsonify", "JsonResponse", "HttpResponse", "make_response",
     "JSONResponse", "PlainTextResponse", "HTMLResponse", "web.json_response",
     "web.Response", "Response"}
)
_RESPONSE_RECEIVERS = frozenset({"res", "response", "resp", "reply", "ctx"})
_RESPONSE_METHODS = frozenset({"json", "send", "jsonp", "end", "write"})


def is_sink_name(name: str) -> bool:
    """Whether a dotted callee prints or logs its arguments.

    Args:
        name: for example ``print``, ``logger.info``, ``self.log.debug``, ``console.error``,
            ``Log.d`` (Android).

    Returns:
        True for print functions and for log methods called on a receiver whose last
        component names a logger (``logger``, ``log``, ``LOGGER``, ``console``...).
    """
    if name in _PRINTS or name in _RESPONSES:
        return True
    receiver, _dot, method = name.rpartition(".")
    if method in _RESPONSE_METHODS and receiver.rsplit(".", 1)[-1] in _RESPONSE_RECEIVERS:
        return True  # res.json(...), reply.send(...): the HTTP response body
    if not receiver or method not in _LOG_METHODS:
        return False
    last = receiver.rsplit(".", 1)[-1].lower()
    return "log" in last or last == "console"


import re

_GSTATIC = re.compile(r"^https?://www\.gstatic\.com/firebasejs/[^/]+/firebase-([\w-]+?)(?:\.min)?\.m?js")
_CDN = re.compile(
    r"^https?://(?:cdn\.jsdelivr\.net/npm/|unpkg\.com/|esm\.sh/(?:v\d+/)?|cdn\.skypack\.dev/"
    r"|ga\.jspm\.io/npm:|esm\.run/)((?:@[\w.\-]+/)?[\w.\-]+?)(?:@[^/?#]*)?(?:[/?#].*)?$"
)


def cdn_module(url: str) -> str | None:
    """The npm package a CDN module URL serves, or ``None`` for any other URL.

    ``https://www.gstatic.com/firebasejs/10.7.0/firebase-app.js`` serves ``firebase/app``;
    ``https://cdn.jsdelivr.net/npm/firebase@10/app`` and ``https://esm.sh/firebase-admin``
    serve ``firebase`` and ``firebase-admin``.

    Args:
        url: an import specifier or a ``<script src>``.

    Returns:
        The package (with the Firebase sub-module for gstatic URLs), or ``None``.
    """
    match = _GSTATIC.match(url)
    if match:
        return f"firebase/{match.group(1)}"
    match = _CDN.match(url)
    return match.group(1) if match else None


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
