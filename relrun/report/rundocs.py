"""The documents of one run, read and validated once from its directory (or the history).

Every human report (HTML, Markdown, JUnit, the notification) is built from a
:class:`RunDocuments`, so a report regenerated from the history database is the same as
the one written into the run directory. The run record carries its stages' limits; only
documents written before it had a schema version take them from the rendered playbook.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from relrun.report.record import CiRecord, RunRecord, upgrade

RUN_KINDS = ("drill", "release", "rollback", "check")
_ANALYSIS_TASK = re.compile(r"^Stage \d+/\d+ (.+?): analysis")


@dataclass(frozen=True)
class RunDocuments:
    """The reports of one run as plain JSON data.

    Attributes:
        kind: ``drill``, ``release``, ``rollback`` or ``check`` (``relrun check``: API
            checks only; no stages, no rollback, its ``target`` recorded).
        run: the run record (``KIND.json``).
        ci: ``ci.json`` (builds, API checks), if present.
        scan: ``scan.json`` (the scanner's own format), if present.
        run_dir: where the documents were read from (it may be gone later).
    """

    kind: str
    run: RunRecord
    ci: CiRecord | None = None
    scan: dict[str, Any] | None = None
    run_dir: str = ""

    def to_json(self) -> dict[str, Any]:
        """Everything, as one JSON-ready object (what the history store keeps)."""
        return {
            "kind": self.kind,
            "run": self.run.to_json(),
            "ci": self.ci.model_dump(mode="json") if self.ci is not None else None,
            "scan": self.scan,
            "run_dir": self.run_dir,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunDocuments:
        """The inverse of :meth:`to_json` (also for documents stored by older versions)."""
        run = upgrade(dict(data["run"]), data.get("thresholds"))
        return cls(
            kind=str(data["kind"]),
            run=RunRecord.model_validate(run),
            ci=_ci(data.get("ci")),
            scan=data.get("scan"),
            run_dir=str(data.get("run_dir") or ""),
        )


class RunDirError(Exception):
    """The directory holds no run report (no ``KIND.json`` for any of :data:`RUN_KINDS`)."""


def _ci(data: Any) -> CiRecord | None:
    if not isinstance(data, dict):
        return None
    if "schema_version" not in data and "runbook" in data:
        data = {k: v for k, v in data.items() if k in CiRecord.model_fields}
    return CiRecord.model_validate(data)


def read_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class _PlaybookLoader(yaml.SafeLoader):
    """Reads rendered playbooks, whose literals are tagged ``!unsafe`` for Ansible."""


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return None


_PlaybookLoader.add_constructor("!unsafe", _unsafe)


def stage_thresholds(playbook_text: str) -> dict[str, dict[str, float]]:
    """The canary analysis limits per stage, from a rendered playbook (older run documents).

    Args:
        playbook_text: the ``playbook.yml`` of the run.

    Returns:
        ``{stage name: {"max_error_rate": …, "max_p95_ms": …}}``; empty if unreadable.
    """
    try:
        plays = yaml.load(playbook_text, Loader=_PlaybookLoader)  # a SafeLoader
    except yaml.YAMLError:
        return {}
    found: dict[str, dict[str, float]] = {}
    for task in _walk_tasks(plays):
        match = _ANALYSIS_TASK.match(str(task.get("name", "")))
        args = task.get("relrun.release.analysis")
        if not match or not isinstance(args, dict) or args.get("target") != "canary":
            continue
        found[match.group(1)] = {
            key: float(args[key]) for key in ("max_error_rate", "max_p95_ms") if key in args
        }
    return found


def _walk_tasks(node: Any) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            tasks += _walk_tasks(item)
    elif isinstance(node, dict):
        if "name" in node:
            tasks.append(node)
        for key in ("tasks", "block", "rescue", "always", "pre_tasks", "post_tasks"):
            tasks += _walk_tasks(node.get(key))
    return tasks


def load_run_documents(run_dir: Path) -> RunDocuments:
    """Read the reports present in a run directory.

    Args:
        run_dir: the run directory.

    Returns:
        The documents.

    Raises:
        RunDirError: no ``drill.json``, ``release.json``, ``rollback.json`` or ``check.json``
            there, or one that is not a run record.
    """
    for kind in RUN_KINDS:
        run = read_object(run_dir / f"{kind}.json")
        if run is not None:
            break
    else:
        raise RunDirError(f"{run_dir}: no drill.json, release.json, rollback.json or check.json")
    if "schema_version" not in run:
        try:
            playbook = (run_dir / "playbook.yml").read_text(encoding="utf-8")
        except OSError:
            playbook = ""
        run = upgrade(run, stage_thresholds(playbook))
    try:
        return RunDocuments(
            kind=kind,
            run=RunRecord.model_validate(run),
            ci=_ci(read_object(run_dir / "ci.json")),
            scan=read_object(run_dir / "scan.json"),
            run_dir=str(run_dir.resolve()),
        )
    except ValidationError as err:
        raise RunDirError(f"{run_dir / f'{kind}.json'}: not a relrun run record: {err}") from err
