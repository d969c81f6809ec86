"""The scan policy: forbidden imports per language, threshold, size limit, exclusions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .findings import SEVERITIES

DEFAULT_FORBIDDEN: dict[str, tuple[str, ...]] = {
    # The Firebase SDKs that the move to JWT authentication replaced.
    "python": ("firebase_admin", "firebase", "pyrebase"),
    "js": ("firebase", "firebase/*", "firebase-admin", "@firebase/*", "firebase-functions"),
    "jvm": ("com.google.firebase.*",),
    "go": ("firebase.google.com/go",),
}
LANGUAGES = tuple(DEFAULT_FORBIDDEN)
DEFAULT_MAX_FILE_SIZE = 1024 * 1024


class PolicyError(ValueError):
    """The policy is malformed."""


@dataclass(frozen=True)
class Policy:
    """What the scan forbids and how strict it is."""

    forbidden_imports: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_FORBIDDEN))
    fail_on: str = "high"
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    exclude: tuple[str, ...] = ()
    # Scan .env files git does not track (off: an ignored local .env does not ship).
    untracked_env: bool = False
    # Leave out what .gitignore ignores (inside a git checkout with git on the host).
    gitignore: bool = True
    # Also scan the blobs that past commits added (git log --since SINCE when given).
    history: bool = False
    since: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Policy:
        """Build a policy from plain data (the module's ``policy`` parameter).

        Args:
            data: keys ``forbidden_imports`` (per language: ``python``, ``js``, ``jvm``;
                a language left out keeps its default list), ``fail_on``, ``max_file_size``,
                ``exclude``, ``untracked_env``.

        Returns:
            The policy.

        Raises:
            PolicyError: on an unknown key, language or severity, or a bad value.
        """
        data = dict(data or {})
        unknown = set(data) - {"forbidden_imports", "fail_on", "max_file_size", "exclude",
                               "untracked_env", "gitignore", "history", "since"}
        if unknown:
            raise PolicyError(f"unknown policy key(s): {', '.join(sorted(unknown))}")
        forbidden = dict(DEFAULT_FORBIDDEN)
        for lang, names in (data.get("forbidden_imports") or {}).items():
            if lang not in LANGUAGES:
                raise PolicyError(f"unknown language {lang!r} in forbidden_imports "
                                  f"(expected one of {', '.join(LANGUAGES)})")
            if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
                raise PolicyError(f"forbidden_imports.{lang} must be a list of strings")
            forbidden[lang] = tuple(names)
        fail_on = data.get("fail_on") or "high"
        if fail_on not in SEVERITIES:
            raise PolicyError(f"fail_on must be one of {', '.join(SEVERITIES)}")
        max_size = data.get("max_file_size") or DEFAULT_MAX_FILE_SIZE
        if not isinstance(max_size, int) or max_size <= 0:
            raise PolicyError("max_file_size must be a positive integer")
        exclude = data.get("exclude") or []
        if not isinstance(exclude, list | tuple):
            raise PolicyError("exclude must be a list of glob patterns")
        since = data.get("since") or ""
        if not isinstance(since, str) or since.startswith("-"):
            raise PolicyError("since must be a date or a git approxidate such as '90 days ago'")
        return cls(forbidden, fail_on, max_size, tuple(str(e) for e in exclude),
                   bool(data.get("untracked_env", False)), bool(data.get("gitignore", True)),
                   bool(data.get("history", False)), since)
