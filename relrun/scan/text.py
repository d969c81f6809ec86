"""Plain-text rendering of a scan result for the terminal."""

from __future__ import annotations

from relrun.scan.result import ScanResult


def format_findings(result: ScanResult) -> list[str]:
    """One line per finding, ``path:line:col: severity rule: message [excerpt]``, then a summary."""
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.severity} {f.rule}: {f.message} [{f.excerpt}]"
        + (" (parse fallback)" if f.meta.get("fallback") else "")
        for f in result.findings
    ]
    stats = result.stats
    skipped = ", ".join(f"{n} {reason}" for reason, n in result.skipped_counts.items())
    lines.append(
        f"{stats.findings} finding(s), {result.failing} at or above {result.fail_on}; "
        f"{len(result.suppressed)} suppressed; {stats.files} files, {stats.bytes} bytes in "
        f"{stats.seconds:.2f}s; skipped: {skipped or 'none'}; "
        f"parse fallbacks: {len(result.parse_fallbacks)}"
    )
    return lines


def format_notices(result: ScanResult) -> list[str]:
    """Notices and parse fallbacks, for standard error."""
    out = [f"{n.path}:{n.line}: notice: {n.message}" for n in result.notices]
    out += [
        f"{p.path}: notice: parse fallback ({p.language}): {p.reason}"
        for p in result.parse_fallbacks
    ]
    return out


def format_audit(result: ScanResult) -> list[str]:
    """Every suppression in force: inline allows, baseline entries, ignore patterns."""
    out: list[str] = []
    for s in result.suppressions:
        used = "used" if s.get("used") else "UNUSED"
        if s.get("kind") == "inline":
            pin = f" fp={s['fp']}" if s.get("fp") else ""
            out.append(
                f"inline   {s['path']}:{s['line']}: allow {','.join(s['rules'])}{pin} "
                f"-- {s['reason']} ({used})"
            )
        else:
            out.append(
                f"baseline {s.get('path') or '?'}: {s.get('rule') or '?'} "
                f"{s['fingerprint']} -- {s['reason']} ({used})"
            )
    out += [f"ignore   .relrun-scan-ignore: {p}" for p in result.ignore_patterns]
    out.append(
        f"{len(result.suppressions)} suppression(s), "
        f"{len(result.ignore_patterns)} ignore pattern(s)"
    )
    return out
