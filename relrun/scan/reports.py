"""scan.json and scan.sarif (SARIF 2.1.0) from the scan module's result."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from relrun import __version__
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    findings as scan_findings,
)
from relrun.fsutil import write_atomic
from relrun.scan.result import ScanResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def docs_uri() -> str | None:
    """Where the scan's rules are documented on the web, if the package says so.

    The package's ``Documentation`` (else ``Repository``) project URL, with
    ``/blob/main/docs/scan.md`` under a repository. relrun declares none while it has no
    public home, so SARIF then carries no ``informationUri`` / ``helpUri`` (both optional)
    rather than an address that is not real; rule help names ``docs/scan.md``.
    """
    from importlib import metadata

    try:
        urls = metadata.metadata("relrun").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    named: dict[str, str] = {}
    for entry in urls:
        label, _, url = str(entry).partition(",")
        named[label.strip().lower()] = url.strip()
    if named.get("documentation"):
        return named["documentation"].rstrip("/") + "/scan.md"
    if named.get("repository"):
        return named["repository"].rstrip("/") + "/blob/main/docs/scan.md"
    return None

_LEVELS = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}
# GitHub code scanning reads properties["security-severity"] (a CVSS-like score):
# over 9.0 is critical, 7.0-8.9 high, 4.0-6.9 medium, below that low.
_SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0", "critical": "9.5"}
_CLASS_HELP = {
    scan_findings.CLASS_IMPORT: (
        "Code imports a module the policy forbids (by default the Firebase SDKs that the "
        "move to JWT authentication replaced).",
        "Remove the import or replace it with the JWT-based client. A migration shim may be "
        "accepted inline with `# relrun: allow forbidden-import -- <reason>`.",
    ),
    scan_findings.CLASS_DEPENDENCY: (
        "A dependency manifest declares a package the policy forbids.",
        "Remove the dependency from the manifest (and its lock file).",
    ),
    scan_findings.CLASS_TOKEN: (
        "A credential is written in the source: a token, a provider key or a private key. "
        "Anyone with read access to the repository (or its history) can use it.",
        "Revoke and rotate the credential at its provider first, then remove it from the "
        "file and load it from the environment or a secret store. Removing it from the "
        "file alone is not enough: it stays in the git history.",
    ),
    scan_findings.CLASS_SECRET: (
        "A secret value is hard-coded in code or configuration, or a secret (or the whole "
        "environment) reaches a log, a console or an HTTP response.",
        "Rotate an exposed value, read secrets from the environment or a secret store "
        "without a literal fallback, and never print or return them.",
    ),
}


def scan_json(result: ScanResult) -> dict[str, Any]:
    """The content of ``scan.json``: the result, with aliases as the module returns them."""
    return result.model_dump(mode="json", by_alias=True)


def _rule(rule: scan_findings.Rule, docs: str | None) -> dict[str, Any]:
    what, fix = _CLASS_HELP[rule.cls]
    anchor = "#" + rule.cls.replace("_", "-")
    see = f"[Rules of the relrun scan]({docs}{anchor})" if docs else (
        "See `docs/scan.md` in relrun's documentation.")
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": rule.id.replace("-", " ").title().replace(" ", ""),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}. {what}"},
        "help": {
            "text": f"{what} {fix} See docs/scan.md.",
            "markdown": f"**{rule.title}** ({rule.severity})\n\n{what}\n\n**Fix:** {fix}\n\n"
            + see,
        },
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {
            "tags": ["security", rule.cls.replace("_", "-")],
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "precision": "very-high",
            "problem.severity": "error" if rule.severity in ("high", "critical") else (
                "warning" if rule.severity == "medium" else "recommendation"),
            "class": rule.cls,
            "severity": rule.severity,
        },
    }
    if docs:
        entry["helpUri"] = docs + anchor
    return entry


def scan_sarif(result: ScanResult) -> dict[str, Any]:
    """The content of ``scan.sarif``: one run, every rule, results with fingerprints.

    URIs are relative to the git repository's top when the scanned tree is inside one
    (``uriBaseId`` ``SRCROOT`` = the repository), so that code scanning points at the
    right file when a sub-folder was scanned; otherwise they are relative to the scan
    root (``uriBaseId`` ``SCANROOT``).

    Args:
        result: the scan result.

    Returns:
        A SARIF 2.1.0 log. Suppressed findings are included with a ``suppressions`` entry,
        as SARIF viewers expect.
    """
    docs = docs_uri()
    rules = [_rule(rule, docs) for rule in scan_findings.RULES.values()]
    index = {rule.id: i for i, rule in enumerate(scan_findings.RULES.values())}
    in_repo = bool(result.repo_root)
    base_id = "SRCROOT" if in_repo else "SCANROOT"
    prefix = result.repo_prefix if in_repo else ""
    results = [_sarif_result(f, index, base_id, prefix) for f in result.findings]
    for s in result.suppressed:
        entry = _sarif_result(s, index, base_id, prefix)
        kind = "inSource" if s.suppressed_by == "inline" else "external"
        entry["suppressions"] = [{"kind": kind, "justification": s.reason}]
        results.append(entry)
    _unique_fingerprints(results)
    root_uri = _dir_uri(result.repo_root if in_repo else result.root)
    driver: dict[str, Any] = {
        "name": "relrun-scan",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": rules,
    }
    if docs:
        driver["informationUri"] = docs
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {base_id: {"uri": root_uri}},
        "results": results,
        "invocations": [
            {
                "executionSuccessful": True,
                "properties": {"failing": result.failing, "fail_on": result.fail_on},
            }
        ],
    }
    if in_repo:
        run["originalUriBaseIds"][base_id]["description"] = {
            "text": "The top of the git repository that holds the scanned tree."}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _dir_uri(root: str) -> str:
    if not root:
        return "file:///"
    path = Path(root)
    if not path.is_absolute():
        path = path.resolve()
    return path.as_uri().rstrip("/") + "/"


def _unique_fingerprints(results: list[dict[str, Any]]) -> None:
    """Code scanning merges results that share a fingerprint: keep every one distinct."""
    seen: dict[str, int] = {}
    for entry in results:
        fp = entry["partialFingerprints"]["relrunFingerprint/v1"]
        count = seen.get(fp, 0)
        seen[fp] = count + 1
        if count:
            entry["partialFingerprints"]["relrunFingerprint/v1"] = f"{fp}:{count}"


def _sarif_result(finding: Any, index: dict[str, int], base_id: str,
                  prefix: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": index.get(finding.rule, 0),
        "level": _LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{finding.message}: {finding.excerpt}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(prefix + finding.path),
                                         "uriBaseId": base_id},
                    "region": {
                        "startLine": max(finding.line, 1),
                        "startColumn": max(finding.column, 1),
                    },
                }
            }
        ],
        "partialFingerprints": {"relrunFingerprint/v1": finding.fingerprint},
        "properties": {"class": finding.cls, "severity": finding.severity,
                       "security-severity": _SECURITY_SEVERITY.get(finding.severity, "5.5")},
    }
    commit = finding.meta.get("commit")
    if commit:
        entry["properties"]["commit"] = commit
        entry["message"]["text"] += f" (commit {commit})"
    return entry


def _uri(path: str) -> str:
    return quote(path, safe="/")


def write_scan_reports(result_dict: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``scan.json`` and ``scan.sarif`` from the ``relrun.release.scan`` module's result.

    Args:
        result_dict: the module's returned dict (Ansible's extra keys are ignored).
        out_dir: the run directory.

    Returns:
        The paths of ``scan.json`` and ``scan.sarif``.
    """
    result = ScanResult.model_validate(dict(result_dict))
    json_path = Path(out_dir) / "scan.json"
    sarif_path = Path(out_dir) / "scan.sarif"
    write_atomic(json_path, json.dumps(scan_json(result), indent=2, sort_keys=True) + "\n")
    write_atomic(sarif_path, json.dumps(scan_sarif(result), indent=2) + "\n")
    return json_path, sarif_path
