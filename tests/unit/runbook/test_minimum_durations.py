"""Every runbook duration has a floor (issue 14: "1 µs intervals and a 0 s bake are accepted").

Below it, validation fails with one positioned line that names the floor; at it, the
runbook is valid; the editor schema agrees with the validator on both sides of it.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from relrun.cli import app
from relrun.cli.errors import run_cli
from relrun.runbook.docs import json_schema
from relrun.runbook.types import _parse_duration, duration_pattern_at_least
from tests.helpers import ROOT

FLAGSHIP = yaml.safe_load((ROOT / "runbooks" / "release-v2.yml").read_text(encoding="utf-8"))

# (where in the runbook, the floor in seconds); a list index 0 is the first item.
FIELDS: list[tuple[tuple[str | int, ...], float]] = [
    (("analysis", "interval"), 0.1),
    (("rollout", "stages", 0, "analysis", "interval"), 0.1),
    (("analysis", "window"), 1.0),
    (("rollout", "stages", 0, "analysis", "window"), 1.0),
    (("rollout", "stages", 0, "bake"), 1.0),
    (("deploy", "readiness", "timeout"), 1.0),
    (("rollback", "drain", "timeout"), 1.0),
    (("rollback", "verify", "analysis_window"), 1.0),
    (("rollback", "rto_budget"), 1.0),
    (("builds", 0, "timeout"), 0.1),
    (("deploy", "steps", 0, "timeout"), 0.1),
    (("rollback", "cleanup", "steps", 0, "timeout"), 0.1),
    (("api_checks", "checks", 2, "request", "timeout_s"), 0.1),
]


def _set(data: dict[str, Any], where: tuple[str | int, ...], value: object) -> dict[str, Any]:
    data = copy.deepcopy(data)
    node: Any = data
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    return data


def _validate(tmp_path: Path, data: dict[str, Any]) -> int:
    path = tmp_path / "runbook.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return run_cli(app, ["validate", str(path)])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms"


@pytest.mark.parametrize(("where", "floor"), FIELDS, ids=lambda v: str(v))
def test_a_duration_below_its_floor_is_a_positioned_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: tuple[str | int, ...], floor: float
) -> None:
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in where).replace(".[", "[")
    assert _validate(tmp_path, _set(FLAGSHIP, where, "0.001ms")) == 2
    err = capsys.readouterr().err
    least = "100ms" if floor < 1 else "1s"
    assert re.fullmatch(
        rf".*runbook\.yml:\d+:\d+: error: 0\.001ms is too short: at least {least} \(.+\) "
        rf"\(at {re.escape(dotted)}\)\n",
        err,
    ), err
    assert _validate(tmp_path, _set(FLAGSHIP, where, _ms(floor))) == 0, capsys.readouterr().err


def test_a_zero_and_a_microsecond_bake_and_interval_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The cases the adversarial run found accepted.
    for where, value in [
        (("analysis", "interval"), 0.000001),
        (("rollout", "stages", 0, "bake"), 0),
        (("rollout", "stages", 0, "bake"), "1ms"),
    ]:
        assert _validate(tmp_path, _set(FLAGSHIP, where, value)) == 2
        assert "is too short: at least" in capsys.readouterr().err


DURATIONS = [
    "100ms", "99ms", "99.999999999ms", "0.1", "0.1s", "0.09s", "0100ms", "1000ms", "999ms",
    "1", "1s", "0.99s", "0.016666667m", "0.016666666m", "0.001666667m", "0.001666666m",
    "0.000277778h", "0.000277777h", "0.000027778h", "0.000027777h", " 2 m ", "5m", "1h",
    "0", "0s", 0, 0.05, 0.1, 1, 0.999, "1e3", "1m30s", "", "\u0661s",
]


@pytest.mark.parametrize("floor", [0.1, 1.0])
@pytest.mark.parametrize("value", DURATIONS, ids=repr)
def test_schema_and_validator_agree_at_the_floor(floor: float, value: object) -> None:
    where = ("analysis", "interval") if floor < 1 else ("rollout", "stages", 0, "bake")
    schema = json.loads(json.dumps(json_schema()))
    data = _set(FLAGSHIP, where, value)
    from pydantic import ValidationError

    from relrun.runbook.schema import Runbook

    try:
        Runbook.model_validate(data, by_alias=True, by_name=False)
        accepted = True
    except ValidationError:
        accepted = False
    assert Draft202012Validator(schema).is_valid(data) == accepted


def test_the_floor_pattern_compares_every_unit_exactly() -> None:
    # Regexes cannot compare numbers: the pattern does it digit by digit, per unit.
    import random

    rng = random.Random(14)
    for floor in (0.1, 1.0, 2.5):
        pattern = re.compile(duration_pattern_at_least(floor))
        for _ in range(3000):
            number = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))
            if rng.random() < 0.6:
                number += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 9)))
            text = number + rng.choice(["", "ms", "s", "m", "h"])
            seconds = _parse_duration(text)
            assert isinstance(seconds, float)
            assert bool(pattern.fullmatch(text)) == (seconds >= floor), text
