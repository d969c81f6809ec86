"""Job events of runs relrun did not start: ansible-runner's layout, AWX API pages, JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relrun.errors import InputError
from relrun.run.artifacts import read_artifacts
from relrun.run.events import RunFinished, RunStarted, TaskResult, TaskStarted


def _events(failed: bool = False) -> list[dict[str, Any]]:
    result = "runner_on_failed" if failed else "runner_on_ok"
    return [
        {"event": "playbook_on_start", "counter": 1, "created": "2026-01-02T03:04:05.000000",
         "event_data": {"playbook": "release-v2.yml"}},
        {"event": "playbook_on_play_start", "counter": 2, "created": "2026-01-02T03:04:05.5",
         "event_data": {"play": "Gates", "relrun_runbook": {"name": "r", "sha256": "abc"}}},
        {"event": "playbook_on_task_start", "counter": 3, "created": "2026-01-02T03:04:06",
         "event_data": {"play": "Gates", "task": "Build 1/dev",
                        "resolved_action": "relrun.release.build"}},
        {"event": result, "counter": 4, "created": "2026-01-02T03:04:08.250000Z",
         "event_data": {"play": "Gates", "task": "Build 1/dev", "host": "b1", "duration": 2.25,
                        "resolved_action": "relrun.release.build",
                        "res": {"rc": 0, "invocation": {"module_args": {"token": "s3cret"}}}}},
        {"event": "verbose", "counter": 5, "created": "2026-01-02T03:04:09", "stdout": "x"},
        {"event": "playbook_on_stats", "counter": 6, "created": "2026-01-02T03:04:10",
         "event_data": {"failures": {"b1": 1} if failed else {}, "dark": {}}},
    ]


def _runner_layout(root: Path, events: list[dict[str, Any]], ident: str = "abc") -> Path:
    folder = root / "artifacts" / ident / "job_events"
    folder.mkdir(parents=True)
    for raw in reversed(events):  # file order must not matter: the counter does
        (folder / f"{raw['counter']}-{ident}.json").write_text(json.dumps(raw))
    return root


def test_ansible_runner_artifacts_become_journal_events(tmp_path: Path) -> None:
    run = read_artifacts(_runner_layout(tmp_path / "pdd", _events()), label="drill")
    kinds = [type(e) for e in run.events]
    assert kinds == [RunStarted, TaskStarted, TaskResult, RunFinished]
    result = run.events[2]
    assert isinstance(result, TaskResult)
    assert (result.task, result.host, result.status, result.duration) == (
        "Build 1/dev", "b1", "ok", 2.25)
    assert "invocation" not in result.result  # arguments are never journaled
    # Ansible's own clock: UTC, with or without the Z AWX adds.
    assert result.time == pytest.approx(1767323048.25)
    assert run.events[0].time == pytest.approx(1767323045.0)
    assert (run.status, run.rc, run.playbook) == ("successful", 0, "release-v2.yml")
    assert run.runbook == {"name": "r", "sha256": "abc"}
    finished = run.events[-1]
    assert isinstance(finished, RunFinished) and finished.label == "drill"


def test_runner_status_and_rc_files_win_over_the_stats(tmp_path: Path) -> None:
    root = _runner_layout(tmp_path / "pdd", _events())
    (root / "artifacts" / "abc" / "rc").write_text("2")
    (root / "artifacts" / "abc" / "status").write_text("failed")
    run = read_artifacts(root)
    assert (run.status, run.rc) == ("failed", 2)


def test_awx_api_pages_and_json_lines(tmp_path: Path) -> None:
    events = _events(failed=True)
    (tmp_path / "page-1.json").write_text(json.dumps({"count": 6, "results": events[:3]}))
    (tmp_path / "page-2.jsonl").write_text("\n".join(json.dumps(e) for e in events[3:]) + "\n")
    run = read_artifacts(tmp_path)
    statuses = [e.status for e in run.events if isinstance(e, TaskResult)]
    assert statuses == ["failed"]
    assert (run.status, run.rc) == ("failed", 2)


def test_two_runs_in_one_directory_are_refused(tmp_path: Path) -> None:
    _runner_layout(tmp_path, _events(), "one")
    _runner_layout(tmp_path, _events(), "two")
    with pytest.raises(InputError, match=r"events of 2 runs here .*name one"):
        read_artifacts(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no Ansible job events found here"),
     ("{\"results\": [1, 2]}", "expected job events"),
     ("{not json\n", "not a JSON job event")],
)
def test_nothing_readable_is_a_positioned_input_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "events.json").write_text(content)
    with pytest.raises(InputError) as caught:
        read_artifacts(tmp_path)
    text = str(caught.value.problems[0])
    assert text.startswith(str(tmp_path)) and ":1:1: error: " in text and message in text
