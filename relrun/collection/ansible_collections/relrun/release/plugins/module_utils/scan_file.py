"""Scan one file: pick the analysers its name and bytes call for, behind cheap prefilters.

Prefilters are plain substring tests on the raw bytes. Each is derived from what a rule
cannot match without: an import of ``firebase`` contains the bytes ``firebase``; an env
read contains ``environ`` or ``getenv``; a settings default needs ``BaseSettings``; a
secret reaching a sink needs a secret word next to a config receiver. A file that fails
every test cannot produce a finding from that analyser, so skipping it is exact (the
limits — escapes inside string literals of dynamic imports — are in docs/scan.md).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from .scan_clex import LexError
from .scan_dotenv import is_dotenv, scan_dotenv
from .scan_findings import RULES, Finding
from .scan_js import fallback_js, scan_js
from .scan_jvm import fallback_jvm, scan_jvm
from .scan_manifests import ManifestScanner, manifest_kind
from .scan_policy import Policy
from .scan_postman import is_postman, scan_postman
from .scan_python import fallback_imports, scan_python
from .scan_suppress import MARKER, Allow, find_allows
from .scan_tokens import scan_tokens

_PY_EXT = frozenset({".py", ".pyi", ".pyw"})
_JS_EXT = frozenset({".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"})
_JVM_EXT = {".kt": "kotlin", ".kts": "kotlin", ".java": "java"}
_HASH_EXT = frozenset({".sh", ".bash", ".zsh", ".ksh", ".yml", ".yaml", ".toml", ".cfg",
                       ".ini", ".conf", ".properties", ".tf", ".rb", ".pl", ".r", ".txt",
                       ".env", ".ps1", ".mk"})
_HASH_NAMES = frozenset({"dockerfile", "makefile", "procfile", "containerfile"})
_SECRET_WORDS = (b"secret", b"passw", b"token", b"credential", b"jwt", b"pwd", b"passphrase")
_SECRET_KEY = re.compile(
    rb"(?:api|secret|access|private|signing|encryption|jwt|master|client|app|service|hmac"
    rb"|session|auth|license|account|storage|sas)[_\-.]?key"
)
# On lower-cased bytes: a secret-named attribute or key of a configuration object.
_SINK_HINT = re.compile(
    rb"(?:settings|config|conf|cfg|secrets|credentials|creds|options|opts|args|env)\s*"
    rb"(?:\.|\[\s*['\"])\s*\w*?(?:secret|passw|token|key|credential|jwt|pwd)|get_secret_value"
)
# The whole environment used as a value: print(os.environ), dict(environ), environ.items().
_ENV_DUMP_HINT = re.compile(rb"environ\s*(?:[),}!:\]]|\.(?:items|copy)\b)|process\.env\s*[),}]"
                            rb"|getenv\(\s*\)")


def has_secret_word(lowered: bytes) -> bool:
    """Whether lower-cased bytes contain a word that secret names are made of."""
    if any(word in lowered for word in _SECRET_WORDS):
        return True
    return b"key" in lowered and _SECRET_KEY.search(lowered) is not None


@dataclass
class FileResult:
    """What one file yields."""

    findings: list[Finding] = field(default_factory=list)
    allows: list[Allow] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    fallback: str | None = None
    language: str = ""


class FileScanner:
    """Holds what is derived from the policy once, and scans files one by one."""

    def __init__(self, policy: Policy) -> None:
        self.forbidden = policy.forbidden_imports
        self.manifests = ManifestScanner(self.forbidden)
        self.keys = {
            lang: tuple({re.split(r"[./*]", n.lstrip("@"))[0].encode() for n in names} - {b""})
            for lang, names in self.forbidden.items()
        }

    def _hit(self, lang: str, data: bytes) -> bool:
        return any(key in data for key in self.keys.get(lang, ()))

    def scan(self, rel: str, data: bytes) -> FileResult:
        """Scan one file's bytes.

        Args:
            rel: the path relative to the scan root.
            data: the bytes (already known not to be binary).

        Returns:
            Findings before suppression, the file's allows, notices and any fallback.
        """
        result = FileResult()
        name = os.path.basename(rel)
        ext = os.path.splitext(name)[1].lower()
        text = data.decode("utf-8", "replace")
        result.findings += scan_tokens(rel, text)
        comment_lang = ""
        if ext in _PY_EXT:
            comment_lang = "python"
            self._python(rel, data, text, result)
        elif ext in _JS_EXT:
            comment_lang = "js"
            self._js(rel, data, text, result)
        elif ext in _JVM_EXT:
            comment_lang = _JVM_EXT[ext]
            self._jvm(rel, data, text, comment_lang, result)
        elif ext in (".http", ".rest"):
            comment_lang = "http"
        elif ext in _HASH_EXT or name.lower() in _HASH_NAMES:
            comment_lang = "hash"
        if is_dotenv(name):
            comment_lang = "dotenv"
            result.findings += scan_dotenv(rel, text)
        kind = manifest_kind(name)
        if kind:
            found, fallback = self.manifests.scan(kind, rel, text)
            result.findings += found
            result.fallback = result.fallback or fallback
        if ext == ".json" and b"postman" in data and is_postman(name, text):
            found, fallback = scan_postman(rel, text)
            result.findings += found
            result.fallback = result.fallback or fallback
        if MARKER.encode() in data:
            result.allows, result.notices = find_allows(rel, text, comment_lang)
        result.findings = _dedupe(result.findings)
        return result

    def _python(self, rel: str, data: bytes, text: str, result: FileResult) -> None:
        imports = self._hit("python", data)
        if not imports:
            lowered = data.lower()
            if has_secret_word(lowered):
                needed = (b"environ" in data or b"getenv" in data or b"basesettings" in lowered
                          or _SINK_HINT.search(lowered) is not None)
            else:
                needed = _ENV_DUMP_HINT.search(data) is not None
            if not needed:
                return
        result.language = "python"
        try:
            result.findings += scan_python(rel, data, text, self.forbidden["python"])
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            result.fallback = f"python does not parse: {err.__class__.__name__}: {err}"
            if imports:
                result.findings += fallback_imports(rel, text, self.forbidden["python"])

    def _js(self, rel: str, data: bytes, text: str, result: FileResult) -> None:
        imports = self._hit("js", data)
        if not imports:
            lowered = data.lower()
            if has_secret_word(lowered):
                needed = b"env" in data or _SINK_HINT.search(lowered) is not None
            else:
                needed = _ENV_DUMP_HINT.search(data) is not None
            if not needed:
                return
        result.language = "js"
        try:
            result.findings += scan_js(rel, text, self.forbidden["js"])
        except (LexError, RecursionError) as err:
            result.fallback = f"tokenizer failed: {err}"
            if imports:
                result.findings += fallback_js(rel, text, self.forbidden["js"])

    def _jvm(self, rel: str, data: bytes, text: str, dialect: str, result: FileResult) -> None:
        imports = self._hit("jvm", data)
        if not (imports or (b"getenv" in data and (has_secret_word(data.lower())
                                                   or _ENV_DUMP_HINT.search(data)))):
            return
        result.language = dialect
        try:
            result.findings += scan_jvm(rel, text, dialect, self.forbidden["jvm"])
        except (LexError, RecursionError) as err:
            result.fallback = f"tokenizer failed: {err}"
            if imports:
                result.findings += fallback_jvm(rel, text, self.forbidden["jvm"])


# When two rules flag the same value on the same line (a JWT in a .env file is both a
# jwt-literal and a dotenv-secret), the more specific rule, listed first, is kept.
_PRIORITY = {rule: index for index, rule in enumerate(RULES)}
_PRIORITY.update({"jwt-literal": -3, "bearer-literal": -2})


def _dedupe(findings: list[Finding]) -> list[Finding]:
    best: dict[tuple[int, str], Finding] = {}
    for finding in findings:
        key = (finding.line, finding.value)
        current = best.get(key)
        if current is None or _PRIORITY[finding.rule] < _PRIORITY[current.rule]:
            best[key] = finding
    return sorted(best.values(), key=lambda f: (f.line, f.column, f.rule))
