"""The security scan gate: walk a tree, scan every source file, apply suppressions.

Entry point for the ``relrun.release.scan`` module and for ``relrun scan`` on the
controller. Standard library only; between these files, imports are relative so they
load both inside AnsiballZ and as part of the ``relrun`` package.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .scan_dotenv import is_dotenv
from .scan_file import FileScanner
from .scan_findings import RULES, SEVERITIES, Finding, severity_rank
from .scan_gitindex import TrackedFiles
from .scan_policy import DEFAULT_FORBIDDEN, Policy, PolicyError
from .scan_suppress import BaselineError, apply_inline, parse_baseline
from .scan_walk import IGNORE_FILE, Matcher, Skipped, read_ignore_file, walk

__all__ = ["DEFAULT_FORBIDDEN", "RULES", "SEVERITIES", "BaselineError", "Policy",
           "PolicyError", "ScanInputError", "load_baseline", "scan"]

_SNIFF = 8192


class ScanInputError(ValueError):
    """Bad input: the path does not exist, or the policy or baseline is malformed."""


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
        raise ScanInputError(str(err)) from err


def _suppressed(finding: Finding, by: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {**finding.to_dict(), "suppressed_by": by, "reason": reason, **extra}


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
    findings: list[Finding] = []
    suppressed: list[dict[str, Any]] = []
    suppressions: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    fallbacks: list[dict[str, str]] = []
    files = total_bytes = 0
    for start in starts:
        for rel, abspath, _size in walk(base, matcher, policy.max_file_size, skipped, start):
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
            result = scanner.scan(rel, data)
            files += 1
            total_bytes += len(data)
            if result.fallback:
                fallbacks.append({"path": rel, "language": result.language or "text",
                                  "reason": result.fallback})
            kept, inline, file_notices = apply_inline(result.findings, result.allows)
            notices += result.notices + file_notices
            suppressed += [_suppressed(f, "inline", a.reason, line_of_allow=a.line)
                           for f, a in inline]
            suppressions += [{"kind": "inline", "path": a.path, "line": a.line,
                              "rules": list(a.rules), "fp": a.fp, "reason": a.reason,
                              "used": a.used} for a in result.allows]
            findings += kept
    used: set[str] = set()
    reported: list[Finding] = []
    for finding in findings:
        entry = baseline.get(finding.fingerprint)
        if entry is None:
            reported.append(finding)
        else:
            used.add(finding.fingerprint)
            suppressed.append(_suppressed(finding, "baseline", entry["reason"]))
    for fp, entry in sorted(baseline.items()):
        suppressions.append({"kind": "baseline", "fingerprint": fp, "rule": entry.get("rule", ""),
                             "path": entry.get("path", ""), "reason": entry["reason"],
                             "used": fp in used})
        if fp not in used:
            notices.append({"path": entry.get("path", ""), "line": 0,
                            "message": f"baseline entry {fp} matches no finding: stale"})
    threshold = severity_rank(policy.fail_on)
    failing = [f for f in reported if severity_rank(f.severity) >= threshold]
    by_severity = {s: sum(1 for f in reported if f.severity == s) for s in SEVERITIES}
    msg = (f"security scan: {len(failing)} finding(s) at or above {policy.fail_on}"
           if failing else f"security scan: clean at {policy.fail_on}")
    return {
        "root": root,
        "findings": [f.to_dict() for f in reported],
        "suppressed": suppressed,
        "suppressions": suppressions,
        "notices": notices,
        "skipped_files": skipped.entries,
        "skipped_counts": skipped.counts(),
        "parse_fallbacks": fallbacks,
        "ignore_file": IGNORE_FILE if ignore_patterns else "",
        "ignore_patterns": ignore_patterns,
        "stats": {"files": files, "bytes": total_bytes,
                  "seconds": round(time.perf_counter() - started, 3),
                  "findings": len(reported), "by_severity": by_severity},
        "fail_on": policy.fail_on,
        "failing": len(failing),
        "failed": bool(failing),
        "msg": msg,
    }
