"""Secret values in configuration files, and secrets printed by shell steps.

Formats are parsed, not line-grepped: Dockerfile instructions (with continuations), YAML
through :mod:`scan_yamlish` (compose ``environment``, Kubernetes ``Secret`` with its
base64 ``data`` decoded, Helm values, CI workflow ``run`` steps), ``.npmrc`` and
``.pypirc`` (``configparser``). A URL's user-info password counts in any source or
configuration file. The same secret-name and placeholder rules as everywhere else apply
(``scan_names``), so ``${DB_PASSWORD}``, ``{{ .Values.x }}`` and ``changeme`` are never
findings.
"""

from __future__ import annotations

import base64
import binascii
import configparser
import re

from .findings import Finding, new_finding_at
from .names import is_secret_name, looks_real, looks_real_literal
from .yamlish import scalars, strip_comment

_YAML_EXT = (".yml", ".yaml")
# Schemes whose URLs carry service credentials.
URL_PASSWORD = re.compile(
    r"\b((?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver"
    r"|oracle|couchdb|https?|ftps?|sftp|smtp|imaps?|ldaps?|nats|kafka|clickhouse)"
    r"(?:\+[a-z0-9]+)?://)([A-Za-z0-9._~%!$&'()*+,;=\-]*):([^@\s/'\"`]{1,200})@([A-Za-z0-9.\-_\[\]]+)"
)
# Cheap first pass: "://", user, ":", password, "@" with nothing in between that ends it.
_URL_HINT = re.compile(r"://[^\s/@'\"`:]*:[^\s/@'\"`]+@")
_DOC_HOSTS = ("example.com", "example.org", "example.net", "host", "hostname", "server",
              "your-host", "yourhost", "domain.com", "db.example")


def _finding(rule: str, path: str, lines: list[str], line: int, column: int, value: str,
             message: str, name: str) -> Finding:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return new_finding_at(rule, path, line, column, text, value, message, secret=True,
                          meta={"name": name})


def url_passwords(path: str, text: str) -> list[Finding]:
    """Passwords in the user-info of service URLs (``postgres://app:…@db/app``).

    Documentation hosts (``example.com``, ``host``) and placeholder passwords are left out.

    Args:
        path: the relative path.
        text: the file text.

    Returns:
        ``url-password`` findings.
    """
    findings: list[Finding] = []
    if "://" not in text or "@" not in text or _URL_HINT.search(text) is None:
        return findings
    lines = text.splitlines()
    for match in URL_PASSWORD.finditer(text):
        password, host = match.group(3), match.group(4).lower()
        if host in _DOC_HOSTS or host.endswith((".example", ".invalid", ".test", "example.com")):
            continue
        if not looks_real(password):
            continue
        line = text.count("\n", 0, match.start()) + 1
        column = match.start(3) - (text.rfind("\n", 0, match.start()) + 1) + 1
        findings.append(_finding("url-password", path, lines, line, column, password,
                                 f"{match.group(1)} URL embeds a password", "url"))
    return findings


def _assignment(rule: str, path: str, lines: list[str], line: int, column: int, name: str,
                value: str, where: str) -> Finding | None:
    if is_secret_name(name) and looks_real_literal(value):
        return _finding(rule, path, lines, line, column, value, f"{name} holds a secret value "
                        f"({where})", name)
    return None


_DOCKER_INSTR = re.compile(r"^\s*(ENV|ARG)\s+(.*)$", re.IGNORECASE)
_DOCKER_PAIR = re.compile(r"""([A-Za-z_][A-Za-z0-9_.\-]*)=("(?:\\.|[^"\\])*"|'[^']*'|\S*)""")


def _logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """Dockerfile lines with backslash continuations joined, each with its first line number."""
    out: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if not current:
            start = number
            if line.lstrip().startswith("#"):
                continue
        if line.rstrip().endswith("\\"):
            current.append(line.rstrip()[:-1])
            continue
        current.append(line)
        out.append((start, " ".join(current)))
        current = []
    if current:
        out.append((start, " ".join(current)))
    return out


def scan_dockerfile(path: str, text: str) -> list[Finding]:
    """``ENV`` and ``ARG`` values with secret names, and ``RUN`` steps that print secrets."""
    findings: list[Finding] = []
    lines = text.splitlines()
    for number, logical in _logical_lines(lines):
        match = _DOCKER_INSTR.match(logical)
        if match:
            instr, rest = match.group(1).upper(), match.group(2).strip()
            pairs = [(m.group(1), m.group(2)) for m in _DOCKER_PAIR.finditer(rest)]
            if not pairs and instr == "ENV" and " " in rest:  # legacy "ENV NAME value"
                name, value = rest.split(None, 1)
                pairs = [(name, value)]
            for name, raw in pairs:
                value = raw[1:-1] if raw[:1] in "'\"" and raw[-1:] == raw[:1] else raw
                column = lines[number - 1].find(value) + 1 if value else 1
                found = _assignment("config-secret", path, lines, number, max(column, 1), name,
                                    value, f"Dockerfile {instr}")
                if found:
                    findings.append(found)
        elif re.match(r"^\s*RUN\s", logical, re.IGNORECASE):
            body = re.sub(r"^\s*RUN\s+", "", logical, flags=re.IGNORECASE)
            findings += shell_leaks(path, lines, [(number, body)], "Dockerfile RUN")
    return findings


def _k8s_secret_value(value: str) -> str | None:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded.isprintable() else None


def _is_workflow(path: str) -> bool:
    lowered = path.lower()
    return ("/.github/workflows/" in "/" + lowered or lowered.endswith(".gitlab-ci.yml")
            or "/.circleci/" in "/" + lowered or lowered.endswith("azure-pipelines.yml")
            or lowered.endswith("bitbucket-pipelines.yml"))


def scan_yaml(path: str, text: str) -> list[Finding]:
    """Secret values in YAML: compose, Kubernetes Secrets, Helm values, CI workflows."""
    findings: list[Finding] = []
    lines = text.splitlines()
    items = list(scalars(text))
    secret_docs = {s.doc for s in items if s.path == () and s.key == "kind"
                   and s.value == "Secret"}
    workflow = _is_workflow(path)
    for s in items:
        if s.block:
            if workflow and s.key in ("run", "script", "command"):
                body = [(s.line + k, line) for k, line in enumerate(s.value.split("\n"))]
                findings += shell_leaks(path, lines, body, "CI step")
            continue
        script_step = s.key in ("run", "script") or (s.key is None and "script" in s.path[-1:])
        if workflow and script_step:
            findings += shell_leaks(path, lines, [(s.line, s.value)], "CI step")
            continue
        if s.doc in secret_docs and s.path in (("data",), ("stringData",)) and s.key:
            if s.key.endswith((".crt", ".pem.pub", "ca", ".pub")) or "cert" in s.key.lower():
                continue
            value = _k8s_secret_value(s.value) if s.path == ("data",) else s.value
            if value is not None and looks_real(value):
                findings.append(_finding("config-secret", path, lines, s.line, s.column, s.value,
                                         f"Kubernetes Secret key {s.key} holds a secret value",
                                         s.key))
            continue
        if s.key is None:
            # compose "environment:" and "args:" lists: "- JWT_SECRET=value"
            if s.path[-1:] in (("environment",), ("args",), ("env",)) and "=" in s.value:
                name, value = s.value.split("=", 1)
                found = _assignment("config-secret", path, lines, s.line,
                                    s.column + len(name) + 1, name.strip(), value.strip(),
                                    "compose environment")
                if found:
                    findings.append(found)
            continue
        where = "compose environment" if "environment" in s.path else "YAML setting"
        found = _assignment("config-secret", path, lines, s.line, s.column, s.key, s.value, where)
        if found:
            findings.append(found)
    return findings


_NPMRC = re.compile(r"^\s*((?://[^\s=]*:)?(_authToken|_auth|_password))\s*=\s*(.*?)\s*$")


def scan_npmrc(path: str, text: str) -> list[Finding]:
    """Literal ``_authToken``, ``_auth`` and ``_password`` values in an ``.npmrc``."""
    findings: list[Finding] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        match = _NPMRC.match(line)
        if not match:
            continue
        value = match.group(3).strip("'\"")
        if looks_real(value):
            findings.append(_finding("config-secret", path, lines, number, match.start(3) + 1,
                                     value, f".npmrc {match.group(2)} holds a literal token",
                                     match.group(2)))
    return findings


def scan_pypirc(path: str, text: str) -> list[Finding]:
    """``password`` values of a ``.pypirc`` (an API token or an account password)."""
    findings: list[Finding] = []
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return findings
    lines = text.splitlines()
    for section in parser.sections():
        value = parser.get(section, "password", fallback="").strip()
        if not looks_real(value):
            continue
        number = next((n for n, line in enumerate(lines, start=1)
                       if line.strip().startswith("password") and value in line), 1)
        column = lines[number - 1].find(value) + 1 if lines else 1
        findings.append(_finding("config-secret", path, lines, number, max(column, 1), value,
                                 f".pypirc [{section}] password is written in the file",
                                 "password"))
    return findings


_VAR = r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"
_DUMP = re.compile(r"(?:^|[;&|(]\s*|\bthen\s+|\bdo\s+)(?:sudo\s+)?(env|printenv|export\s+-p)"
                   r"\s*(?:$|[|>;&)])")
_PRINTENV = re.compile(r"(?:^|[;&|]\s*)printenv\s+([A-Za-z_][A-Za-z0-9_]*)\s*(?:$|[;&])")
_ECHO = re.compile(r"(?:^|[;&]\s*|\bthen\s+|\bdo\s+)(?:echo|printf)\s+(.*)$")
_XTRACE_ON = re.compile(r"(?:^|[;&]\s*)set\s+(?:-[a-wyz]*x[a-z]*\b|-o\s+xtrace)")
_XTRACE_OFF = re.compile(r"(?:^|[;&]\s*)set\s+(?:\+[a-z]*x|\+o\s+xtrace)")


def shell_leaks(path: str, lines: list[str], body: list[tuple[int, str]],
                where: str) -> list[Finding]:
    """Shell commands that print the environment or a secret.

    ``env`` / ``printenv`` / ``export -p`` alone (or piped to a pager, sort...) dump the
    environment; ``printenv SECRET`` and ``echo $SECRET`` print one (not when the echo is
    piped into a command, ``echo "$TOKEN" | docker login --password-stdin``, nor
    redirected to a file); under ``set -x`` every command that expands a secret variable
    is traced with its value.

    Args:
        path: the relative path.
        lines: the file's lines (excerpts).
        body: ``(line number, shell text)`` pairs to judge.
        where: how the message names the context (``shell``, ``Dockerfile RUN``...).

    Returns:
        ``env-dump`` and ``secret-logged`` findings.
    """
    findings: list[Finding] = []
    xtrace = False
    for number, raw in body:
        line = strip_comment(raw.strip())
        if not line:
            continue
        excerpt = lines[number - 1] if 0 < number <= len(lines) else line
        if _XTRACE_OFF.search(line):
            xtrace = False
        if _XTRACE_ON.search(line) or (number == 1 and re.match(r"#!.*\bsh\s+-\w*x", raw)):
            xtrace = True
            continue
        dump = _DUMP.search(line)
        if dump:
            findings.append(new_finding_at(
                "env-dump", path, number, excerpt.find(dump.group(1)) + 1, excerpt,
                f"{where}: {dump.group(1)}", f"{where}: {dump.group(1)} prints the whole "
                "environment", secret=False, meta={"sink": dump.group(1)}))
            continue
        printed = _PRINTENV.search(line)
        names: list[str] = []
        if printed and is_secret_name(printed.group(1)):
            names = [printed.group(1)]
        echo = _ECHO.search(line)
        if echo and not re.search(r"\|(?!\|)|>", echo.group(1)):
            names += [n for n in re.findall(_VAR, echo.group(1)) if is_secret_name(n)]
        if xtrace and not names:
            names = [n for n in re.findall(_VAR, line) if is_secret_name(n)]
            sink = "set -x"
        else:
            sink = "printenv" if printed else "echo"
        if names:
            name = names[0]
            findings.append(new_finding_at(
                "secret-logged", path, number, max(excerpt.find(name), 0) + 1, excerpt,
                f"{where}: {sink} {name}", f"secret ${name} reaches {sink} ({where})",
                secret=False, meta={"sink": sink, "source": name}))
    return findings


def scan_shell(path: str, text: str) -> list[Finding]:
    """A shell script: :func:`shell_leaks` on every line."""
    lines = text.splitlines()
    return shell_leaks(path, lines, list(enumerate(lines, start=1)), "shell")


def config_kind(rel: str) -> str | None:
    """Which configuration reader a path calls for, or ``None``."""
    name = rel.rsplit("/", 1)[-1].lower()
    if name in ("dockerfile", "containerfile") or name.endswith((".dockerfile",)) \
            or name.startswith("dockerfile."):
        return "dockerfile"
    if name == ".npmrc":
        return "npmrc"
    if name == ".pypirc":
        return "pypirc"
    if name.endswith(_YAML_EXT):
        return "yaml"
    if name.endswith((".sh", ".bash", ".zsh", ".ksh")):
        return "shell"
    return None


def scan_config(kind: str, path: str, text: str) -> list[Finding]:
    """Dispatch to the reader of a :func:`config_kind`."""
    if kind == "dockerfile":
        return scan_dockerfile(path, text)
    if kind == "npmrc":
        return scan_npmrc(path, text)
    if kind == "pypirc":
        return scan_pypirc(path, text)
    if kind == "yaml":
        return scan_yaml(path, text)
    return scan_shell(path, text)
