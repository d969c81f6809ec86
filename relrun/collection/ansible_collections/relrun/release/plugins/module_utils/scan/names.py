"""Which names hold secrets, and which values are real rather than placeholders.

Both decisions are deliberately conservative: every finding of the secret-leak class
must be one a reviewer agrees with, so doubtful names and values are left alone.
"""

from __future__ import annotations

import re

from .findings import shannon_entropy

# Words that make a name secret on their own.
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "token",
        "apikey",
        "credential",
        "credentials",
        "privatekey",
        "jwt",
    }
)
# "key" is secret only after one of these ("API_KEY", "SIGNING_KEY"), not alone ("SORT_KEY").
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "secret",
        "access",
        "private",
        "signing",
        "encryption",
        "jwt",
        "master",
        "client",
        "app",
        "service",
        "hmac",
        "session",
        "auth",
        "license",
        "account",
        "storage",
        "sas",
    }
)
# Words that turn a secret-looking name into metadata about the secret:
# JWT_ALGORITHM, ACCESS_TOKEN_EXPIRE_MINUTES, TOKEN_URL, PASSWORD_MIN_LENGTH...
_META_WORDS = frozenset(
    {
        "expire",
        "expires",
        "expiry",
        "expiration",
        "ttl",
        "minutes",
        "seconds",
        "hours",
        "days",
        "lifetime",
        "algorithm",
        "algorithms",
        "alg",
        "url",
        "uri",
        "endpoint",
        "header",
        "name",
        "file",
        "path",
        "dir",
        "length",
        "len",
        "type",
        "prefix",
        "issuer",
        "audience",
        "id",
        "kid",
        "enabled",
        "enable",
        "required",
        "policy",
        "min",
        "max",
        "field",
        "param",
        "version",
        "size",
        "count",
        "retries",
        "rounds",
        "scheme",
        "format",
        "location",
        "mode",
        "env",
        "var",
        "variable",
        "regex",
        "pattern",
        "hint",
        "label",
        "reset",
        "refresh_url",
        "cookie",
        "timeout",
        "limit",
        "input",
        "prompt",
        "placeholder",
        "hash",
        "hashed",
    }
)

# Words that mark public key material or values published on purpose: JWT_PUBLIC_KEY,
# JWT_PUBKEY, MAPBOX_PUBLIC_TOKEN, NEXT_PUBLIC_API_KEY. Whole words only, so PUBLISH_TOKEN
# and PUBSUB_TOKEN stay secret.
_PUBLIC_WORDS = frozenset({"public", "pub", "pubkey", "publickey"})

_JOINED_KEYS = frozenset({"apikey", "secretkey", "privatekey", "accesskey"})
_SPLIT_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def name_words(name: str) -> list[str]:
    """Split an identifier into lower-case words (snake, kebab, dotted and camel case)."""
    return [w.lower() for w in _SPLIT.split(_SPLIT_CAMEL.sub("_", name)) if w]


def is_secret_name(name: str) -> bool:
    """Whether a variable, field or key name designates a secret value.

    Args:
        name: for example ``JWT_SECRET``, ``apiKey``, ``db.password``.

    Returns:
        True for ``JWT_SECRET``, ``API_KEY``, ``DB_PASSWORD``, ``access_token``,
        ``PUBLISH_TOKEN``; False for ``JWT_ALGORITHM``, ``ACCESS_TOKEN_EXPIRE_MINUTES``,
        ``TOKEN_URL``, ``SORT_KEY``, ``JWT_PUBLIC_KEY``, ``JWT_PUBKEY``.
    """
    words = name_words(name)
    hit = start = -1
    for i, word in enumerate(words):
        qualified_key = word == "key" and i > 0 and words[i - 1] in _KEY_QUALIFIERS
        if word in _SECRET_WORDS or word in _JOINED_KEYS or qualified_key:
            hit = i
            start = i - 1 if qualified_key else i
    if hit < 0:
        return False
    if any(word in _META_WORDS for word in words[hit + 1 :]):
        return False
    # A public word right before the secret word ("NEXT_PUBLIC_API_KEY") or anywhere after
    # it ("JWT_PUBLIC_KEY") names public material; further away it does not
    # ("PUBLIC_KEY_PASSPHRASE", "GITHUB_PUBLIC_REPO_TOKEN" are secrets). Only keys and
    # tokens are ever public ("DB_PUBLIC_PASSWORD" is a password), and a bare "pub" only
    # for keys ("SSH_PUB_KEY"; "PUB_TOKEN" is a pub.dev publishing token).
    secret = words[hit]
    if secret not in {"key", "token", "apikey", "jwt"}:
        return True
    public = _PUBLIC_WORDS if secret != "token" else _PUBLIC_WORDS - {"pub"}
    return not any(word in public for word in words[max(start - 1, 0) :])


# Values that are obviously not real secrets. The rule, documented in docs/scan.md:
# a value is a placeholder when it is empty, shorter than 8 characters, a template or
# reference, one repeated character, or made only of placeholder words.
_PLACEHOLDER_WORDS = frozenset(
    {
        "change",
        "changeme",
        "me",
        "your",
        "yours",
        "my",
        "secret",
        "secrets",
        "password",
        "passwd",
        "pass",
        "token",
        "key",
        "api",
        "apikey",
        "jwt",
        "here",
        "example",
        "sample",
        "dummy",
        "fake",
        "test",
        "testing",
        "tests",
        "dev",
        "devel",
        "development",
        "local",
        "localhost",
        "default",
        "defaults",
        "placeholder",
        "replace",
        "replaceme",
        "todo",
        "fixme",
        "insecure",
        "unsafe",
        "not",
        "a",
        "an",
        "the",
        "real",
        "value",
        "none",
        "null",
        "nil",
        "undefined",
        "empty",
        "set",
        "unset",
        "missing",
        "xxx",
        "demo",
        "foo",
        "bar",
        "baz",
        "qux",
        "in",
        "for",
        "only",
        "do",
        "use",
        "production",
        "prod",
        "staging",
        "this",
        "string",
        "str",
        "some",
        "put",
        "insert",
        "enter",
        "django",
        "flask",
        "app",
        "access",
        "private",
        "signing",
        "super",
        "mock",
        "stub",
        "abc",
        "123",
        "1234",
        "12345",
        "123456",
        "admin",
        "root",
        "user",
        "guest",
        "password123",
        "pwd",
        "s3cr3t",
        "notasecret",
        "must",
        "be",
        "at",
        "least",
        "long",
        "chars",
        "characters",
        "random",
        "generate",
        "generated",
        "with",
        "of",
        "to",
        "it",
        "should",
        "please",
        "dont",
        "never",
        "commit",
        "keep",
        "safe",
    }
)
_TEMPLATE = re.compile(r"[<>{}]|\$\(|\$\{|%\(|^\$[A-Za-z_]|^%[A-Za-z_]+%$|\.\.\.|…")


def is_placeholder(value: str) -> bool:
    """Whether a literal value is a placeholder rather than a real secret.

    Args:
        value: the literal as written (quotes removed).

    Returns:
        True for ``""``, ``"changeme"``, ``"<secret>"``, ``"${JWT_SECRET}"``, ``"dev"``,
        ``"your-secret-key-here"``, ``"xxxxxxxx"``.
    """
    stripped = value.strip()
    if len(stripped) < 8 or _TEMPLATE.search(stripped):
        return True
    if len(set(stripped.lower())) <= 2:
        return True
    words = [w for w in re.split(r"[^a-z0-9]+", stripped.lower()) if w]
    return all(w in _PLACEHOLDER_WORDS or set(w) == {"x"} for w in words)


def looks_real(value: str) -> bool:
    """Whether a literal looks like a real secret: not a placeholder, and varied enough.

    A real value has at least 8 characters, is not a placeholder, and has either two
    character classes (lower, upper, digit, symbol) with entropy of at least 2.5 bits
    per character, or entropy of at least 3.5 bits per character.

    Args:
        value: the literal.

    Returns:
        True when a reviewer would call it a real secret.
    """
    if is_placeholder(value) or " " in value.strip():
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    entropy = shannon_entropy(value)
    return (classes >= 2 and entropy >= 2.5) or entropy >= 3.5


_WORDS_ONLY = re.compile(r"[_\-.]*[A-Za-z]+(?:[_\-./: ]+[A-Za-z]+)*[_\-.]*")
# Regular expressions (TOKEN_RE = r"(?:…)\w+") and format strings are patterns; the
# characters of a random key (Django's include !@#$%^&*(-_=+)) never spell these.
_PATTERN = re.compile(r"\(\?|\\[wWsSdDbBAZ]|\[\^|\[[A-Za-z0-9]-[A-Za-z0-9]|\{\d*\}")
_JWT_SHAPED = re.compile(r"e[yw][A-Za-z0-9_-]{8,}\.e[yw][A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def looks_real_literal(value: str) -> bool:
    """:func:`looks_real`, stricter for literals in code and configuration files.

    Identifiers and slugs made only of letters (``secret_leak``, ``X-Api-Key``, ``my.secret``),
    regular expressions and format strings, URLs and paths, and JWT-shaped strings (the ``jwt-literal`` rule judges those) are not
    secret values even under a secret name.

    Args:
        value: the literal.

    Returns:
        True when a reviewer would call it a real secret.
    """
    if _WORDS_ONLY.fullmatch(value) or _JWT_SHAPED.fullmatch(value) or _PATTERN.search(value):
        return False
    if value.startswith(("/", "./", "http://", "https://", "file:", "arn:", "projects/")):
        return False
    return looks_real(value)


_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "testdata",
                        "fixtures", "__fixtures__", "__mocks__", "mocks", "e2e"})


def is_test_path(path: str) -> bool:
    """Whether a path is a test or a test fixture (``tests/…``, ``test_x.py``, ``x.spec.ts``).

    Literal passwords and settings in tests are test data, not leaks: the generic
    ``hardcoded-secret``, ``config-secret`` and ``url-password`` rules leave them out.
    Provider keys and JWTs are still reported there: a real key is real anywhere.
    """
    parts = path.lower().split("/")
    if any(part in _TEST_DIRS for part in parts[:-1]):
        return True
    name = parts[-1]
    stem = name.rsplit(".", 1)[0]
    return (name.startswith("test_") or stem.endswith(("_test", "_tests", ".test", ".spec"))
            or stem == "conftest")
