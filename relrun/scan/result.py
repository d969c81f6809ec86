"""Typed view of the scan result: the ``relrun.release.scan`` module's return shape."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    # The module's dict carries Ansible's own keys (changed, invocation...): ignore them.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Finding(_Model):
    """One reported finding (redacted)."""

    cls: str = Field(alias="class")
    rule: str
    severity: str
    path: str
    line: int
    column: int
    message: str
    excerpt: str
    fingerprint: str
    meta: dict[str, Any] = Field(default_factory=dict)


class SuppressedFinding(Finding):
    """A finding kept out of the results by an inline allow or the baseline."""

    suppressed_by: str
    reason: str


class Notice(_Model):
    """An ignored or stale suppression."""

    path: str
    line: int
    message: str


class Skip(_Model):
    """A file or directory not scanned."""

    path: str
    reason: str


class ParseFallback(_Model):
    """A file that did not parse and was scanned line by line."""

    path: str
    language: str
    reason: str


class Stats(_Model):
    """Volume and timing."""

    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    findings: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)


class ScanResult(_Model):
    """The whole result of a scan, as the module returns it."""

    root: str = ""
    # The git work tree around the root on the host that scanned, and the root's path in
    # it ("" at the top, else ending in "/"): SARIF URIs are relative to the repository.
    repo_root: str = ""
    repo_prefix: str = ""
    gitignore: bool = False
    history: dict[str, Any] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    suppressed: list[SuppressedFinding] = Field(default_factory=list)
    suppressions: list[dict[str, Any]] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)
    skipped_files: list[Skip] = Field(default_factory=list)
    skipped_counts: dict[str, int] = Field(default_factory=dict)
    parse_fallbacks: list[ParseFallback] = Field(default_factory=list)
    ignore_patterns: list[str] = Field(default_factory=list)
    stats: Stats = Field(default_factory=Stats)
    fail_on: str = "high"
    failing: int = 0

    @property
    def failed(self) -> bool:
        """Whether findings at or above ``fail_on`` remain."""
        return self.failing > 0
