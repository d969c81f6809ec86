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

from .clex import LexError
from .configs import config_kind, scan_config, url_passwords
from .dotenv import is_dotenv, scan_dotenv
from .findings import RULES, Finding
from .go import scan_go
from .js import fallback_js, scan_js
from .jvm import fallback_jvm, scan_jvm
from .manifests import ManifestScanner, manifest_kind
from .markup import notebook_cells, script_blocks, script_sources
from .names import is_test_path
from .policy import Policy
from .postman import is_postman, scan_postman
from .providers import scan_providers
from .python import fallback_imports, scan_python
from .suppress import MARKER, Allow, find_allows
from .tokens import scan_tokens

_PY_EXT = frozenset({".py", ".pyi", ".pyw"})
_JS_EXT = frozenset({".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"})
_JVM_EXT = {".kt": "kotlin", ".kts": "kotlin", ".java": "java"}
_HASH_EXT = frozenset({".sh", ".bash", ".zsh", ".ksh", ".yml", ".yaml", ".toml", ".cfg",
                       ".ini", ".conf", ".properties", ".tf", ".rb", ".pl", ".r", ".txt",
                       ".env", ".ps1", ".mk"})
_HASH_NAMES = frozenset({"dockerfile", "makefile", "procfile", "containerfile", ".npmrc",
                         ".pypirc"})
_MARKUP_EXT = frozenset({".vue", ".svelte", ".html", ".htm", ".astro"})
# Documentation: URLs with passwords there are examples far more often than leaks.
_DOC_EXT = frozenset({".md", ".rst", ".txt", ".adoc", ".html", ".htm"})
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
_ENV_DUMP_HINT = re.compile(rb"environ\s*(?:[),}!:\]]|\.(?:items|copy|values|keys)\b)"
                            rb"|process\.env\s*[),}]|getenv\(\s*\)")
# On lower-cased bytes: a literal assigned to a secret-named name (SECRET_KEY = "…").
_ASSIGN_HINT = re.compile(
    rb"(?m)^[ \t]*(?:(?:const|let|var|export)[ \t]+)*[\w.\[\]'\"]*(?:secret|passw|token|key"
    rb"|credential|jwt|pwd)\w*['\"]?\]?[ \t]*(?::[^=\n]+)?=[ \t]*[rbuf]?['\"`]"
)


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
        result.findings += scan_providers(rel, text)
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
        elif ext == ".go":
            comment_lang = "js"
            if self._hit("go", data) or b"os." in data:
                result.language = "go"
                result.findings += scan_go(rel, text, self.forbidden.get("go", ()))
        elif ext in _MARKUP_EXT:
            self._markup(rel, data, text, result)
        elif ext == ".ipynb":
            self._notebook(rel, data, text, result)
        elif ext in (".http", ".rest"):
            comment_lang = "http"
        elif ext in _HASH_EXT or name.lower() in _HASH_NAMES:
            comment_lang = "hash"
        config = config_kind(rel)
        if config and self._config_needed(config, rel, data):
            result.findings += scan_config(config, rel, text)
        dotenv = is_dotenv(name)
        if dotenv:
            comment_lang = "dotenv"
            result.findings += scan_dotenv(rel, text)
        elif ext not in _DOC_EXT and b"://" in data and b"@" in data:
            result.findings += url_passwords(rel, text)
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
        if is_test_path(rel):
            result.findings = [f for f in result.findings if f.rule not in _GENERIC_RULES]
        result.findings = _dedupe(result.findings)
        return result

    @staticmethod
    def _config_needed(kind: str, rel: str, data: bytes) -> bool:
        if kind in ("npmrc", "pypirc"):
            return True
        lowered = data.lower()
        if kind in ("shell", "dockerfile") or "workflows/" in rel or rel.endswith("-ci.yml"):
            return (has_secret_word(lowered) or b"env" in lowered or b"set -" in lowered)
        return has_secret_word(lowered)

    def _markup(self, rel: str, data: bytes, text: str, result: FileResult) -> None:
        """Vue/Svelte components and HTML: their ``<script>`` blocks and ``script src``."""
        if b"<script" not in data.lower():
            return
        result.findings += script_sources(rel, text, self.forbidden["js"])
        masked = script_blocks(text)
        if masked.strip():
            inner = FileResult()
            self._js(rel, masked.encode("utf-8"), masked, inner)
            result.findings += inner.findings
            result.language = inner.language and "js"
            result.fallback = inner.fallback

    def _notebook(self, rel: str, data: bytes, text: str, result: FileResult) -> None:
        """Jupyter notebooks: each code cell as Python, lines mapped back to the file."""
        cells = notebook_cells(text)
        if cells is None:
            result.fallback = "notebook is not valid JSON"
            return
        for source, line_map in cells:
            inner = FileResult()
            self._python(rel, source.encode("utf-8"), source, inner)
            lines = text.splitlines()
            for finding in inner.findings:
                if 0 < finding.line <= len(line_map):
                    finding.line = line_map[finding.line - 1]
                    finding.line_text = lines[finding.line - 1] if finding.line <= len(lines) \
                        else finding.line_text
                    finding.meta["notebook"] = True
                result.findings.append(finding)
            if inner.fallback:
                result.fallback = f"a code cell {inner.fallback}"
                result.language = "python"

    def _python(self, rel: str, data: bytes, text: str, result: FileResult) -> None:
        imports = self._hit("python", data)
        if not imports:
            lowered = data.lower()
            if has_secret_word(lowered):
                needed = (b"environ" in data or b"getenv" in data or b"basesettings" in lowered
                          or _SINK_HINT.search(lowered) is not None
                          or _ASSIGN_HINT.search(lowered) is not None
                          or _ENV_DUMP_HINT.search(data) is not None)
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
                needed = (b"env" in data or _SINK_HINT.search(lowered) is not None
                          or _ASSIGN_HINT.search(lowered) is not None)
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


# Left out in tests and fixtures: rules judged by the name and the look of a value, and
# PEM private keys (test certificates and keys are fixtures of every TLS and JWT library).
_GENERIC_RULES = frozenset({"hardcoded-secret", "config-secret", "url-password", "private-key"})
_PROVIDER_RULES = ("aws-access-key", "aws-secret-key", "gcp-service-account",
                   "azure-storage-key", "azure-client-secret", "stripe-key", "github-token",
                   "gitlab-token", "slack-token", "slack-webhook", "npm-token", "pypi-token",
                   "private-key")
_PRIORITY.update({rule: -10 + i for i, rule in enumerate(_PROVIDER_RULES)})
_PRIORITY["authorization-literal"] = -1


def _dedupe(findings: list[Finding]) -> list[Finding]:
    best: dict[tuple[int, str], Finding] = {}
    for finding in findings:
        key = (finding.line, finding.value)
        current = best.get(key)
        if current is None or _PRIORITY[finding.rule] < _PRIORITY[current.rule]:
            best[key] = finding
    kept = sorted(best.values(), key=lambda f: (f.line, f.column, f.rule))
    # A provider key inside a broader match on its line (an Authorization header, a
    # Dockerfile ENV value, a URL password) is reported once, by the provider rule.
    provider = [(f.line, f.value) for f in kept if f.rule in _PROVIDER_RULES]
    kept = [f for f in kept if f.rule in _PROVIDER_RULES
            or not any(line == f.line and (value in f.value or f.value in value)
                       for line, value in provider)]
    # Identical findings on identical lines get distinct fingerprints by their order.
    seen: dict[tuple[str, str, str], int] = {}
    for finding in kept:
        same = (finding.rule, finding.value, " ".join(finding.line_text.split()))
        finding.occurrence = seen.get(same, 0)
        seen[same] = finding.occurrence + 1
    return kept
