"""Manual gates in the runbook (issue 17): a stage's `pause`, the rollout's `approval`.

Bad ones fail validation with one positioned line each (exit 2); good ones are valid and
match the editor schema.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.runbook.docs import json_schema
from tests.helpers import ROOT

FLAGSHIP = yaml.safe_load((ROOT / "runbooks" / "release-v2.yml").read_text(encoding="utf-8"))


def _runbook(tmp_path: Path, change: Any) -> Path:
    data = copy.deepcopy(FLAGSHIP)
    change(data)
    path = tmp_path / "gated.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _pause(index: int, pause: dict[str, Any]) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["rollout"]["stages"][index]["pause"] = pause

    return change


def _approval(*more: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["rollout"]["approval"] = "required"
        for other in more:
            other(data)

    return change


def _one_stage(data: dict[str, Any]) -> None:
    data["rollout"]["stages"] = data["rollout"]["stages"][:1]
    data["drill"]["fault"].pop("stage", None)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (_pause(1, {"timeout": "5s"}), "rollout.stages[1].pause", "needs its `default`"),
        (_pause(1, {"default": "promote"}), "rollout.stages[1].pause", "set one"),
        (_pause(1, {"timeout": "5s", "default": "wait"}), "rollout.stages[1].pause.default",
         "'promote' or 'rollback'"),
        (_pause(1, {"timeout": "0s", "default": "promote"}), "rollout.stages[1].pause.timeout",
         "at least"),
        (_approval(_one_stage), "rollout.approval", "at least two stages"),
        (_approval(_pause(2, {"timeout": "5s", "default": "promote"})),
         "rollout.stages[2].pause.timeout", "takes no timeout"),
        (lambda d: d["rollout"].update(approval="yes"), "rollout.approval", "'required'"),
    ],
)
def test_bad_gates_are_positioned_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, where: str, message: str
) -> None:
    path = _runbook(tmp_path, change)
    assert run_cli(app, ["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}:") and lines[0].endswith(f"(at {where})"), err
    assert message in lines[0], err
    if where.endswith(("default", "timeout", "approval")) and "no timeout" not in message \
            and "two stages" not in message:
        # What the schema can say, the editor schema says too.
        assert not Draft202012Validator(json_schema()).is_valid(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize(
    "change",
    [
        _pause(1, {}),
        _pause(1, {"timeout": "10s", "default": "rollback"}),
        _approval(),
        _approval(_pause(2, {})),
    ],
)
def test_good_gates_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any
) -> None:
    path = _runbook(tmp_path, change)
    assert run_cli(app, ["validate", str(path)]) == 0, capsys.readouterr().err
    Draft202012Validator(json_schema()).validate(yaml.safe_load(path.read_text()))
