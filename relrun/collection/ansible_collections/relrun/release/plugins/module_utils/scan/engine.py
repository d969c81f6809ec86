"""The security scan gate: walk a tree, scan every source file, apply suppressions.

Entry point for the ``relrun.release.scan`` module and for ``relrun scan`` on the
controller. Standard library only; between these files, imports are relative so they
load both inside AnsiballZ and as part of the ``relrun`` package.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .dotenv import is_dotenv
from .file import FileScanner
from .findings import RULES, SEVERITIES, Finding, severity_rank
from .git import GitUnavailable, find_repo, history_blobs, ignored_filter
from .gitindex import TrackedFiles
from .policy import DEFAULT_FORBIDDEN, Policy, PolicyError
from .suppress import BaselineError, apply_inline, parse_baseline
from .walk import IGNORE_FILE, Matcher, Skipped, path_skip_reason, read_ignore_file, walk

__all__ = ["DEFAULT_FORBIDDEN", "RULES", "SEVERITIES", "BaselineError", "Policy",
           "PolicyError", "ScanInputError", "load_baseline", "scan"]

_SNIFF = 8192


class ScanInputError(ValueError):
    """Bad input: the path does not exist, or the policy or baseline is malformed."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def load_baseline(path: str) -> dict[str, dict[str, str]]:
    """Read a baseline file.

    Args:
        path: a JSON (or, where PyYAML is importable, YAML) baseline file.

    Returns:
        Entries by fingerprint.

    Raises:
        ScanInputError: when the file is missing or malformed.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ScanInputError(f"{path}: cannot read baseline: {err.strerror}") from err
    try:
        return parse_baseline(text, path)
    except BaselineError as err:
        raise ScanInputError(str(err), err.line, err.column) from err


def _suppressed(finding: Finding, by: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {**finding.to_dict(), "suppressed_by": by, "reason": reason, **extra}


class _State:
    """What the files scanned so far gave, before the baseline is applied."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.suppressed: list[dict[str, Any]] = []
        self.suppressions: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self.fallbacks: list[dict[str, str]] = []
        self.used: set[str] = set()
        self.files = 0
        self.bytes = 0

    def scan_file(self, scanner: FileScanner, rel: str, data: bytes,
                  meta: dict[str, Any] | None = None) -> list[Finding]:
        result = scanner.scan(rel, data)
        self.files += 1
        self.bytes += len(data)
        where = f" (commit {meta['commit'][:12]})" if meta else ""
        if result.fallback:
            self.fallbacks.append({"path": rel + where, "language": result.language or "text",
                                   "reason": result.fallback})
        for finding in result.findings:
            finding.meta.update(meta or {})
        kept, inline, file_notices = apply_inline(result.findings, result.allows)
        if meta:
            # Allows in an old blob are history: they are not suppressions in force.
            self.suppressed += [_suppressed(f, "inline", a.reason, line_of_allow=a.line)
                                for f, a in inline]
            return kept
        self.notices += result.notices + file_notices
        self.suppressed += [_suppressed(f, "inline", a.reason, line_of_allow=a.line)
                            for f, a in inline]
        self.suppressions += [{"kind": "inline", "path": a.path, "line": a.line,
                               "rules": list(a.rules), "fp": a.fp, "reason": a.reason,
                               "used": a.used} for a in result.allows]
        self.findings += kept
        return kept


def _scan_history(base: str, policy: Policy, matcher: Matcher, scanner: FileScanner,
                  state: _State, starts: list[str]) -> dict[str, Any]:
    """Scan the blobs past commits added; findings already in the tree are not repeated."""
    prefixes = [s.strip("/") + "/" for s in starts if s]

    def keep(rel: str) -> bool:
        if prefixes and not any(rel.startswith(p) or rel + "/" == p for p in prefixes):
            return False
        return path_skip_reason(rel, matcher) is None

    seen = {f.fingerprint for f in state.findings} | {f.legacy_fingerprint for f in state.findings}
    commits: set[str] = set()
    blobs = found = 0
    try:
        for blob in history_blobs(base, policy.since, policy.max_file_size, keep):
            blobs += 1
            if b"\0" in blob.data[:_SNIFF]:
                continue
            commits.add(blob.commit)
            meta = {"commit": blob.commit, "history": True}
            for finding in state.scan_file(scanner, blob.path, blob.data, meta):
                # The same value on the same line, in the tree or an earlier commit: once.
                if finding.fingerprint in seen or finding.legacy_fingerprint in seen:
                    continue
                seen.add(finding.fingerprint)
                finding.message += f" (in history, commit {blob.commit[:12]})"
                state.findings.append(finding)
                found += 1
    except GitUnavailable as err:
        raise ScanInputError(f"{base}: --history: {err}") from err
    return {"commits": len(commits), "blobs": blobs, "findings": found,
            "since": policy.since}


def _apply_baseline(state: _State, baseline: dict[str, dict[str, str]]
                    ) -> tuple[list[Finding], list[dict[str, Any]], list[dict[str, Any]]]:
    """Split findings by the baseline.

    A version 2 entry matches its one finding (value and line content pinned). A version
    1 entry (rule, path, value) accepts only the first finding it matches, with a notice
    to rewrite the baseline: a later import of the same module is a new finding.
    """
    reported: list[Finding] = []
    suppressed = list(state.suppressed)
    notices: list[dict[str, Any]] = []
    for finding in state.findings:
        entry = baseline.get(finding.fingerprint)
        fp = finding.fingerprint
        if entry is None:
            legacy = baseline.get(finding.legacy_fingerprint)
            if legacy is not None and legacy.get("_version") == "1" and (
                    finding.legacy_fingerprint not in state.used):
                entry, fp = legacy, finding.legacy_fingerprint
                notices.append({"path": finding.path, "line": finding.line,
                                "message": f"baseline entry {fp} has the version 1 format "
                                "(not pinned to the line): it accepts this one finding only; "
                                "rewrite the baseline with --write-baseline"})
        if entry is None:
            reported.append(finding)
        else:
            state.used.add(fp)
            suppressed.append(_suppressed(finding, "baseline", entry["reason"]))
    for fp, entry in sorted(baseline.items()):
        if fp not in state.used:
            notices.append({"path": entry.get("path", ""), "line": 0,
                            "message": f"baseline entry {fp} matches no finding: stale"})
    return reported, suppressed, notices


def _baseline_suppressions(baseline: dict[str, dict[str, str]], used: set[str]
                           ) -> list[dict[str, Any]]:
    return [{"kind": "baseline", "fingerprint": fp, "rule": entry.get("rule", ""),
             "path": entry.get("path", ""), "reason": entry["reason"], "used": fp in used}
            for fp, entry in sorted(baseline.items())]


def scan(
    root: str,
    policy: Policy | None = None,
    baseline: dict[str, dict[str, str]] | None = None,
    include: list[str] | None = None,
) -> dict[str, Any]:
    """Scan a source tree.

    Args:
        root: the directory (or single file) to scan; fingerprints are relative to it.
        policy: the policy (defaults: Firebase imports forbidden, fail on ``high``).
        baseline: entries by fingerprint, from :func:`load_baseline`.
        include: sub-paths of ``root`` to scan instead of all of it.

    Returns:
        The module's result: ``findings``, ``suppressed``, ``suppressions``, ``notices``,
        ``skipped_files``, ``skipped_counts``, ``parse_fallbacks``, ``stats``, ``fail_on``,
        ``failing``, ``failed``, ``msg``, ``root``, ``ignore_patterns``. Everything in it
        is JSON-safe and free of secrets.

    Raises:
        ScanInputError: when ``root`` or an included path does not exist.
    """
    policy = policy or Policy()
    baseline = baseline or {}
    started = time.perf_counter()
    if not os.path.exists(root):
        raise ScanInputError(f"{root}: no such file or directory")
    single_file = os.path.isfile(root)
    base = os.path.dirname(root) if single_file else root
    starts = [os.path.basename(root)] if single_file else (include or [""])
    for start in starts:
        if start and not os.path.exists(os.path.join(base, start)):
            raise ScanInputError(f"{os.path.join(base, start)}: no such file or directory")
    ignore_patterns = [p for p in read_ignore_file(base) if p.strip() and
                       not p.lstrip().startswith("#")]
    matcher = Matcher([*policy.exclude, *ignore_patterns])
    skipped = Skipped()
    scanner = FileScanner(policy)
    tracked = TrackedFiles(base)
    repo = find_repo(base)
    keep = ignored_filter(base) if policy.gitignore and not single_file else None
    state = _State()
    for start in starts:
        for rel, abspath, _size in walk(base, matcher, policy.max_file_size, skipped, start,
                                        keep):
            try:
                with open(abspath, "rb") as handle:
                    data = handle.read()
            except OSError as err:
                skipped.add(rel, f"unreadable: {err.strerror}")
                continue
            if b"\0" in data[:_SNIFF]:
                skipped.add(rel, "binary")
                continue
            if (not policy.untracked_env and is_dotenv(os.path.basename(rel))
                    and not tracked.is_tracked(abspath)):
                skipped.add(rel, "untracked .env")
                continue
            state.scan_file(scanner, rel, data)
    history: dict[str, Any] = {}
    if policy.history:
        history = _scan_history(base, policy, matcher, scanner, state, starts)
    findings, suppressed, notices = _apply_baseline(state, baseline)
    reported = findings
    threshold = severity_rank(policy.fail_on)
    failing = [f for f in reported if severity_rank(f.severity) >= threshold]
    by_severity = {s: sum(1 for f in reported if f.severity == s) for s in SEVERITIES}
    msg = (f"security scan: {len(failing)} finding(s) at or above {policy.fail_on}"
           if failing else f"security scan: clean at {policy.fail_on}")
    return {
        "root": root,
        "repo_root": repo.top if repo else "",
        "repo_prefix": repo.prefix if repo else "",
        "findings": [f.to_dict() for f in reported],
        "suppressed": suppressed,
        "suppressions": state.suppressions + _baseline_suppressions(baseline, state.used),
        "notices": state.notices + notices,
        "skipped_files": skipped.entries,
        "skipped_counts": skipped.counts(),
        "parse_fallbacks": state.fallbacks,
        "gitignore": keep is not None,
        "history": history,
        "ignore_file": IGNORE_FILE if ignore_patterns else "",
        "ignore_patterns": ignore_patterns,
        "stats": {"files": state.files, "bytes": state.bytes,
                  "seconds": round(time.perf_counter() - started, 3),
                  "findings": len(reported), "by_severity": by_severity},
        "fail_on": policy.fail_on,
        "failing": len(failing),
        "failed": bool(failing),
        "msg": msg,
    }
