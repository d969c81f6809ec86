"""scan.json and scan.sarif (SARIF 2.1.0) from the scan module's result."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from relrun import __version__
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils import (
    scan_findings,
)
from relrun.fsutil import write_atomic
from relrun.scan.result import ScanResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"low": "note", "medium": "warning", "high": "error", "critical": "error"}


def scan_json(result: ScanResult) -> dict[str, Any]:
    """The content of ``scan.json``: the result, with aliases as the module returns them."""
    return result.model_dump(mode="json", by_alias=True)


def scan_sarif(result: ScanResult) -> dict[str, Any]:
    """The content of ``scan.sarif``: one run, every rule, results with fingerprints.

    Args:
        result: the scan result.

    Returns:
        A SARIF 2.1.0 log. Suppressed findings are included with a ``suppressions`` entry,
        as SARIF viewers expect.
    """
    rules = [
        {
            "id": rule.id,
            "name": rule.id.replace("-", " ").title().replace(" ", ""),
            "shortDescription": {"text": rule.title},
            "defaultConfiguration": {"level": _LEVELS[rule.severity]},
            "properties": {"class": rule.cls, "severity": rule.severity},
        }
        for rule in scan_findings.RULES.values()
    ]
    index = {rule.id: i for i, rule in enumerate(scan_findings.RULES.values())}
    results = [_sarif_result(f, index) for f in result.findings]
    for s in result.suppressed:
        entry = _sarif_result(s, index)
        kind = "inSource" if s.suppressed_by == "inline" else "external"
        entry["suppressions"] = [{"kind": kind, "justification": s.reason}]
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "relrun-scan",
                        "version": __version__,
                        "informationUri": "https://example.invalid/relrun/docs/scan",
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"SRCROOT": {"uri": _root_uri(result.root)}},
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "properties": {"failing": result.failing, "fail_on": result.fail_on},
                    }
                ],
            }
        ],
    }


def _root_uri(root: str) -> str:
    if not root:
        return "./"
    return Path(root).resolve().as_uri().rstrip("/") + "/"


def _sarif_result(finding: Any, index: dict[str, int]) -> dict[str, Any]:
    return {
        "ruleId": finding.rule,
        "ruleIndex": index.get(finding.rule, 0),
        "level": _LEVELS.get(finding.severity, "warning"),
        "message": {"text": f"{finding.message}: {finding.excerpt}"},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path, "uriBaseId": "SRCROOT"},
                    "region": {
                        "startLine": max(finding.line, 1),
                        "startColumn": max(finding.column, 1),
                    },
                }
            }
        ],
        "partialFingerprints": {"relrunFingerprint/v1": finding.fingerprint},
        "properties": {"class": finding.cls, "severity": finding.severity},
    }


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
