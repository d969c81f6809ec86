from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from relrun.errors import RunFailed
from relrun.run.events import Event, EventBus, RunFinished, TaskResult, TaskStarted
from relrun.run.runner import COLLECTIONS_PATH, RunSpec, bake_run, run_playbook


def spec(tmp_path: Path) -> RunSpec:
    return RunSpec(
        label="release",
        playbook_text="---\n- hosts: all\n",
        inventory=tmp_path / "inv.yml",
        run_dir=tmp_path,
        extravars={"relrun_launch_dir": "/src"},
    )


def test_bake_decides_everything(tmp_path: Path) -> None:
    baked = bake_run(spec(tmp_path))
    assert baked.private_data_dir == tmp_path / "ansible" / "01-release"
    assert baked.kwargs["envvars"]["ANSIBLE_COLLECTIONS_PATH"] == str(COLLECTIONS_PATH)
    assert baked.kwargs["extravars"] == {"relrun_launch_dir": "/src"}
    assert baked.kwargs["inventory"] == str(tmp_path / "inv.yml")
    assert baked.kwargs["suppress_env_files"] is True
    assert baked.settings["suppress_output_file"] is True
    assert (COLLECTIONS_PATH / "ansible_collections/relrun/release/galaxy.yml").is_file()


def test_each_run_gets_a_fresh_private_dir(tmp_path: Path) -> None:
    (tmp_path / "ansible" / "01-release").mkdir(parents=True)
    assert bake_run(spec(tmp_path)).private_data_dir.name == "02-release"


def fake_run(events: list[dict[str, Any]], status: str = "successful", rc: int = 0) -> Any:
    def run(**kwargs: Any) -> Any:
        assert kwargs["cancel_callback"]() is False
        for raw in events:
            kwargs["event_handler"](raw)
        return SimpleNamespace(status=status, rc=rc)

    return run


def test_execute_turns_runner_events_into_typed_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ansible_runner

    raw = [
        {
            "event": "playbook_on_task_start",
            "event_data": {
                "play": "Gates",
                "task": "Build 1/dev",
                "task_action": "relrun.release.build",
            },
        },
        {
            "event": "runner_on_failed",
            "event_data": {
                "play": "Gates",
                "task": "Build 1/dev",
                "host": "h1",
                "duration": 1.5,
                "resolved_action": "relrun.release.build",
                "res": {"msg": "boom"},
            },
        },
        {"event": "verbose", "event_data": {}},
    ]
    monkeypatch.setattr(ansible_runner, "run", fake_run(raw, "failed", 2))
    seen: list[Event] = []
    outcome = run_playbook(spec(tmp_path), EventBus([seen.append]))
    assert not outcome.ok
    assert (outcome.status, outcome.rc) == ("failed", 2)
    kinds = [type(e) for e in seen]
    assert kinds[1:] == [TaskStarted, TaskResult, RunFinished]
    result = seen[2]
    assert isinstance(result, TaskResult)
    assert (result.host, result.status, result.result["msg"]) == ("h1", "failed", "boom")
    assert (
        tmp_path / "ansible/01-release/project/playbook.yml"
    ).read_text() == "---\n- hosts: all\n"


def test_start_failure_is_a_relrun_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ansible_runner

    def broken(**kwargs: Any) -> Any:
        raise ValueError("no ansible-playbook")

    monkeypatch.setattr(ansible_runner, "run", broken)
    with pytest.raises(RunFailed, match="could not start ansible-runner: no ansible-playbook"):
        run_playbook(spec(tmp_path), EventBus())


def test_a_failing_handler_is_not_fatal(tmp_path: Path) -> None:
    def bad(event: Event) -> None:
        raise RuntimeError("display broke")

    seen: list[Event] = []
    bus = EventBus([bad, seen.append])
    bus.emit(RunFinished(label="x", status="successful", rc=0))
    assert len(seen) == 1


def test_host_keys_are_checked_and_ssh_never_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-runner would set ANSIBLE_HOST_KEY_CHECKING=False when it is absent.
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    monkeypatch.delenv("ANSIBLE_SSH_EXTRA_ARGS", raising=False)
    envvars = bake_run(spec(tmp_path)).kwargs["envvars"]
    assert envvars["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert envvars["ANSIBLE_SSH_EXTRA_ARGS"] == "-o BatchMode=yes"
    # An operator's explicit choice is theirs.
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    assert "ANSIBLE_HOST_KEY_CHECKING" not in bake_run(spec(tmp_path)).kwargs["envvars"]
