"""Plaintext Bearer tokens and hard-coded JSON Web Tokens, in any text file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from .findings import Finding, new_finding, shannon_entropy
from .names import looks_real

# A JWS in compact form: base64url JSON header and payload ("{" encodes to "ey" or "ew"),
# then a signature that may be empty (alg "none"). Five-part JWEs are not matched.
JWT_RE = re.compile(
    r"(?<![A-Za-z0-9_\-.])(e[yw][A-Za-z0-9_-]{8,})\.(e[yw][A-Za-z0-9_-]{8,})\.([A-Za-z0-9_-]*)"
    r"(?![A-Za-z0-9_\-.])"
)
# RFC 6750 b64token after the scheme. A template ("{{t}}", "${T}", "$T", "<token>") or a
# concatenation ("Bearer " + t) starts with a character outside this set, so it never matches.
BEARER_RE = re.compile(r"\b[Bb]earer[ \t]+([A-Za-z0-9\-._~+/]+=*)")
# Other schemes only right after an Authorization header name: "Authorization: token ghp_…",
# {"Authorization": "Token <hex>"}, -H 'Authorization: Basic <base64>'. "Token" alone is
# an ordinary word, so the header name is required.
AUTH_RE = re.compile(
    r"\b[Aa]uthorization[\"']?\s*[:=,]\s*(?:[\"'](?:\s*)?)?(Token|token|Basic|basic)[ \t]+"
    r"([A-Za-z0-9\-._~+/]+=*)(?![A-Za-z0-9\-._~+/=])"
)

# Keys of the examples that docs and tutorials sign their sample tokens with.
_EXAMPLE_KEYS = (b"secret", b"your-256-bit-secret", b"your-secret", b"key", b"my-secret",
                 b"secret-key", b"your-512-bit-secret", b"your-384-bit-secret")
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
# sha256 of tokens that documentation prints as examples (Django REST framework's
# "Authorization: Token …" example), so that the example itself is not a finding.
_KNOWN_EXAMPLES = frozenset({"5cc1e9113bbaa7040c4e0fbe80ea6aa743e34add380c596abe5fe584ece883ec"})
_SEQUENCES = ("0123456", "1234567", "abcdefg", "qwerty", "xxxxxx", "000000")


def _b64json(segment: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError):
        return None


def _signed_with_example_key(header: dict[str, Any], token: str) -> bool:
    digest = _HMAC.get(str(header.get("alg")))
    if digest is None:
        return False
    signing_input, _dot, signature = token.rpartition(".")
    for key in _EXAMPLE_KEYS:
        mac = hmac.new(key, signing_input.encode("ascii"), digest).digest()
        if base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii") == signature:
            return True
    return False


def decode_jwt(token: str) -> dict[str, Any] | None:
    """Decide whether a candidate is a real JWT and return its triage data.

    A candidate counts when header and payload decode to JSON objects, the header has
    ``alg``, the signature is complete (not a truncated example), and it is not signed
    with one of the well-known example keys that documentation uses.

    Args:
        token: ``header.payload.signature``.

    Returns:
        ``{"alg": ..., "exp": ...}`` for a real JWT, else ``None``.
    """
    head, payload, signature = token.split(".")
    header = _b64json(head)
    claims = _b64json(payload)
    if not isinstance(header, dict) or not isinstance(claims, dict) or "alg" not in header:
        return None
    alg = str(header["alg"])
    if alg.lower() == "none":
        if signature:
            return None
    elif len(signature) < 16 or _signed_with_example_key(header, token):
        return None
    exp = claims.get("exp")
    return {"alg": alg, "exp": exp if isinstance(exp, int | float) else None}


def is_opaque_token(token: str) -> bool:
    """Whether a literal after ``Bearer`` is long and random enough to be a real token.

    Args:
        token: the literal.

    Returns:
        True when it has at least 20 characters, letters and digits, entropy of at least
        3 bits per character, and no placeholder sequence such as ``123456`` or ``abcdef``.
    """
    if len(token) < 20:
        return False
    if not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
        return False
    lowered = token.lower()
    if any(seq in lowered for seq in _SEQUENCES):
        return False
    return shannon_entropy(token) >= 3.0


def basic_credential(value: str) -> str | None:
    """The password of a ``Basic`` credential when it is a real one, else ``None``.

    Args:
        value: the base64 text after ``Basic``.

    Returns:
        The decoded ``user:password`` when it decodes to printable text with a colon and a
        password that is not a placeholder (``user:password``, ``admin:admin`` are not).
    """
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not decoded.isprintable():
        return None
    return decoded if looks_real(password) and password != user else None


def _truncated(text: str, end: int) -> bool:
    return text.startswith(("...", "…"), end)


def scan_tokens(path: str, text: str) -> list[Finding]:
    """Find hard-coded JWTs and literal Bearer tokens in a file's text.

    Args:
        path: the relative path (for the findings).
        text: the file text.

    Returns:
        The findings, one per token occurrence.
    """
    findings: list[Finding] = []
    jwt_spans: list[tuple[int, int]] = []
    # The payload segment always follows a dot and starts with "ey" or "ew".
    if ".ey" in text or ".ew" in text:
        for match in JWT_RE.finditer(text):
            if _truncated(text, match.end()):
                continue
            token = match.group(0)
            meta = decode_jwt(token)
            if meta is None:
                continue
            jwt_spans.append(match.span())
            findings.append(
                new_finding("jwt-literal", path, text, match.start(), token,
                            f"hard-coded JWT (alg {meta['alg']})", secret=True, meta=meta)
            )
    if "earer" in text:
        for match in BEARER_RE.finditer(text):
            token = match.group(1)
            start = match.start(1)
            if any(a <= start < b for a, b in jwt_spans) or _truncated(text, match.end()):
                continue
            if is_opaque_token(token):
                findings.append(
                    new_finding("bearer-literal", path, text, start, token,
                                "plaintext Bearer token", secret=True)
                )
    if "uthorization" in text:
        for match in AUTH_RE.finditer(text):
            scheme, token = match.group(1), match.group(2)
            start = match.start(2)
            if any(a <= start < b for a, b in jwt_spans) or _truncated(text, match.end()):
                continue
            if hashlib.sha256(token.encode()).hexdigest() in _KNOWN_EXAMPLES:
                continue
            real = (basic_credential(token) is not None if scheme.lower() == "basic"
                    else is_opaque_token(token))
            if real:
                findings.append(
                    new_finding("authorization-literal", path, text, start, token,
                                f"plaintext Authorization {scheme.capitalize()} credential",
                                secret=True, meta={"scheme": scheme.lower()})
                )
    return findings


def token_value_finding(path: str, text: str, offset: int, value: str) -> Finding | None:
    """Judge a bare token value found in structured data (a Postman ``auth.bearer`` value).

    Args:
        path: the relative path.
        text: the file text (for line and excerpt).
        offset: where the value is in ``text``.
        value: the value.

    Returns:
        A ``jwt-literal`` or ``bearer-literal`` finding, or ``None``.
    """
    match = JWT_RE.fullmatch(value)
    if match:
        meta = decode_jwt(value)
        if meta is None:
            return None
        return new_finding("jwt-literal", path, text, offset, value,
                           f"hard-coded JWT (alg {meta['alg']})", secret=True, meta=meta)
    if re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", value) and is_opaque_token(value):
        return new_finding("bearer-literal", path, text, offset, value,
                           "plaintext Bearer token", secret=True)
    return None
