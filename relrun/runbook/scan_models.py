"""The ``scan`` section of a runbook: the security scan gate on the build hosts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from relrun.runbook.base import StrictModel

Severity = Literal["low", "medium", "high", "critical"]


class ForbiddenImports(StrictModel):
    """Modules whose import fails the gate, per language."""

    python: list[str] = Field(
        default_factory=lambda: ["firebase_admin", "firebase", "pyrebase"],
        description="Python modules (dotted; whole components match, so `firebase_admin` "
        "does not forbid `firebase_admin_compat`). Also checked in requirements*.txt and "
        "pyproject.toml.",
    )
    js: list[str] = Field(
        default_factory=lambda: [
            "firebase",
            "firebase/*",
            "firebase-admin",
            "@firebase/*",
            "firebase-functions",
        ],
        description="JavaScript/TypeScript module specifiers; `name/*` forbids every "
        "sub-path. Also checked in package.json.",
    )
    jvm: list[str] = Field(
        default_factory=lambda: ["com.google.firebase.*"],
        description="Kotlin/Java packages; `pkg.*` forbids everything below. Also checked "
        "in build.gradle(.kts) coordinates, Maven pom.xml and Gradle version catalogs.",
    )
    go: list[str] = Field(
        default_factory=lambda: ["firebase.google.com/go"],
        description="Go import paths; a path forbids everything below it "
        "(`firebase.google.com/go/v4/auth`). Also checked in go.mod.",
    )


class ScanSection(StrictModel):
    """Security scan gate: forbidden imports, plaintext tokens and secret leaks."""

    enabled: bool = Field(default=True, description="Run the scan gate before the build.")
    paths: list[str] = Field(
        default_factory=list,
        description="Paths to scan, relative to the build host's source directory; empty "
        "scans the whole source directory.",
    )
    forbidden_imports: ForbiddenImports = Field(
        default_factory=ForbiddenImports,
        description="Forbidden modules per language (default: the Firebase SDKs replaced "
        "by the move to JWT).",
    )
    fail_on: Severity = Field(
        default="high",
        description="Lowest severity that fails the gate: low, medium, high or critical.",
    )
    baseline: str | None = Field(
        default=None,
        description="Baseline file (JSON) of accepted findings, by fingerprint with a "
        "reason; relative paths are relative to the source directory.",
    )
    exclude: list[str] = Field(
        default_factory=list,
        description="Glob patterns of files or directories to leave out (added to the "
        "source tree's .relrun-scan-ignore).",
    )
    max_file_size: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Files larger than this many bytes are skipped (and listed as such).",
    )

    @field_validator("paths")
    @classmethod
    def _relative(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if path.startswith("/") or ".." in path.split("/"):
                raise ValueError(f"{path!r} must be relative to the source directory")
        return paths

    def to_policy(self) -> dict[str, Any]:
        """The ``policy`` parameter of the ``relrun.release.scan`` module.

        Returns:
            Plain data: forbidden imports, fail_on, max_file_size, exclude.
        """
        return {
            "forbidden_imports": self.forbidden_imports.model_dump(),
            "fail_on": self.fail_on,
            "max_file_size": self.max_file_size,
            "exclude": list(self.exclude),
        }
