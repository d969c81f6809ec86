"""Dependency manifests: forbidden packages declared, reported apart from code imports."""

from __future__ import annotations

import ast
import configparser
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from .clex import LexError, lex
from .findings import Finding, new_finding
from .sinks import module_matches

try:  # Python 3.11+; older host Pythons fall back to the line scan.
    import tomllib
except ImportError:  # pragma: no cover - depends on the host's Python
    tomllib = None  # type: ignore[assignment]

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_COORDINATE = re.compile(r"^([A-Za-z0-9_.\-]+):([A-Za-z0-9_.\-]+)(?::\S*)?$")
_QUOTED = re.compile(r"""["']([A-Za-z0-9][A-Za-z0-9._\-]*)(?:\[[^\]]*\])?\s*[<>=!~;"'\s,@]""")


def manifest_kind(name: str) -> str | None:
    """Which manifest a base name is, or ``None``."""
    lowered = name.lower()
    if lowered.endswith(".txt") and "requirements" in lowered:
        return "requirements"
    if lowered.endswith(".versions.toml"):
        return "gradle-catalog"
    return {"pyproject.toml": "pyproject", "package.json": "package.json",
            "build.gradle": "gradle", "build.gradle.kts": "gradle",
            "google-services.json": "google-services", "pom.xml": "maven",
            "setup.py": "setup.py", "setup.cfg": "setup.cfg", "go.mod": "go.mod"}.get(lowered)


def normalize(name: str) -> str:
    """PEP 503 normalisation: ``Firebase_Admin`` → ``firebase-admin``."""
    return re.sub(r"[-_.]+", "-", name).lower()


class ManifestScanner:
    """Scans manifests against the policy's forbidden names, per ecosystem."""

    def __init__(self, forbidden: dict[str, tuple[str, ...]]) -> None:
        # Only top-level Python modules are distribution names ("firebase_admin").
        self.python = {normalize(m) for m in forbidden.get("python", ()) if "." not in m}
        self.js = forbidden.get("js", ())
        self.jvm = forbidden.get("jvm", ())
        self.go = forbidden.get("go", ())

    def scan(self, kind: str, path: str, text: str) -> tuple[list[Finding], str | None]:
        """Scan one manifest.

        Args:
            kind: from :func:`manifest_kind`.
            path: the relative path.
            text: the file text.

        Returns:
            Findings, and a reason when the file did not parse and a line scan was used.
        """
        found: list[tuple[str, int]] = []
        fallback = None
        if kind == "requirements":
            found = list(self._requirements(text))
        elif kind == "pyproject":
            try:
                found = self._pyproject(text)
            except ValueError as err:
                fallback = f"invalid TOML: {err}"
                found = [(m.group(1), m.start(1)) for m in _QUOTED.finditer(text)
                         if normalize(m.group(1)) in self.python]
        elif kind == "package.json":
            try:
                found = self._package_json(text)
            except ValueError as err:
                fallback = f"invalid JSON: {err}"
        elif kind == "gradle":
            found, fallback = self._gradle(text)
        elif kind == "google-services" and "project_info" in text:
            found = [("google-services.json", 0)]
        elif kind in _READERS:
            try:
                found = _READERS[kind](self, text)
            except (ValueError, SyntaxError, ET.ParseError, configparser.Error,
                    RecursionError) as err:
                fallback = f"{kind} does not parse: {err.__class__.__name__}"
        findings = [
            new_finding("forbidden-dependency", path, text, offset, name,
                        f"forbidden dependency {name}", secret=False,
                        meta={"package": name, "manifest": kind, "fallback": bool(fallback)})
            for name, offset in found
        ]
        return findings, fallback

    def _requirements(self, text: str) -> Iterator[tuple[str, int]]:
        offset = 0
        for line in text.splitlines(keepends=True):
            match = _REQ_NAME.match(line)
            if match and normalize(match.group(1)) in self.python:
                yield match.group(1), offset + match.start(1)
            offset += len(line)

    def _locate(self, text: str, name: str) -> int:
        match = re.search(r"[\"']" + re.escape(name) + r"(?![A-Za-z0-9_])", text)
        if match is None:
            match = re.search(r"(?m)^\s*" + re.escape(name) + r"\s*=", text)
        return match.start() + 1 if match else 0

    def _pyproject(self, text: str) -> list[tuple[str, int]]:
        if tomllib is None:
            raise ValueError("tomllib unavailable")
        doc = tomllib.loads(text)
        specs: list[str] = []
        project = doc.get("project", {})
        specs += project.get("dependencies", [])
        for group in project.get("optional-dependencies", {}).values():
            specs += group
        for group in doc.get("dependency-groups", {}).values():
            specs += [s for s in group if isinstance(s, str)]
        poetry = doc.get("tool", {}).get("poetry", {})
        names = list(poetry.get("dependencies", {})) + list(poetry.get("dev-dependencies", {}))
        for group in poetry.get("group", {}).values():
            names += list(group.get("dependencies", {}))
        for spec in specs:
            match = _REQ_NAME.match(spec) if isinstance(spec, str) else None
            if match:
                names.append(match.group(1))
        return [(n, self._locate(text, n)) for n in names if normalize(n) in self.python]

    def _package_json(self, text: str) -> list[tuple[str, int]]:
        doc: Any = json.loads(text)
        found = []
        if not isinstance(doc, dict):
            return []
        for section in ("dependencies", "devDependencies", "peerDependencies",
                        "optionalDependencies"):
            deps = doc.get(section)
            if isinstance(deps, dict):
                found += [(n, self._locate(text, n)) for n in deps
                          if module_matches(n, self.js, sep="/")]
        return found

    def _gradle(self, text: str) -> tuple[list[tuple[str, int]], str | None]:
        try:
            strings = [(t.value, t.start) for t in lex(text, "kotlin") if t.kind == "str"]
            fallback = None
        except LexError as err:
            quoted = re.finditer(r"[\"']([^\"'\n]+)[\"']", text)
            strings = [(m.group(1), m.start(1)) for m in quoted]
            fallback = str(err)
        found = []
        for value, offset in strings:
            match = _COORDINATE.match(value)
            group = match.group(1) if match else value
            if (match or "." in value) and module_matches(group, self.jvm, sep="."):
                found.append((value if match else group, offset))
        return found, fallback


_POM_DEP = re.compile(r"<(?:dependency|plugin)>(.*?)</(?:dependency|plugin)>", re.DOTALL)
_POM_GROUP = re.compile(r"<groupId>\s*([^<\s]+)\s*</groupId>")
_POM_ARTIFACT = re.compile(r"<artifactId>\s*([^<\s]+)\s*</artifactId>")
_GO_REQUIRE = re.compile(r"^(?:require[ \t]+|[ \t]+)([A-Za-z0-9.\-_~/]+)[ \t]+v\S+", re.MULTILINE)


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def _maven(self: ManifestScanner, text: str) -> list[tuple[str, int]]:
    ET.fromstring(text)  # well-formed, or the caller reports a fallback
    code = re.sub(r"<!--.*?-->", _blank, text, flags=re.DOTALL)  # same offsets
    found = []
    for dep in _POM_DEP.finditer(code):
        group = _POM_GROUP.search(dep.group(1))
        if group and module_matches(group.group(1), self.jvm, sep="."):
            artifact = _POM_ARTIFACT.search(dep.group(1))
            name = group.group(1) + (":" + artifact.group(1) if artifact else "")
            found.append((name, dep.start(1) + group.start(1)))
    return found


def _catalog(self: ManifestScanner, text: str) -> list[tuple[str, int]]:
    if tomllib is None:
        raise ValueError("tomllib unavailable")
    doc = tomllib.loads(text)
    found = []
    for alias, spec in (doc.get("libraries") or {}).items():
        coordinate = ""
        if isinstance(spec, str):
            coordinate = spec
        elif isinstance(spec, dict):
            coordinate = str(spec.get("module") or spec.get("group", ""))
            if spec.get("group") and spec.get("name"):
                coordinate = f"{spec['group']}:{spec['name']}"
        group = coordinate.split(":", 1)[0]
        if group and module_matches(group, self.jvm, sep="."):
            match = re.search(r"(?m)^\s*" + re.escape(alias) + r"\s*=", text)
            found.append((coordinate, match.start() if match else 0))
    return found


def _setup_py(self: ManifestScanner, text: str) -> list[tuple[str, int]]:
    tree = ast.parse(text)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg not in ("install_requires", "extras_require", "setup_requires",
                                   "tests_require"):
                continue
            values = [keyword.value]
            if isinstance(keyword.value, ast.Dict):
                values = [v for v in keyword.value.values if v is not None]
            for value in values:
                elts = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
                for elt in elts:
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        match = _REQ_NAME.match(elt.value)
                        if match and normalize(match.group(1)) in self.python:
                            found.append((match.group(1), _offset(text, elt)))
    return found


def _offset(text: str, node: ast.expr) -> int:
    lines = text.splitlines(keepends=True)
    return sum(len(line) for line in lines[: node.lineno - 1]) + node.col_offset


def _setup_cfg(self: ManifestScanner, text: str) -> list[tuple[str, int]]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.read_string(text)
    specs: list[str] = []
    if parser.has_option("options", "install_requires"):
        specs += parser.get("options", "install_requires").splitlines()
    if parser.has_section("options.extras_require"):
        for _extra, value in parser.items("options.extras_require"):
            specs += value.splitlines()
    found = []
    for spec in specs:
        match = _REQ_NAME.match(spec)
        if match and normalize(match.group(1)) in self.python:
            where = re.search(r"(?m)^\s*" + re.escape(match.group(1)), text)
            found.append((match.group(1), where.start() + len(where.group(0)) - len(
                match.group(1)) if where else 0))
    return found


def _go_mod(self: ManifestScanner, text: str) -> list[tuple[str, int]]:
    code = re.sub(r"//[^\n]*", _blank, text)
    return [(m.group(1), m.start(1)) for m in _GO_REQUIRE.finditer(code)
            if module_matches(m.group(1), self.go, sep="/")]


_READERS: dict[str, Any] = {"maven": _maven, "gradle-catalog": _catalog, "setup.py": _setup_py,
                            "setup.cfg": _setup_cfg, "go.mod": _go_mod}
