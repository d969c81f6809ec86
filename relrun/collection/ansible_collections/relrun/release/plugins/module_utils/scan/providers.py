"""Provider keys: AWS, GCP, Azure, Stripe, GitHub, GitLab, Slack, npm, PyPI, private keys.

Each rule matches the provider's documented format and, where the provider defines one,
checks it offline: the CRC32 base62 checksum of GitHub and npm tokens, the macaroon
prefix of PyPI tokens, the 64-byte length of an Azure storage key, the JSON structure of
a GCP service-account key. Nothing is ever sent to a provider. Values that documentation
uses (``AKIAIOSFODNN7EXAMPLE``, ``ghp_xxxx…``, ``sk_live_…1234567890``) are filtered out
by :func:`is_example`, the same placeholder rule as the JWT and Bearer rules.

Standard library only: this file runs on managed hosts inside AnsiballZ.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import Any

from .findings import Finding, new_finding, shannon_entropy

# Cheap substring tests: a file without any of them cannot match a provider rule.
_GH_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
ANCHORS = ("AKIA", "ASIA", "_live_", *_GH_PREFIXES, "github_pat_", "glpat-", "xox", "hooks.slack.com",
           "npm_", "pypi-AgE", "PRIVATE KEY", "service_account", "AccountKey", "Q~")

_EXAMPLE_WORDS = ("example", "xxxx", "sample", "dummy", "fake", "placeholder", "your",
                  "redacted", "changeme", "insert", "token_here", "tokenhere")
_SEQUENCES = ("0123456", "1234567", "abcdefg", "bcdefgh", "qwerty", "000000", "aaaaaa")
_BASE62 = ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
           "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_example(body: str, min_entropy: float = 3.0) -> bool:
    """Whether the random part of a key is a documentation example or a placeholder.

    Args:
        body: the part of the key after its fixed prefix.
        min_entropy: bits per character below which the body is not random enough.

    Returns:
        True for bodies holding ``EXAMPLE``, ``xxxx``, ``your``, a run such as ``123456``
        or ``abcdef``, a run of 6 equal characters, or too little entropy.
    """
    lowered = body.lower()
    if any(word in lowered for word in _EXAMPLE_WORDS):
        return True
    if any(seq in lowered for seq in _SEQUENCES) or re.search(r"(.)\1{5}", body):
        return True
    return shannon_entropy(body) < min_entropy


def _base62(number: int, alphabet: str) -> str:
    out = ""
    while number:
        number, rem = divmod(number, 62)
        out = alphabet[rem] + out
    return out.rjust(6, "0")


def crc32_base62_valid(prefix: str, body: str) -> bool:
    """Whether a GitHub or npm token's last 6 characters are the checksum of the rest.

    GitHub (2021) and npm (2021) tokens end in the CRC32 of their random part, base62
    encoded and left-padded to 6 characters. Implementations differ on whether the prefix
    is included and on the alphabet's case order, so all four readings are accepted (the
    chance that a random string passes one is below 1e-10).

    Args:
        prefix: ``ghp_``, ``npm_``...
        body: the 36 characters after the prefix.

    Returns:
        True when the checksum matches.
    """
    random_part, checksum = body[:-6], body[-6:]
    for data in (random_part, prefix + random_part):
        crc = zlib.crc32(data.encode("ascii"))
        if any(_base62(crc, alphabet) == checksum for alphabet in _BASE62):
            return True
    return False


_AWS_ID = re.compile(r"(?<![A-Za-z0-9])((?:AKIA|ASIA)[A-Z2-7]{16})(?![A-Za-z0-9])")
# The 40-character secret next to a name that says so (aws_secret_access_key, SecretAccessKey).
_AWS_SECRET = re.compile(
    r"(?i:secret[_\-. ]?access[_\-. ]?key|aws[_\-.]?secret(?:[_\-.]?key)?)[\"']?\s*[:=,]\s*"
    r"(?:[A-Za-z]+\()?[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
_STRIPE = re.compile(r"(?<![A-Za-z0-9_])((?:sk|rk)_live_)([A-Za-z0-9]{24,99})(?![A-Za-z0-9])")
_GITHUB = re.compile(r"(?<![A-Za-z0-9_])(gh[pousr]_)([A-Za-z0-9]{36})(?![A-Za-z0-9_])")
_GITHUB_PAT = re.compile(r"(?<![A-Za-z0-9_])(github_pat_)([A-Za-z0-9]{22}_[A-Za-z0-9]{59})"
                         r"(?![A-Za-z0-9_])")
_GITLAB = re.compile(r"(?<![A-Za-z0-9_])(glpat-)([A-Za-z0-9_\-]{20}(?:\.[A-Za-z0-9_.\-]+)?)"
                     r"(?![A-Za-z0-9_\-])")
_SLACK = re.compile(r"(?<![A-Za-z0-9])(xox[baprs]-)(\d{6,}-[0-9A-Za-z\-]{8,})(?![A-Za-z0-9\-])")
_SLACK_HOOK = re.compile(r"https://hooks\.slack\.com/services/(T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/"
                         r"[A-Za-z0-9]{24})(?![A-Za-z0-9])")
_NPM = re.compile(r"(?<![A-Za-z0-9_])(npm_)([A-Za-z0-9]{36})(?![A-Za-z0-9_])")
# base64 of the macaroon's first bytes: version 2, location "pypi.org".
_PYPI = re.compile(r"(?<![A-Za-z0-9_\-])(pypi-AgEIcHlwaS5vcmc)([A-Za-z0-9_\-]{50,})")
_PEM = re.compile(
    r"-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
    r"((?:\\[rn]|[\s\"'+,]|[A-Za-z0-9+/=:\-])*?)-----END \1-----"
)
_AZURE_KEY = re.compile(r"AccountKey\s*=\s*([A-Za-z0-9+/]{86}==)")
_AZURE_ACCOUNT = re.compile(r"AccountName\s*=\s*([A-Za-z0-9]+)")
# Entra ID client secrets (2022 format): 3 characters, a digit, "Q~", then 31 to 34.
_AZURE_SECRET = re.compile(r"(?<![A-Za-z0-9_~.\-])([A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})"
                           r"(?![A-Za-z0-9_~.\-])")


class _Collector:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.findings: list[Finding] = []

    def add(self, rule: str, offset: int, value: str, message: str,
            meta: dict[str, Any] | None = None) -> None:
        self.findings.append(new_finding(rule, self.path, self.text, offset, value, message,
                                         secret=True, meta=meta))


def _aws(c: _Collector) -> None:
    ids = [m for m in _AWS_ID.finditer(c.text) if not is_example(m.group(1)[4:], 2.5)]
    for match in ids:
        c.add("aws-access-key", match.start(1), match.group(1), "AWS access key ID",
              {"provider": "aws", "kind": match.group(1)[:4]})
    if not ids:
        return  # a 40-character string is an AWS secret only beside an access key ID
    for match in _AWS_SECRET.finditer(c.text):
        secret = match.group(1)
        if not is_example(secret, 4.0) and any(ch.isdigit() for ch in secret):
            c.add("aws-secret-key", match.start(1), secret,
                  "AWS secret access key (paired with an access key ID in this file)",
                  {"provider": "aws"})


def _prefixed(c: _Collector, regex: re.Pattern[str], rule: str, message: str,
              check: Any = None, min_entropy: float = 3.0) -> None:
    for match in regex.finditer(c.text):
        prefix, body = match.group(1), match.group(2)
        if is_example(body, min_entropy):
            continue
        if check is not None and not check(prefix, body):
            continue
        c.add(rule, match.start(1), prefix + body, message, {"prefix": prefix})


def _pem(c: _Collector) -> None:
    for match in _PEM.finditer(c.text):
        body = re.sub(r"\\[rn]|[\s\"'+,]", "", match.group(2))
        if ":" in body:  # "Proc-Type: 4,ENCRYPTED" headers of old encrypted PEM
            body = body.rsplit(":", 1)[-1]
        if len(body) < 64 or is_example(body, 4.0):
            continue
        kind = match.group(1)
        c.add("private-key", match.start(), match.group(0), f"private key ({kind})",
              {"kind": kind, "encrypted": "ENCRYPTED" in match.group(0)})


def _azure(c: _Collector) -> None:
    for match in _AZURE_KEY.finditer(c.text):
        key = match.group(1)
        line_start = c.text.rfind("\n", 0, match.start()) + 1
        line_end = c.text.find("\n", match.end())
        line = c.text[line_start : line_end if line_end >= 0 else len(c.text)]
        account = _AZURE_ACCOUNT.search(line)
        if account and account.group(1) == "devstoreaccount1":
            continue  # the storage emulator's published key
        try:
            raw = base64.b64decode(key, validate=True)
        except binascii.Error:
            continue
        if len(raw) == 64 and not is_example(key, 4.5):
            c.add("azure-storage-key", match.start(1), key, "Azure storage account key",
                  {"provider": "azure"})
    for match in _AZURE_SECRET.finditer(c.text):
        secret = match.group(1)
        if not is_example(secret, 3.5) and sum(ch.isdigit() for ch in secret) >= 2:
            c.add("azure-client-secret", match.start(1), secret, "Azure AD client secret",
                  {"provider": "azure"})


def service_account_findings(path: str, text: str) -> list[Finding]:
    """A GCP service-account key file: JSON with ``type: service_account`` and a key.

    Args:
        path: the relative path.
        text: the JSON text.

    Returns:
        One ``gcp-service-account`` finding at the ``private_key`` line, or none.
    """
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    if not isinstance(doc, dict) or doc.get("type") != "service_account":
        return []
    key = doc.get("private_key")
    if not isinstance(key, str) or "PRIVATE KEY" not in key:
        return []
    body = re.sub(r"-----[A-Z ]+-----|\s", "", key)
    if len(body) < 64 or is_example(body, 4.0):
        return []
    offset = text.find('"private_key"')
    finding = new_finding("gcp-service-account", path, text, max(offset, 0), key,
                          "GCP service-account key ("
                          + str(doc.get("client_email", "unknown account")).split("@", maxsplit=1)[0]
                          + ")", secret=True,
                          meta={"provider": "gcp", "project": str(doc.get("project_id", ""))})
    return [finding]


def scan_providers(path: str, text: str) -> list[Finding]:
    """Find provider keys in a file's text.

    Args:
        path: the relative path.
        text: the file text.

    Returns:
        The findings (a GCP service-account file gives one finding, not also a PEM one).
    """
    if not any(anchor in text for anchor in ANCHORS):
        return []
    c = _Collector(path, text)
    if "AKIA" in text or "ASIA" in text:
        _aws(c)
    if "_live_" in text:
        _prefixed(c, _STRIPE, "stripe-key", "Stripe live key")
    if any(prefix in text for prefix in _GH_PREFIXES):
        _prefixed(c, _GITHUB, "github-token", "GitHub token", crc32_base62_valid)
    if "github_pat_" in text:
        _prefixed(c, _GITHUB_PAT, "github-token", "GitHub fine-grained token", None, 4.0)
    if "glpat-" in text:
        _prefixed(c, _GITLAB, "gitlab-token", "GitLab personal access token")
    if "xox" in text:
        _prefixed(c, _SLACK, "slack-token", "Slack token", None, 3.0)
    if "hooks.slack.com" in text:
        for match in _SLACK_HOOK.finditer(text):
            if not is_example(match.group(1).rsplit("/", 1)[-1]):
                c.add("slack-webhook", match.start(1), match.group(1), "Slack webhook URL")
    if "npm_" in text:
        _prefixed(c, _NPM, "npm-token", "npm access token", crc32_base62_valid)
    if "pypi-AgE" in text:
        _prefixed(c, _PYPI, "pypi-token", "PyPI API token", None, 4.0)
    gcp: list[Finding] = []
    if "service_account" in text and path.lower().endswith(".json"):
        gcp = service_account_findings(path, text)
        c.findings += gcp
    if "PRIVATE KEY" in text and not gcp:
        _pem(c)
    if "AccountKey" in text or "Q~" in text:
        _azure(c)
    return c.findings
