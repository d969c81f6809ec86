"""``.env`` files: a secret-named key holding a real-looking value, or a URL with a password."""

from __future__ import annotations

import re

from .findings import Finding, new_finding_at
from .names import is_secret_name, looks_real

_TEMPLATE_WORDS = ("example", "sample", "template", "dist", "defaults", "tpl", "schema")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*?)\s*$")
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.\-]*://[^:/@\s]*:([^@\s]+)@", re.IGNORECASE)


def is_dotenv(name: str) -> bool:
    """Whether a file name is an environment file that may hold real values.

    Args:
        name: the base name.

    Returns:
        True for ``.env``, ``.env.production``, ``prod.env``; False for ``.env.example``,
        ``.env.sample``, ``.env.template`` and similar documentation files.
    """
    lowered = name.lower()
    if not (lowered == ".env" or lowered.startswith(".env.") or lowered.endswith(".env")):
        return False
    return not any(word in lowered for word in _TEMPLATE_WORDS)


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    # An unquoted value ends at " #" (a trailing comment).
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()


def scan_dotenv(path: str, text: str) -> list[Finding]:
    """Find secret values in an environment file.

    Args:
        path: the relative path.
        text: the file text.

    Returns:
        ``dotenv-secret`` findings.
    """
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.group(1), _unquote(match.group(2))
        column = match.start(2) + 1
        if is_secret_name(key) and looks_real(value):
            findings.append(new_finding_at("dotenv-secret", path, number, column, line, value,
                                           f"{key} holds a secret value", secret=True,
                                           meta={"name": key}))
            continue
        url = _URL_PASSWORD.match(value)
        if url and looks_real(url.group(1)):
            findings.append(new_finding_at("dotenv-secret", path, number, column, line,
                                           url.group(1), f"{key} embeds a password in a URL",
                                           secret=True, meta={"name": key}))
    return findings
