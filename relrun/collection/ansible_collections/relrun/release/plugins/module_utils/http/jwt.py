"""Forge the JWTs a correct API must refuse, with hmac/hashlib only.

Given a token the API issued, build: one signed with a wrong key, one with
``alg: none``, one whose claims were altered under the original signature, and plain
garbage. Claims are copied, so the forged tokens are refused for their signature alone
(not because they expired or name an unknown user).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

REFUSAL_CASES = ("missing", "malformed", "wrong_key", "alg_none", "tampered")


class NotAJwt(ValueError):
    """The token handed out is not a three-part JWS."""


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url_encode` (padding optional)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def split_token(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Decode a JWS compact token without verifying it.

    Returns:
        ``(header, claims, signature_segment)``.

    Raises:
        NotAJwt: when it does not have three segments of JSON objects.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise NotAJwt(f"expected 3 dot-separated segments, got {len(parts)}")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError as exc:
        raise NotAJwt("header or payload is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise NotAJwt("header or payload is not a JSON object")
    return header, claims, parts[2]


def _segment(data: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(data, separators=(",", ":")).encode("utf-8"))


def sign_hs256(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """Build an HS256 token over ``header``/``claims`` with ``key``."""
    signing_input = _segment(header) + "." + _segment(claims)
    digest = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url_encode(digest)


def forge_wrong_key(token: str) -> str:
    """Same header and claims, HS256-signed with a random key the API cannot know."""
    header, claims, _signature = split_token(token)
    return sign_hs256(dict(header, alg="HS256"), claims, os.urandom(32))


def forge_alg_none(token: str) -> str:
    """Same claims, ``alg: none`` and an empty signature (RFC 7519 "unsecured JWT")."""
    header, claims, _signature = split_token(token)
    return _segment(dict(header, alg="none")) + "." + _segment(claims) + "."


def forge_tampered(token: str) -> str:
    """Claims altered (an extra ``role: admin``), original signature kept."""
    header, claims, signature = split_token(token)
    return _segment(header) + "." + _segment(dict(claims, role="admin")) + "." + signature


MALFORMED_TOKEN = "not-a-jwt"


def refusal_token(case: str, token: str) -> str | None:
    """The bearer token to send for one refusal case (None: send no Authorization).

    Raises:
        NotAJwt: when a forging case needs a real JWT and ``token`` is not one.
        ValueError: for an unknown case.
    """
    if case == "missing":
        return None
    if case == "malformed":
        return MALFORMED_TOKEN
    if case == "wrong_key":
        return forge_wrong_key(token)
    if case == "alg_none":
        return forge_alg_none(token)
    if case == "tampered":
        return forge_tampered(token)
    raise ValueError(f"unknown refusal case {case!r}")
