"""Read API credentials on the managed host, from where the runbook says they are.

Runbooks reference credentials (an environment variable, a file) and never contain them;
the values exist only in the module's process.
"""

from __future__ import annotations

import json
import os
from typing import Any


class CredentialsError(ValueError):
    """A referenced credential cannot be read (the message never contains a value)."""


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise CredentialsError(f"cannot read credentials file {path}: {exc.strerror}") from exc


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise CredentialsError(f"environment variable {name} is not set on the host")
    return value


def _from_json_file(path: str, username: str | None) -> dict[str, str]:
    """Accept ``{"username", "password"}`` or ``{"users": [{...}, ...]}`` (the sandbox's)."""
    text = _read_text(path)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CredentialsError(f"credentials file {path} is not JSON") from exc
    entries: list[Any]
    if isinstance(document, dict) and isinstance(document.get("users"), list):
        entries = document["users"]
    else:
        entries = [document]
    for entry in entries:
        if not isinstance(entry, dict) or "password" not in entry:
            continue
        if username is None or entry.get("username") == username:
            found = {"password": str(entry["password"])}
            if entry.get("username") is not None:
                found["username"] = str(entry["username"])
            return found
    who = f"user {username!r}" if username else "a username/password entry"
    raise CredentialsError(f"credentials file {path} has no {who}")


def _absolute(path: str, base_dir: str | None) -> str:
    path = os.path.expanduser(path)
    if base_dir and not os.path.isabs(path):
        return os.path.join(base_dir, path)
    return path


def resolve_credentials(spec: dict[str, Any] | None, base_dir: str | None) -> dict[str, str]:
    """Resolve a credentials reference into ``{"username": ..., "password": ...}``.

    Args:
        spec: keys ``username`` / ``username_env`` and ``password`` / ``password_env`` /
            ``password_file``, or ``from_file`` (JSON, see above) optionally with
            ``username`` to pick an entry. Unset keys are ignored.
        base_dir: directory that relative file paths are relative to.

    Returns:
        What could be resolved; an empty dict when ``spec`` is empty.

    Raises:
        CredentialsError: when a referenced variable or file is missing.
    """
    spec = {k: v for k, v in (spec or {}).items() if v not in (None, "")}
    resolved: dict[str, str] = {}
    if "username" in spec:
        resolved["username"] = str(spec["username"])
    elif "username_env" in spec:
        resolved["username"] = _from_env(spec["username_env"])
    if "from_file" in spec:
        found = _from_json_file(_absolute(spec["from_file"], base_dir), resolved.get("username"))
        resolved = dict(found, **resolved)
    if "password" in spec:
        resolved["password"] = str(spec["password"])
    elif "password_env" in spec:
        resolved["password"] = _from_env(spec["password_env"])
    elif "password_file" in spec:
        # A trailing newline is an editor's habit, not part of the password.
        resolved["password"] = _read_text(_absolute(spec["password_file"], base_dir)).rstrip("\r\n")
    return resolved
