"""Postman collections and environments: tokens stored outside a ``Bearer`` prefix.

The text pass (:mod:`scan_tokens`) already sees ``"Bearer …"`` header values and every
JWT, including those inside saved example responses. Postman also stores bare tokens:
``auth.bearer[].value`` and token-named collection or environment variables. Those are
only visible once the JSON is parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .findings import Finding
from .names import name_words
from .tokens import token_value_finding

_TOKEN_WORDS = frozenset({"token", "bearer", "jwt"})


def is_postman(name: str, text: str) -> bool:
    """Whether a JSON file is a Postman collection or environment."""
    if name.endswith((".postman_collection.json", ".postman_environment.json")):
        return True
    return "_postman" in text or "schema.getpostman.com" in text


def _bare_values(node: Any) -> Iterator[str]:
    """Yield values Postman keeps as bare tokens, walking the whole document."""
    if isinstance(node, dict):
        # auth.bearer is a list of {key: "token", value} in collection format 2.1 (caught by
        # the key/value rule below) and a {token: value} mapping in format 2.0.
        auth_bearer = node.get("bearer")
        if node.get("type") == "bearer" and isinstance(auth_bearer, dict):
            token = auth_bearer.get("token")
            if isinstance(token, str):
                yield token
        key = node.get("key")
        value = node.get("value")
        if isinstance(key, str) and isinstance(value, str) and _TOKEN_WORDS & set(name_words(key)):
            yield value
        for child in node.values():
            yield from _bare_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from _bare_values(child)


def _offset_of(text: str, value: str, start: int) -> int:
    for candidate in (value, json.dumps(value)[1:-1]):
        found = text.find(candidate, start)
        if found >= 0:
            return found
    return text.find(value)


def scan_postman(path: str, text: str) -> tuple[list[Finding], str | None]:
    """Find bare tokens in a Postman collection or environment.

    Args:
        path: the relative path.
        text: the JSON text.

    Returns:
        The findings, and a parse error message when the JSON is invalid (the text pass
        still ran on the file, so the file is scanned by that fallback).
    """
    try:
        document = json.loads(text)
    except ValueError as err:
        return [], f"invalid JSON: {err}"
    findings: list[Finding] = []
    cursor = 0
    for value in _bare_values(document):
        if "{{" in value:
            continue
        offset = _offset_of(text, value, cursor)
        if offset < 0:
            continue
        cursor = offset
        finding = token_value_finding(path, text, offset, value)
        if finding is not None:
            findings.append(finding)
    return findings, None
