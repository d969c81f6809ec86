"""Findings of the security scan: rules, severities, redaction and fingerprints.

Standard library only: this file runs on managed hosts inside AnsiballZ.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")

CLASS_IMPORT = "forbidden_import"
CLASS_DEPENDENCY = "forbidden_dependency"
CLASS_TOKEN = "token"
CLASS_SECRET = "secret_leak"


@dataclass(frozen=True)
class Rule:
    """A rule of the scan, as shown in reports and in SARIF ``tool.driver.rules``."""

    id: str
    cls: str
    severity: str
    title: str
    # Rules whose finding carries a secret value: an inline allow must be pinned to it.
    carries_secret: bool


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("forbidden-import", CLASS_IMPORT, "high", "Import of a forbidden module", False),
        Rule("forbidden-dependency", CLASS_DEPENDENCY, "high", "Forbidden package in a manifest",
             False),
        Rule("jwt-literal", CLASS_TOKEN, "critical", "Hard-coded JSON Web Token", True),
        Rule("bearer-literal", CLASS_TOKEN, "high", "Plaintext Bearer token", True),
        Rule("dotenv-secret", CLASS_SECRET, "high", "Secret value in a tracked .env file", True),
        Rule("secret-default", CLASS_SECRET, "high", "Literal default for a secret variable",
             True),
        Rule("secret-logged", CLASS_SECRET, "high", "Secret value reaches a log or print sink",
             False),
        Rule("env-dump", CLASS_SECRET, "medium", "Whole environment dumped to a log or print",
             False),
        Rule("authorization-literal", CLASS_TOKEN, "high",
             "Plaintext credential in an Authorization header (Token, Basic)", True),
        Rule("aws-access-key", CLASS_TOKEN, "high", "AWS access key ID", True),
        Rule("aws-secret-key", CLASS_TOKEN, "critical", "AWS secret access key", True),
        Rule("gcp-service-account", CLASS_TOKEN, "critical",
             "Google Cloud service-account key (JSON with a private key)", True),
        Rule("azure-storage-key", CLASS_TOKEN, "critical",
             "Azure storage account key or connection string", True),
        Rule("azure-client-secret", CLASS_TOKEN, "high", "Azure AD (Entra ID) client secret",
             True),
        Rule("stripe-key", CLASS_TOKEN, "critical", "Stripe live secret or restricted key", True),
        Rule("github-token", CLASS_TOKEN, "critical", "GitHub token (checksum valid)", True),
        Rule("gitlab-token", CLASS_TOKEN, "critical", "GitLab personal access token", True),
        Rule("slack-token", CLASS_TOKEN, "high", "Slack API token", True),
        Rule("slack-webhook", CLASS_TOKEN, "medium", "Slack incoming-webhook URL", True),
        Rule("npm-token", CLASS_TOKEN, "critical", "npm access token", True),
        Rule("pypi-token", CLASS_TOKEN, "critical", "PyPI API token", True),
        Rule("private-key", CLASS_TOKEN, "critical", "Private key (PEM block)", True),
        Rule("hardcoded-secret", CLASS_SECRET, "high",
             "Literal value assigned to a secret-named setting in code", True),
        Rule("config-secret", CLASS_SECRET, "high",
             "Secret value in a configuration file (Dockerfile, compose, Kubernetes, Helm, "
             ".npmrc, .pypirc)", True),
        Rule("url-password", CLASS_SECRET, "high", "Password in the user-info of a URL", True),
    )
}


def severity_rank(severity: str) -> int:
    """Order severities so that ``low < medium < high < critical``.

    Args:
        severity: one of :data:`SEVERITIES`.

    Returns:
        Its index in :data:`SEVERITIES`.

    Raises:
        ValueError: for an unknown severity.
    """
    return SEVERITIES.index(severity)


def sha256_hex(text: str) -> str:
    """Return the hex sha256 of a text (UTF-8, invalid characters escaped)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


_ALLOW_COMMENT = re.compile(r"\s*(?:#|//|/\*|<!--)\s*relrun:\s*allow\b.*$")


def fingerprint(rule: str, path: str, value: str, line_text: str | None = None,
                occurrence: int = 0) -> str:
    """Stable identity of a finding.

    Without ``line_text``: rule + path + sha256 of the matched value (version 1, still
    read from old baselines). With it (version 2, what findings carry): also the sha256
    of the line's content (whitespace-trimmed) and the occurrence of that same line in
    the file. The line number is left out on purpose, so that editing lines above a
    baselined finding does not resurrect it, while rotating the secret, changing the
    line or adding a second identical line does.

    Args:
        rule: the rule id.
        path: the file path relative to the scan root, POSIX separators.
        value: the secret or matched value (module name, expression text...).
        line_text: the source line the finding is on (version 2).
        occurrence: 0 for the first finding of this rule, value and line content in the
            file, 1 for the second...

    Returns:
        32 hex characters.
    """
    if line_text is None:
        return sha256_hex(f"{rule}\0{path}\0{sha256_hex(value)}")[:32]
    # An allow comment added to the line does not change what the line is.
    pinned = sha256_hex(" ".join(_ALLOW_COMMENT.sub("", line_text).split()))
    return sha256_hex(f"v2\0{rule}\0{path}\0{sha256_hex(value)}\0{pinned}\0{occurrence}")[:32]


def redact(value: str) -> str:
    """Show a secret as its first four characters and its length, never more.

    Args:
        value: the secret.

    Returns:
        For example ``eyJh…(171 chars)``; values of 8 characters or fewer show none.
    """
    shown = value[:4] if len(value) > 8 else ""
    return f"{shown}…({len(value)} chars)"


def shannon_entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    if not text:
        return 0.0
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in Counter(text).values())


# Long runs of token characters with high entropy are scrubbed from every excerpt as a
# second line of defence: a line may hold another secret than the one reported.
_RANDOM_RUN = re.compile(r"[A-Za-z0-9+/_\-.=~]{20,}")


# A package pin ("firebase-admin==6.5.0") or a dotted name is not a secret: every
# alphanumeric piece of it is short.
_PIECES = re.compile(r"[A-Za-z0-9]+")


def _scrub(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        run = match.group(0)
        longest = max((len(p) for p in _PIECES.findall(run)), default=0)
        if longest < 16 and run.startswith("//") and match.string.endswith(":", 0, match.start()):
            return run  # the host and path of a URL
        if longest >= 10 and shannon_entropy(run) >= 3.5 and any(c.isdigit() for c in run):
            return redact(run)
        return run

    return _RANDOM_RUN.sub(repl, text)


def excerpt(line_text: str, secret: str | None) -> str:
    """Build the excerpt of a finding: its line, stripped, secret replaced, at most 160 chars.

    Args:
        line_text: the source line.
        secret: the secret to hide, or ``None`` when the finding holds no secret.

    Returns:
        A single-line excerpt that is safe to store in reports.
    """
    text = line_text.strip()
    if secret:
        text = text.replace(secret, redact(secret))
    text = _scrub(text)
    return text if len(text) <= 160 else text[:157] + "..."


@dataclass
class Finding:
    """One finding. ``value`` is kept in memory only and never serialised."""

    rule: str
    path: str
    line: int
    column: int
    message: str
    value: str
    excerpt: str
    secret: bool
    meta: dict[str, Any] = field(default_factory=dict)
    # In memory only: the source line (for the fingerprint) and its occurrence index.
    line_text: str = ""
    occurrence: int = 0

    @property
    def severity(self) -> str:
        """Severity of the finding's rule."""
        return RULES[self.rule].severity

    @property
    def fingerprint(self) -> str:
        """Fingerprint (version 2: pinned to the line's content), see :func:`fingerprint`."""
        return fingerprint(self.rule, self.path, self.value, self.line_text, self.occurrence)

    @property
    def legacy_fingerprint(self) -> str:
        """Version 1 fingerprint (rule, path, value), as old baselines hold it."""
        return fingerprint(self.rule, self.path, self.value)

    def to_dict(self) -> dict[str, Any]:
        """Serialise without the value: JSON-safe and free of secrets."""
        return {
            "class": RULES[self.rule].cls,
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "excerpt": self.excerpt,
            "fingerprint": self.fingerprint,
            "meta": dict(self.meta),
        }


def new_finding(
    rule: str,
    path: str,
    text: str,
    offset: int,
    value: str,
    message: str,
    *,
    secret: bool,
    meta: dict[str, Any] | None = None,
) -> Finding:
    """Create a finding at a character offset of a file's text.

    Args:
        rule: the rule id.
        path: the relative path.
        text: the whole file text.
        offset: where the finding starts in ``text``.
        value: the matched value (secret, module name, expression).
        message: a human message that must not contain the secret.
        secret: whether ``value`` is a secret to redact from the excerpt.
        meta: extra JSON-safe data for triage.

    Returns:
        The finding, with line and column (both 1-based) and a redacted excerpt.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end < 0:
        line_end = len(text)
    line = text.count("\n", 0, offset) + 1
    return new_finding_at(
        rule, path, line, offset - line_start + 1, text[line_start:line_end], value, message,
        secret=secret, meta=meta,
    )


def new_finding_at(
    rule: str,
    path: str,
    line: int,
    column: int,
    line_text: str,
    value: str,
    message: str,
    *,
    secret: bool,
    meta: dict[str, Any] | None = None,
) -> Finding:
    """Create a finding at a known line and column (see :func:`new_finding`)."""
    return Finding(
        rule=rule,
        path=path,
        line=line,
        column=column,
        message=message,
        value=value,
        excerpt=excerpt(line_text, value if secret else None),
        secret=secret,
        meta=meta or {},
        line_text=line_text,
    )
