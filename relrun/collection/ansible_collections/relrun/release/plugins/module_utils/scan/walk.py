"""Walk a source tree: yield the files to scan, record every skip with its reason."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

IGNORE_FILE = ".relrun-scan-ignore"

_SKIP_DIRS = {
    ".git": "vcs", ".hg": "vcs", ".svn": "vcs", "node_modules": "dependencies",
    "bower_components": "dependencies", "__pycache__": "cache", ".mypy_cache": "cache",
    ".ruff_cache": "cache", ".pytest_cache": "cache", ".tox": "virtualenv",
    ".nox": "virtualenv", ".gradle": "cache", ".idea": "editor", ".eggs": "dependencies",
}
_LOCK_FILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "uv.lock",
    "poetry.lock", "pipfile.lock", "pdm.lock", "cargo.lock", "composer.lock", "gemfile.lock",
    "go.sum", "gradle.lockfile", "bun.lockb",
})
# Extensions that are never source; sniffing them for NUL would cost a read each.
_BINARY_EXT = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".bmp", ".pdf", ".zip", ".gz", ".tgz",
    ".bz2", ".xz", ".7z", ".jar", ".war", ".class", ".so", ".dylib", ".dll", ".exe", ".o",
    ".a", ".pyc", ".pyo", ".whl", ".egg", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp3",
    ".mp4", ".mov", ".avi", ".wav", ".ogg", ".sqlite", ".db", ".bin", ".dat", ".npy", ".pkl",
})


@dataclass
class Skipped:
    """Files and directories left out, with their reason."""

    entries: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, reason: str) -> None:
        """Record one skip."""
        self.entries.append({"path": path, "reason": reason})

    def counts(self) -> dict[str, int]:
        """Number of skips per reason."""
        out: dict[str, int] = {}
        for entry in self.entries:
            out[entry["reason"]] = out.get(entry["reason"], 0) + 1
        return dict(sorted(out.items()))


class Matcher:
    """Glob patterns in ``.gitignore`` spirit, documented in docs/scan.md.

    A pattern with a ``/`` inside is matched against the whole relative path (a leading
    ``/`` anchors nothing more); one without is matched against the base name at any
    depth; a trailing ``/`` restricts it to directories. ``*`` also matches ``/``.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[tuple[str, bool, bool]] = []
        for raw in patterns:
            pattern = raw.strip()
            if not pattern or pattern.startswith("#"):
                continue
            dir_only = pattern.endswith("/")
            pattern = pattern.strip("/")
            self.patterns.append((pattern, "/" in pattern, dir_only))

    def matches(self, rel: str, name: str, is_dir: bool) -> bool:
        """Whether a path is excluded."""
        for pattern, anchored, dir_only in self.patterns:
            if dir_only and not is_dir:
                continue
            if fnmatch.fnmatchcase(rel if anchored else name, pattern):
                return True
        return False


def read_ignore_file(root: str) -> list[str]:
    """Patterns of ``.relrun-scan-ignore`` at the scan root (none when absent)."""
    try:
        with open(os.path.join(root, IGNORE_FILE), encoding="utf-8") as handle:
            return [line.rstrip("\n") for line in handle]
    except OSError:
        return []


def path_skip_reason(rel: str, matcher: Matcher) -> str | None:
    """Why a file path (from git history) would be skipped by :func:`walk`, or ``None``."""
    parts = rel.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in _SKIP_DIRS:
            return _SKIP_DIRS[part]
        if matcher.matches("/".join(parts[: i + 1]), part, True):
            return "excluded"
    name = parts[-1]
    if matcher.matches(rel, name, False):
        return "excluded"
    lowered = name.lower()
    if lowered in _LOCK_FILES:
        return "lock file"
    if os.path.splitext(lowered)[1] in _BINARY_EXT:
        return "binary"
    return None


def walk(root: str, matcher: Matcher, max_size: int, skipped: Skipped,
         start: str = "", keep: Any = None) -> Iterator[tuple[str, str, int]]:
    """Yield ``(relative path, absolute path, size)`` of every file to scan.

    Args:
        root: the scan root (fingerprints are relative to it).
        matcher: exclusions (policy globs and the ignore file).
        max_size: files larger than this many bytes are skipped.
        skipped: receives every skip.
        start: a sub-path of ``root`` to walk instead of the whole root.
        keep: an ``IgnoreFilter`` (``scan_git``): what ``.gitignore`` leaves out is
            skipped with the reason ``gitignored``; ``None`` keeps everything.

    Yields:
        Files in a deterministic (sorted) order.
    """
    first = os.path.join(root, start) if start else root
    if os.path.isfile(first):
        rel = start.replace(os.sep, "/")
        yield rel, first, os.path.getsize(first)
        return
    stack = [(first, start.replace(os.sep, "/").strip("/"))]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name, reverse=True)
        except OSError as err:
            skipped.add(rel_dir or ".", f"unreadable: {err.strerror}")
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if entry.is_symlink():
                skipped.add(rel, "symlink")
            elif entry.is_dir():
                reason = _SKIP_DIRS.get(entry.name)
                if reason is None and os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    reason = "virtualenv"
                if reason is None and matcher.matches(rel, entry.name, True):
                    reason = "excluded"
                if reason is None and keep is not None and not keep.keeps_dir(rel):
                    reason = "gitignored"
                if reason:
                    skipped.add(rel + "/", reason)
                else:
                    stack.append((entry.path, rel))
            elif entry.is_file():
                lowered = entry.name.lower()
                size = entry.stat().st_size
                if matcher.matches(rel, entry.name, False):
                    skipped.add(rel, "excluded")
                elif keep is not None and not keep.keeps_file(rel):
                    skipped.add(rel, "gitignored")
                elif lowered in _LOCK_FILES:
                    skipped.add(rel, "lock file")
                elif os.path.splitext(lowered)[1] in _BINARY_EXT:
                    skipped.add(rel, "binary")
                elif size > max_size:
                    skipped.add(rel, "too large")
                else:
                    yield rel, entry.path, size
