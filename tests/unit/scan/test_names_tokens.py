from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    findings as scan_findings,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.names import (
    is_placeholder,
    is_secret_name,
    looks_real,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.tokens import (
    decode_jwt,
    scan_tokens,
)
from tests.unit.scan.helpers import make_jwt, make_password, make_token


@pytest.mark.parametrize(
    "name",
    [
        "JWT_SECRET",
        "API_KEY",
        "DB_PASSWORD",
        "access_token",
        "apiKey",
        "jwtSecret",
        "STRIPE_API_KEY",
        "client.secret",
        "PUBLISH_TOKEN",
        "publishToken",
        "PUBSUB_TOKEN",
        "PUBLIC_KEY_PASSPHRASE",
        "GITHUB_PUBLIC_REPO_TOKEN",
        "JWT_PRIVATE_KEY",
        "republic_token",
        "PUB_TOKEN",  # a pub.dev publishing token
        "DB_PUBLIC_PASSWORD",  # only keys and tokens are ever public material
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "JWT_ALGORITHM",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "TOKEN_URL",
        "SORT_KEY",
        "DB_HOST",
        "PASSWORD_MIN_LENGTH",
        "key",
        "SECRET_FILE",
        "tokenizer",
        "JWT_PUBLIC_KEY",
        "JWT_PUBKEY",
        "PUB_KEY",
        "PUBKEY",
        "PUBLICKEY",
        "jwtPublicKey",
        "jwt_public",
        "NEXT_PUBLIC_API_KEY",
        "MAPBOX_PUBLIC_TOKEN",
    ],
)
def test_non_secret_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "dev",
        "changeme",
        "<secret>",
        "${JWT_SECRET}",
        "change-me-in-production",
        "your_secret_key_here",
        "xxxxxxxxxxxx",
        "{{ vault_secret }}",
        "secret...",
        "supersecretvalue",
    ],
)
def test_placeholders_are_not_real(value: str) -> None:
    assert not looks_real(value)


def test_generated_password_is_real() -> None:
    assert looks_real(make_password()) and not is_placeholder(make_password())


def test_jwt_decoding_records_alg_and_exp() -> None:
    assert decode_jwt(make_jwt({"sub": "x", "exp": 5})) == {"alg": "HS256", "exp": 5}
    assert decode_jwt(make_jwt(alg="none")) == {"alg": "none", "exp": 1893456000}


def test_jwt_signed_with_documentation_key_is_an_example() -> None:
    assert decode_jwt(make_jwt(key=b"your-256-bit-secret")) is None


def test_tokens_in_text() -> None:
    jwt, tok = make_jwt(), make_token()
    text = f'a = "{jwt}"\nh = "Authorization: Bearer {tok}"\nt = "Bearer {{{{t}}}}"\n'
    found = scan_tokens("f.py", text)
    assert [(f.rule, f.line) for f in found] == [("jwt-literal", 1), ("bearer-literal", 2)]
    assert all(jwt not in f.excerpt and tok not in f.excerpt for f in found)


@pytest.mark.parametrize(
    "line",
    [
        '"Bearer " + token',
        "`Bearer ${t}`",
        "Bearer $TOKEN",
        'f"Bearer {token}"',
        '"Bearer {}".format(t)',
        "Bearer <token>",
        'token_type: "Bearer"',
        "eyJhbGc...",
        "Bearer abcdefghijklmnopqrstuvwxyz",
    ],
)
def test_token_templates_are_not_findings(line: str) -> None:
    assert scan_tokens("f", line) == []


def test_truncated_jwt_is_not_a_finding() -> None:
    assert scan_tokens("f", make_jwt()[:-10] + "...") == []


def test_fingerprint_ignores_line_and_tracks_value() -> None:
    assert scan_findings.fingerprint("r", "p", "v") == scan_findings.fingerprint("r", "p", "v")
    assert scan_findings.fingerprint("r", "p", "v") != scan_findings.fingerprint("r", "p", "w")
    assert len(scan_findings.fingerprint("r", "p", "v")) == 32


@given(st.text(min_size=9, max_size=200))
def test_redaction_shows_at_most_four_characters(secret: str) -> None:
    shown = scan_findings.redact(secret)
    assert shown.startswith(secret[:4]) and f"({len(secret)} chars)" in shown
    assert secret not in scan_findings.excerpt(f"x = {secret!r}", secret)
